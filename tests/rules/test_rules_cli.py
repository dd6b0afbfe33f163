"""`fixgate rules export` (promtool accepts and passes what it writes) and `fixgate rules test`
(promtool-format unit tests run against the watch engine)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from prometheus_real import needs_prometheus

REPO = Path(__file__).resolve().parents[2]

CONFIG = """
[env.production]
base_url = "https://fixzit.example.com"
[env.production.watch]
interval = "30s"
[[env.production.watch.rules]]
id = "errors-for"
severity = "SEV-1"
when = "error_rate > 5%"
for = "2m"
[[env.production.watch.rules]]
id = "errors-window"
severity = "SEV-2"
when = "error_rate > 2%"
window = "2m"
[[env.production.watch.rules]]
id = "errors-count"
severity = "SEV-2"
when = "error_rate > 5%"
count = 3
within = "3m"
[[env.production.watch.rules]]
id = "slow"
severity = "SEV-2"
when = "p(99) > 2500ms"
for = "1m"
[[env.production.watch.rules]]
id = "ready"
severity = "SEV-1"
when = "ready == false"
count = 2
within = "3m"
"""


def _fixgate(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "pytest_fixgate.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _promtool(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["promtool", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def _export(tmp_path: Path) -> Path:
    (tmp_path / "fixgate.toml").write_text(CONFIG)
    done = _fixgate(tmp_path, "rules", "export", "--env", "production", "--out", "out")
    assert done.returncode == 0, done.stderr
    assert "not exported: ready (probe ready: no Prometheus twin)" in done.stdout
    return tmp_path / "out"


@needs_prometheus
def test_export_is_accepted_by_promtool_and_its_tests_pass_in_prometheus(tmp_path: Path) -> None:
    out = _export(tmp_path)
    checked = _promtool(out, "check", "rules", "production.alerts.yml", "production.recording.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 4 rules found" in checked.stdout  # ready is not exported
    alerts = (out / "production.alerts.yml").read_text()
    assert "for: 120s" in alerts and "avg_over_time(fixgate:error_rate[120s])" in alerts
    assert "count_over_time((fixgate:error_rate > 0.05)[179999ms:30s]) >= 3" in alerts
    recording = (out / "production.recording.yml").read_text()
    assert "fixgate_http_requests_total" in recording
    assert "fixgate_http_request_duration_seconds_bucket" in recording
    # The test file's expectations come from the watch engine; Prometheus agrees with them
    # for the for, window and count rules alike.
    ran = _promtool(out, "test", "rules", "production.test.yml")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "exp_labels" in (out / "production.test.yml").read_text()


def test_rules_test_runs_promtool_format_against_the_engine(tmp_path: Path) -> None:
    out = _export(tmp_path)
    passed = _fixgate(tmp_path, "rules", "test", "out/production.test.yml", "--env", "production")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "alert checks passed" in passed.stdout
    # A hand-written test expecting the 'for' alert one evaluation early fails, naming it.
    (out / "early.yml").write_text(
        """
evaluation_interval: 30s
tests:
  - interval: 30s
    input_series:
      - series: 'fixgate:error_rate{job="reference"}'
        values: '0 0.1x10'
    alert_rule_test:
      - eval_time: 2m
        alertname: errors-for
        exp_alerts: [{exp_labels: {severity: SEV-1}}]
      - eval_time: 2m30s
        alertname: errors-for
        exp_alerts: [{exp_labels: {severity: SEV-1}}]
"""
    )
    failed = _fixgate(tmp_path, "rules", "test", "out/early.yml", "--env", "production")
    assert failed.returncode == 1
    assert "FAILED: tests[0] errors-for at 120s: expected firing" in failed.stdout
    assert "at 150s" not in failed.stdout  # pending from 30s, firing at 2m30s
    assert "1/2 alert checks passed" in failed.stdout


def test_rules_test_bad_file_or_unknown_rule_is_one_line_exit_4(tmp_path: Path) -> None:
    (tmp_path / "fixgate.toml").write_text(CONFIG)
    (tmp_path / "bad.yml").write_text("tests: [\n")
    bad = _fixgate(tmp_path, "rules", "test", "bad.yml", "--env", "production")
    assert bad.returncode == 4 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    (tmp_path / "unknown.yml").write_text(
        "tests:\n  - alert_rule_test:\n      - {eval_time: 1m, alertname: nope, exp_alerts: []}\n"
    )
    unknown = _fixgate(tmp_path, "rules", "test", "unknown.yml", "--env", "production")
    assert unknown.returncode == 4 and "no watch rule nope" in unknown.stderr
