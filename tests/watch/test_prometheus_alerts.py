"""The alerts source (``/api/v1/alerts``): our own Prometheus alerts, mapped to SEV-N, judged
by the watch; against a real Prometheus evaluating real alerting rules."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from gaterun import run_gate
from prometheus_real import needs_prometheus, reference_with_prometheus

from pytest_fixgate.config.loader import load_config
from pytest_fixgate.errors import ConfigError, ProbeBadResponse
from pytest_fixgate.rules.promql import error_rate
from pytest_fixgate.watch.rules import AlertsWatch
from pytest_fixgate.watch.sources.alerts import firing_by_severity

HEAD = '[env.production]\nbase_url = "http://127.0.0.1:9"\n'


def _watch(tmp_path: Path, text: str):
    path = tmp_path / "fixgate.toml"
    path.write_text(HEAD + text)
    return load_config(path).envs["production"].section("watch")


def _alert(name: str, state: str = "firing", **labels: str) -> dict:
    return {"labels": {"alertname": name, **labels}, "state": state, "value": "1"}


def test_firing_alerts_by_mapped_severity_only_ours_only_firing() -> None:
    watch = AlertsWatch(
        url="http://p",
        severities={"critical": "SEV-1", "page": "SEV-1", "warning": "SEV-3"},
        match={"team": "fixzit"},
    )
    body = {
        "status": "success",
        "data": {
            "alerts": [
                _alert("A", severity="critical", team="fixzit"),
                _alert("B", severity="page", team="fixzit"),
                _alert("C", "pending", severity="critical", team="fixzit"),  # for: still runs
                _alert("D", severity="critical", team="payments"),  # not ours
                _alert("E", severity="ticket", team="fixzit"),  # not mapped
                _alert("F", severity="warning", team="fixzit"),
            ]
        },
    }
    assert firing_by_severity(body, watch, "u") == {"SEV-1": ["A", "B"], "SEV-3": ["F"]}
    with pytest.raises(ProbeBadResponse, match="error"):
        firing_by_severity({"status": "error", "error": "boom"}, watch, "u")
    with pytest.raises(ProbeBadResponse, match=r"data\.alerts"):
        firing_by_severity({"status": "success", "data": {}}, watch, "u")


def test_alerts_config_defaults_to_the_prometheus_url_and_adds_the_alert_rules(
    tmp_path: Path,
) -> None:
    cfg = _watch(
        tmp_path,
        '[env.production.watch.prometheus]\nurl = "http://prom:9090"\n'
        '[env.production.watch.alerts]\nmatch = { team = "fixzit" }\n',
    )
    assert cfg.alerts.url == "http://prom:9090" and cfg.alerts.label == "severity"
    assert cfg.alerts.severities["critical"] == "SEV-1"
    ids = {r.id: r.severity for r in cfg.rules}
    assert ids["prometheus-alerts-sev1"] == "SEV-1" and ids["prometheus-alerts-sev2"] == "SEV-2"
    # Without [watch.alerts] the runbook's rules are the runbook's only.
    plain = _watch(tmp_path, '[env.production.watch]\ninterval = "1s"\n')
    assert not any(r.source == "alerts" for r in plain.rules)
    assert not any(r.source == "alerts" for r, _ in plain.not_configured)


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ("[env.production.watch.alerts]\n", "watch.alerts.url"),
        ('[env.production.watch.alerts]\nurl = "ftp://x"\n', "watch.alerts.url"),
        (
            '[env.production.watch.alerts]\nurl = "http://p"\nseverities = { critical = "P1" }\n',
            "watch.alerts.severities.critical",
        ),
        (
            '[env.production.watch.alerts]\nurl = "http://p"\nmatch = { team = 3 }\n',
            "watch.alerts.match.team",
        ),
        ('[env.production.watch.alerts]\nurl = "http://p"\nlables = "x"\n', "lables"),
    ],
)
def test_alerts_config_errors_are_one_line_naming_the_key(
    tmp_path: Path, table: str, key: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _watch(tmp_path, table)
    message = str(caught.value)
    assert key in message and "\n" not in message


RULES = """
groups:
  - name: reference
    interval: 1s
    rules:
      - alert: ReferenceErrorRateHigh
        expr: '{error_rate} > 0.05'
        labels: {{severity: critical, team: fixzit}}
      - alert: SomeoneElsesCritical
        expr: vector(1)
        labels: {{severity: critical, team: payments}}
      - alert: OursButPendingForAnHour
        expr: vector(1)
        for: 1h
        labels: {{severity: critical, team: fixzit}}
      - alert: OursAWarning
        expr: vector(1)
        labels: {{severity: warning, team: fixzit}}
"""

WATCH = """
[env.production]
base_url = "{base_url}"
[env.production.watch]
interval = "1s"
[env.production.watch.alerts]
url = "{prom_url}"
match = {{ team = "fixzit" }}
"""


def _rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "alerts.yml"
    path.write_text(RULES.format(error_rate=error_rate(5)), encoding="utf-8")
    return path


def _wait_alerts(prom_url: str, names: set[str], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body = httpx.get(prom_url + "/api/v1/alerts", timeout=5).json()
        seen = {a["labels"]["alertname"] for a in body["data"]["alerts"]}
        if names <= seen:
            return
        time.sleep(0.2)
    raise AssertionError(f"alerts {names} not active within {timeout_s:g} s")


@needs_prometheus
def test_our_critical_alert_firing_in_prometheus_rolls_the_watch_back(
    tmp_path: Path, mongo, redis_srv
) -> None:
    # Errors on /api/health only (the traffic); the watch's readiness probe stays healthy,
    # so only Prometheus's alert can end this watch.
    rules = _rules_file(tmp_path)
    with reference_with_prometheus(
        mongo.uri, redis_srv.url, rules=[rules], error_ratio=0.5, paths=["/api/health"]
    ) as stack:
        prom = stack.prometheus.base_url
        _wait_alerts(prom, {"ReferenceErrorRateHigh"})
        config = WATCH.format(base_url=stack.reference.base_url, prom_url=prom)
        result = run_gate(tmp_path / "run", config, "--watch=20s", env_name="production")
    assert result.exit_code == 10, result.output
    gate = result.gate("watch")
    assert [a["rule"] for a in gate["evidence"]["alerts"]] == ["prometheus-alerts-sev1"]
    assert gate["evidence"]["alerts"][0]["t"] == 0  # firing already at the first tick
    assert "/api/v1/alerts" in gate["evidence"]["method"]


@needs_prometheus
def test_other_teams_pending_and_warning_alerts_do_not_roll_back(
    tmp_path: Path, mongo, redis_srv
) -> None:
    rules = _rules_file(tmp_path)
    with reference_with_prometheus(mongo.uri, redis_srv.url, rules=[rules]) as stack:
        prom = stack.prometheus.base_url
        _wait_alerts(prom, {"SomeoneElsesCritical", "OursButPendingForAnHour", "OursAWarning"})
        config = WATCH.format(base_url=stack.reference.base_url, prom_url=prom)
        result = run_gate(tmp_path / "run", config, "--watch=3s", env_name="production")
    gate = result.gate("watch")
    assert result.verdict["decision"] == "PROMOTE", result.output
    series = gate["evidence"]["series"]
    assert [v for _, v in series["alerts.sev1"]] == [0, 0, 0, 0]
    assert [v for _, v in series["alerts.sev3"]] == [1, 1, 1, 1]  # our warning: counted
