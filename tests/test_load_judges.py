"""The load judges on runs built from capture files: the generator must be trusted first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_fixgate.config.thresholds import compile_threshold
from pytest_fixgate.measurements.load import LoadRun, LoadSpec
from pytest_fixgate.measurements.load.results import CpuUsage, build_load_run
from pytest_fixgate.measurements.stats import LatencyHistogram
from pytest_fixgate.outcomes.load import judge_load_threshold
from pytest_fixgate.outcomes.model import Outcome


def run_with_cpu(tmp_path: Path, cpu: CpuUsage) -> LoadRun:
    steps = {}
    for index in range(10):
        hist = LatencyHistogram()
        hist.record_many(100.0 + j for j in range(100))
        steps[str(index)] = {"hist": hist.encode(), "requests": hist.count, "kinds": {}}
    capture = tmp_path / "capture.json"
    capture.write_text(
        json.dumps(
            {
                "schema": 1,
                "role": "local",
                "pid": 1,
                "t0": 1000.0,
                "t_end": 1010.0,
                "step_s": 1.0,
                "endpoints": [{"method": "GET", "name": "/ready", "steps": steps, "examples": {}}],
            }
        )
    )
    spec = LoadSpec(
        host="http://127.0.0.1:1",
        locustfile=Path("a.py"),
        users=2,
        spawn_rate=2,
        duration_s=10,
        results_dir=tmp_path,
    )
    return build_load_run(
        spec,
        [capture],
        locust_json=None,
        t0=1000.0,
        t_end=1010.0,
        cpu=cpu,
        exit_code=0,
        command=["locust"],
    )


@pytest.mark.parametrize(
    ("cpu", "outcome", "reason"),
    [
        (CpuUsage({"local": (30.0, 35.0, 32.0, 31.0, 30.0)}), Outcome.PASS, "within the limit"),
        (CpuUsage({"local": (95.0,) * 6}), Outcome.INCONCLUSIVE, "CPU-bound"),
        (CpuUsage({}), Outcome.INCONCLUSIVE, "never sampled"),
    ],
    ids=["room", "saturated", "never-sampled"],
)
def test_latency_needs_a_generator_seen_to_have_room(
    tmp_path: Path, cpu: CpuUsage, outcome: Outcome, reason: str
) -> None:
    run = run_with_cpu(tmp_path, cpu)
    for text in ("p(95) < 1500ms", "avg < 1500ms"):
        finding = judge_load_threshold(compile_threshold(text), run.overall, run, min_samples=100)
        assert finding.outcome is outcome, finding.evidence.reason
        assert reason in finding.evidence.reason


def test_error_rate_does_not_depend_on_the_generator(tmp_path: Path) -> None:
    run = run_with_cpu(tmp_path, CpuUsage({}))
    finding = judge_load_threshold(
        compile_threshold("error_rate < 1%"), run.overall, run, min_samples=100
    )
    assert finding.outcome is Outcome.PASS, finding.evidence.reason
