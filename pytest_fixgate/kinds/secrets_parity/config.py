"""The secrets-parity gate kind: ``[env.X.secrets]``, environments compared by name and
fingerprint, never by value (runbook: "Secrets parity verified").

One gate per check (``secrets.missing``, ``secrets.extra``, ``secrets.empty``,
``secrets.placeholder``, ``secrets.must_differ``, ``secrets.forbidden``,
``secrets.localhost``); a check the config gives nothing to do is not implied.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_fixgate.config.table import ConfigTable
from pytest_fixgate.kinds import GateKind, KindContext, SecretFile

if TYPE_CHECKING:
    from pytest_fixgate.config.schema import EnvConfig

__all__ = [
    "DEFAULT_PLACEHOLDERS",
    "KIND",
    "PLACEHOLDER_SHAPE",
    "SECRETS_CHECKS",
    "SecretsConfig",
    "parse_secrets",
]

#: A placeholders entry that stands for any value shaped ``<...>`` ("<your-secret>").
PLACEHOLDER_SHAPE = "<...>"
DEFAULT_PLACEHOLDERS = ("change-me", "changeme", "secret", "test", "xxx", "todo", PLACEHOLDER_SHAPE)
#: Every check, in report order.
SECRETS_CHECKS = (
    "missing",
    "extra",
    "empty",
    "placeholder",
    "must_differ",
    "forbidden",
    "localhost",
)
_PROCESS = "process:"
# Vercel's guards hold preview deployments (where staging is pulled from) to the
# production rules too.
_DEFAULT_PRODUCTION = ("production", "prod", "preview", "staging")
#: Which manifest names every environment must define.
REQUIRED_MODES = ("all", "non-empty", "none")
#: How a value is compared with a placeholder: equal (trimmed, any case), or containing
#: it in any case (the application's ``value.toLowerCase().includes(p)``).
PLACEHOLDER_MATCHES = ("exact", "substring")
#: The placeholders key for every name without a list of its own.
ANY_NAME = "*"


@dataclass(frozen=True)
class SecretsConfig:
    """Where each environment's variables come from, and what they must satisfy."""

    sources: Mapping[str, str]  # environment -> dotenv path (as written) or "process:"
    base_dir: Path  # relative source and manifest paths resolve here
    manifest: str | None = None  # a dotenv-style file of the names every env must define
    optional: tuple[str, ...] = ()
    must_differ: tuple[str, ...] = ()  # every name of must_differ_groups
    forbidden: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    placeholders: tuple[str, ...] = DEFAULT_PLACEHOLDERS  # every listed one (public text)
    production: tuple[str, ...] = ()  # environments the localhost check applies to
    no_localhost: tuple[str, ...] = ("MONGODB_URI",)
    # Which manifest names are required: "all", "non-empty" (with an example value),
    # "none", or these names; plus every name under one of required_sections.
    required: str | tuple[str, ...] = "all"
    required_sections: tuple[str, ...] = ()
    # Groups of alternatives (NEXTAUTH_SECRET or AUTH_SECRET); a single name is a group of one.
    must_differ_groups: tuple[tuple[str, ...], ...] = ()
    # environment -> name -> values it must not have (SKIP_ENV_VALIDATION = "true").
    forbidden_values: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    # name (or "*") -> its placeholders; placeholder_match says how they are compared.
    placeholder_rules: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    placeholder_match: str = "exact"

    def placeholders_for(self, name: str) -> tuple[str, ...]:
        """The placeholders a value of ``name`` is compared with."""
        if not self.placeholder_rules:
            return self.placeholders
        # A name the table does not list keeps the built-in list: never no check at all.
        return self.placeholder_rules.get(
            name, self.placeholder_rules.get(ANY_NAME, self.placeholders)
        )

    @property
    def checks(self) -> tuple[str, ...]:
        """The checks this config implies, each a gate ``secrets.<check>``."""
        out = ["missing"]
        if self.manifest is not None:
            out.append("extra")  # without a manifest the reference is the union: no extras
        out += ["empty", "placeholder"]
        if self.must_differ:
            out.append("must_differ")
        if self.forbidden or self.forbidden_values:
            out.append("forbidden")
        if self.production and self.no_localhost:
            out.append("localhost")
        return tuple(c for c in SECRETS_CHECKS if c in out)


def _names(
    table: ConfigTable, key: str, value: object, where: str | None = None
) -> tuple[str, ...]:
    where = where or key
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise table.error(where, value, "a list of variable names")
    for name in value:
        if not name.replace("_", "").replace(".", "").isalnum():
            # A value pasted here would be a secret in the config: do not echo it.
            raise table.error(where, "<not shown>", "a list of variable NAMES (never values)")
    return tuple(dict.fromkeys(value))


