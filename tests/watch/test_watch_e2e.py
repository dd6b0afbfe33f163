"""End-to-end watches in compressed time (interval 1 s, windows of seconds) against the
real reference service: `pytest --gate=production --watch=...` as a user runs it."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

import pytest
from gaterun import GateRunResult, run_gate

ROLLBACK = (
    "rollback_command = ['{py}', '-c', "
    '\'import os; print("rolled back with", os.environ.get("WATCH_TOKEN"))\']'
)


def _config(base_url: str, rules: str, *, rollback: bool = True, extra: str = "") -> str:
    lines = [
        "[env.production]",
        f'base_url = "{base_url}"',
        'token_env = "WATCH_TOKEN"',
        "[env.production.watch]",
        'interval = "1s"',
        'probe_timeout = "800ms"',
    ]
    if rollback:
        lines.append(ROLLBACK.format(py=sys.executable))
    return "\n".join(lines) + "\n" + extra + "\n" + rules


ERRORS_SEV1 = """
[[env.production.watch.rules]]
id = "errors"
severity = "SEV-1"
when = "error_rate > 5%"
window = "2s"
"""

READY_TWICE = """
[[env.production.watch.rules]]
id = "ready-fails"
severity = "SEV-1"
when = "ready == false"
count = 2
within = "4s"
"""

SECRET = "watch-secret-" + "c0ffee" * 4


def _watch(tmp_path: Path, config: str, *args: str) -> GateRunResult:
    return run_gate(tmp_path, config, *args, env_name="production", environ={"WATCH_TOKEN": SECRET})


def _watch_gate(result: GateRunResult) -> dict:
    return result.gate("watch")


def _no_secret_anywhere(result: GateRunResult) -> None:
    assert SECRET not in result.output
    for path in result.report_dir.rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text(encoding="utf-8", errors="replace"), path


def test_healthy_watch_promotes(tmp_path: Path, reference) -> None:
    result = _watch(tmp_path, _config(reference.base_url, ERRORS_SEV1 + READY_TWICE), "--watch=3s")
    assert result.exit_code == 0, result.output
    assert result.verdict["decision"] == "PROMOTE"
    assert result.verdict["mode"] == "watch"  # a confirmation: never taggable, never a baseline
    gate = _watch_gate(result)
    assert gate["outcome"] == "PASS"
    assert gate["samples"] == 4  # ticks at 0, 1, 2, 3 s
    assert "rollback" not in gate["evidence"]
    assert [g["id"] for g in result.verdict["gates"]] == ["watch"]
    series = gate["evidence"]["series"]["probe.error_rate"]
    assert [p[1] for p in series] == [0.0, 0.0, 0.0, 0.0]
    samples = list(result.report_dir.glob("production-*.samples.jsonl"))
    assert len(samples) == 1 and len(samples[0].read_text().splitlines()) == 5
    assert "watch production:" in result.output  # the live line
    _no_secret_anywhere(result)


def _switch_later(reference, delay_s: float, **faults) -> threading.Thread:
    def switch() -> None:
        time.sleep(delay_s)
        reference.set_faults(**faults)

    thread = threading.Thread(target=switch, daemon=True)
    thread.start()
    return thread


def test_errors_mid_watch_roll_back_within_window_plus_interval(tmp_path: Path, reference) -> None:
    config = _config(reference.base_url, ERRORS_SEV1)
    started = time.monotonic()
    # pytest start-up takes ~1-2 s; the fault lands a few ticks into the watch.
    switch = _switch_later(reference, 4.0, error_ratio=1.0)
    result = _watch(tmp_path, config, "--watch=30s")
    switch.join()
    assert result.exit_code == 10, result.output
    assert time.monotonic() - started < 20  # it ended at once, not after 30 s
    verdict = result.verdict
    assert verdict["decision"] == "ROLLBACK"
    gate = _watch_gate(result)
    assert gate["outcome"] == "FAIL"
    alerts = gate["evidence"]["alerts"]
    assert [a["rule"] for a in alerts] == ["errors"]
    series = gate["evidence"]["series"]["probe.error_rate"]
    onset = next(p[0] for p in series if p[1])
    # window 2 s, one probe a tick: the first failing tick already makes 1 of 2 > 5%.
    assert alerts[0]["t"] - onset <= 2 + 1
    rollback = gate["evidence"]["rollback"]
    assert rollback["exit_code"] == 0 and "rolled back with ***" in rollback["tail"]
    assert "fixgate: ROLLBACK" in result.output
    html = result.files["html"].read_text()
    assert 'aria-label="probe.error_rate"' in html  # a chart per metric
    assert "<title>firing</title>" in html and "Alert timeline" in html
    _no_secret_anywhere(result)


def test_failing_rollback_command_is_loud_and_still_rolls_back(tmp_path: Path, reference) -> None:
    reference.set_faults(error_ratio=1.0)
    config = _config(reference.base_url, ERRORS_SEV1, rollback=False).replace(
        'interval = "1s"', 'interval = "1s"\nrollback_command = "no-such-rollback-tool --now"'
    )
    result = _watch(tmp_path, config, "--watch=10s")
    assert result.exit_code == 10, result.output
    gate = _watch_gate(result)
    assert "ROLLBACK COMMAND FAILED" in gate["reason"]
    assert gate["evidence"]["rollback"]["exit_code"] is None
    assert "ROLLBACK COMMAND FAILED" in result.output


@pytest.mark.parametrize(("within", "exit_code"), [("3s", 0), ("5s", 10)])
def test_readiness_failing_once_no_alert_twice_within_rolls_back(
    tmp_path: Path, reference, within: str, exit_code: int
) -> None:
    # Exactly every 4th readiness request answers 500: failing ticks 4 s apart. Twice
    # within 3 s never happens; twice within 5 s does, at the second failure.
    reference.set_faults(error_ratio=0.25, paths=["/api/health/ready"])
    config = _config(reference.base_url, READY_TWICE.replace('"4s"', f'"{within}"'))
    result = _watch(tmp_path, config, "--watch=9s")
    assert result.exit_code == exit_code, result.output
    gate = _watch_gate(result)
    ready = [p[1] for p in gate["evidence"]["series"]["probe.ready"]]
    if exit_code == 0:
        assert ready.count(0.0) == 2  # it did fail, twice, 4 s apart
        assert gate["evidence"]["alerts"] == []
        timeline = [(t["from"], t["to"]) for t in gate["evidence"]["timeline"]]
        assert ("ok", "pending") in timeline  # seen, but not an alert
    else:
        assert [a["rule"] for a in gate["evidence"]["alerts"]] == ["ready-fails"]
        assert ready.count(0.0) == 2 and ready[-1] == 0.0  # ended at the second failure


def test_target_down_from_the_start_is_hold_never_promote(tmp_path: Path) -> None:
    from pytest_fixgate.reference import free_port

    config = _config(f"http://127.0.0.1:{free_port()}", ERRORS_SEV1 + READY_TWICE)
    result = _watch(tmp_path, config, "--watch=2s")
    assert result.exit_code == 1, result.output
    gate = _watch_gate(result)
    assert gate["outcome"] == "INCONCLUSIVE"
    assert "not enough data" in gate["reason"]
    assert json.loads(next(result.report_dir.glob("*.samples.jsonl")).read_text().splitlines()[1])[
        "errors"
    ]["probe"]


ALERT_PLUGIN = """
import json, os

