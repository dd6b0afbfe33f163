"""Tests of the load runner: real Locust processes against the reference service on 127.0.0.1.

Runs are short (2-4 s) and small (2-10 users); the whole file stays well
under 90 s on 2 cores.
"""

from __future__ import annotations

import io
import json
import math
import re
import socket
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from loadruns import two_worker_run

from pytest_fixgate.kinds.load.failures import FailureKind, body_matches, classify
from pytest_fixgate.kinds.load.progress import LoadProgress, ProgressLine, format_progress
from pytest_fixgate.kinds.load.request import LoadRequest
from pytest_fixgate.kinds.load.results import LoadRun, locust_percentile
from pytest_fixgate.kinds.load.runner import (
    LoadRunError,
    LoadRunner,
    LoadState,
    capture_module_path,
    diagnose,
    error_line,
)
from pytest_fixgate.measurements.stats import LatencyHistogram
from pytest_fixgate.reference import ReferenceService

# Load-generating tests share one xdist worker (`--dist loadgroup`): two flat-out
# loads at once would starve each other and turn latency verdicts into noise.
pytestmark = pytest.mark.xdist_group("load")

ROOT = Path(__file__).resolve().parents[3]
FLAT_OUT = {"FIXGATE_READY_WAIT_MIN_S": "0", "FIXGATE_READY_WAIT_MAX_S": "0"}

PLAIN = """
from locust import FastHttpUser, constant, task

class Plain(FastHttpUser):
    wait_time = constant(0)

    @task
    def health(self):
        self.client.get("/api/health")
"""


