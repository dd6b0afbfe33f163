"""The watch's notifiers: what to post, when, on the alert, tick and decision callbacks.

- An alert that fires: Slack "SEV-N INCIDENT" (SEV-1/2, @channel) or "SEV-N ALERT";
  PagerDuty ``trigger`` for SEV-1/SEV-2 (dedup key ``fixgate/<env>/watch``).
- While a rule is firing: Slack "UPDATE [TIME]" every ``update_interval``.
- The decision: Slack "UPDATE" with the outcome once anything was posted
  (ROLLBACK: whether the rollback command ran); PagerDuty ``resolve`` on PROMOTE.

Secrets (the webhook URL, the routing key) are read when the watch starts; a
variable that is unset is one loud line and that notifier is off: the watch
and its decision go on.
"""

from __future__ import annotations

import datetime as _dt
import os
from typing import TYPE_CHECKING, Any, TextIO

from pytest_fixgate import timing
from pytest_fixgate.notify.messages import incident_text, pagerduty_event, update_text
from pytest_fixgate.notify.outbox import Delivery, Outbox
from pytest_fixgate.watch.engine import Alert, RuleState

if TYPE_CHECKING:
    from pytest_fixgate.config.schema import EnvConfig
    from pytest_fixgate.redaction import Redactor
    from pytest_fixgate.watch.engine import StepResult, Tick
    from pytest_fixgate.watch.rules import WatchConfig

__all__ = ["WatchNotifier"]


class WatchNotifier:
    def __init__(
        self, cfg: WatchConfig, env: EnvConfig, redactor: Redactor, stream: TextIO
    ) -> None:
        self.cfg = cfg
        self.env = env
        self.stream = stream
        self.redactor = redactor
        self.dedup_key = f"fixgate/{env.name}/watch"
        self.slack_url = self._secret(cfg.slack.webhook_url_env if cfg.slack else None, "slack")
        self.pd_key = self._secret(
            cfg.pagerduty.routing_key_env if cfg.pagerduty else None, "pagerduty"
        )
        self.outbox = Outbox(redactor, stream)
        self.posted = False
        self.triggered = False
        self.last_update_t: float | None = None
        self.started = timing.monotonic()

    @property
    def active(self) -> bool:
        return bool(self.slack_url or self.pd_key)

    def _secret(self, name: str | None, service: str) -> str | None:
        if name is None:
            return None
        value = os.environ.get(name, "").strip()
        if not value:
            self.stream.write(
                f"fixgate: NOTIFY OFF: {service}: ${name} is not set; nobody is told\n"
            )
            self.stream.flush()
            return None
        return value

    def _slack(self, what: str, text: str) -> None:
        if not self.slack_url or self.cfg.slack is None:
            return
        s = self.cfg.slack.send
        self.outbox.send(
            Delivery("slack", what, self.slack_url, {"text": text}, s.timeout_s, s.retries)
        )
        self.posted = True

    def _pagerduty(self, action: str, alert: Alert | None = None) -> None:
        if not self.pd_key or self.cfg.pagerduty is None:
            return
        pd = self.cfg.pagerduty
        body = pagerduty_event(
            self.pd_key,
            action,
            self.dedup_key,
            alert=alert,
            env=self.env.name,
            source=pd.source or self.env.base_url,
            now=timing.utcnow(),
        )
        self.outbox.send(
            Delivery(
                "pagerduty",
                action,
                f"{pd.url}/v2/enqueue",
                body,
                pd.send.timeout_s,
                pd.send.retries,
            )
        )

    # --- the watch's callbacks: each returns at once (the outbox posts) ---

    def on_alert(self, alert: Alert) -> None:
        lead = self.cfg.slack.lead if self.cfg.slack else ""
        what = f"{alert.severity} {'incident' if alert.rollback else 'alert'}"
        self._slack(what, incident_text(alert, self.env.name, self.env.base_url, lead))
        if alert.rollback:
            self._pagerduty("trigger", alert)
            self.triggered = True
        if self.last_update_t is None:
            self.last_update_t = alert.t

    def on_tick(self, step: StepResult, tick: Tick) -> None:
        if self.cfg.slack is None or self.last_update_t is None:
            return
        firing = [s for s in step.statuses if s.state is RuleState.FIRING]
        if not firing:
            return
        if step.t - self.last_update_t + 1e-6 < self.cfg.slack.update_interval_s:
            return
        self.last_update_t = step.t
        left = max(0.0, self.cfg.duration_s - step.t)
        eta = (timing.utcnow() + _dt.timedelta(seconds=left)).strftime("%H:%M UTC")
        self._slack(
            "update",
            update_text(
                timing.utcnow(),
                f"Investigating ({self.env.name} watch at {step.t:g} s of "
                f"{self.cfg.duration_s:g} s)",
                [f"{s.rule} firing since {s.since:g} s (measured {s.value})" for s in firing],
                "the watch continues; a SEV-1/SEV-2 rule firing means ROLLBACK",
                f"the watch ends at {eta}",
            ),
        )

    def on_decision(self, decision: str, reason: str, rollback: dict[str, Any] | None) -> None:
        if decision == "PROMOTE":
            self._pagerduty("resolve")
        if not self.posted:
            return
        if decision == "ROLLBACK":
            ran = rollback is not None and rollback.get("ok")
            status = (
                "Mitigating (rollback command ran, exit 0)"
                if ran
                else ("Mitigating: ROLL BACK BY HAND (the rollback command failed or none is set)")
            )
            steps = "confirm the previous deployment serves; post-mortem"
        elif decision == "PROMOTE":
            status, steps = "Resolved (the watch PROMOTEs)", "none; the release stays"
        else:
            status, steps = "Investigating (the watch HOLDs: not enough data)", "watch again"
        self._slack(
            "decision",
            update_text(timing.utcnow(), status, [reason], steps, "n/a"),
        )

    def close(self, wait_s: float = 30.0) -> list[dict[str, Any]]:
        self.outbox.close(wait_s)
        return [d.record() for d in self.outbox.deliveries]
