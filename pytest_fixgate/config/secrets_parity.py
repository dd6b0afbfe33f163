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
_DEFAULT_PRODUCTION = ("production", "prod")


@dataclass(frozen=True)
class SecretsConfig:
    """Where each environment's variables come from, and what they must satisfy."""

    sources: Mapping[str, str]  # environment -> dotenv path (as written) or "process:"
    base_dir: Path  # relative source and manifest paths resolve here
    manifest: str | None = None  # a dotenv-style file of the names every env must define
    optional: tuple[str, ...] = ()
    must_differ: tuple[str, ...] = ()
    forbidden: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    placeholders: tuple[str, ...] = DEFAULT_PLACEHOLDERS
    production: tuple[str, ...] = ()  # environments the localhost check applies to
    no_localhost: tuple[str, ...] = ("MONGODB_URI",)

    @property
    def checks(self) -> tuple[str, ...]:
        """The checks this config implies, each a gate ``secrets.<check>``."""
        out = ["missing"]
        if self.manifest is not None:
            out.append("extra")  # without a manifest the reference is the union: no extras
        out += ["empty", "placeholder"]
        if self.must_differ:
            out.append("must_differ")
        if self.forbidden:
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


def _placeholders(table: ConfigTable) -> tuple[str, ...]:
    raw = table.get(
        "placeholders",
        list,
        list(DEFAULT_PLACEHOLDERS),
        expected="a list of placeholder values or the shape '<...>'",
    )
    out: list[str] = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, str) or not entry.strip():
            raise table.error(f"placeholders[{i}]", entry, "a non-empty string")
        # "..." marks a shape; the only shape understood is "<...>": refuse others
        # rather than compare values against a pattern nobody can satisfy.
        if "..." in entry and entry != PLACEHOLDER_SHAPE:
            raise table.error(
                f"placeholders[{i}]",
                entry,
                "a literal value, or the shape '<...>' (no other shape)",
            )
        out.append(entry)
    return tuple(out)


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
    must_differ = _names(
        table, "must_differ", table.get("must_differ", list, [], expected="a list")
    )
    if must_differ and len(sources) < 2:
        raise table.error(
            "must_differ", list(must_differ), "at least two environments in sources to compare"
        )
    forbidden_raw = table.get(
        "forbidden", dict, {}, expected="a table of environment -> list of variable names"
    )
    forbidden: dict[str, tuple[str, ...]] = {}
    for env, names in forbidden_raw.items():
        if env not in sources:
            raise table.error(
                f"forbidden.{env}", env, f"an environment of sources ({', '.join(sources)})"
            )
        forbidden[env] = _names(table, "forbidden", names, f"forbidden.{env}")
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
    config = SecretsConfig(
        sources=sources,
        base_dir=ctx.base_dir,
        manifest=manifest,
        optional=optional,
        must_differ=must_differ,
        forbidden=forbidden,
        placeholders=_placeholders(table),
        production=production,
        no_localhost=no_localhost,
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
