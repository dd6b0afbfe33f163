"""Pending migrations, and their dry runs with a proof that nothing changed.

``pending_migrations`` lists the migration files in the folder and reads
which of them the ``applied`` collection records (a read: ``find`` with a
projection); ``pending_from_backup`` reads the same from the backup's dump of
that collection, so the clone target never connects to staging.

``rehearse_on_clone`` (the default target) restores the backup into a clone
and, per pending file in order, fingerprints, dry-runs, fingerprints (the
dry run must change nothing), then runs it for real and fingerprints again
(what it changed is the evidence). ``dry_run_migrations`` (``target =
"staging"``) fingerprints staging, dry-runs every file, fingerprints again.

Every run goes through the process primitive (own process group, deadline,
redacted log in the report folder) wrapped in ``reaper.py``, which returns
only when every process the migration started has exited, detached ones
included: the fingerprint after a run sees what its stragglers wrote.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import os
import re
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pytest_fixgate.errors import ProbeError
from pytest_fixgate.kinds.migrations.clone import (
    Restored,
    clone_server,
    dump_databases,
    restore_dump,
)
from pytest_fixgate.kinds.migrations.config import MigrationsConfig, render_command
from pytest_fixgate.kinds.migrations.fingerprint import (
    CollectionChange,
    ServerPrint,
    fingerprint_server,
)
from pytest_fixgate.measurements.files import FileReadError, check_regular
from pytest_fixgate.measurements.mongo_client import mongo_database
from pytest_fixgate.measurements.process import ProcessResult, run_process
from pytest_fixgate.redaction import Redactor

__all__ = [
    "CloneRehearsal",
    "DryRun",
    "DryRunReport",
    "Pending",
    "dry_run_migrations",
    "migration_files",
    "pending_from_backup",
    "pending_migrations",
    "rehearse_on_clone",
]

_REAPER = Path(__file__).with_name("reaper.py")


@dataclass(frozen=True)
class Pending:
    """The migration files, and which of them are not recorded as applied."""

    files: tuple[Path, ...]  # every migration file, by name
    pending: tuple[Path, ...]
    applied_names: tuple[str, ...]  # names the applied collection records
    database: str
    recorded: bool  # False: nothing records applied migrations (`applied = false`)
    # False when the applied collection does not exist (a wrong name reads as "none applied").
    record_exists: bool = True

    @property
    def applied_without_file(self) -> list[str]:
        names = {p.name for p in self.files}
        return sorted(n for n in self.applied_names if n not in names)


@dataclass(frozen=True)
class DryRun:
    """One migration's dry run (or, on the clone, its real run)."""

    file: Path
    result: ProcessResult
    log: str  # the log's path relative to the report folder
    # Processes still running when the migration's own process exited, waited for.
    outlived: int = 0
    waited_s: float = 0.0
    # On the clone: what this very run changed (a dry run must change nothing).
    changes: tuple[CollectionChange, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "migration": self.file.name,
            "command": " ".join(self.result.argv),
            "ended": self.result.describe(),
            "exit_code": self.result.exit_code,
            "duration_s": round(self.result.duration_s, 2),
            "log": self.log,
        }
        if self.outlived:
            out["outlived_by"] = self.outlived
            out["waited_for_them_s"] = self.waited_s
        return out


@dataclass(frozen=True)
class CloneRehearsal:
    """Where the clone was and what its restore wrote."""

    server: str
    started_s: float
    restored: Restored
    removed_env: tuple[str, ...] = ()  # variables holding a MongoDB URI, kept from the runs

    def as_dict(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "server_start_s": round(self.started_s, 3),
            **self.restored.as_dict(),
            "removed_from_environment": list(self.removed_env),
        }


@dataclass(frozen=True)
class DryRunReport:
    """Everything the dry-run judge needs."""

    runs: tuple[DryRun, ...]
    before: ServerPrint
    after: ServerPrint
    target: str = "staging"
    applied: tuple[DryRun, ...] = ()  # the real runs, on the clone
    clone: CloneRehearsal | None = None
    apply_configured: bool = False
    no_dry_run: tuple[str, ...] = ()  # files declared without a dry-run mode


def migration_files(config: MigrationsConfig) -> tuple[Path, ...]:
    """The files in ``directory`` matching ``include`` and no ``exclude`` glob, sorted by
    name (the order they apply)."""
    try:
        entries = sorted(os.scandir(config.directory), key=lambda e: e.name)
    except FileNotFoundError:
        raise ProbeError(f"migrations directory {config.directory} does not exist") from None
    except OSError as exc:
        raise ProbeError(
            f"migrations directory {config.directory} cannot be read ({exc.strerror})"
        ) from None
    matching = [
        e
        for e in entries
        if not e.name.startswith(".")
        and any(fnmatch.fnmatch(e.name, g) for g in config.files)
        and not any(fnmatch.fnmatch(e.name, g) for g in config.exclude)
    ]
    for entry in matching:
        if entry.is_dir():
            continue  # a folder named like a migration is not one
        try:
            check_regular(entry.path)  # a FIFO or a dangling link is no migration to skip
        except FileNotFoundError:
            raise ProbeError(f"migration {entry.path}: a link to nothing") from None
        except FileReadError as exc:
            raise ProbeError(f"migration {exc}") from None
    return tuple(Path(e.path) for e in matching if not e.is_dir())


