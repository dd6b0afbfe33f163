"""Pending migrations, and their dry runs with a proof that nothing changed.

``pending_migrations`` lists the migration files in the folder and reads
which of them the ``applied`` collection records (a read: ``find`` with a
projection). ``dry_run_migrations`` fingerprints the database, runs each
pending file's dry-run command through the process primitive (own process
group, deadline, redacted log in the report folder), fingerprints again and
returns both fingerprints with every run's result: the judge decides.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_fixgate.config.migrations import MigrationsConfig, render_command
from pytest_fixgate.errors import ProbeError
from pytest_fixgate.measurements.fingerprint import DatabasePrint, fingerprint_target
from pytest_fixgate.measurements.mongo_client import mongo_database
from pytest_fixgate.measurements.process import ProcessResult, run_process
from pytest_fixgate.redaction import Redactor

__all__ = ["DryRun", "DryRunReport", "Pending", "dry_run_migrations", "pending_migrations"]


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
    """One migration's dry run."""

    file: Path
    result: ProcessResult
    log: str  # the log's path relative to the report folder

    def as_dict(self) -> dict[str, Any]:
        return {
            "migration": self.file.name,
            "command": " ".join(self.result.argv),
            "ended": self.result.describe(),
            "exit_code": self.result.exit_code,
            "duration_s": round(self.result.duration_s, 2),
            "log": self.log,
        }


@dataclass(frozen=True)
class DryRunReport:
    """Everything the dry-run judge needs."""

    runs: tuple[DryRun, ...]
    before: DatabasePrint
    after: DatabasePrint


def migration_files(config: MigrationsConfig) -> tuple[Path, ...]:
    """The files in ``directory`` matching ``files``, sorted by name (the order they apply)."""
    try:
        entries = sorted(os.scandir(config.directory), key=lambda e: e.name)
    except FileNotFoundError:
        raise ProbeError(f"migrations directory {config.directory} does not exist") from None
    except OSError as exc:
        raise ProbeError(
            f"migrations directory {config.directory} cannot be read ({exc.strerror})"
        ) from None
    return tuple(
        Path(e.path)
        for e in entries
        if not e.name.startswith(".")
        and e.is_file()
        and any(fnmatch.fnmatch(e.name, g) for g in config.files)
    )


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


def _log_name(index: int, file: Path) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", file.name)
    return f"{index:02d}-{safe}.log"


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
    """Fingerprint, run every pending migration's dry run, fingerprint again.

    Logs go to ``report_dir/log_subdir/NN-<file>.log``. Every run is made even
    after one fails, so the report shows them all. Raises ProbeError when the
    database cannot be fingerprinted (before or after): without both prints
    there is no proof.
    """
    timeout = config.fingerprint_timeout_s
    with mongo_database(uri, config.database, timeout_s=timeout) as target:
        before = fingerprint_target(target, timeout_s=timeout)
        runs: list[DryRun] = []
        child_env = {**os.environ, **config.env}
        for i, file in enumerate(pending, 1):
            argv = render_command(
                config.template_for(file.name),
                file=file,
                uri_env=uri_env,
                directory=config.directory,
                database=target.name,
            )
            rel = f"{log_subdir}/{_log_name(i, file)}"
            log_path = report_dir / rel
            log_path.parent.mkdir(parents=True, exist_ok=True)
            result = run_process(
                argv,
                cwd=config.cwd,
                env=child_env,
                timeout_s=config.timeout_s,
                log_path=log_path,
                redactor=redactor,
            )
            runs.append(DryRun(file, result, rel))
        after = fingerprint_target(target, timeout_s=timeout)
    return DryRunReport(tuple(runs), before, after)
