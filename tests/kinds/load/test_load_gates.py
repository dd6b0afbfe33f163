"""The load gates end to end: real Locust against the reference service, short runs.

Each case sets the service's faults, runs the real gate suite with a [load]
table, and checks the outcome the JSON verdict names. Durations are a few
seconds; the request counts are what makes each verdict decidable at 95%.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from gaterun import run_gate
from loadruns import FLAT_OUT, load_config

# Load-generating tests share one xdist worker (`--dist loadgroup`): two flat-out
# loads at once would starve each other and turn latency verdicts into noise.
pytestmark = pytest.mark.xdist_group("load")


def load_gates(run: Any) -> dict[str, dict[str, Any]]:
    return {g["id"]: g for g in run.verdict["gates"] if g["id"].startswith("load.")}


def test_fast_service_passes_with_counts_and_intervals(tmp_path: Path, reference: Any) -> None:
    config = load_config(
        reference.base_url,
        users=8,
        duration="4s",
        thresholds=["p(95) < 1500ms", "p(99) < 2500ms", "error_rate < 5%"],
    )
    run = run_gate(tmp_path, config, environ=FLAT_OUT)
    gates = load_gates(run)
    assert {k: g["outcome"] for k, g in gates.items()} == {
        "load.p(95)": "PASS",
        "load.p(99)": "PASS",
        "load.error_rate": "PASS",
    }, run.output
    assert run.exit_code == 0
    p95 = gates["load.p(95)"]
    assert p95["samples"] > 500
    estimate = p95["evidence"]["estimate"]
    assert estimate["low_ms"] <= estimate["value_ms"] <= estimate["high_ms"] < 1500
    summary = p95["evidence"]["load_run"]
    overall = summary["overall"]
    assert overall["requests"] == p95["samples"]
    for name in ("p50", "p95", "p99"):
        assert overall["latency_ms"][name]["n"] == overall["successes"]
    assert overall["error_rate"]["method"] == "Wilson score interval"
    assert summary["endpoints"][0]["name"] == "/api/health/ready"
    # The evidence carries a chart for the HTML report.
    assert "<svg" in run.files["html"].read_text()  # fixgate's own report: inline SVG


@pytest.mark.parametrize(
    ("slow_fraction", "outcome"),
    [(0.10, "FAIL"), (0.02, "PASS")],
    ids=["10%-slow-p95-over", "2%-slow-p95-under"],
)
def test_slow_fraction_decides_p95(
    tmp_path: Path, reference: Any, slow_fraction: float, outcome: str
) -> None:
    reference.set_faults(slow_fraction=slow_fraction, slow_ms=1600, paths=["/api/health/ready"])
    config = load_config(reference.base_url, users=32, duration="5s", thresholds=["p(95) < 1500ms"])
    run = run_gate(tmp_path, config, environ=FLAT_OUT)
    gate = load_gates(run)["load.p(95)"]
    assert gate["outcome"] == outcome, gate["reason"]


@pytest.mark.parametrize(
    ("latency", "outcome"),
    [("fixed:1460", "PASS"), ("fixed:1520", "FAIL")],
    ids=["1460ms", "1520ms"],
)
def test_exact_percentiles_decide_where_locust_buckets_cannot(
    tmp_path: Path, reference: Any, latency: str, outcome: str
) -> None:
    reference.set_faults(latency_distribution=latency, paths=["/api/health/ready"])
    # Users start over 2 s, so their requests do not arrive in lockstep waves; the 2 s
    # of spawning (each user's first request pays for its connection) are warm-up.
    config = load_config(
        reference.base_url,
        users=40,
        spawn_rate=20,
        duration="8s",
        thresholds=["p(95) < 1500ms"],
        extra='warmup = "2s"',
    )
    run = run_gate(tmp_path, config, environ=FLAT_OUT)
    gate = load_gates(run)["load.p(95)"]
    assert gate["outcome"] == outcome, gate["reason"]
    # Locust's own figure is bucketed to 100 ms and reads at least 1500 for both: on its
    # own it would have failed the 1460 ms service too.
    locust_p95 = gate["evidence"]["locust_p95_ms"]
    assert locust_p95 >= 1500 and locust_p95 % 100 == 0
    assert f"Locust's own bucketed p95 reads {locust_p95:g} ms" in gate["reason"]


@pytest.mark.parametrize(
    ("ratio", "outcome"),
    [(0.03, "FAIL"), (0.005, "PASS")],
    ids=["3%", "0.5%"],
)
def test_error_rate(tmp_path: Path, reference: Any, ratio: float, outcome: str) -> None:
    reference.set_faults(error_ratio=ratio, paths=["/api/health/ready"])
    config = load_config(
        # 2,000 requests at 0.5% give a Wilson upper bound of 0.92%: enough to decide.
        reference.base_url,
        users=8,
        duration="6s",
        thresholds=["error_rate < 1%"],
        min_samples=2000,
    )
    run = run_gate(tmp_path, config, environ=FLAT_OUT)
    gate = load_gates(run)["load.error_rate"]
    assert gate["outcome"] == outcome, gate["reason"]
    assert gate["evidence"]["failures"]["http_5xx"] > 0


def test_rate_limited_is_inconclusive(tmp_path: Path, reference: Any) -> None:
    reference.set_faults(rate_limit_per_min=120)
    config = load_config(
        reference.base_url, users=4, duration="3s", thresholds=["p(95) < 1500ms", "error_rate < 1%"]
    )
    run = run_gate(tmp_path, config, environ=FLAT_OUT)
    gates = load_gates(run)
    assert set(gates) == {"load.p(95)", "load.error_rate"}
    for gate in gates.values():
        assert gate["outcome"] == "INCONCLUSIVE", (gate["id"], gate["reason"])
        assert "HTTP 429" in gate["reason"] and "120 requests/min" in gate["reason"]
    assert run.verdict["decision"] == "HOLD"


def test_broken_locustfile_is_error(tmp_path: Path, reference: Any) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("import locust\nraise RuntimeError('this locustfile is broken')\n")
    config = load_config(
        reference.base_url,
        users=2,
        duration="2s",
        thresholds=["p(95) < 1500ms", "error_rate < 1%"],
        locustfile=str(broken),
    )
    run = run_gate(tmp_path, config)
    gates = load_gates(run)
    assert {g["outcome"] for g in gates.values()} == {"ERROR"}
    assert all("this locustfile is broken" in g["reason"] for g in gates.values())
    assert run.exit_code == 1


def test_missing_locustfile_is_error(tmp_path: Path, reference: Any) -> None:
    config = load_config(
        reference.base_url,
        users=2,
        duration="2s",
        thresholds=["p(95) < 1500ms"],
        locustfile="locustfiles/nope.py",
    )
    run = run_gate(tmp_path, config)
    gate = load_gates(run)["load.p(95)"]
    assert gate["outcome"] == "ERROR"
    assert "nope.py" in gate["reason"]


def test_unknown_endpoint_threshold_is_error(tmp_path: Path, reference: Any) -> None:
    config = load_config(
        reference.base_url,
        users=4,
        duration="2s",
        thresholds=["error_rate < 50%"],  # an empty list is a config error
        extra='[env.staging.load.endpoints."/api/typo"]\nthresholds = ["p(95) < 1500ms"]\n',
    )
    run = run_gate(tmp_path, config, environ=FLAT_OUT)
    gate = load_gates(run)["load./api/typo.p(95)"]
    assert gate["outcome"] == "ERROR"
    assert "no request named '/api/typo'" in gate["reason"]


def test_xdist_makes_one_load_run_and_the_same_decision(tmp_path: Path, reference: Any) -> None:
    config = load_config(
        reference.base_url,
        users=8,
        duration="3s",
        thresholds=["p(95) < 1500ms", "p(99) < 2500ms", "error_rate < 5%", "rps > 10"],
    )
    serial = run_gate(tmp_path / "serial", config, environ=FLAT_OUT)
    parallel = run_gate(tmp_path / "parallel", config, "-n", "2", environ=FLAT_OUT)
    for run in (serial, parallel):
        gates = load_gates(run)
        starts = {g["evidence"]["load_run"]["started"] for g in gates.values()}
        assert len(gates) == 4 and len(starts) == 1, starts  # one Locust run for all gates
    assert "created: 2/2 workers" in parallel.output
    assert serial.verdict["decision"] == parallel.verdict["decision"] == "PROMOTE"
    assert {k: g["outcome"] for k, g in load_gates(serial).items()} == {
        k: g["outcome"] for k, g in load_gates(parallel).items()
    }


def test_unreachable_target_is_error_without_minutes_of_load(tmp_path: Path) -> None:
    from pytest_fixgate.reference import free_port

    config = load_config(
        f"http://127.0.0.1:{free_port()}",
        users=2,
        duration="5m",
        thresholds=["p(95) < 1500ms", "error_rate < 1%"],
    )
    run = run_gate(tmp_path, config, timeout=60)
    gates = load_gates(run)
    assert {g["outcome"] for g in gates.values()} == {"ERROR"}
    assert all("the target is unreachable" in g["reason"] for g in gates.values())
    assert all(g["duration_s"] < 10 for g in gates.values())


def test_outside_the_warning_band_is_warn_and_still_promotes(
    tmp_path: Path, reference: Any
) -> None:
    config = load_config(
        reference.base_url,
        users=4,
        duration="3s",
        thresholds=["p(95) < 1500ms"],
        extra='warn = ["p(95) < 0.5ms"]',
    )
    run = run_gate(tmp_path, config, environ=FLAT_OUT)
    gate = load_gates(run)["load.p(95)"]
    assert gate["outcome"] == "WARN", gate["reason"]
    assert "warning band p(95) < 0.5ms" in gate["reason"]
    assert run.exit_code == 0
    assert run.verdict["decision"] == "PROMOTE"
    assert "with warnings" in run.verdict["reason"]


def test_latency_alone_does_not_hide_failures_and_a_hopeless_run_stops_early(
    tmp_path: Path, reference: Any
) -> None:
    # Only a latency limit, 60% HTTP 500s, a 5-minute run: the runbook's error_rate < 1% is
    # added, the p95 of the fast 500s cannot PASS, and the load stops once FAIL is certain.
    reference.set_faults(error_ratio=0.6, paths=["/api/health/ready"])
    config = load_config(reference.base_url, users=4, duration="5m", thresholds=["p(95) < 1500ms"])
    run = run_gate(tmp_path, config, environ=FLAT_OUT, timeout=60)
    gates = load_gates(run)
    assert {k: g["outcome"] for k, g in gates.items()} == {
        "load.p(95)": "FAIL",
        "load.error_rate": "FAIL",
    }, run.output
    assert "over error_rate < 1%" in gates["load.p(95)"]["reason"]
    assert gates["load.error_rate"]["threshold"] == "error_rate < 1%"
    aborted = gates["load.error_rate"]["evidence"]["load_run"]["aborted"]
    assert aborted is not None and aborted["at_s"] < 10, aborted
    assert "lies wholly over error_rate < 1%" in aborted["reason"]
    assert "stopped early" in gates["load.error_rate"]["reason"]
    assert all(g["duration_s"] < 30 for g in gates.values())
    assert run.verdict["decision"] == "HOLD" and run.exit_code == 1


HANG_AFTER_4_5_S = """
import json
import os
import urllib.request

