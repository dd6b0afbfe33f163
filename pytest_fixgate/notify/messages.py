"""The runbook's incident messages ("Incident Response", "SEV-1 Response Procedure").

::

    <!channel> SEV-1 INCIDENT: [Brief description]     (Slack's @channel)
    Status: Investigating
    Impact: [User-facing impact]
    Lead: [Your name]

    UPDATE [TIME]:
    - Current status: [Investigating/Mitigating/Resolved]
    - Findings: [What we know]
    - Next steps: [What we're doing]
    - ETA: [If known]

SEV-3/SEV-4 alerts are posted as "SEV-3 ALERT: ..." without @channel: the
runbook's incident procedure is SEV-1's (and SEV-2's, which also rolls back).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import Any

from pytest_fixgate.watch.engine import Alert

__all__ = ["PD_SEVERITY", "incident_text", "pagerduty_event", "update_text"]

#: PagerDuty's payload.severity for the severities that page (trigger): SEV-1, SEV-2.
PD_SEVERITY = {"SEV-1": "critical", "SEV-2": "error"}


def _value(alert: Alert) -> str:
    v = alert.value
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def incident_text(alert: Alert, env: str, target: str, lead: str) -> str:
    brief = f"{env}: {alert.rule} fired {alert.t:g} s into the post-promotion watch"
    if alert.rollback:
        head = f"<!channel> {alert.severity} INCIDENT: {brief}"
        status = "Investigating (fixgate decides ROLLBACK and runs the rollback command)"
    else:
        head = f"{alert.severity} ALERT: {brief}"
        status = "Investigating (the watch continues)"
    return "\n".join(
        [
            head,
            f"Status: {status}",
            f"Impact: {target}: {alert.description}; measured {_value(alert)} "
            f"(rule: {alert.threshold})",
            f"Lead: {lead}",
        ]
    )


def update_text(
    now: _dt.datetime, status: str, findings: Sequence[str], next_steps: str, eta: str
) -> str:
    return "\n".join(
        [
            f"UPDATE {now.strftime('%H:%M')} UTC:",
            f"- Current status: {status}",
            f"- Findings: {'; '.join(findings) or 'no rule firing'}",
            f"- Next steps: {next_steps}",
            f"- ETA: {eta}",
        ]
    )


def pagerduty_event(
    routing_key: str,
    action: str,
    dedup_key: str,
    *,
    alert: Alert | None = None,
    env: str = "",
    source: str = "",
    now: _dt.datetime | None = None,
) -> dict[str, Any]:
    """An Events API v2 body: ``trigger`` (with a payload) or ``resolve``."""
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": dedup_key,
    }
    if action == "trigger" and alert is not None:
        body["payload"] = {
            "summary": f"{alert.severity} INCIDENT: {env}: {alert.rule}: {alert.description}"[
                :1024
            ],
            "source": source,
            "severity": PD_SEVERITY.get(alert.severity, "warning"),
            "timestamp": (now or _dt.datetime.now(_dt.UTC)).isoformat(),
            "component": env,
            "group": "fixgate-watch",
            "class": alert.rule,
            "custom_details": {
                "value": alert.value,
                "threshold": alert.threshold,
                "t_s": alert.t,
            },
        }
    return body
