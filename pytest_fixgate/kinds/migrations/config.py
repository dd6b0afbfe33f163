"""The migrations gate kind: ``[env.X.migrations]``, pending migrations and their dry runs.

Two gates: ``migrations.pending`` (files in ``directory`` that the ``applied``
collection does not record) and ``migrations.dry_run`` (each pending file's
``dry_run`` command must exit 0 and change nothing: a fingerprint before and
after must be equal).

``target`` says where they run. ``"clone"`` (the default): on a disposable
copy restored from the fresh backup the backup gate judges, in a SecantusDB
server the gate starts (the ``clone`` extra) or in the scratch server named by
``clone_uri_env``; there each file's dry run, then (with an ``apply``
template) its real run, whose evidence says what it changed. Staging's
``mongodb_uri_env`` is then never connected to: ``{uri_env}`` names the
variable the migrations read, which the gate points at the clone.
``"staging"``: against the staging database itself, as asked for explicitly,
with the fingerprint check only (no real run).

Files: ``include`` globs (``files`` is its older name) less ``exclude`` globs,
matched on the file name. ``overrides`` per file name: a template string (its
dry run), or a table ``{ dry_run = "...", apply = "..." }``.

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
    "CLONE",
    "DEFAULT_FILES",
    "DRY_RUN_GATE_ID",
    "KIND",
    "NO_DRY_RUN",
    "PENDING_GATE_ID",
    "STAGING",
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

#: Which files in ``directory`` are migrations, unless ``include`` says otherwise.
DEFAULT_FILES = ("*.js", "*.cjs", "*.mjs", "*.ts", "*.py")

#: An override's ``dry_run = false``: the file has no dry-run mode (it always writes), so
#: the clone rehearses it by its real run alone; on staging it cannot be checked.
NO_DRY_RUN = ""

#: ``target`` values: a disposable copy of the backup (default), or staging itself.
CLONE = "clone"
STAGING = "staging"


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
    files: tuple[str, ...] = DEFAULT_FILES  # the include globs
    timeout_s: float = 600.0  # per dry run
    fingerprint_timeout_s: float = 300.0
    cwd: Path | None = None  # where dry runs start (the parser's default: the config's folder)
    env: Mapping[str, str] = field(default_factory=dict)  # extra variables, not secrets
    # Per file name: its own template (the real application mixes four conventions).
    overrides: Mapping[str, str] = field(default_factory=dict)
    require_backup: bool = True  # the runbook's "ALWAYS backup before migrations!"
    exclude: tuple[str, ...] = ()
    target: str = CLONE
    # None: the gate starts a SecantusDB server; else the variable naming a scratch server.
    clone_uri_env: str | None = None
    clone_timeout_s: float = 600.0  # starting the clone server and restoring the backup
    apply: str | None = None  # the real run's template, on the clone only (None: no real run)
    apply_env: Mapping[str, str] = field(default_factory=dict)  # added for the real run
    apply_overrides: Mapping[str, str] = field(default_factory=dict)

    def template_for(self, name: str) -> str:
        """The dry-run template, or NO_DRY_RUN for a file declared without one."""
        return self.overrides.get(name, self.dry_run)

    def has_dry_run(self, name: str) -> bool:
        return self.template_for(name) != NO_DRY_RUN

    def apply_template_for(self, name: str) -> str | None:
        return self.apply_overrides.get(name, self.apply)


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
    apply = table.get("apply", str, None, expected="the real run's command template")
    if apply is not None:
        _check_template(table, "apply", apply)
    overrides, apply_overrides = _parse_overrides(table)
    if table.has("files") and table.has("include"):
        raise ConfigError(
            "both include and files (its older name) are set",
            file=table.file,
            key=table.path("files"),
            expected="one of them",
        )
    include_key = "files" if table.has("files") else "include"
    files = _globs(table, include_key, list(DEFAULT_FILES), allow_empty=False)
    exclude = _globs(table, "exclude", [], allow_empty=True)
    target = table.get("target", str, CLONE, expected=f'"{CLONE}" or "{STAGING}"')
    if target not in (CLONE, STAGING):
        raise table.error(
            "target", target, f'"{CLONE}" (a restored copy, the default) or "{STAGING}"'
        )
    clone_uri_env = table.env_name("clone_uri_env")
    require_backup = table.get("require_backup", bool, True, expected="true or false")
    if target == CLONE and not require_backup:
        raise table.error(
            "require_backup",
            False,
            "true: the clone is restored from the backup "
            f'(require_backup = false needs target = "{STAGING}")',
        )
    if target == STAGING:
        for key in ("apply", "clone_uri_env"):
            if table.has(key):
                raise ConfigError(
                    "set only with the clone target: nothing is applied to staging",
                    file=table.file,
                    key=table.path(key),
                    expected=f'target = "{CLONE}", or no {key}',
                )
    apply_env = _env_table(table, "apply_env")
    for name, template in overrides.items():
        if target == CLONE and template == NO_DRY_RUN and apply_overrides.get(name, apply) is None:
            raise ConfigError(
                "dry_run = false needs a real run to rehearse it by: set apply here or "
                "at the top of the table",
                file=table.file,
                key=table.path(f"overrides.{name}"),
                expected='{ dry_run = false, apply = "..." }',
            )
    env = _env_table(table, "env")
    cwd = table.get("cwd", str, None, expected="a folder")
    timeout_s = table.duration("timeout", "10m")
    fingerprint_timeout_s = table.duration("fingerprint_timeout", "5m")
    clone_timeout_s = table.duration("clone_timeout", "10m")
    for key, value in (
        ("timeout", timeout_s),
        ("fingerprint_timeout", fingerprint_timeout_s),
        ("clone_timeout", clone_timeout_s),
    ):
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
        overrides=overrides,
        require_backup=require_backup,
        exclude=tuple(exclude),
        target=target,
        clone_uri_env=clone_uri_env,
        clone_timeout_s=clone_timeout_s,
        apply=apply,
        apply_env=apply_env,
        apply_overrides=apply_overrides,
    )
    table.finish()
    return migrations


def _globs(table: ConfigTable, key: str, default: list[str], *, allow_empty: bool) -> list[str]:
    globs = table.get(key, list, default, expected="a list of file-name globs")
    if (not globs and not allow_empty) or not all(isinstance(g, str) and g for g in globs):
        raise table.error(key, globs, 'a non-empty list of globs such as ["*.ts"]')
    return globs


def _env_table(table: ConfigTable, key: str) -> dict[str, str]:
    env = table.get(key, dict, {}, expected="a table of variable = value for the runs")
    for name, value in env.items():
        if not isinstance(value, str):
            raise table.error(f"{key}.{name}", value, "a string value")
    return dict(env)


def _parse_overrides(table: ConfigTable) -> tuple[dict[str, str], dict[str, str]]:
    """``overrides``: per file name, a dry-run template, or ``{dry_run, apply}``."""
    expected = 'a table of file name = "command", or = { dry_run = "...", apply = "..." }'
    raw = table.get("overrides", dict, {}, expected=expected)
    dry: dict[str, str] = {}
    real: dict[str, str] = {}
    for name, value in raw.items():
        if isinstance(value, str):
            dry[name] = _check_template(table, f"overrides.{name}", value)
            continue
        if not isinstance(value, dict) or not value or set(value) - {"dry_run", "apply"}:
            raise table.error(f"overrides.{name}", value, expected)
        if value.get("dry_run") is False:
            dry[name] = NO_DRY_RUN  # the script has no dry-run mode: rehearsed by its real run
        elif "dry_run" in value:
            dry[name] = _check_template(table, f"overrides.{name}.dry_run", value["dry_run"])
        if "apply" in value:
            real[name] = _check_template(table, f"overrides.{name}.apply", value["apply"])
    return dry, real


KIND = GateKind(
    section="migrations",
    parse=parse_migrations,
    gate_ids=lambda migrations, env: [PENDING_GATE_ID, DRY_RUN_GATE_ID],
    secret_envs=lambda migrations: (
        [migrations.mongodb_uri_env]
        + ([migrations.clone_uri_env] if migrations.clone_uri_env else [])
    ),
    title="pending migrations and their dry runs",
)
