"""The command gate kind: ``[[env.X.commands]]``, one gate per command (``command.<id>``).

The runbook's "Staging Promotion Flow", step 2 (``pnpm lint && pnpm
typecheck``, ``pnpm test:e2e``): a command passes when it exits 0. This is the
one gate kind that runs the user's own code. ``{base_url}`` in ``run`` or an
``env`` value is the environment's base URL, so an end-to-end suite tests the
environment gated, not a server of its own.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol, TypeVar

from pytest_fixgate.config.table import ConfigTable
from pytest_fixgate.errors import ConfigError
from pytest_fixgate.kinds import GateKind, KindContext

__all__ = [
    "KIND",
    "CommandSpec",
    "entry_id",
    "extra_env",
    "local_path",
    "parse_commands",
    "parse_entries",
    "secret_env_names",
]


class _Entry(Protocol):
    @property
    def id(self) -> str: ...


T = TypeVar("T", bound=_Entry)

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DEFAULT_TIMEOUT_S = 600.0
#: In ``run`` and ``env`` values: the environment's ``base_url`` (e.g. Playwright's).
BASE_URL_PLACEHOLDER = "{base_url}"


@dataclass(frozen=True)
class CommandSpec:
    """One command to run, and where."""

    id: str
    argv: tuple[str, ...]
    cwd: Path
    timeout_s: float = DEFAULT_TIMEOUT_S
    env: Mapping[str, str] = field(default_factory=dict)  # added to the inherited environment
    secret_env: tuple[str, ...] = ()  # variables whose values are masked in the output

    @property
    def gate_id(self) -> str:
        return f"command.{self.id}"

    @property
    def command_line(self) -> str:
        return shlex.join(self.argv)

    def for_environment(self, base_url: str) -> CommandSpec:
        """The command as it runs against an environment: ``{base_url}`` in ``run`` and in
        ``env`` values replaced by the environment's base URL (never a secret: base_url
        refuses credentials), and ``FIXGATE_BASE_URL`` set unless ``env`` sets it."""
        argv = tuple(a.replace(BASE_URL_PLACEHOLDER, base_url) for a in self.argv)
        env = {"FIXGATE_BASE_URL": base_url}
        env.update({k: v.replace(BASE_URL_PLACEHOLDER, base_url) for k, v in self.env.items()})
        return replace(self, argv=argv, env=env)


def entry_id(table: ConfigTable, example: str) -> str:
    """An array entry's ``id``: the gate id's last part."""
    gate_id = table.get("id", str, expected=f'a short name such as "{example}"')
    if not _ID.match(gate_id):
        raise table.error("id", gate_id, "letters, digits, '.', '_' or '-'")
    return gate_id


def local_path(table: ConfigTable, name: str, ctx: KindContext, default: Path | None) -> Path:
    """A path key, relative to the config file's folder."""
    value = table.get(name, str, None, expected="a path (relative to the config file)")
    if value is None:
        if default is None:
            raise table.error(name, None, "a path (relative to the config file)")
        return default
    if not value.strip():
        raise table.error(name, value, "a non-empty path")
    return (ctx.base_dir / value).resolve()


def secret_env_names(table: ConfigTable) -> tuple[str, ...]:
    """``secret_env``: names of variables whose values are masked; a value that is not a
    variable name is refused without being echoed (it may be a pasted secret)."""
    names = table.get("secret_env", list, [], expected="a list of environment variable names")
    for i, name in enumerate(names):
        if not isinstance(name, str) or not _ENV_NAME.match(name):
            raise table.error(
                f"secret_env[{i}]", "(not shown)", "the NAME of an environment variable"
            )
    return tuple(names)


def extra_env(table: ConfigTable) -> dict[str, str]:
    """``env``: variables added to the inherited environment (config values, not secrets)."""
    env = table.get("env", dict, {}, expected="a table of variable = string value")
    for name, value in env.items():
        if not _ENV_NAME.match(name) or not isinstance(value, str):
            raise table.error(f"env.{name}", value, "a string value for a variable name")
    return dict(env)


def _parse_one(table: ConfigTable, ctx: KindContext) -> CommandSpec:
    gate_id = entry_id(table, "lint")
    run = table.get("run", (str, list), expected='a command line or an argv list, e.g. "pnpm lint"')
    if isinstance(run, str):
        try:
            argv = shlex.split(run)
        except ValueError as exc:
            raise table.error("run", run, f"a command line that shlex can split ({exc})") from None
    else:
        argv = run
    if not argv or not all(isinstance(a, str) and a for a in argv):
        raise table.error("run", run, "a non-empty command line or list of non-empty strings")
    env = extra_env(table)
    secret_env = secret_env_names(table)
    spec = CommandSpec(
        id=gate_id,
        argv=tuple(argv),
        cwd=local_path(table, "cwd", ctx, ctx.base_dir),
        timeout_s=table.duration("timeout", DEFAULT_TIMEOUT_S),
        env=dict(env),
        secret_env=secret_env,
    )
    table.finish()
    return spec


def parse_entries(
    tables: list[ConfigTable],
    ctx: KindContext,
    parse_one: Callable[[ConfigTable, KindContext], T],
    *,
    section: str,
) -> tuple[T, ...]:
    """An array of gate entries (``[[env.X.<section>]]``), each with a unique ``id``;
    an empty array is an error (it would silently gate nothing)."""
    specs: list[T] = []
    for table in tables:
        spec = parse_one(table, ctx)
        if any(s.id == spec.id for s in specs):
            raise table.error("id", spec.id, f"an id not used by another {section} entry")
        specs.append(spec)
    if not specs:
        raise ConfigError(
            "an empty list gates nothing: remove it or add an entry",
            file=ctx.file,
            key=f"env.{ctx.env_name}.{section}",
        )
    return tuple(specs)


def parse_commands(tables: list[ConfigTable], ctx: KindContext) -> tuple[CommandSpec, ...]:
    """``[[env.X.commands]]``: each entry one gate; ids are unique."""
    return parse_entries(tables, ctx, _parse_one, section="commands")


KIND = GateKind(
    section="commands",
    array=True,
    parse=parse_commands,
    gate_ids=lambda specs, env: [s.gate_id for s in specs],
    params={
        "command_spec": lambda specs, env: [(s.id, s.for_environment(env.base_url)) for s in specs]
    },
    secret_envs=lambda specs: [name for s in specs for name in s.secret_env],
    title="Build commands",
)
