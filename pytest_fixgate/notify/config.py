"""``[env.X.watch.slack]`` and ``[env.X.watch.pagerduty]``: secrets by variable name only.

::

    [env.production.watch.slack]
    webhook_url_env = "SLACK_INCIDENTS_WEBHOOK"  # the whole URL is the secret
    lead = "on-call: @dana"                       # the template's "Lead:"
    update_interval = "15m"                       # "UPDATE [TIME]" while alerting

    [env.production.watch.pagerduty]
    routing_key_env = "PAGERDUTY_ROUTING_KEY"
    url = "https://events.pagerduty.com"          # POST {url}/v2/enqueue
"""

from __future__ import annotations

from dataclasses import dataclass

from pytest_fixgate.config.table import ConfigTable

__all__ = ["NotifySettings", "PagerDutyNotify", "SlackNotify", "parse_pagerduty", "parse_slack"]

PAGERDUTY_URL = "https://events.pagerduty.com"


@dataclass(frozen=True)
class NotifySettings:
    timeout_s: float = 5.0
    retries: int = 2  # after the first attempt; 5xx, 429, timeouts and refusals only


@dataclass(frozen=True)
class SlackNotify:
    webhook_url_env: str
    lead: str = "the on-call engineer"
    update_interval_s: float = 900.0
    send: NotifySettings = NotifySettings()


@dataclass(frozen=True)
class PagerDutyNotify:
    routing_key_env: str
    url: str = PAGERDUTY_URL
    source: str | None = None  # payload.source; default: the environment's base_url
    send: NotifySettings = NotifySettings()


def _settings(t: ConfigTable) -> NotifySettings:
    retries = t.get("retries", int, 2, expected="a number of retries, 0 to 5")
    if not 0 <= retries <= 5:
        raise t.error("retries", retries, "a number of retries, 0 to 5")
    return NotifySettings(timeout_s=t.duration("timeout", 5.0), retries=retries)


def _required_env(t: ConfigTable, name: str, what: str) -> str:
    value = t.env_name(name)
    if value is None:
        raise t.error(name, None, f"the name of the environment variable holding {what}")
    return value


def parse_slack(t: ConfigTable) -> SlackNotify:
    slack = SlackNotify(
        webhook_url_env=_required_env(t, "webhook_url_env", "the incoming-webhook URL"),
        lead=t.get("lead", str, "the on-call engineer", expected="who leads the incident"),
        update_interval_s=t.duration("update_interval", 900.0),
        send=_settings(t),
    )
    t.finish()
    return slack


def parse_pagerduty(t: ConfigTable) -> PagerDutyNotify:
    pd = PagerDutyNotify(
        routing_key_env=_required_env(t, "routing_key_env", "the Events API v2 routing key"),
        url=t.url("url", PAGERDUTY_URL).rstrip("/"),
        source=t.get("source", str, None, expected="the payload.source of the events"),
        send=_settings(t),
    )
    t.finish()
    return pd
