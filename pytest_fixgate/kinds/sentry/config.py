"""The Sentry gate kind: ``[env.X.sentry]``, the error rate read from Sentry's API.

One gate per threshold (``sentry.error_rate``, ``sentry.count``).
"""

from __future__ import annotations

from dataclasses import dataclass

from pytest_fixgate.config.table import ConfigTable
from pytest_fixgate.config.thresholds import Threshold
from pytest_fixgate.kinds import GateKind, KindContext

__all__ = ["KIND", "SentryConfig", "parse_sentry"]

SENTRY_METRICS = frozenset({"error_rate", "count"})


@dataclass(frozen=True)
class SentryConfig:
    """Where to read the error rate from Sentry; the org, project and token come from
    environment variables (their names here, never their values)."""

    base_url: str = "https://sentry.io"
    org_env: str = "SENTRY_ORG"
    project_env: str = "SENTRY_PROJECT"  # a project slug or numeric id
    token_env: str = "SENTRY_AUTH_TOKEN"
    thresholds: tuple[Threshold, ...] = ()  # default: error_rate < 1%
    period_s: float = 300.0  # the trailing window asked for (Sentry's statsPeriod)
    environment: str | None = None  # Sentry environment; None: the gate env's name
    min_samples: int = 100
    timeout_s: float = 10.0


def parse_sentry(table: ConfigTable, ctx: KindContext) -> SentryConfig:
    base_url = table.url(
        "base_url", "https://sentry.io", credentials_hint="name the token with token_env"
    )
    thresholds = table.thresholds("thresholds", ["error_rate < 1%"], metrics=SENTRY_METRICS)
    min_samples = table.get("min_samples", int, 100, expected="a positive integer")
    if min_samples < 1:
        raise table.error("min_samples", min_samples, "a positive integer")
    sentry = SentryConfig(
        base_url=base_url.rstrip("/"),
        org_env=table.env_name("org_env", "SENTRY_ORG") or "SENTRY_ORG",
        project_env=table.env_name("project_env", "SENTRY_PROJECT") or "SENTRY_PROJECT",
        token_env=table.env_name("token_env", "SENTRY_AUTH_TOKEN") or "SENTRY_AUTH_TOKEN",
        thresholds=thresholds,
        period_s=table.duration("period", "5m"),
        environment=table.get("environment", str, None, expected="a Sentry environment name"),
        min_samples=min_samples,
        timeout_s=table.duration("timeout", 10.0),
    )
    table.finish()
    return sentry


KIND = GateKind(
    section="sentry",
    parse=parse_sentry,
    gate_ids=lambda sentry, env: [f"sentry.{t.key}" for t in sentry.thresholds],
    params={"sentry_threshold": lambda sentry, env: [(t.key, t) for t in sentry.thresholds]},
    # The org and project are not secrets; the token is.
    secret_envs=lambda sentry: [sentry.token_env],
    title="Sentry error rate",
)
