"""The migrations gate kind: ``[env.X.migrations]``, pending migrations and their dry runs.

Two gates: ``migrations.pending`` (files in ``directory`` that the ``applied``
collection does not record) and ``migrations.dry_run`` (each pending file's
``dry_run`` command, run against the database, must exit 0 and change
nothing: a fingerprint before and after must be equal).

The command template is split like a shell would (``shlex``), then each
argument is filled in: ``{file}`` the migration's path, ``{name}`` its file
name, ``{uri_env}`` the NAME of the variable holding the MongoDB URI (never
its value: the command reads it from its environment), ``{database}`` the
database fingerprinted (``database``, else the URI's), ``{directory}`` the
migrations folder. Any other ``{field}`` is a config error.
"""

from __future__ import annotations

import shlex
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pytest_fixgate.config.data_sources import database_name, mongo_uri_env
from pytest_fixgate.config.table import ConfigTable
from pytest_fixgate.errors import ConfigError
from pytest_fixgate.kinds import GateKind, KindContext

__all__ = [
    "DEFAULT_FILES",
    "DRY_RUN_GATE_ID",
    "KIND",
    "PENDING_GATE_ID",
    "TEMPLATE_FIELDS",
    "AppliedRecord",
    "MigrationsConfig",
    "parse_migrations",
    "render_command",
]

PENDING_GATE_ID = "migrations.pending"
DRY_RUN_GATE_ID = "migrations.dry_run"

#: The placeholders a ``dry_run`` template may use.
TEMPLATE_FIELDS = frozenset({"file", "name", "uri_env", "directory", "database"})

#: Which files in ``directory`` are migrations, unless ``files`` says otherwise.
DEFAULT_FILES = ("*.js", "*.cjs", "*.mjs", "*.ts", "*.py")


@dataclass(frozen=True)
class AppliedRecord:
    """Where applied migrations are recorded: one document per file (migrate-mongo's
    ``changelog`` with ``fileName`` by default)."""

    collection: str = "changelog"
    field: str = "fileName"


@dataclass(frozen=True)
class MigrationsConfig:
    """Pending migrations, and how to dry-run each one."""

    directory: Path
    dry_run: str  # the command template
    mongodb_uri_env: str
    database: str | None = None  # None: the URI's own database
    # None: nothing records applied migrations, every file is pending (`applied = false`).
    applied: AppliedRecord | None = AppliedRecord()
    files: tuple[str, ...] = DEFAULT_FILES
    timeout_s: float = 600.0  # per dry run
    fingerprint_timeout_s: float = 300.0
    cwd: Path | None = None  # where dry runs start (the parser's default: the config's folder)
    env: Mapping[str, str] = field(default_factory=dict)  # extra variables, not secrets
    # Per file name: its own template (the real application mixes three conventions).
    overrides: Mapping[str, str] = field(default_factory=dict)
    require_backup: bool = True  # the runbook's "ALWAYS backup before migrations!"

    def template_for(self, name: str) -> str:
        return self.overrides.get(name, self.dry_run)


def render_command(
    template: str, *, file: Path, uri_env: str, directory: Path, database: str
) -> list[str]:
    """The argv of one dry run: the template split like a shell, each argument filled in."""
    values = {
        "file": str(file),
        "name": file.name,
        "uri_env": uri_env,
        "directory": str(directory),
        "database": database,
    }
    return [arg.format_map(values) for arg in shlex.split(template)]


def _check_template(table: ConfigTable, key: str, template: object) -> str:
    expected = 'a command such as "node {file} --dry-run" (placeholders: ' + ", ".join(
        "{" + f + "}" for f in sorted(TEMPLATE_FIELDS)
    )
    expected += ")"
    if not isinstance(template, str) or not template.strip():
        raise table.error(key, template, expected)
    try:
        args = shlex.split(template)
    except ValueError as exc:
        raise table.error(key, template, f"{expected}; {exc}") from None
    for arg in args:
        try:
            parsed = list(string.Formatter().parse(arg))
        except ValueError as exc:  # an unmatched brace
            raise table.error(key, template, f"{expected}; {exc}") from None
        for _, name, spec, conversion in parsed:
            if name is None:
                continue
            if name not in TEMPLATE_FIELDS or spec or conversion:
                shown = "{" + name + (f"!{conversion}" if conversion else "")
                shown += (f":{spec}" if spec else "") + "}"
                raise ConfigError(
                    f"unknown placeholder {shown} in the command template",
                    file=table.file,
                    key=table.path(key),
                    expected="only " + ", ".join("{" + f + "}" for f in sorted(TEMPLATE_FIELDS)),
                )
    return template


def _parse_applied(table: ConfigTable) -> AppliedRecord | None:
    expected = '{ collection = "changelog", field = "fileName" }, or false (nothing records them)'
    raw = table.get("applied", (dict, bool), {}, expected=expected)
    if raw is False:
        return None
    if raw is True:
        raise table.error("applied", raw, expected)
    sub = table.table("applied")
    record = AppliedRecord(
        collection=sub.get("collection", str, "changelog", expected="a collection name"),
        field=sub.get("field", str, "fileName", expected="the field holding the file name"),
    )
    sub.finish()
    if not record.collection or not record.field:
        raise table.error("applied", raw, expected)
    return record


def parse_migrations(table: ConfigTable, ctx: KindContext) -> MigrationsConfig:
    directory = Path(table.get("directory", str, expected="the folder of migration files"))
    if not directory.is_absolute():
        directory = ctx.base_dir / directory
    dry_run = _check_template(table, "dry_run", table.get("dry_run", str, expected="a command"))
    overrides = table.get("overrides", dict, {}, expected="a table of file name = command")
    for name, template in overrides.items():
        _check_template(table, f"overrides.{name}", template)
    files = table.get("files", list, list(DEFAULT_FILES), expected="a list of file-name globs")
    if not files or not all(isinstance(f, str) and f for f in files):
        raise table.error("files", files, 'a non-empty list of globs such as ["*.js"]')
    env = table.get("env", dict, {}, expected="a table of variable = value for the dry runs")
    for name, value in env.items():
        if not isinstance(value, str):
            raise table.error(f"env.{name}", value, "a string value")
    cwd = table.get("cwd", str, None, expected="a folder")
    timeout_s = table.duration("timeout", "10m")
    fingerprint_timeout_s = table.duration("fingerprint_timeout", "5m")
    for key, value in (("timeout", timeout_s), ("fingerprint_timeout", fingerprint_timeout_s)):
        if value <= 0:
            raise table.error(key, value, "a positive duration")
    migrations = MigrationsConfig(
        directory=directory,
        dry_run=dry_run,
        mongodb_uri_env=mongo_uri_env(table, ctx),
        database=database_name(table),
        applied=_parse_applied(table),
        files=tuple(files),
        timeout_s=timeout_s,
        fingerprint_timeout_s=fingerprint_timeout_s,
        cwd=ctx.base_dir / cwd if cwd is not None else ctx.base_dir,
        env=dict(env),
        overrides=dict(overrides),
        require_backup=table.get("require_backup", bool, True, expected="true or false"),
    )
    table.finish()
    return migrations


KIND = GateKind(
    section="migrations",
    parse=parse_migrations,
    gate_ids=lambda migrations, env: [PENDING_GATE_ID, DRY_RUN_GATE_ID],
    secret_envs=lambda migrations: [migrations.mongodb_uri_env],
    title="pending migrations and their dry runs",
)