def _log(record):
    with open(os.environ["ALERT_LOG"], "a") as fh:
        fh.write(json.dumps(record) + "\\n")

def pytest_fixgate_alert(alert, config):
    _log(alert.as_dict())

def pytest_fixgate_decision(decision, verdict, config):
    _log({"decision": decision.kind.value, "reason": decision.reason})
"""


def test_under_xdist_the_alert_and_decision_hooks_are_called(tmp_path: Path, reference) -> None:
    (tmp_path / "alert_plugin.py").write_text(ALERT_PLUGIN)
    log = tmp_path / "alerts.jsonl"
    reference.set_faults(error_ratio=1.0)
    environ = {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])),
        "ALERT_LOG": str(log),
        "WATCH_TOKEN": SECRET,
    }
    result = run_gate(
        tmp_path,
        _config(reference.base_url, ERRORS_SEV1),
        "--watch=10s",
        "-n",
        "2",
        "-p",
        "alert_plugin",
        env_name="production",
        environ=environ,
    )
    assert result.exit_code == 10, result.output
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r.get("rule") or r.get("decision") for r in records] == ["errors", "ROLLBACK"]
    assert records[0]["severity"] == "SEV-1" and records[0]["t"] == 0.0
    assert "errors (SEV-1)" in records[1]["reason"]
    assert "watch production:" in result.output  # the live line, from the xdist worker


def test_an_alert_hook_that_raises_does_not_stop_the_rollback(tmp_path: Path, reference) -> None:
    (tmp_path / "broken_notifier.py").write_text(
        "def pytest_fixgate_alert(alert, config):\n"
        "    raise ConnectionError('chat service down, token ' + __import__('os')"
        ".environ['WATCH_TOKEN'])\n"
    )
    reference.set_faults(error_ratio=1.0)
    environ = {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])),
        "WATCH_TOKEN": SECRET,
    }
    result = run_gate(
        tmp_path,
        _config(reference.base_url, ERRORS_SEV1),
        "--watch=10s",
        "-p",
        "broken_notifier",
        env_name="production",
        environ=environ,
    )
    assert result.exit_code == 10, result.output
    gate = _watch_gate(result)
    assert gate["outcome"] == "FAIL" and gate["evidence"]["rollback"]["exit_code"] == 0
    assert "pytest_fixgate_alert hook failed for errors: ConnectionError" in result.output
    _no_secret_anywhere(result)


SOURCE_PLUGIN = """
from pytest_fixgate.config.thresholds import MetricKind, MetricSpec
from pytest_fixgate.watch.engine import Count
from pytest_fixgate.watch.sources import WatchSourceKind