import gevent
from locust import HttpUser, constant, events, task


@events.test_start.add_listener
def _hang_later(environment, **kw):
    # The service stops answering 4.5 s into the load, for 60 s.
    def hang():
        body = json.dumps({"latency_ms": 60000, "paths": ["/api/health/ready"]}).encode()
        request = urllib.request.Request(
            environment.host + "/__fixgate/faults", data=body, method="PUT"
        )
        urllib.request.urlopen(request, timeout=5).read()

    gevent.spawn_later(4.5, hang)


class Ready(HttpUser):
    wait_time = constant(0.01)

    @task
    def ready(self):
        self.client.get("/api/health/ready", name="/api/health/ready")
"""


# A worker sends its finished windows with its report, every ~3 s: the 6-8 s window that
# fails may reach the master only after 11 s, so that run is longer.
@pytest.mark.parametrize(
    ("workers", "duration"), [(0, "10s"), (1, "14s")], ids=["one-process", "master-and-worker"]
)
def test_a_hang_is_seen_in_its_windows(
    tmp_path: Path, reference: Any, workers: int, duration: str
) -> None:
    locustfile = tmp_path / "hang.py"
    locustfile.write_text(HANG_AFTER_4_5_S)
    # The hung requests time out (2 s) and count as errors: about 2% of the run by 11 s.
    # Under the runbook's default error_rate < 1%, that FAIL became certain as early as
    # the master's merged 6-8 s window (a worker sends its windows every ~3 s) and
    # stopped the load first. This test is about the windows: an error-rate limit that
    # a hang cannot reach leaves the window as the only way to stop the run.
    config = load_config(
        reference.base_url,
        users=4,
        duration=duration,
        thresholds=["p(95) < 1500ms", "error_rate < 50%"],
        locustfile=str(locustfile),
        extra=f'window = "2s"\nrequest_timeout = "2s"\nworkers = {workers}',
    )
    run = run_gate(tmp_path, config, timeout=90)
    gate = load_gates(run)["load.p(95)"]
    assert gate["outcome"] == "FAIL", gate["reason"]
    assert "does not hold in every 2 s window" in gate["reason"]
    assert "p95 at least" in gate["reason"]  # the timed-out requests, at their 2 s
    # abort_on_fail: the failed window stopped the load; the windows run up to that point.
    aborted = gate["evidence"]["load_run"]["aborted"]
    assert aborted is not None and "window" in aborted["reason"], aborted
    windows = gate["evidence"]["windows"]
    assert windows[-1]["end_s"] == pytest.approx(aborted["at_s"], abs=0.01)
    assert [w["start_s"] for w in windows] == [2.0 * i for i in range(len(windows))]
    assert run.verdict["decision"] == "HOLD"


def test_a_hang_without_abort_leaves_no_window_unjudged(tmp_path: Path, reference: Any) -> None:
    locustfile = tmp_path / "hang.py"
    locustfile.write_text(HANG_AFTER_4_5_S)
    config = load_config(
        reference.base_url,
        users=4,
        duration="10s",
        thresholds=["p(95) < 1500ms"],
        locustfile=str(locustfile),
        extra='window = "2s"\nrequest_timeout = "2s"\nabort_on_fail = false',
    )
    run = run_gate(tmp_path, config, timeout=90)
    gate = load_gates(run)["load.p(95)"]
    assert gate["outcome"] == "FAIL", gate["reason"]
    windows = gate["evidence"]["windows"]
    assert [w["start_s"] for w in windows] == [0.0, 2.0, 4.0, 6.0, 8.0]  # the whole run
    assert windows[-1]["end_s"] == 10
    assert gate["evidence"]["load_run"]["aborted"] is None
    assert run.verdict["decision"] == "HOLD"


def test_an_unreachable_target_is_probed_once_for_all_load_gates(tmp_path: Path) -> None:
    # Each probe of a black-holed target costs a timeout: the first gate's is shared.
    from pytest_fixgate.kinds.load.request import LoadRequest
    from pytest_fixgate.kinds.load.runner import LoadRunError
    from pytest_fixgate.kinds.load.session import run_load_once

    spec = LoadRequest(
        host="http://127.0.0.1:1",
        locustfile=tmp_path / "a.py",
        users=1,
        spawn_rate=1,
        duration_s=5,
        results_dir=tmp_path / "results",
    )
    probes = []

    def preflight() -> None:
        probes.append(1)
        raise LoadRunError("no load run: the target is unreachable (timed out)")

    for _ in range(3):
        with pytest.raises(LoadRunError, match="the target is unreachable"):
            run_load_once(spec, tmp_path / "shared", preflight=preflight)
    assert len(probes) == 1