def pending_migrations(uri: str, config: MigrationsConfig, *, timeout_s: float) -> Pending:
    """The files not recorded as applied (all of them when ``applied = false``)."""
    files = migration_files(config)
    if config.applied is None:
        return Pending(files, files, (), config.database or "", recorded=False)
    record = config.applied
    with mongo_database(uri, config.database, timeout_s=timeout_s) as target:
        cursor = target.db[record.collection].find(
            {record.field: {"$exists": True}}, {record.field: 1, "_id": 0}
        )
        # A changelog may record a path; the file name is what identifies the migration.
        applied = sorted(
            {Path(str(doc[record.field])).name for doc in cursor if doc.get(record.field)}
        )
        database = target.name
        exists = bool(target.db.list_collection_names(filter={"name": record.collection}))
    pending = tuple(p for p in files if p.name not in set(applied))
    return Pending(files, pending, tuple(applied), database, recorded=True, record_exists=exists)


def pending_from_backup(config: MigrationsConfig, folder: Path, database: str) -> Pending:
    """As :func:`pending_migrations`, reading the applied collection from the backup's dump
    of it (``<folder>/<database>/<collection>.bson``): the clone's own state, staging never
    connected to. A collection the dump does not hold reads as "does not exist"."""
    # deferred: pymongo loads only when a MongoDB reader runs
    from bson import decode_file_iter
    from bson.errors import BSONError

    files = migration_files(config)
    if config.applied is None:
        return Pending(files, files, (), database, recorded=False)
    record = config.applied
    path = folder / database / f"{record.collection}.bson"
    names: set[str] = set()
    exists = path.is_file()
    if exists:
        try:
            with path.open("rb") as fh:
                for doc in decode_file_iter(fh):
                    value = doc.get(record.field)
                    if value:
                        names.add(Path(str(value)).name)
        except (OSError, BSONError) as exc:
            raise ProbeError(f"backup {folder.name}: {path.name} cannot be read ({exc})") from None
    pending = tuple(p for p in files if p.name not in names)
    return Pending(
        files, pending, tuple(sorted(names)), database, recorded=True, record_exists=exists
    )


def _log_name(index: int, file: Path, suffix: str = "") -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", file.name)
    return f"{index:02d}-{safe}{suffix}.log"