def write(tmp_path: Path, text: str, name: str = "scenario.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def spec_for(host: str, locustfile: Path, tmp_path: Path, **kw: Any) -> LoadRequest:
    fields: dict[str, Any] = {
        "users": 4,
        "spawn_rate": 50,
        "duration_s": 3,
        "results_dir": tmp_path / "load",
        "cwd": ROOT,
    }
    fields.update(kw)
    return LoadRequest(host=host, locustfile=locustfile, **fields)


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- real runs --------------------------------------------------------------------------


def test_fast_service_gives_counts_and_intervals(reference: ReferenceService, tmp_path: Path):
    seen: list[LoadProgress] = []
    spec = spec_for(
        reference.base_url,
        ROOT / "locustfiles" / "ready.py",
        tmp_path,
        env=FLAT_OUT,
    )
    runner = LoadRunner(spec)
    run = runner.run(on_progress=seen.append)

    assert runner.state is LoadState.FINISHED
    overall = run.overall
    assert overall.requests > 100, overall
    assert overall.failures == {} and overall.rate_limited == 0
    # Same events, same count: nothing lost between Locust's figures and ours.
    assert overall.requests == overall.locust_requests == overall.successes
    for estimate in (overall.p50, overall.p95, overall.p99):
        assert estimate.n == overall.requests and estimate.bounded
        assert estimate.value_ms is not None
        assert 0 < estimate.low_ms <= estimate.value_ms <= estimate.high_ms
    assert overall.error_rate.rate == 0.0 and 0 < overall.error_rate.high < 0.05
    assert overall.rps == pytest.approx(overall.requests / run.duration_s)
    assert [(ep.method, ep.name, ep.requests) for ep in run.endpoints] == [
        ("GET", "/api/health/ready", overall.requests)
    ]
    assert sum(w.requests for w in overall.series) == overall.requests
    assert seen and any(p.state == "running" and p.requests > 0 for p in seen)
    data = json.loads(json.dumps(run.as_dict()))
    assert data["overall"]["latency_ms"]["p95"]["n"] == overall.requests
    assert data["overall"]["locust"]["p95_ms"] == overall.locust_p95_ms
    assert data["cpu"]["samples"]["local"]
    assert "locust" not in sys.modules  # Locust ran in its own process only
    with pytest.raises(RuntimeError, match="already run"):
        runner.run()


RAW_PLAIN = (
    PLAIN
    + """
import json
import os

from locust import events

RAW = []  # the scenario's own record of every success: the truth to compare with


@events.request.add_listener
def _keep(response_time, exception=None, **kw):
    if exception is None:
        RAW.append(response_time)


@events.quitting.add_listener
def _dump(environment, **kw):
    with open(os.environ["RAW_FILE"], "w") as out:
        json.dump(RAW, out)
"""
)

SIMULATED = """
import gevent
from locust import User, constant, task


class Simulated(User):
    # A custom client (as Locust documents them): it reports response times of
    # 1460.0 to 1479.5 ms, in a fixed cycle, through events.request.
    wait_time = constant(0.005)
    i = 0

    @task
    def call(self):
        Simulated.i += 1
        self.environment.events.request.fire(
            request_type="GET", name="/simulated", response_time=1460.0 + (Simulated.i % 40) / 2,
            response_length=0, response=None, context={}, exception=None,
        )
"""


def locust_rounded_p95(values: list[float]) -> float | None:
    """Locust's own p95: its rounding of each response time, then its percentile rule."""
    from collections import Counter

    def rounded(ms: float) -> float:
        digits = 0 if ms < 100 else -1 if ms < 1000 else -2 if ms < 10000 else -3
        return float(round(ms, digits))

    return locust_percentile(Counter(rounded(v) for v in values), 0.95)


def test_exact_p95_below_1500_while_locusts_own_reads_1500(tmp_path: Path):
    # Deterministic: every response time is 1460-1479.5 ms, which Locust rounds to 1500.
    spec = spec_for(
        "http://127.0.0.1:9", write(tmp_path, SIMULATED), tmp_path, duration_s=3, window_s=1
    )
    run = LoadRunner(spec).run()

    p95 = run.overall.p95
    assert run.overall.requests > 100 and run.overall.failures == {}
    assert p95.value_ms is not None and 1478.0 <= p95.value_ms < 1480.0
    assert p95.bounded and p95.high_ms < 1500.0  # the gate can decide "p95 < 1500 ms"
    assert run.overall.locust_p95_ms == 1500.0  # Locust's 100 ms rounding cannot
    assert [w.start_s for w in run.overall.windows][:2] == [0.0, 1.0]
    assert all(w.p95.value_ms is not None and w.p95.value_ms < 1480 for w in run.overall.windows)


def test_requests_of_about_1470ms_to_a_real_server(reference: ReferenceService, tmp_path: Path):
    # 1455 ms of injected delay plus the service's own few ms: ~1460-1470 ms a request.
    reference.set_faults(latency_distribution="fixed:1455")
    raw_file = tmp_path / "raw.json"
    spec = spec_for(
        reference.base_url,
        write(tmp_path, RAW_PLAIN),
        tmp_path,
        users=10,
        spawn_rate=10,  # staggered users: requests do not queue behind each other
        duration_s=4,
        env={"RAW_FILE": str(raw_file)},
    )
    run = LoadRunner(spec).run()

    raw = json.loads(raw_file.read_text())
    assert run.overall.failures == {} and run.overall.successes == len(raw) >= 20
    truth = sorted(raw)[math.ceil(round(0.95 * len(raw), 9)) - 1]
    p95 = run.overall.p95
    assert p95.value_ms is not None and abs(p95.value_ms - truth) <= 0.001 * truth
    assert run.overall.locust_p95_ms == locust_rounded_p95(raw)
    if truth < 1500.0:  # the usual case; a machine busy enough to add 45 ms is not
        assert p95.value_ms < 1500.0 and run.overall.locust_p95_ms == 1500.0


def test_three_percent_errors_are_counted_as_http_5xx(reference: ReferenceService, tmp_path: Path):
    reference.set_faults(error_ratio=0.03)
    run = LoadRunner(spec_for(reference.base_url, write(tmp_path, PLAIN), tmp_path)).run()

    overall = run.overall
    assert set(overall.failures) == {"http_5xx"}
    # The service fails exactly 3 requests in 100 (counter-based).
    assert abs(overall.failures_total - 0.03 * overall.requests) <= 2
    assert overall.error_rate.low <= 0.03 <= overall.error_rate.high
    assert any("HTTP 500" in text for text in overall.failure_examples["http_5xx"])
    assert overall.successes == overall.requests - overall.failures_total
    assert run.exit_code == 1  # Locust's "some request failed": a measurement, not a crash


def test_http_429_counts_as_rate_limited_not_as_failure(
    reference: ReferenceService, tmp_path: Path
):
    reference.set_faults(rate_limit_per_min=60)
    run = LoadRunner(
        spec_for(reference.base_url, write(tmp_path, PLAIN), tmp_path, users=2, duration_s=2)
    ).run()

    overall = run.overall
    assert overall.successes == 60
    assert overall.rate_limited == overall.requests - 60 > 0
    assert overall.failures == {} and overall.error_rate.failures == 0
    assert overall.error_rate.total == 60  # rate-limited requests are no verdict on errors


def test_bad_bodies_are_failures(reference: ReferenceService, tmp_path: Path):
    # The shipped readiness scenario, pointed at a route that does not say {"ready": true}.
    env = {**FLAT_OUT, "FIXGATE_READY_PATH": "/api/health"}
    run = LoadRunner(
        spec_for(
            reference.base_url,
            ROOT / "locustfiles" / "ready.py",
            tmp_path,
            env=env,
            users=2,
            duration_s=2,
        )
    ).run()
    assert run.overall.failures == {"bad_body": run.overall.requests}
    assert "bad_body" in run.overall.failure_examples["bad_body"][0]


def test_expect_json_checks_bodies_of_an_unchanged_locustfile(
    reference: ReferenceService, tmp_path: Path
):
    spec = spec_for(
        reference.base_url,
        write(tmp_path, PLAIN),
        tmp_path,
        users=2,
        duration_s=2,
        expect_json={"ready": True},
    )
    run = LoadRunner(spec).run()
    assert run.overall.failures == {"bad_body": run.overall.requests}
    assert run.overall.locust_failures == 0  # Locust itself saw only 200s


def test_request_timeouts_are_counted_as_timeouts(reference: ReferenceService, tmp_path: Path):
    reference.set_faults(latency_ms=1500)
    spec = spec_for(
        reference.base_url,
        write(tmp_path, PLAIN),
        tmp_path,
        users=2,
        duration_s=2,
        request_timeout_s=0.3,
    )
    run = LoadRunner(spec).run()
    assert set(run.overall.failures) == {"timeout"} and run.overall.failures_total >= 2


def test_unreachable_host_counts_connection_failures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    host = f"http://127.0.0.1:{unused_port()}"
    # A relative results_dir is the caller's, though Locust runs in spec.cwd (ROOT).
    monkeypatch.chdir(tmp_path)
    spec = spec_for(host, write(tmp_path, PLAIN), tmp_path, users=2, duration_s=2)
    run = LoadRunner(replace(spec, results_dir=Path("relative"))).run()
    assert (tmp_path / "relative" / "locust.json").is_file()
    assert run.overall.requests > 0
    assert run.overall.failures == {"connection": run.overall.requests}
    assert run.overall.p95.n == 0 and run.overall.p95.value_ms is None
    assert run.overall.error_rate.rate == 1.0


def test_two_workers_merge_their_histograms_exactly(reference: ReferenceService, tmp_path: Path):
    env = {
        "FIXGATE_WO_WAIT_MIN_S": "0",
        "FIXGATE_WO_WAIT_MAX_S": "0",
        "FIXGATE_WO_WEIGHT_LIST": "1",
        "FIXGATE_WO_WEIGHT_STATUS": "1",
    }
    spec = spec_for(
        reference.base_url,
        ROOT / "locustfiles" / "work_orders.py",
        tmp_path,
        workers=2,
        env=env,
    )
    run = LoadRunner(spec).run()

    files = sorted(spec.results_dir.glob("capture-worker-*.json"))
    assert len(files) == 2
    per_worker_requests, per_worker_hist = [], LatencyHistogram()
    for path in files:
        data = json.loads(path.read_text())
        steps = [s for e in data["endpoints"] for s in e["steps"].values()]
        per_worker_requests.append(sum(s["requests"] for s in steps))
        for step in steps:
            per_worker_hist.merge(LatencyHistogram.decode(step["hist"]))
    assert all(n > 0 for n in per_worker_requests)
    overall = run.overall
    assert overall.requests == sum(per_worker_requests)
    assert overall.requests == sum(ep.requests for ep in run.endpoints)
    assert overall.histogram == per_worker_hist
    assert overall.histogram.count == sum(ep.histogram.count for ep in run.endpoints)
    assert overall.failures == {}
    names = {ep.name for ep in run.endpoints}
    assert names == {
        "/api/work-orders?organizationId=[org]",
        "/api/work-orders?organizationId=[org]&status=[status]",
    }
    assert set(run.cpu.samples) == {"worker-1", "worker-2"}
    # Locust's master may miss a worker's last report; ours cannot.
    assert overall.locust_requests is not None and overall.requests >= overall.locust_requests


# -- runs that cannot measure -------------------------------------------------------------


def test_broken_locustfile_raises_a_one_line_error(tmp_path: Path):
    broken = write(tmp_path, "import no_such_module_for_fixgate\n", "broken.py")
    runner = LoadRunner(spec_for("http://127.0.0.1:9", broken, tmp_path))
    with pytest.raises(LoadRunError) as info:
        runner.run()
    message = str(info.value)
    assert message.startswith(f"locustfile {broken}: ")
    assert "ModuleNotFoundError: No module named 'no_such_module_for_fixgate'" in message
    assert "\n" not in message
    assert info.value.log_path is not None and info.value.log_path.is_file()
    assert runner.state is LoadState.FAILED


def test_locustfile_without_a_user_class_is_named_so(tmp_path: Path):
    empty = write(tmp_path, "RATE = 3\n", "no_users.py")
    with pytest.raises(LoadRunError, match=r"no_users\.py: no User class found"):
        LoadRunner(spec_for("http://127.0.0.1:9", empty, tmp_path)).run()


@pytest.mark.parametrize(
    "log",
    [
        # Locust 2.x when its pytest fallback finds nothing either.
        "[2026-01-01 00:00:00,000] vm/ERROR/locust.main: No User class found!\n",
        # Locust >= 2.32 when the pytest fallback itself crashes (trio without epoll, ...).
        'Traceback (most recent call last):\n  File "main.py", line 146, in '
        "load_locustfile_pytest\nAttributeError: module 'select' has no attribute 'epoll'\n",
    ],
    ids=["logged", "pytest-fallback-crashed"],
)
def test_no_user_class_reads_the_same_whatever_locust_says(log: str):
    assert diagnose(log, 1).startswith("no User class found")
    assert diagnose("[x] vm/ERROR/locust.main: something else\n", 1) == "something else"


def test_a_master_that_refuses_to_start_does_not_leave_workers_waiting(tmp_path: Path):
    spec = spec_for(
        "http://127.0.0.1:9",
        write(tmp_path, PLAIN),
        tmp_path,
        workers=1,
        extra_args=("--no-such-locust-option",),
    )
    started = time.monotonic()
    with pytest.raises(LoadRunError, match="unrecognized arguments: --no-such-locust-option"):
        LoadRunner(spec).run()
    assert time.monotonic() - started < 8


def test_an_interrupted_run_leaves_no_locust_process(tmp_path: Path):
    import psutil

    def interrupt(progress: LoadProgress) -> None:
        raise KeyboardInterrupt

    runner = LoadRunner(
        spec_for("http://127.0.0.1:9", write(tmp_path, PLAIN), tmp_path, workers=1, duration_s=30)
    )
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        runner.run(on_progress=interrupt)
    assert runner.state is LoadState.FAILED and time.monotonic() - started < 10
    left = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "locust" in " ".join(child.cmdline()):
                left.append(child)
        except psutil.Error:  # gone meanwhile
            pass
    assert not left


def test_missing_locustfile_raises(tmp_path: Path):
    runner = LoadRunner(spec_for("http://127.0.0.1:9", tmp_path / "nope.py", tmp_path))
    with pytest.raises(LoadRunError, match=r"locustfile .*nope\.py: not found"):
        runner.run()
    with pytest.raises(RuntimeError, match="make a new one"):
        runner.run()


def test_locust_quitting_before_the_run_time_is_an_error(
    reference: ReferenceService, tmp_path: Path
):
    quitter = write(
        tmp_path,
        PLAIN
        + """
import gevent
from locust import events

@events.test_start.add_listener
def _quit_soon(environment, **kw):
    gevent.spawn_later(0.5, environment.runner.quit)
""",
    )
    with pytest.raises(LoadRunError, match=r"Locust stopped after \d+\.\d s of a 5 s run"):
        LoadRunner(spec_for(reference.base_url, quitter, tmp_path, duration_s=5)).run()


def test_the_run_time_counts_from_the_test_start(reference: ReferenceService, tmp_path: Path):
    # A test_start listener that holds the event loop for 2 s: Locust's own --run-time
    # clock was already running, so a 4 s load lasted 2 s and read as stopped early.
    held = write(
        tmp_path,
        PLAIN
        + """
import time
from locust import events

@events.test_start.add_listener
def _hold_the_loop(environment, **kw):
    time.sleep(2)
""",
    )
    run = LoadRunner(spec_for(reference.base_url, held, tmp_path, duration_s=4)).run()
    assert run.duration_s >= 3.9, run.duration_s


def test_a_locustfile_that_raises_in_every_task_is_an_error(tmp_path: Path):
    failing = write(
        tmp_path,
        """
        from locust import User, constant, task

        class Broken(User):
            wait_time = constant(0.2)

            @task
            def boom(self):
                raise ValueError("scenario bug")
        """,
    )
    with pytest.raises(LoadRunError, match="scenario bug"):
        LoadRunner(spec_for("http://127.0.0.1:9", failing, tmp_path, duration_s=2)).run()


SLOW_HTTP_USER = """
from locust import HttpUser, constant, task

class Slow(HttpUser):
    wait_time = constant(0)

    @task
    def health(self):
        self.client.get("/api/health", name="/api/health")
"""


def test_requests_are_judged_by_their_end_not_their_start(
    reference: ReferenceService, tmp_path: Path
):
    # fixgate demo --fault slow: every request takes 3 s; all start inside the 1 s warm-up.
    reference.set_faults(latency_ms=3000)
    spec = spec_for(
        reference.base_url, write(tmp_path, PLAIN), tmp_path, users=3, duration_s=4, warmup_s=1
    )
    run = LoadRunner(spec).run()
    # The first wave ends at ~3 s, after the warm-up; the second ends after the run time
    # (the users get request_timeout + 1 s to finish) and counts in the last step.
    assert run.overall.requests == run.overall.successes >= 3
    assert run.overall.p95.value_ms is not None and run.overall.p95.value_ms >= 3000


FIRST_HALF_SECOND = """
import time
import gevent
from locust import User, constant, task


class Early(User):
    # Fires requests only during its first half second, then idles.
    wait_time = constant(0.05)
    started = None

    @task
    def call(self):
        now = time.monotonic()
        Early.started = Early.started or now
        if now - Early.started < 0.5:
            self.environment.events.request.fire(
                request_type="GET", name="/early", response_time=5.0, response_length=0,
                response=None, context={}, exception=None,
            )
"""


def test_requests_made_but_none_judged_say_so(tmp_path: Path):
    spec = spec_for(
        "http://127.0.0.1:9",
        write(tmp_path, FIRST_HALF_SECOND),
        tmp_path,
        duration_s=3,
        warmup_s=2,
    )
    with pytest.raises(LoadRunError) as info:
        LoadRunner(spec).run()
    message = str(info.value)
    assert re.search(r"all \d+ requests ended inside the 2 s warm-up", message), message
    assert "no request was made" not in message


def test_request_timeout_bounds_httpuser_too(reference: ReferenceService, tmp_path: Path):
    reference.set_faults(latency_ms=5000)
    spec = spec_for(
        reference.base_url,
        write(tmp_path, SLOW_HTTP_USER),
        tmp_path,
        users=2,
        duration_s=2,
        request_timeout_s=0.5,
    )
    started = time.monotonic()
    run = LoadRunner(spec).run()
    assert set(run.overall.failures) == {"timeout"} and run.overall.failures_total >= 4
    assert run.overall.censored.count == run.overall.failures_total
    assert run.overall.censored.min_ms is not None and run.overall.censored.min_ms >= 450
    assert time.monotonic() - started < 15


SEQUENTIAL = """
from locust import FastHttpUser, constant, task

class Sequential(FastHttpUser):
    # One task, ten slow requests in a row: it outlives the run time and its grace.
    wait_time = constant(0)

    @task
    def many(self):
        for _ in range(10):
            self.client.get("/api/health", name="/api/health")
"""


def test_requests_in_flight_when_the_load_stops_are_unfinished(
    reference: ReferenceService, tmp_path: Path
):
    reference.set_faults(latency_ms=1200)
    spec = spec_for(
        reference.base_url,
        write(tmp_path, SEQUENTIAL),
        tmp_path,
        users=2,
        duration_s=2,
        request_timeout_s=1.5,  # the users get 3 s after the run time, then are stopped
    )
    run = LoadRunner(spec).run()
    overall = run.overall
    assert overall.failures == {"unfinished": 2}, overall.failures
    assert overall.censored.count == 2 and overall.successes >= 4
    assert any("still in flight" in t for t in overall.failure_examples["unfinished"])
    assert run.as_dict()["overall"]["censored"]["count"] == 2


def test_abort_on_fail_stops_a_hopeless_load_early(reference: ReferenceService, tmp_path: Path):
    reference.set_faults(error_ratio=0.6)
    spec = spec_for(
        reference.base_url,
        write(tmp_path, PLAIN),
        tmp_path,
        users=2,
        duration_s=60,
        abort_error_rate=(("<", 0.01, "error_rate < 1%"),),
    )
    started = time.monotonic()
    run = LoadRunner(spec).run()
    assert time.monotonic() - started < 15
    assert run.aborted is not None and run.aborted.at_s < 5
    assert "lies wholly over error_rate < 1%" in run.aborted.reason
    assert run.overall.error_rate.low > 0.01 and run.duration_s < 10
    assert run.as_dict()["aborted"]["reason"] == run.aborted.reason


def test_abort_on_fail_with_workers_counts_their_reports(
    reference: ReferenceService, tmp_path: Path
):
    # The master sees the workers' judged counts in their periodic reports (every ~3 s).
    reference.set_faults(error_ratio=0.6)
    spec = spec_for(
        reference.base_url,
        write(tmp_path, PLAIN),
        tmp_path,
        users=2,
        duration_s=60,
        workers=1,
        abort_error_rate=(("<", 0.01, "error_rate < 1%"),),
    )
    started = time.monotonic()
    run = LoadRunner(spec).run()
    assert time.monotonic() - started < 20
    assert run.aborted is not None and run.aborted.at_s < 10
    assert set(run.overall.failures) == {"http_5xx"} and run.overall.error_rate.low > 0.5


def test_abort_when_every_request_fails_to_connect(tmp_path: Path):
    spec = spec_for(
        f"http://127.0.0.1:{unused_port()}",
        write(tmp_path, PLAIN),
        tmp_path,
        users=2,
        duration_s=60,
        abort_error_rate=(("<", 0.01, "error_rate < 1%"),),
    )
    run = LoadRunner(spec).run()
    assert run.aborted is not None and run.aborted.at_s < 5
    assert "failed to connect" in run.aborted.reason


def test_without_abort_rules_a_failing_load_runs_its_time(
    reference: ReferenceService, tmp_path: Path
):
    reference.set_faults(error_ratio=0.6)
    run = LoadRunner(
        spec_for(reference.base_url, write(tmp_path, PLAIN), tmp_path, duration_s=3)
    ).run()
    assert run.aborted is None and run.duration_s >= 3 - 1.5  # Locust may stop ~1 s early


# -- pure parts ---------------------------------------------------------------------------


class _Status(Exception):
    pass


class CatchResponseError(Exception):
    """Stands in for locust.exception.CatchResponseError (matched by name)."""


class ReadTimeout(Exception):
    """Stands in for requests' ReadTimeout (matched by name)."""


class Wrapped(Exception):
    """Stands in for geventhttpclient's RetriesExceeded(url, n, original=cause)."""

    def __init__(self, text: str, original: BaseException) -> None:
        super().__init__(text)
        self.original = original


@pytest.mark.parametrize(
    ("status", "exc", "body_ok", "kind"),
    [
        (200, None, None, None),
        (200, None, True, None),
        (200, None, False, FailureKind.BAD_BODY),
        (429, _Status("429"), None, FailureKind.RATE_LIMITED),
        (429, None, None, FailureKind.RATE_LIMITED),
        (503, _Status("503"), None, FailureKind.HTTP_5XX),
        (500, None, None, FailureKind.HTTP_5XX),
        (404, _Status("404"), None, FailureKind.HTTP_4XX),
        (0, ConnectionRefusedError(111, "refused"), None, FailureKind.CONNECTION),
        (0, socket.gaierror(-2, "Name or service not known"), None, FailureKind.CONNECTION),
        (0, TimeoutError("timed out"), None, FailureKind.TIMEOUT),
        (None, ReadTimeout("read"), None, FailureKind.TIMEOUT),
        (200, CatchResponseError("bad_body: x"), None, FailureKind.BAD_BODY),
        (200, RuntimeError("?"), None, FailureKind.OTHER),
        (0, Wrapped("gave up", original=TimeoutError("timed out")), None, FailureKind.TIMEOUT),
        (0, Wrapped("gave up", original=ConnectionResetError()), None, FailureKind.CONNECTION),
    ],
)
def test_classify(status, exc, body_ok, kind):
    assert classify(status, exc, body_ok) == kind


def test_body_matches():
    assert body_matches({"ready": True}, b'{"ready": true, "checks": {}}')
    assert not body_matches({"ready": True}, b'{"ready": false}')
    assert not body_matches({"ready": True}, b"<html>")
    assert not body_matches({"ready": True}, b"[true]")
    assert not body_matches({"ready": True}, None)


def test_error_line_picks_the_exception_or_the_locust_error():
    log = (
        "[2026-01-01 00:00:00,000] vm/INFO/locust.main: Starting Locust 2.47.0\n"
        "Traceback (most recent call last):\n"
        '  File "x.py", line 1, in <module>\n'
        "    import nope\n"
        "ModuleNotFoundError: No module named 'nope'\n"
    )
    assert error_line(log) == "ModuleNotFoundError: No module named 'nope'"
    log = "[2026-01-01 00:00:00,000] vm/ERROR/locust.main: Gave up waiting for workers to connect\n"
    assert error_line(log) == "Gave up waiting for workers to connect"
    assert error_line("") is None
    assert error_line("/usr/bin/python: No module named locust\n") == (
        "/usr/bin/python: No module named locust"
    )


def test_locust_percentile_matches_locusts_rounded_buckets():
    # Locust's rule: the largest bucket with more than int(n * q) requests at or below it.
    assert locust_percentile({1400.0: 96, 1500.0: 4}, 0.95) == 1400.0
    assert locust_percentile({1400.0: 95, 1500.0: 5}, 0.95) == 1500.0
    assert locust_percentile({}, 0.95) is None


def test_spec_validation_and_steps(tmp_path: Path):
    good = dict(
        host="http://127.0.0.1:1",
        locustfile=Path("a.py"),
        users=1,
        spawn_rate=1,
        duration_s=300,
        results_dir=tmp_path,
    )
    assert LoadRequest(**good).step_s == 5.0
    assert LoadRequest(**good, window_s=60).step_s == 5.0  # 5 windows of 12 steps
    assert LoadRequest(**{**good, "duration_s": 1800}, window_s=60).step_s == 30.0
    assert LoadRequest(**{**good, "duration_s": 3}).step_s == 1.0
    assert LoadRequest(**good, window_s=60, warmup_s=2).step_s == 1.0  # the warm-up exact
    # 70 s windows (steps of 5.83 s) and a 2 s warm-up share only 1 ms: 300,000 steps.
    # The steps stay whole-window divisors; the warm-up rounds up to one step.
    odd = LoadRequest(**good, window_s=70, warmup_s=2)
    assert odd.step_s >= 0.1
    assert (70 / odd.step_s) == pytest.approx(round(70 / odd.step_s))
    with pytest.raises(ValueError, match=r"users must be >= 1.*duration_s must be whole seconds"):
        LoadRequest(**{**good, "users": 0, "duration_s": 2.5})
    with pytest.raises(ValueError, match="host must be an http"):
        LoadRequest(**{**good, "host": "127.0.0.1:8000"})


def test_commands_attach_the_capture_module(tmp_path: Path):
    spec = LoadRequest(
        host="http://127.0.0.1:1",
        locustfile=tmp_path / "a.py",
        users=3,
        spawn_rate=2,
        duration_s=10,
        results_dir=tmp_path,
        workers=2,
    )
    master, *workers = LoadRunner(spec).commands(master_port=6001)
    assert f"{tmp_path / 'a.py'},{capture_module_path()}" in master
    assert "--master" in master and "--headless" in master and "10s" in master
    assert len(workers) == 2 and all("--worker" in w and "6001" in w for w in workers)


def progress(**kw: Any) -> LoadProgress:
    base: dict[str, Any] = dict(
        elapsed_s=42,
        duration_s=300,
        users=20,
        rps=183.24,
        p95_ms=1471.4,
        requests=200,
        failures=3,
        rate_limited=0,
        cpu_pct=45.0,
    )
    base.update(kw)
    return LoadProgress(**base)


def test_progress_line_format():
    text = format_progress(progress())
    assert text.startswith("load 0:42/5:00 (4:18 left) | 20 users | 183.2 rps | p95 1471 ms")
    assert "failures 3 (1.5%)" in text and "cpu 45%" in text
    assert "rate-limited 7" in format_progress(progress(rate_limited=7))
    assert format_progress(progress(state="waiting")) == "load: starting Locust ..."


def test_progress_line_rewrites_in_place_on_a_terminal():
    out = io.StringIO()
    line = ProgressLine(out, tty=True)
    line(progress(elapsed_s=1))
    line(progress(elapsed_s=2))
    line.close()
    assert out.getvalue().count("\r\x1b[2K") == 2 and out.getvalue().endswith("\n")


def test_progress_line_is_plain_and_sparse_in_logs():
    out = io.StringIO()
    line = ProgressLine(out, plain_every_s=10)
    assert not line.tty  # StringIO is no terminal
    for second in range(0, 25):
        line(progress(elapsed_s=second))
    line.close()
    assert out.getvalue().startswith("\n")  # off pytest's own progress line
    lines = out.getvalue().splitlines()[1:]
    assert len(lines) == 4  # at 0, 10 and 20 s, and the last state at close
    assert "\r" not in out.getvalue() and "\x1b" not in out.getvalue()


def test_load_run_is_frozen():
    assert LoadRun.__dataclass_params__.frozen  # type: ignore[attr-defined]


# -- results from capture files, and the charts drawn from them --------------------------


def test_build_load_run_merges_capture_files_exactly(tmp_path: Path):
    run = two_worker_run(tmp_path)
    overall = run.overall
    assert overall.successes == 2 * 10 * 50
    assert overall.failures == {"http_5xx": 2, "timeout": 1} and overall.rate_limited == 1
    assert overall.requests == 1000 + 4
    assert overall.error_rate.total == 1003 and overall.error_rate.failures == 3
    assert [w.start_s for w in overall.windows] == [0.0, 5.0]
    assert [w.requests for w in overall.windows] == [503, 501]
    assert len(overall.series) == 10 and overall.series[3].failures == 2
    everything = [100.0 + 10 * i + j for i in range(10) for j in range(50)] * 2
    assert overall.histogram == LatencyHistogram.merged([_hist(everything)])
    assert overall.rps == pytest.approx(100.4)
    assert overall.locust_p95_ms is None and overall.locust_requests is None
    assert not run.cpu.saturated and run.cpu.max_pct == 96.0  # 3 samples average 80.3%
    json.dumps(run.as_dict())


def _hist(values: list[float]) -> LatencyHistogram:
    hist = LatencyHistogram()
    hist.record_many(values)
    return hist


def test_cpu_saturation_needs_five_busy_seconds_or_locusts_warning():
    from pytest_fixgate.kinds.load.results import CpuUsage

    assert CpuUsage({"local": (99.0, 99.0, 99.0, 99.0, 99.0, 10.0)}).saturated
    assert not CpuUsage({"local": (99.0, 99.0, 10.0, 99.0, 99.0, 10.0)}).saturated
    assert CpuUsage({"local": (10.0,)}, locust_warning=True).saturated
    assert not CpuUsage({}).saturated and CpuUsage({}).max_pct is None


def test_charts_are_self_contained_svg(tmp_path: Path):
    from pytest_fixgate.kinds.load.charts import latency_histogram_svg, timeseries_svg

    run = two_worker_run(tmp_path)
    svg = latency_histogram_svg(run, {"p(95)": 150.0, "p(99)": 200.0})
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert "p(95) threshold 150 ms" in svg and "p95 " in svg
    assert not re.search(r"(href|src)=\"(https?:|file:)", svg)  # nothing fetched
    series = timeseries_svg(run, p95_threshold_ms=150.0, error_rate_threshold=0.01)
    assert series.startswith("<svg") and "threshold 1%" in series and "threshold 150 ms" in series
    # Nothing succeeded: the charts still render, and say so.
    empty = two_worker_run(tmp_path, with_latencies=False)
    assert "no successful request" in latency_histogram_svg(empty, [1500.0])
    assert timeseries_svg(empty, 1500.0, 0.01).startswith("<svg")