def _placeholders(table: ConfigTable) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
    """(every placeholder listed, name -> its placeholders) from a list (every name) or a
    table of name (or "*") -> list."""
    raw = table.get(
        "placeholders",
        (list, dict),
        list(DEFAULT_PLACEHOLDERS),
        expected='a list of placeholder values, or a table of name (or "*") -> list',
    )
    if isinstance(raw, list):
        return _placeholder_list(table, "placeholders", raw), {}
    rules: dict[str, tuple[str, ...]] = {}
    for name, values in raw.items():
        if name != ANY_NAME:
            _names(table, "placeholders", [name], f"placeholders.{name}")
        if not isinstance(values, list):
            raise table.error(f"placeholders.{name}", values, "a list of placeholder values")
        rules[name] = _placeholder_list(table, f"placeholders.{name}", values)
    every = tuple(dict.fromkeys(v for values in rules.values() for v in values))
    return every, rules


def _placeholder_list(table: ConfigTable, key: str, raw: list[object]) -> tuple[str, ...]:
    out: list[str] = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, str) or not entry.strip():
            raise table.error(f"{key}[{i}]", entry, "a non-empty string")
        # "..." marks a shape; the only shape understood is "<...>": refuse others
        # rather than compare values against a pattern nobody can satisfy.
        if "..." in entry and entry != PLACEHOLDER_SHAPE:
            raise table.error(
                f"{key}[{i}]",
                entry,
                "a literal value, or the shape '<...>' (no other shape)",
            )
        out.append(entry)
    return tuple(out)


def _envs(table: ConfigTable, where: str, env: str, sources: Mapping[str, str]) -> list[str]:
    """The environments a per-environment key names: one of sources, or "*" for every one."""
    if env == ANY_NAME:
        return list(sources)
    if env not in sources:
        raise table.error(where, env, f"an environment of sources ({', '.join(sources)}) or *")
    return [env]


def _must_differ(table: ConfigTable) -> tuple[tuple[str, ...], ...]:
    raw = table.get(
        "must_differ",
        list,
        [],
        expected='a list of names or of alternatives ([["NEXTAUTH_SECRET", "AUTH_SECRET"]])',
    )
    groups: list[tuple[str, ...]] = []
    for i, entry in enumerate(raw):
        if isinstance(entry, str):
            groups.append(_names(table, "must_differ", [entry], f"must_differ[{i}]"))
        elif isinstance(entry, list) and entry:
            groups.append(_names(table, "must_differ", entry, f"must_differ[{i}]"))
        else:
            raise table.error(f"must_differ[{i}]", entry, "a name or a list of alternative names")
    return tuple(dict.fromkeys(groups))


def _forbidden_values(
    table: ConfigTable, sources: Mapping[str, str]
) -> dict[str, dict[str, tuple[str, ...]]]:
    raw = table.get(
        "forbidden_values",
        dict,
        {},
        expected='a table of environment -> {NAME = ["value", ...]}',
    )
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    for env, names in raw.items():
        where = f"forbidden_values.{env}"
        if not isinstance(names, dict) or not names:
            raise table.error(
                where, names, '{NAME = ["value", ...]}, e.g. {SKIP_ENV_VALIDATION = ["true"]}'
            )
        for target in _envs(table, where, env, sources):
            for name, values in names.items():
                _names(table, "forbidden_values", [name], f"{where}.{name}")
                if isinstance(values, str):
                    values = [values]
                if (
                    not isinstance(values, list)
                    or not values
                    or not all(isinstance(v, str) for v in values)
                ):
                    raise table.error(f"{where}.{name}", values, "a value or a list of values")
                out.setdefault(target, {})[name] = tuple(values)
    return out


def _required(
    table: ConfigTable, manifest: str | None
) -> tuple[str | tuple[str, ...], tuple[str, ...]]:
    sections = table.get(
        "required_sections", list, [], expected="a list of section titles of the manifest"
    )
    if not all(isinstance(t, str) and t.strip() for t in sections):
        raise table.error("required_sections", sections, "a list of section titles")
    default = "none" if sections else "all"
    raw = table.get(
        "required",
        (str, list),
        default,
        expected=f"one of {', '.join(REQUIRED_MODES)}, or a list of names",
    )
    if raw == "non-empty" and manifest is None:
        raise table.error("required", raw, "a manifest too: the names are read from it")
    if sections and manifest is None:
        raise table.error("required_sections", sections, "a manifest too: its sections")
    if isinstance(raw, list):
        return _names(table, "required", raw), tuple(t.strip() for t in sections)
    if raw not in REQUIRED_MODES:
        raise table.error(
            "required", raw, f"one of {', '.join(REQUIRED_MODES)}, or a list of names"
        )
    return raw, tuple(t.strip() for t in sections)