def _run(
    template: str,
    file: Path,
    *,
    index: int,
    phase: str,
    config: MigrationsConfig,
    uri_env: str,
    database: str,
    env: Mapping[str, str],
    report_dir: Path,
    log_subdir: str,
    redactor: Redactor,
) -> DryRun:
    """One run of one migration, waited for until every process it started has exited."""
    argv = render_command(
        template, file=file, uri_env=uri_env, directory=config.directory, database=database
    )
    suffix = "" if phase == "dry run" else "-apply"
    rel = f"{log_subdir}/{_log_name(index, file, suffix)}"
    log_path = report_dir / rel
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fixgate-reaper-") as tmp:
        status_path = Path(tmp) / "status.json"
        result = run_process(
            [sys.executable, str(_REAPER), str(status_path), "--", *argv],
            cwd=config.cwd,
            env=env,
            timeout_s=config.timeout_s,
            log_path=log_path,
            redactor=redactor,
        )
        try:
            status = json.loads(status_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            status = {}
    shown = tuple(argv)
    if status.get("start_error"):
        reason = redactor.text(str(status["start_error"]))
        result = dataclasses.replace(result, argv=shown, exit_code=None, start_error=reason)
    elif result.start_error is None and not result.timed_out and "exit_code" in status:
        result = dataclasses.replace(result, argv=shown, exit_code=int(status["exit_code"]))
    else:
        result = dataclasses.replace(result, argv=shown)
    return DryRun(
        file,
        result,
        rel,
        outlived=int(status.get("outlived", 0)),
        waited_s=float(status.get("waited_s", 0.0)),
    )


def dry_run_migrations(
    uri: str,
    uri_env: str,
    config: MigrationsConfig,
    pending: tuple[Path, ...],
    *,
    report_dir: Path,
    log_subdir: str,
    redactor: Redactor,
) -> DryRunReport:
    """``target = "staging"``: fingerprint, run every pending migration's dry run against
    staging, fingerprint again.

    Logs go to ``report_dir/log_subdir/NN-<file>.log``. Every run is made even
    after one fails, so the report shows them all. Raises ProbeError when the
    database cannot be fingerprinted (before or after): without both prints
    there is no proof.
    """
    timeout = config.fingerprint_timeout_s
    with mongo_database(uri, config.database, timeout_s=timeout) as target:
        before = fingerprint_server(target, timeout_s=timeout)
        runs: list[DryRun] = []
        child_env = {**os.environ, **config.env}
        for i, file in enumerate(pending, 1):
            if not config.has_dry_run(file.name):
                continue  # nothing to run against staging: the judge says it is unchecked
            runs.append(
                _run(
                    config.template_for(file.name),
                    file,
                    index=i,
                    phase="dry run",
                    config=config,
                    uri_env=uri_env,
                    database=target.name,
                    env=child_env,
                    report_dir=report_dir,
                    log_subdir=log_subdir,
                    redactor=redactor,
                )
            )
        after = fingerprint_server(target, timeout_s=timeout)
    unchecked = tuple(f.name for f in pending if not config.has_dry_run(f.name))
    return DryRunReport(tuple(runs), before, after, target="staging", no_dry_run=unchecked)


def _clone_env(
    config: MigrationsConfig, uri_env: str, clone_uri: str
) -> tuple[dict[str, str], tuple[str, ...]]:
    """The runs' environment: no variable holding a MongoDB URI but ``uri_env``, which
    holds the clone's (a script reading ``MONGO_URI`` as a fallback must not reach
    staging through it)."""
    env = {**os.environ, **config.env}
    removed = tuple(
        sorted(
            name
            for name, value in env.items()
            if name != uri_env
            and value.strip().lower().startswith(("mongodb://", "mongodb+srv://"))
        )
    )
    for name in removed:
        del env[name]
    env[uri_env] = clone_uri
    return env, removed


def rehearse_on_clone(
    config: MigrationsConfig,
    pending: tuple[Path, ...],
    *,
    backup_folder: Path,
    database: str,
    uri_env: str,
    clone_uri: str | None,
    staging_uri: str | None,
    report_dir: Path,
    log_subdir: str,
    redactor: Redactor,
) -> DryRunReport:
    """The default target: restore ``backup_folder`` into a clone, then per pending file,
    in order: its dry run (the fingerprint must not change), then, with an ``apply``
    template, its real run (what it changed is measured). Raises ProbeError when the
    clone cannot be made or fingerprinted."""
    databases = dump_databases(backup_folder)
    if database not in databases:
        raise ProbeError(
            f"the backup {backup_folder.name} holds no database folder {database!r} "
            f"(it holds: {', '.join(databases) or 'none'})"
        )
    timeout = config.fingerprint_timeout_s
    with clone_server(
        clone_uri=clone_uri,
        staging_uri=staging_uri,
        databases=databases,
        timeout_s=config.clone_timeout_s,
    ) as server:
        uri = _with_database(server.uri, database)
        if clone_uri:  # a secret: the gate's redactor knows it already (secret_envs)
            redactor.add([uri])
        with mongo_database(uri, database, timeout_s=timeout) as target:
            restored = restore_dump(target.client, backup_folder, timeout_s=config.clone_timeout_s)
            env, removed = _clone_env(config, uri_env, uri)
            apply_env = {**env, **config.apply_env}
            before = fingerprint_server(target, timeout_s=timeout, keep_documents=True)
            current = before
            runs: list[DryRun] = []
            applied: list[DryRun] = []
            common = {
                "config": config,
                "uri_env": uri_env,
                "database": database,
                "report_dir": report_dir,
                "log_subdir": log_subdir,
                "redactor": redactor,
            }
            for i, file in enumerate(pending, 1):
                if config.has_dry_run(file.name):
                    run = _run(
                        config.template_for(file.name),
                        file,
                        index=i,
                        phase="dry run",
                        env=env,
                        **common,
                    )  # type: ignore[arg-type]
                    after_dry = fingerprint_server(target, timeout_s=timeout, keep_documents=True)
                    changes = tuple(current.changes(after_dry))
                    runs.append(dataclasses.replace(run, changes=changes))
                    current = after_dry
                template = config.apply_template_for(file.name)
                if template is None:
                    continue
                real = _run(template, file, index=i, phase="real run", env=apply_env, **common)  # type: ignore[arg-type]
                after_real = fingerprint_server(target, timeout_s=timeout, keep_documents=True)
                applied.append(
                    dataclasses.replace(real, changes=tuple(current.changes(after_real)))
                )
                current = after_real
    rehearsal = CloneRehearsal(server.described, server.started_s, restored, removed)
    return DryRunReport(
        tuple(runs),
        before,
        current,
        target="clone",
        applied=tuple(applied),
        clone=rehearsal,
        apply_configured=config.apply is not None or bool(config.apply_overrides),
        no_dry_run=tuple(f.name for f in pending if not config.has_dry_run(f.name)),
    )


def _with_database(uri: str, database: str) -> str:
    """``uri`` with ``database`` as its path (``mongodb://h:p/db?opts``)."""
    parts = urlsplit(uri)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))