class QueueSource:
    name, method = "myqueue", "reads a number from a file"

    def __init__(self, table, env, redactor):
        self.path = table["path"]

    def sample(self):
        with open(self.path) as fh:
            return {"depth": Count(int(fh.read()))}

    def close(self):
        pass


def pytest_fixgate_watch_sources():
    return [WatchSourceKind("myqueue", {"depth": MetricSpec(MetricKind.COUNT)}, QueueSource)]
"""


@pytest.mark.parametrize(
    ("metric", "exit_code", "outcome"), [("depth", 0, "WARN"), ("size", 1, "ERROR")]
)
def test_a_plugin_source(tmp_path: Path, metric: str, exit_code: int, outcome: str) -> None:
    (tmp_path / "queue_plugin.py").write_text(SOURCE_PLUGIN)
    (tmp_path / "depth.txt").write_text("700")
    rules = f"""
[env.production.watch.sources.myqueue]
path = "{tmp_path / "depth.txt"}"

[[env.production.watch.rules]]
id = "queue"
severity = "SEV-4"
source = "myqueue"
when = "{metric} > 500"
count = 1
within = "1s"
"""
    environ = {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])),
    }
    result = run_gate(
        tmp_path,
        _config("http://127.0.0.1:9", rules, rollback=False),
        "--watch=1s",
        "-p",
        "queue_plugin",
        env_name="production",
        environ=environ,
    )
    assert result.exit_code == exit_code, result.output
    gate = _watch_gate(result)
    assert gate["outcome"] == outcome
    if outcome == "ERROR":
        assert "has no metric size (it has: depth)" in gate["reason"]


def test_without_a_watch_table_the_runbook_rules_apply(tmp_path: Path, reference) -> None:
    config = f'[env.production]\nbase_url = "{reference.base_url}"\n'
    result = run_gate(tmp_path / "bad", config, "--watch=2s", env_name="production")
    assert result.exit_code == 4  # the default interval (15 s) is longer than 2 s
    assert "the watch interval (15 s) is longer than its duration (2 s)" in result.output
    assert "Traceback" not in result.output
    config += '[env.production.watch]\ninterval = "1s"\n'
    result = run_gate(tmp_path, config, "--watch=2s", env_name="production")
    assert result.exit_code == 0, result.output
    evidence = _watch_gate(result)["evidence"]
    assert [r["id"] for r in evidence["rules"]] == [
        "error-rate-sev1",
        "error-rate-sev2",
        "latency-p95",
        "latency-p99",
        "ready-fails",
    ]
    idle = {r["id"]: r["why"] for r in evidence["not_configured"]}
    assert idle["mongo-connection"] == "source mongo is not configured"
    assert len(idle) == 7


def test_a_plain_gate_run_neither_runs_nor_implies_the_watch(tmp_path: Path, reference) -> None:
    config = _config(reference.base_url, ERRORS_SEV1)
    result = run_gate(tmp_path, config, env_name="production", environ={"WATCH_TOKEN": SECRET})
    assert result.exit_code == 0, result.output
    ids = [g["id"] for g in result.verdict["gates"]]
    assert "watch" not in ids and "health./api/health/ready" in ids
    assert not list(result.report_dir.glob("*.samples.jsonl"))


def test_fixgate_watch_demo_rolls_back_on_errors(tmp_path: Path) -> None:
    import subprocess

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest_fixgate.cli",
            "watch",
            "--demo",
            "--for",
            "5s",
            "--fault",
            "errors",
            "--gate-report-dir",
            str(tmp_path),
            "--",
            "-p",
            "no:hypothesispytest",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 10, done.stdout + done.stderr
    assert "rollback command ran (exit 0)" in done.stdout
    verdict = json.loads((tmp_path / "demo-latest.json").read_text())
    assert verdict["decision"] == "ROLLBACK"
    # The demo's Slack and PagerDuty stand-ins got the incident and the page.
    assert "[Slack stand-in, #incidents]\n<!channel> SEV-1 INCIDENT: demo: " in done.stdout
    assert "\nLead: the demo's on-call engineer\n" in done.stdout
    assert "[PagerDuty stand-in, /v2/enqueue] trigger dedup_key=fixgate/demo/watch" in done.stdout
    watch = next(g for g in verdict["gates"] if g["id"] == "watch")
    assert {n["status"] for n in watch["evidence"]["notifications"]} == {"sent"}
