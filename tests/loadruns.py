"""Load runs for the tests: configs of a real load gate run (``load_config``), and runs
built from synthetic capture files (the format ``capture.py`` writes) for the judges',
the runner's and the HTML report's tests."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from gaterun import REPO, staging_config

from pytest_fixgate.kinds.load.request import LoadRequest
from pytest_fixgate.kinds.load.results import CpuUsage, LoadRun, build_load_run
from pytest_fixgate.measurements.stats import LatencyHistogram

#: A generator with room to spare (no CPU saturation).
ROOM = CpuUsage({"local": (30.0, 35.0, 32.0, 31.0, 30.0)})


def capture_file(
    path: Path,
    steps: Mapping[int, Mapping[str, object]],
    *,
    role: str = "local",
    name: str = "/ready",
    methods: Sequence[str] = ("GET",),
) -> Path:
    """One process's capture: per step, "ok" latencies, "censored" lower bounds and
    failure "kinds" ({kind: count})."""
    encoded = {}
    for index, step in sorted(steps.items()):
        ok, censored = LatencyHistogram(), LatencyHistogram()
        ok.record_many(step.get("ok", []))  # type: ignore[arg-type]
        censored.record_many(step.get("censored", []))  # type: ignore[arg-type]
        kinds: dict[str, int] = dict(step.get("kinds", {}))  # type: ignore[call-overload]
        encoded[str(index)] = {
            "hist": ok.encode(),
            "censored": censored.encode(),
            "requests": ok.count + sum(kinds.values()),
            "kinds": kinds,
        }
    endpoints = [{"method": m, "name": name, "steps": encoded, "examples": {}} for m in methods]
    data = {"schema": 1, "role": role, "pid": 1, "step_s": 1.0, "endpoints": endpoints}
    path.write_text(json.dumps(data))
    return path


def synthetic_run(
    tmp_path: Path,
    steps: Mapping[int, Mapping[str, object]] | None = None,
    *,
    files: Sequence[Path] = (),
    duration_s: int = 10,
    window_s: float | None = None,
    aborted: dict[str, object] | None = None,
    cpu: CpuUsage = ROOM,
    methods: Sequence[str] = ("GET",),
) -> LoadRun:
    """A run built exactly as the runner builds one: from ``files``, or from one capture
    file of ``steps``."""
    if steps is not None:
        files = [capture_file(tmp_path / "capture.json", steps, methods=methods)]
    spec = LoadRequest(
        host="http://127.0.0.1:1",
        locustfile=Path("a.py"),
        users=2,
        spawn_rate=2,
        duration_s=duration_s,
        window_s=window_s,
        results_dir=tmp_path,
    )
    return build_load_run(
        spec,
        list(files),
        locust_json=None,
        t0=1000.0,
        t_end=1000.0 + duration_s,
        cpu=cpu,
        exit_code=1,
        command=["locust"],
        aborted=aborted,
    )


def two_worker_run(tmp_path: Path, *, with_latencies: bool = True) -> LoadRun:
    """Two workers, 50 successes per step each (none without latencies), a few failures."""

    def steps(failures: dict[int, dict[str, int]]) -> dict[int, dict[str, object]]:
        found: dict[int, dict[str, object]] = {}
        for i in range(10):
            if with_latencies:
                found.setdefault(i, {})["ok"] = [100.0 + 10 * i + j for j in range(50)]
        for i, kinds in failures.items():
            found.setdefault(i, {})["kinds"] = kinds
        return found

    files = [
        capture_file(
            tmp_path / "w1.json",
            steps({3: {"http_5xx": 2, "rate_limited": 1}}),
            role="worker",
            name="/a",
        ),
        capture_file(tmp_path / "w2.json", steps({7: {"timeout": 1}}), role="worker", name="/a"),
    ]
    return synthetic_run(
        tmp_path, files=files, window_s=5, cpu=CpuUsage({"worker-1": (50.0, 95.0, 96.0)})
    )


# Flat out, no think time: many samples in a short run.
FLAT_OUT = {"FIXGATE_READY_WAIT_MIN_S": "0", "FIXGATE_READY_WAIT_MAX_S": "0"}


def load_config(
    base_url: str,
    *,
    users: int,
    duration: str,
    thresholds: list[str],
    min_samples: int = 100,
    locustfile: str = "locustfiles/ready.py",
    extra: str = "",
    spawn_rate: int | None = None,
) -> str:
    quoted = ", ".join(f'"{t}"' for t in thresholds)
    return staging_config(
        base_url,
        f"""
[[env.staging.health]]
path = "/api/health"
expect_json = {{ status = "ok" }}

[env.staging.load]
locustfile = "{REPO / locustfile}"
users = {users}
spawn_rate = {spawn_rate or users}
duration = "{duration}"
min_samples = {min_samples}
thresholds = [{quoted}]
{extra}
""",
    )