def parse_secrets(table: ConfigTable, ctx: KindContext) -> SecretsConfig:
    sources_table = table.get(
        "sources", dict, expected='a table of environment -> dotenv file or "process:"'
    )
    if not sources_table:
        raise table.error("sources", sources_table, "at least one environment")
    sources: dict[str, str] = {}
    for env, spec in sources_table.items():
        if not isinstance(spec, str) or not spec.strip():
            raise table.error(f"sources.{env}", spec, 'a dotenv file path or "process:"')
        sources[env] = spec
    manifest = table.get("manifest", str, None, expected="a path to a dotenv-style file")
    optional = _names(table, "optional", table.get("optional", list, [], expected="a list"))
    groups = _must_differ(table)
    must_differ = tuple(dict.fromkeys(n for group in groups for n in group))
    if must_differ and len(sources) < 2:
        raise table.error(
            "must_differ", list(must_differ), "at least two environments in sources to compare"
        )
    forbidden_raw = table.get(
        "forbidden", dict, {}, expected="a table of environment -> list of variable names"
    )
    forbidden: dict[str, tuple[str, ...]] = {}
    for env, names in forbidden_raw.items():
        for target in _envs(table, f"forbidden.{env}", env, sources):
            found = _names(table, "forbidden", names, f"forbidden.{env}")
            forbidden[target] = tuple(dict.fromkeys((*forbidden.get(target, ()), *found)))
    forbidden_values = _forbidden_values(table, sources)
    production_raw = table.get(
        "production", list, None, expected="a list of environment names from sources"
    )
    if production_raw is None:
        production = tuple(e for e in sources if e in _DEFAULT_PRODUCTION)
    else:
        for i, env in enumerate(production_raw):
            if env not in sources:
                raise table.error(
                    f"production[{i}]", env, f"an environment of sources ({', '.join(sources)})"
                )
        production = tuple(production_raw)
    no_localhost = _names(
        table,
        "no_localhost",
        table.get("no_localhost", list, ["MONGODB_URI"], expected="a list of variable names"),
    )
    placeholders, rules = _placeholders(table)
    match = table.get(
        "placeholder_match", str, "exact", expected=f"one of {', '.join(PLACEHOLDER_MATCHES)}"
    )
    if match not in PLACEHOLDER_MATCHES:
        raise table.error("placeholder_match", match, f"one of {', '.join(PLACEHOLDER_MATCHES)}")
    required, sections = _required(table, manifest)
    config = SecretsConfig(
        sources=sources,
        base_dir=ctx.base_dir,
        manifest=manifest,
        optional=optional,
        must_differ=must_differ,
        forbidden=forbidden,
        placeholders=placeholders,
        production=production,
        no_localhost=no_localhost,
        required=required,
        required_sections=sections,
        must_differ_groups=groups,
        forbidden_values=forbidden_values,
        placeholder_rules=rules,
        placeholder_match=match,
    )
    table.finish()
    return config


def _gate_ids(config: SecretsConfig, env: EnvConfig) -> list[str]:
    return [f"secrets.{check}" for check in config.checks]


def _process_secrets(config: SecretsConfig) -> list[str]:
    if _PROCESS not in config.sources.values():
        return []
    return [*config.must_differ, *config.no_localhost]


def _secret_files(config: SecretsConfig) -> list[SecretFile]:
    # Every value of a dotenv source is a secret, masked from the start of the run (a
    # command gate may print one before this gate reads it); placeholders and the
    # environments' own names are public text.
    public = (*(p for p in config.placeholders if p != PLACEHOLDER_SHAPE), *config.sources)
    return [
        SecretFile((config.base_dir / spec).resolve(), spec, public)
        for spec in config.sources.values()
        if spec != _PROCESS
    ]


KIND = GateKind(
    section="secrets",
    parse=parse_secrets,
    gate_ids=_gate_ids,
    params={"secrets_check": lambda config, env: [(c, c) for c in config.checks]},
    # The values read from sources are secrets too: the gate adds them to the run's
    # redaction as it reads them. A "process:" source reads this job's variables: those
    # the config names are known from the start.
    secret_envs=_process_secrets,
    secret_files=_secret_files,
    title="Secrets parity",
)
