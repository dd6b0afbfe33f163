"""The feature-flag gate kind: ``[env.X.flags]``, the live flags plus the environment's
``FEATURE_*`` overrides against the intended rollout (runbook: "Feature flags match
intended rollout (``lib/feature-flags.ts`` + env overrides)").

Two gates: ``flags.rollout`` (every intended flag, effective state vs intended)
and ``flags.overrides`` (an override naming no known flag; only with
``env_sources``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_fixgate.config.table import ConfigTable
from pytest_fixgate.kinds import GateKind, KindContext, SecretFile

if TYPE_CHECKING:
    from pytest_fixgate.config.schema import EnvConfig

__all__ = ["CASES", "KIND", "FlagsConfig", "parse_flags"]

#: How the application folds a variable's name to a flag id.
CASES = ("lower", "upper", "keep")


@dataclass(frozen=True)
class FlagsConfig:
    """Where the live flags are read, what is intended, and how overrides map to flags."""

    intended: Mapping[str, bool]
    base_dir: Path
    endpoint: str = "/api/admin/features"  # the runbook's; the real application's differs
    base_url: str | None = None  # None: the environment's base_url
    token_env: str = "ADMIN_TOKEN"
    env_sources: tuple[str, ...] = ()  # dotenv files or "process:", later ones win
    override_prefix: str = "FEATURE_"
    override_case: str = "lower"
    override_separator: str = "."  # what each "_" after the prefix becomes
    override_true: tuple[str, ...] = ("true",)  # any case; every other value means off
    timeout_s: float = 5.0
    checks: tuple[str, ...] = ("rollout",)  # each a gate flags.<check>

    def flag_id(self, variable: str) -> str:
        """The flag id an override variable maps to, the way the application maps it."""
        rest = variable[len(self.override_prefix) :]
        if self.override_case == "lower":
            rest = rest.lower()
        elif self.override_case == "upper":
            rest = rest.upper()
        return rest.replace("_", self.override_separator)

    def override_value(self, value: str) -> bool:
        """Whether an override's value turns its flag on: the application compares
        ``value.toLowerCase() === "true"``, no trimming, so neither does this."""
        return value.lower() in {t.lower() for t in self.override_true}


def parse_flags(table: ConfigTable, ctx: KindContext) -> FlagsConfig:
    intended_raw = table.get(
        "intended", dict, expected='a table of flag -> true/false, e.g. {"new-dashboard" = true}'
    )
    if not intended_raw:
        raise table.error("intended", intended_raw, "at least one flag")
    for flag, state in intended_raw.items():
        if isinstance(state, dict):  # TOML read `ui.new_dashboard = true` as a dotted key
            raise table.error(
                f'intended."{flag}"', state, 'true or false; quote an id with dots: "a.b" = true'
            )
        if not isinstance(state, bool):
            raise table.error(f'intended."{flag}"', state, "true or false")
    endpoint = table.get("endpoint", str, "/api/admin/features", expected="a path such as /api/x")
    if not endpoint.startswith("/"):
        raise table.error("endpoint", endpoint, "a path starting with /")
    base_url = table.url("base_url", None, credentials_hint="name the token with token_env")
    sources = table.get("env_sources", list, [], expected='a list of dotenv files or "process:"')
    for i, spec in enumerate(sources):
        if not isinstance(spec, str) or not spec.strip():
            raise table.error(f"env_sources[{i}]", spec, 'a dotenv file path or "process:"')
    prefix = table.get("override_prefix", str, "FEATURE_", expected="a variable-name prefix")
    if not prefix or not prefix.replace("_", "").isalnum():
        raise table.error("override_prefix", prefix, "a variable-name prefix such as FEATURE_")
    case = table.get("override_case", str, "lower", expected=f"one of {', '.join(CASES)}")
    if case not in CASES:
        raise table.error("override_case", case, f"one of {', '.join(CASES)}")
    separator = table.get(
        "override_separator", str, ".", expected='the text each "_" becomes, e.g. "." or "_"'
    )
    true_values = table.get(
        "override_true", list, ["true"], expected="a list of values that mean on"
    )
    if not true_values or not all(isinstance(v, str) and v for v in true_values):
        raise table.error("override_true", true_values, 'a non-empty list of strings ("true")')
    config = FlagsConfig(
        intended=dict(intended_raw),
        base_dir=ctx.base_dir,
        endpoint=endpoint,
        base_url=base_url.rstrip("/") if base_url else None,
        token_env=table.env_name("token_env", "ADMIN_TOKEN") or "ADMIN_TOKEN",
        env_sources=tuple(sources),
        override_prefix=prefix,
        override_case=case,
        override_separator=separator,
        override_true=tuple(true_values),
        timeout_s=table.duration("timeout", ctx.timeout_s),
        checks=("rollout", "overrides") if sources else ("rollout",),
    )
    table.finish()
    return config


def _gate_ids(config: FlagsConfig, env: EnvConfig) -> list[str]:
    return [f"flags.{check}" for check in config.checks]


def _secret_files(config: FlagsConfig) -> list[SecretFile]:
    # A dotenv source holds secrets besides the FEATURE_ overrides: masked from the start.
    return [
        SecretFile((config.base_dir / spec).resolve(), spec)
        for spec in config.env_sources
        if spec != "process:"
    ]


KIND = GateKind(
    section="flags",
    parse=parse_flags,
    gate_ids=_gate_ids,
    params={"flags_check": lambda config, env: [(c, c) for c in config.checks]},
    secret_envs=lambda config: [config.token_env],
    secret_files=_secret_files,
    title="Feature flags",
)
