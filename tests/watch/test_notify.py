"""Slack and PagerDuty notifiers of the watch, against local stand-ins speaking each
service's documented format, on a real watch of the reference service."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from gaterun import GateRunResult, run_gate

from pytest_fixgate.config.loader import load_config
from pytest_fixgate.errors import ConfigError
from pytest_fixgate.notify.standins import pagerduty_standin, slack_standin

ROUTING_KEY = "R0ut1ngKey" + "k" * 22  # 32 characters, as PagerDuty's integration keys


def _config(base_url: str, pd_url: str, rules: str, extra: str = "") -> str:
    return f"""
[env.production]
base_url = "{base_url}"
[env.production.watch]
interval = "1s"
probe_timeout = "800ms"
rollback_command = ["{sys.executable}", "-c", "print('rolled back')"]
[env.production.watch.slack]
webhook_url_env = "SLACK_WEBHOOK"
lead = "Dana (on call)"
update_interval = "2s"
timeout = "1s"
retries = 1
[env.production.watch.pagerduty]
routing_key_env = "PD_ROUTING_KEY"
url = "{pd_url}"
timeout = "1s"
retries = 1
{extra}
{rules}
"""


ERRORS = """
[[env.production.watch.rules]]
id = "errors"
severity = "SEV-1"
when = "error_rate > 5%"
window = "2s"
"""

SLOW_SEV3 = """
[[env.production.watch.rules]]
id = "slow"
severity = "SEV-3"
when = "latency > 50ms"
window = "1s"
"""


def _run(tmp_path: Path, config: str, slack, watch: str) -> GateRunResult:
    return run_gate(
        tmp_path,
        config,
        f"--watch={watch}",
        env_name="production",
        environ={"SLACK_WEBHOOK": slack.webhook_url, "PD_ROUTING_KEY": ROUTING_KEY},
    )


def _no_secret_anywhere(result: GateRunResult, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in result.output
        for path in result.report_dir.rglob("*"):
            if path.is_file():
                assert secret not in path.read_text(errors="replace"), path


def test_sev1_posts_the_runbook_incident_and_a_pagerduty_trigger(tmp_path: Path, reference) -> None:
    reference.set_faults(error_ratio=1.0)
    with slack_standin() as slack, pagerduty_standin() as pd:
        result = _run(tmp_path, _config(reference.base_url, pd.base_url, ERRORS), slack, "20s")
        posted, events = slack.received, pd.received
    assert result.exit_code == 10, result.output
    incident = posted[0]["text"].splitlines()
    assert incident[0].startswith("<!channel> SEV-1 INCIDENT: production: errors fired")
    assert incident[1].startswith("Status: Investigating")
    assert incident[2].startswith(f"Impact: {reference.base_url}: probe: error_rate > 5%")
    assert incident[3] == "Lead: Dana (on call)"
    decision = posted[-1]["text"].splitlines()
    assert decision[0].startswith("UPDATE ") and decision[0].endswith(" UTC:")
    assert decision[1] == "- Current status: Mitigating (rollback command ran, exit 0)"
    assert decision[2].startswith("- Findings: alert fired: errors (SEV-1)")
    assert [e["event_action"] for e in events] == ["trigger"]
    trigger = events[0]
    assert trigger["routing_key"] == ROUTING_KEY
    assert trigger["dedup_key"] == "fixgate/production/watch"
    assert trigger["payload"]["severity"] == "critical"
    assert trigger["payload"]["source"] == reference.base_url
    assert trigger["payload"]["summary"].startswith("SEV-1 INCIDENT: production: errors")
    sent = result.gate("watch")["evidence"]["notifications"]
    assert [(n["service"], n["status"]) for n in sent] == [
        ("slack", "sent"),
        ("pagerduty", "sent"),
        ("slack", "sent"),
    ]
    _no_secret_anywhere(result, slack.webhook_url, ROUTING_KEY)


def test_failing_notifiers_are_loud_bounded_and_change_nothing(tmp_path: Path, reference) -> None:
    reference.set_faults(error_ratio=1.0)
    with slack_standin() as slack, pagerduty_standin() as pd:
        slack.fail_next(100, 503)  # Slack down for good
        pd.hang_s = 3.0  # PagerDuty answers after our 1 s timeout
        started = time.monotonic()
        result = _run(tmp_path, _config(reference.base_url, pd.base_url, ERRORS), slack, "20s")
        elapsed = time.monotonic() - started
        slack_tries, pd_tries = slack.requests, pd.requests
    assert result.exit_code == 10, result.output  # the decision stands
    gate = result.gate("watch")
    assert gate["evidence"]["rollback"]["exit_code"] == 0  # the rollback ran
    assert "NOTIFY FAILED: slack SEV-1 incident failed after 2 attempt(s): HTTP 503" in (
        result.output
    )
    assert "NOTIFY FAILED: pagerduty trigger failed after 2 attempt(s): no answer within 1 s" in (
        result.output
    )
    assert slack_tries == 4 and pd_tries == 2  # 1 + retries each, never more
    statuses = {(n["service"], n["what"]): n["status"] for n in gate["evidence"]["notifications"]}
    assert statuses[("slack", "SEV-1 incident")] == "failed"
    assert statuses[("pagerduty", "trigger")] == "failed"
    assert elapsed < 40
    _no_secret_anywhere(result, slack.webhook_url, ROUTING_KEY)


def test_updates_while_alerting_then_resolve_on_promote(tmp_path: Path, reference) -> None:
    reference.set_faults(latency_ms=120, paths=["/api/health/ready"])
    config = _config(reference.base_url, "PD", SLOW_SEV3)
    with slack_standin() as slack, pagerduty_standin() as pd:
        config = config.replace('url = "PD"', f'url = "{pd.base_url}"')
        result = _run(tmp_path, config, slack, "5s")
        posted, events = slack.received, pd.received
    assert result.exit_code == 0, result.output  # a SEV-3 warns, it does not roll back
    texts = [p["text"] for p in posted]
    assert texts[0].startswith("SEV-3 ALERT: production: slow fired")
    assert "<!channel>" not in texts[0]
    updates = [t for t in texts[1:-1] if t.startswith("UPDATE ")]
    assert len(updates) >= 1  # every 2 s while the rule fires
    assert "- Findings: slow firing since" in updates[0]
    assert "- Current status: Resolved (the watch PROMOTEs)" in texts[-1]
    assert [e["event_action"] for e in events] == ["resolve"]  # no trigger for a SEV-3
    assert events[0]["dedup_key"] == "fixgate/production/watch"


def test_unset_webhook_variable_is_loud_and_the_watch_goes_on(tmp_path: Path, reference) -> None:
    config = _config(reference.base_url, "http://127.0.0.1:9", ERRORS)
    result = run_gate(tmp_path, config, "--watch=2s", env_name="production", environ={})
    assert result.exit_code == 0, result.output
    assert "NOTIFY OFF: slack: $SLACK_WEBHOOK is not set" in result.output


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ("[env.production.watch.slack]\n", "watch.slack.webhook_url_env"),
        (
            '[env.production.watch.slack]\nwebhook_url_env = "https://hooks.slack.com/x"\n',
            "watch.slack.webhook_url_env",
        ),
        (
            '[env.production.watch.pagerduty]\nrouting_key_env = "K"\nretries = 9\n',
            "watch.pagerduty.retries",
        ),
        (
            '[env.production.watch.pagerduty]\nrouting_key_env = "K"\nurl = "ftp://x"\n',
            "watch.pagerduty.url",
        ),
    ],
)
def test_notify_config_errors_are_one_line(tmp_path: Path, table: str, key: str) -> None:
    path = tmp_path / "fixgate.toml"
    path.write_text('[env.production]\nbase_url = "https://x.example.com"\n' + table)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert key in str(caught.value) and "\n" not in str(caught.value)
    assert "hooks.slack.com" not in str(caught.value)  # a value put in by mistake: not echoed


def test_a_delivery_never_shows_its_url_or_body_in_a_repr() -> None:
    # A traceback with --showlocals, or an assert on a Delivery, prints its repr.
    from pytest_fixgate.notify.outbox import Delivery

    hook = "https://hooks.slack.example/services/T0/B0/" + "s3cr3t" * 4
    delivery = Delivery("slack", "update", hook, {"routing_key": "rk-" + "9" * 20}, 1.0, 0)
    assert "s3cr3t" not in repr(delivery) and "rk-999" not in repr(delivery)
