"""The validated config: frozen dataclasses that gates read, never raw TOML.

An environment holds its own keys (target, secrets by variable name, timeout)
and one parsed section per gate kind, by the kind's section name
(:mod:`pytest_fixgate.kinds`), read one way: ``env.section("load")``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "EnvConfig",
    "FixgateConfig",
    "GateOverride",
]


@dataclass(frozen=True)
class GateOverride:
    """Per-gate settings from ``[env.X.gates."<gate id>"]``."""

    required: bool | None = None
    severity: str | None = None


#: The environment's own keys, as ``needs=`` in a gate marker may name them.
ENV_KEYS = frozenset(
    {"base_url", "token_env", "token_header", "mongodb_uri_env", "redis_url_env", "timeout_s"}
)


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
    # Parsed sections by gate-kind section name; a kind whose table is absent maps to None.
    sections: Mapping[str, Any] = field(default_factory=dict)
    gates: Mapping[str, GateOverride] = field(default_factory=dict)
    # Computed by the loader from every kind: what redaction covers, what must have run.
    secret_envs: tuple[str, ...] = ()
    implied_gates: tuple[str, ...] = ()

    def section(self, name: str) -> Any:
        """The parsed ``[env.X.<name>]`` section, or ``None`` when not configured."""
        if name not in self.sections:
            raise KeyError(f"no gate kind has the section {name!r}")
        return self.sections[name]

    def needed(self, key: str) -> Any:
        """What a gate's ``needs=key`` reads: the environment's key, else the section."""
        return getattr(self, key) if key in ENV_KEYS else self.sections.get(key)

    def knows(self, key: str) -> bool:
        """Whether ``key`` is an environment key or a registered section (marker ``needs``)."""
        return key in ENV_KEYS or key in self.sections

    def secret_env_names(self) -> tuple[str, ...]:
        """Every env var whose value is a secret, for redaction."""
        names = [self.token_env, self.mongodb_uri_env, self.redis_url_env, *self.secret_envs]
        return tuple(dict.fromkeys(n for n in names if n))


@dataclass(frozen=True)
class FixgateConfig:
    path: Path
    envs: Mapping[str, EnvConfig]
