"""The load judges on runs built from capture files: proven failures FAIL at any sample
count, latency gates do not hide failures, windows without data are not a pass, and the
generator must be trusted before its latencies are."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from loadruns import synthetic_run

from pytest_fixgate.config.thresholds import compile_threshold
from pytest_fixgate.kinds.load.judge import endpoint_stats, judge_load_threshold
from pytest_fixgate.kinds.load.results import CpuUsage, LoadRun
from pytest_fixgate.outcomes.model import Finding, Outcome

ONE_PERCENT = compile_threshold("error_rate < 1%")


def run_with_cpu(tmp_path: Path, cpu: CpuUsage) -> LoadRun:
    steps: dict[int, dict[str, object]] = {
        i: {"ok": [100.0 + j for j in range(100)]} for i in range(10)
    }
    return synthetic_run(tmp_path, steps, cpu=cpu)


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


def judge(run: LoadRun, text: str, min_samples: int = 100, **kw: object):
    return judge_load_threshold(
        compile_threshold(text), run.overall, run, min_samples=min_samples, **kw
    )


def test_latency_alone_does_not_hide_sixty_percent_failures(tmp_path: Path) -> None:
    # 40 fast successes and 60 HTTP 500s a second: the successes' p95 is 10 ms.
    steps = {i: {"ok": [10.0] * 40, "kinds": {"http_5xx": 60}} for i in range(10)}
    run = synthetic_run(tmp_path, steps)
    blind = judge(run, "p(95) < 1500ms")
    assert blind.outcome is Outcome.PASS  # the judge alone sees only the answers
    held = judge(run, "p(95) < 1500ms", error_limit=ONE_PERCENT)
    assert held.outcome is Outcome.FAIL, held.evidence.reason
    assert "600 of 1000 requests failed (60.00%), over error_rate < 1%" in held.evidence.reason
    assert held.evidence.measured and held.evidence.measured.startswith("10.0 ms")


def test_failures_over_the_limit_but_not_proven_are_inconclusive(tmp_path: Path) -> None:
    # 2 of 100 failed: 2% is over 1%, but the Wilson interval reaches down to 0.55%.
    run = synthetic_run(tmp_path, {0: {"ok": [10.0] * 98, "kinds": {"http_5xx": 2}}})
    finding = judge(run, "p(95) < 1500ms", error_limit=ONE_PERCENT)
    assert finding.outcome is Outcome.INCONCLUSIVE, finding.evidence.reason
    assert "interval reaches below it" in finding.evidence.reason
    clean = synthetic_run(tmp_path, {0: {"ok": [10.0] * 100}})
    assert judge(clean, "p(95) < 1500ms", error_limit=ONE_PERCENT).outcome is Outcome.PASS


@pytest.mark.parametrize("n", [3, 30, 99])
def test_a_proven_failure_is_fail_below_min_samples(tmp_path: Path, n: int) -> None:
    # fixgate demo --fault db-down: every request failed.
    run = synthetic_run(tmp_path, {0: {"kinds": {"http_5xx": n}}})
    rate = judge(run, "error_rate < 1%")
    assert rate.outcome is Outcome.FAIL, rate.evidence.reason
    assert rate.evidence.measured and rate.evidence.measured.startswith("100.00% (95% CI")
    latency = judge(run, "p(95) < 1500ms", error_limit=ONE_PERCENT)
    assert latency.outcome is Outcome.FAIL and "no request succeeded" in latency.evidence.reason


def test_min_samples_only_holds_back_a_would_be_pass(tmp_path: Path) -> None:
    run = synthetic_run(tmp_path, {0: {"ok": [10.0] * 30}})
    finding = judge(run, "p(95) < 1500ms")
    assert finding.outcome is Outcome.INCONCLUSIVE
    assert "only 30 requests, fewer than min_samples = 100" in finding.evidence.reason
    assert finding.evidence.measured  # the figure is still shown
    slow = synthetic_run(tmp_path, {0: {"ok": [3010.0] * 10}})
    assert judge(slow, "p(95) < 1500ms").outcome is Outcome.FAIL  # 10 requests prove it


def test_a_window_where_nothing_ended_is_no_pass(tmp_path: Path) -> None:
    # Fine until 4 s, then a hang: nothing ends in 4-10 s.
    steps = {i: {"ok": [10.0] * 100} for i in range(4)}
    run = synthetic_run(tmp_path, steps, window_s=2)
    assert [w.requests for w in run.overall.windows] == [200, 200, 0, 0, 0]
    finding = judge(run, "p(95) < 1500ms")
    assert finding.outcome is Outcome.INCONCLUSIVE, finding.evidence.reason
    assert "4-6 s (no request ended in it: a hang?)" in finding.evidence.reason


def test_requests_cut_off_by_a_hang_fail_their_window(tmp_path: Path) -> None:
    # The hung requests ended (timed out, or were stopped) in the last step, 5 s and more.
    steps: dict[int, dict[str, object]] = {i: {"ok": [10.0] * 100} for i in range(4)}
    steps[9] = {"censored": [5500.0] * 4, "kinds": {"unfinished": 4}}
    run = synthetic_run(tmp_path, steps, window_s=2)
    finding = judge(run, "p(95) < 1500ms")
    assert finding.outcome is Outcome.FAIL, finding.evidence.reason
    assert "8-10 s: p95 at least" in finding.evidence.reason
    assert run.overall.failures == {"unfinished": 4}


def test_an_aborted_run_fails_what_it_proved_and_nothing_passes(tmp_path: Path) -> None:
    steps = {i: {"ok": [10.0] * 50, "kinds": {"http_5xx": 50}} for i in range(3)}
    aborted = {"at_s": 3.0, "reason": "error rate certain over 1%"}
    run = synthetic_run(tmp_path, steps, duration_s=60, aborted=aborted)
    assert judge(run, "error_rate < 1%").outcome is Outcome.FAIL
    rps = judge(run, "rps > 1")
    assert rps.outcome is Outcome.INCONCLUSIVE
    assert "stopped early at 3.0 s of 60 s" in rps.evidence.reason
    assert "needed the full duration" in rps.evidence.reason


@pytest.mark.parametrize("text", ["error_rate < 1%", "rps > 1", "count < 100000"])
def test_lost_workers_pass_no_gate(tmp_path: Path, text: str) -> None:
    # The lost worker's requests (and failures) are missing: nothing measured on the rest passes.
    steps = {i: {"ok": [10.0] * 100} for i in range(10)}
    run = dataclasses.replace(synthetic_run(tmp_path, steps), lost_workers=("w2",))
    finding = judge(run, text)
    assert finding.outcome is Outcome.INCONCLUSIVE, finding.evidence.reason
    assert "lost mid-run" in finding.evidence.reason


def test_a_per_endpoint_threshold_finds_one_endpoint_or_errors(tmp_path: Path) -> None:
    steps = {i: {"ok": [10.0] * 100} for i in range(10)}
    one = synthetic_run(tmp_path, steps)
    assert endpoint_stats("/ready", one) is one.endpoints[0]
    missing = endpoint_stats("/typo", one)
    assert isinstance(missing, Finding) and missing.outcome is Outcome.ERROR
    assert "no request named '/typo'" in missing.evidence.reason
    # GET and POST under one name: judging the first would leave the other unjudged.
    both = synthetic_run(tmp_path, steps, methods=("GET", "POST"))
    found = endpoint_stats("/ready", both)
    assert isinstance(found, Finding) and found.outcome is Outcome.ERROR
    assert "several requests named '/ready' (GET, POST)" in found.evidence.reason


def test_avg_and_max_do_not_hide_failures(tmp_path: Path) -> None:
    # 40 fast successes and 60 HTTP 500s a second: a latency gate, point value or not.
    steps = {i: {"ok": [10.0] * 40, "kinds": {"http_5xx": 60}} for i in range(10)}
    run = synthetic_run(tmp_path, steps)
    for text in ("avg < 1500ms", "max < 1500ms"):
        finding = judge(run, text, error_limit=ONE_PERCENT)
        assert finding.outcome is Outcome.FAIL, finding.evidence.reason
        assert "600 of 1000 requests failed" in finding.evidence.reason


def test_avg_and_max_count_timed_out_requests(tmp_path: Path) -> None:
    # One request timed out at 10 s among 1000 fast ones (0.1% errors, within 1%).
    steps: dict[int, dict[str, object]] = {i: {"ok": [100.0] * 100} for i in range(10)}
    steps[5] = {"ok": [100.0] * 99, "censored": [10000.0], "kinds": {"timeout": 1}}
    run = synthetic_run(tmp_path, steps)
    expected = {
        "max < 2000ms": Outcome.FAIL,  # at least 10 s
        "avg < 500ms": Outcome.INCONCLUSIVE,  # the timed-out one has no upper bound
        "min < 200ms": Outcome.PASS,
    }
    for text, outcome in expected.items():
        finding = judge(run, text, error_limit=ONE_PERCENT)
        assert finding.outcome is outcome, (text, finding.evidence.reason)
        if outcome is not Outcome.PASS:
            assert "timed-out or unfinished" in finding.evidence.reason
