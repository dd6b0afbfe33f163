"""The validated config: frozen dataclasses that gates read, never raw TOML."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_fixgate.config.thresholds import Threshold

__all__ = [
    "EnvConfig",
    "FixgateConfig",
    "GateOverride",
    "HealthCheck",
    "LoadConfig",
    "SentryConfig",
]


@dataclass(frozen=True)
class HealthCheck:
    """One health endpoint and what it must answer."""

    path: str
    expect_status: int = 200
    # A nested subset: a table matches an object, keys not named are ignored.
    expect_json: Mapping[str, Any] | None = None
    timeout_s: float = 5.0
    send_token: bool = True

    @property
    def gate_id(self) -> str:
        return f"health.{self.path}"


@dataclass(frozen=True)
class LoadConfig:
    """A Locust load run and the thresholds its figures must meet."""

    locustfile: Path
    users: int = 20
    spawn_rate: float = 5.0
    duration_s: float = 300.0
    thresholds: tuple[Threshold, ...] = ()
    # Per endpoint (Locust's request name, e.g. "/api/health/ready").
    endpoint_thresholds: Mapping[str, tuple[Threshold, ...]] = field(default_factory=dict)
    warn: tuple[Threshold, ...] = ()
    window_s: float | None = None
    # Requests in the first seconds (connection set-up, the spawn burst) are not judged.
    warmup_s: float = 0.0
    min_samples: int = 100
    request_timeout_s: float = 10.0
    workers: int = 0
    # Locust user class weights, by class name (Locust's --config-users).
    weights: Mapping[str, int] = field(default_factory=dict)
    # More Locust command-line options, e.g. a locustfile's own ("--ready-wait-min-s=0.55").
    locust_args: tuple[str, ...] = ()


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


@dataclass(frozen=True)
class GateOverride:
    """Per-gate settings from ``[env.X.gates."<gate id>"]``."""

    required: bool | None = None
    severity: str | None = None


@dataclass(frozen=True)
class EnvConfig:
    """One environment (``[env.<name>]``), defaults already applied."""

    name: str
    base_url: str
    token_env: str | None = None
    token_header: str = "X-Health-Token"
    mongodb_uri_env: str | None = None
    redis_url_env: str | None = None
    timeout_s: float = 5.0
    health: tuple[HealthCheck, ...] = ()
    load: LoadConfig | None = None
    sentry: SentryConfig | None = None
    gates: Mapping[str, GateOverride] = field(default_factory=dict)

    def secret_env_names(self) -> tuple[str, ...]:
        """Every env var whose value is a secret, for redaction."""
        names = [self.token_env, self.mongodb_uri_env, self.redis_url_env]
        if self.sentry is not None:
            names.append(self.sentry.token_env)  # org and project are not secrets
        return tuple(n for n in names if n)


@dataclass(frozen=True)
class FixgateConfig:
    path: Path
    envs: Mapping[str, EnvConfig]
