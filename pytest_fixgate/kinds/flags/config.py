"""The feature-flag gate kind: ``[env.X.flags]``, the live flags plus the environment's
``FEATURE_*`` overrides against the intended rollout (runbook: "Feature flags match
intended rollout (``lib/feature-flags.ts`` + env overrides)").

Two gates: ``flags.rollout`` (every intended flag, effective state vs intended)
and ``flags.overrides`` (an override naming no known flag; only with
``env_sources``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_fixgate.config.table import ConfigTable
from pytest_fixgate.kinds import GateKind, KindContext, SecretFile

if TYPE_CHECKING:
    from pytest_fixgate.config.schema import EnvConfig

__all__ = [
    "AUTH_MODES",
    "CASES",
    "KIND",
    "DirectVariable",
    "FlagsAuth",
    "FlagsConfig",
    "FlagsShape",
    "parse_flags",
]

#: How the application folds a variable's name to a flag id.
CASES = ("lower", "upper", "keep")
#: How the gate proves who it is: a bearer token, a header of its own, or a session cookie.
AUTH_MODES = ("bearer", "header", "cookie")
#: NextAuth's session cookie names (plain http, and https with the __Secure- prefix).
NEXTAUTH_COOKIES = ("next-auth.session-token", "__Secure-next-auth.session-token")
# RFC 7230 token characters: a header or cookie name.
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_PATH_PART = re.compile(r"^[^.\s]+$")


@dataclass(frozen=True)
class FlagsAuth:
    """How the credential travels; its value is always read from ``env`` (never config)."""

    mode: str = "bearer"
    env: str = "ADMIN_TOKEN"  # the variable holding the token, header value or cookie value
    name: str = ""  # the header or cookie name ("" for bearer)

    def describe(self, mask: str) -> str:
        if self.mode == "bearer":
            return f"Authorization: Bearer {mask} (${self.env})"
        if self.mode == "header":
            return f"{self.name}: {mask} (${self.env})"
        return f"Cookie: {self.name}={mask} (${self.env})"


@dataclass(frozen=True)
class FlagsShape:
    """Where the flags are in the answer. ``path`` None: any of the known shapes."""

    path: str | None = None  # dotted: "flags", "data.items", "" for the answer itself
    id_key: str = "id"
    enabled_key: str = "enabled"

    @property
    def configured(self) -> bool:
        return self.path is not None


@dataclass(frozen=True)
class DirectVariable:
    """A ``FEATURE_*`` variable other code reads directly (not through the flag registry):
    mapped to the flag whose feature it switches, or ignored with a reason."""

    variable: str
    flag: str | None = None  # None: ignored
    reason: str = ""  # why it is ignored, or where it is read
    true_values: tuple[str, ...] | None = None  # on only for these (exact), else off
    false_values: tuple[str, ...] | None = None  # off only for these (exact), else on
    when_unset: bool | None = None  # the state the reading code gives it when unset

    def state(self, value: str | None) -> bool | None:
        """The state the reading code gives ``value`` (None: unset and not judged)."""
        if value is None:
            return self.when_unset
        if self.false_values is not None:
            return value not in self.false_values
        return value in (self.true_values or ("true",))


@dataclass(frozen=True)
class FlagsConfig:
    """Where the live flags are read, what is intended, and how overrides map to flags."""

    intended: Mapping[str, bool]
    base_dir: Path
    endpoint: str = "/api/admin/features"  # the runbook's; the real application's differs
    base_url: str | None = None  # None: the environment's base_url
    auth: FlagsAuth = field(default_factory=FlagsAuth)
    shape: FlagsShape = field(default_factory=FlagsShape)
    direct: Mapping[str, DirectVariable] = field(default_factory=dict)
    env_sources: tuple[str, ...] = ()  # dotenv files or "process:", later ones win
    override_prefix: str = "FEATURE_"
    override_case: str = "lower"
    override_separator: str = "."  # what each "_" after the prefix becomes
    override_true: tuple[str, ...] = ("true",)  # any case; every other value means off
    timeout_s: float = 5.0
    checks: tuple[str, ...] = ("rollout",)  # each a gate flags.<check>

    @property
    def token_env(self) -> str:
        """The variable holding the credential, whatever the auth mode."""
        return self.auth.env

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
        auth=_auth(table),
        shape=_shape(table),
        direct=_direct(table, bool(sources)),
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


def _auth(table: ConfigTable) -> FlagsAuth:
    mode = table.get("auth", str, "bearer", expected=f"one of {', '.join(AUTH_MODES)}")
    if mode not in AUTH_MODES:
        raise table.error("auth", mode, f"one of {', '.join(AUTH_MODES)}")
    keys = {"bearer": "token_env", "header": "header_env", "cookie": "cookie_env"}
    for other, key in keys.items():  # a credential key of another mode is a mistake
        if other != mode and key in table.data:
            raise table.error(key, "<not shown>", f'no {key} with auth = "{mode}"')
    if mode == "bearer":
        return FlagsAuth("bearer", table.env_name("token_env", "ADMIN_TOKEN") or "ADMIN_TOKEN")
    name_key = f"{mode}_name"
    expected = (
        "a header name such as X-Admin-Key"
        if mode == "header"
        else f"a cookie name such as {NEXTAUTH_COOKIES[1]}"
    )
    name = table.get(name_key, str, expected=expected)
    if not _TOKEN.match(name) or (mode == "header" and name.lower() in ("host", "cookie")):
        raise table.error(name_key, name, expected)
    env = table.env_name(keys[mode])
    if env is None:
        raise table.error(keys[mode], None, "the NAME of the variable holding the value")
    return FlagsAuth(mode, env, name)


def _shape(table: ConfigTable) -> FlagsShape:
    path = table.get("flags_path", str, None, expected='a dotted path such as "flags"')
    id_key = table.get("id_key", str, None, expected='the key of a flag\'s id, e.g. "id"')
    enabled_key = table.get("enabled_key", str, None, expected='a key such as "enabled"')
    if path is None:
        if id_key is not None or enabled_key is not None:
            raise table.error(
                "flags_path", None, 'a path too (e.g. "flags"; "" for the answer itself)'
            )
        return FlagsShape()
    if path and not all(_PATH_PART.match(part) for part in path.split(".")):
        raise table.error("flags_path", path, 'dotted keys such as "data.items"')
    for key, value in (("id_key", id_key), ("enabled_key", enabled_key)):
        if value is not None and not value.strip():
            raise table.error(key, value, "a non-empty key")
    return FlagsShape(path, id_key or "id", enabled_key or "enabled")


def _values(table: ConfigTable, where: str, raw: object) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw or not all(isinstance(v, str) for v in raw):
        raise table.error(where, raw, "a non-empty list of strings")
    return tuple(raw)


def _direct(table: ConfigTable, have_sources: bool) -> dict[str, DirectVariable]:
    raw = table.get(
        "direct",
        dict,
        {},
        expected='a table of variable -> {flag = ...} or {ignore = "why"}',
    )
    if raw and not have_sources:
        raise table.error("direct", "{...}", "env_sources too: direct variables are read there")
    out: dict[str, DirectVariable] = {}
    allowed = {"flag", "ignore", "read_by", "true_values", "false_values", "when_unset"}
    for variable, spec in raw.items():
        where = f"direct.{variable}"
        if not variable.replace("_", "").isalnum():
            raise table.error(where, variable, "a variable name such as FEATURE_ESCROW_ENABLED")
        if not isinstance(spec, dict) or set(spec) - allowed:
            unknown = ", ".join(sorted(set(spec) - allowed)) if isinstance(spec, dict) else ""
            raise table.error(
                where,
                f"unknown key {unknown}" if unknown else spec,
                f'{{flag = "a.flag", read_by = "..."}} or {{ignore = "why"}} '
                f"(keys: {', '.join(sorted(allowed))})",
            )
        flag, ignore = spec.get("flag"), spec.get("ignore")
        if (flag is None) == (ignore is None):
            raise table.error(where, spec, "exactly one of flag or ignore")
        if ignore is not None:
            if not isinstance(ignore, str) or not ignore.strip():
                raise table.error(f"{where}.ignore", ignore, "the reason, as text")
            if set(spec) - {"ignore", "read_by"}:
                raise table.error(where, spec, "only ignore (and read_by) for an ignored one")
            out[variable] = DirectVariable(variable, None, ignore.strip())
            continue
        if not isinstance(flag, str) or not flag:
            raise table.error(f"{where}.flag", flag, "a flag id the service answers")
        if "true_values" in spec and "false_values" in spec:
            raise table.error(where, spec, "true_values or false_values, not both")
        unset = spec.get("when_unset")
        if unset is not None and not isinstance(unset, bool):
            raise table.error(f"{where}.when_unset", unset, "true or false")
        read_by = spec.get("read_by", "")
        if not isinstance(read_by, str):
            raise table.error(f"{where}.read_by", read_by, "text: where the code reads it")
        out[variable] = DirectVariable(
            variable,
            flag,
            read_by,
            _values(table, f"{where}.true_values", spec["true_values"])
            if "true_values" in spec
            else None,
            _values(table, f"{where}.false_values", spec["false_values"])
            if "false_values" in spec
            else None,
            unset,
        )
    return out


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
    secret_envs=lambda config: [config.auth.env],
    secret_files=_secret_files,
    title="Feature flags",
)
