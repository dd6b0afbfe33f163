"""The watch engine and Prometheus fire at the same evaluation times: the same series are
fed to `promtool test rules` (over the exported rules) and to the engine (a replay), for
the runbook's default rules, the `for:` boundary pinned."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from prometheus_real import needs_prometheus

from pytest_fixgate.config.thresholds import compile_threshold
from pytest_fixgate.rules.export import Scenario, export_rules, unit_tests
from pytest_fixgate.rules.replay import expand_values, firing_at
from pytest_fixgate.watch.engine import Rule
from pytest_fixgate.watch.rules import PROBE_METRICS, default_watch

EVAL_S = 60.0  # promtool's default evaluation_interval


def _runbook_rules() -> list[Rule]:
    cfg = default_watch({})
    return [r for r in cfg.rules if r.source == "probe"]


SCENARIOS = [
    # Data from 2m30s: pending from the 3m evaluation, still pending at 4m30s, firing at 5m.
    Scenario(
        "errors 10% from 2m30s",
        30,
        {"fixgate:error_rate": "_x5 0.1x20", "fixgate:latency_p95_ms": "100x25"},
        12 * 60,
    ),
    # One good minute in the middle resets every `for`.
    Scenario(
        "errors 3% with a dip",
        60,
        {"fixgate:error_rate": "0.03x3 0.01 0.03x8", "fixgate:latency_p99_ms": "3000x12"},
        12 * 60,
    ),
    # A gap longer than the 5 m lookback is no data: it resets too.
    Scenario(
        "latency with a long gap",
        60,
        {"fixgate:latency_p95_ms": "2000x3 _x6 2000x8", "fixgate:latency_p99_ms": "2600x17"},
        18 * 60,
    ),
]


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["promtool", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_for_boundary_is_pinned_in_the_replay() -> None:
    rule = Rule(
        "errors",
        "SEV-1",
        compile_threshold("error_rate > 5%", PROBE_METRICS),
        for_s=120,
    )
    firing = firing_at(
        [rule],
        {"fixgate:error_rate": expand_values("_x5 0.1x20")},
        interval_s=30,
        evaluation_interval_s=EVAL_S,
        eval_times=[180, 240, 270, 300],
    )
    assert firing == {180: set(), 240: set(), 270: set(), 300: {"errors"}}


@needs_prometheus
def test_promtool_and_the_engine_fire_at_the_same_times(tmp_path: Path) -> None:
    rules = _runbook_rules()
    assert {r.id for r in rules} >= {"error-rate-sev1", "error-rate-sev2", "latency-p95"}
    exported = export_rules(rules, "production", EVAL_S)
    assert {r.id for r in exported.exported} == {
        "error-rate-sev1",
        "error-rate-sev2",
        "latency-p95",
        "latency-p99",
    }
    assert [r.id for r, _ in exported.skipped] == ["ready-fails"]  # no readiness metric
    (tmp_path / "alerts.yml").write_text(exported.alerts)
    (tmp_path / "recording.yml").write_text(exported.recording)
    tests = unit_tests(
        "alerts.yml", list(exported.exported), SCENARIOS, evaluation_interval_s=EVAL_S
    )
    (tmp_path / "tests.yml").write_text(tests)
    checked = _promtool("check", "rules", "alerts.yml", "recording.yml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    ran = _promtool("test", "rules", "tests.yml", cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    # The expectations are not all empty: each rule fires somewhere, and not everywhere.
    for rule in exported.exported:
        assert f'fixgate_rule: "{rule.id}"' in tests, rule.id
    assert tests.count("exp_alerts: []") > 100


@needs_prometheus
def test_promtool_catches_an_engine_that_fired_one_evaluation_early(tmp_path: Path) -> None:
    # The check can fail: the same test with the engine's 'for' shortened by one
    # evaluation expects the alert at 4m, where Prometheus still has it pending.
    rules = _runbook_rules()
    exported = export_rules(rules, "production", EVAL_S)
    (tmp_path / "alerts.yml").write_text(exported.alerts)
    early = [
        Rule(r.id, r.severity, r.when, source=r.source, for_s=r.for_s - EVAL_S)
        for r in exported.exported
    ]
    tests = unit_tests("alerts.yml", early, SCENARIOS[:1], evaluation_interval_s=EVAL_S)
    # Keep the summaries of the real rules, so only the timing differs.
    for real, short in zip(exported.exported, early, strict=True):
        tests = tests.replace(short.describe(), real.describe())
    (tmp_path / "tests.yml").write_text(tests)
    ran = _promtool("test", "rules", "tests.yml", cwd=tmp_path)
    assert ran.returncode != 0
    assert "error-rate-sev1" in ran.stdout + ran.stderr


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("1 2 _ 3", [1.0, 2.0, None, 3.0]),
        ("1+1x3", [1.0, 2.0, 3.0, 4.0]),
        ("5-2x2 _x2", [5.0, 3.0, 1.0, None, None]),
        ("0.1x2", [0.1, 0.1, 0.1]),
    ],
)
def test_promtool_values_notation(text: str, values: list) -> None:
    assert expand_values(text) == values
