"""Runbook, "Staging Promotion Flow": "Migrations applied and verified (dry-run logs
saved)", and "ALWAYS backup before migrations!". Pending migrations are listed; each
one's dry run must exit 0 and change nothing, proved by a database fingerprint taken
before and after. By default (``target = "clone"``) on a copy restored from the fresh
backup, where each migration then also runs for real; staging is never connected to.
``target = "staging"`` dry-runs against staging itself."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pytest_fixgate import timing
from pytest_fixgate.errors import ProbeError
from pytest_fixgate.kinds.backup.judge import judge_backup
from pytest_fixgate.kinds.backup.measurement import newest_backup, read_backup_folder
from pytest_fixgate.kinds.migrations.config import CLONE, DRY_RUN_GATE_ID
from pytest_fixgate.kinds.migrations.judge import judge_dry_run, judge_pending, no_fresh_backup
from pytest_fixgate.kinds.migrations.measurement import (
    dry_run_migrations,
    pending_from_backup,
    pending_migrations,
    rehearse_on_clone,
)
from pytest_fixgate.measurements.secrets import read_secret


def _staging_uri(gate_env) -> str:
    migrations = gate_env.section("migrations")
    key = f"env.{gate_env.name}.migrations.mongodb_uri_env"
    return read_secret(migrations.mongodb_uri_env, key)


def _clone_database(gate_env) -> str:
    migrations = gate_env.section("migrations")
    backup = gate_env.section("backup")
    return migrations.database or backup.database


def _pending(gate_env):
    """Pending files: on the clone target from the backup's applied collection (staging is
    never connected to), on the staging target from staging."""
    migrations = gate_env.section("migrations")
    if migrations.target != CLONE:
        return pending_migrations(_staging_uri(gate_env), migrations, timeout_s=gate_env.timeout_s)
    backup = gate_env.section("backup")
    if migrations.applied is None:
        database = migrations.database or (backup.database if backup is not None else "")
        return pending_from_backup(migrations, Path("."), database)
    if backup is None:
        raise ProbeError(
            f"no [env.{gate_env.name}.backup] configured: on the clone target the applied "
            "migrations are read from the backup"
        )
    newest = newest_backup(backup.directory, backup.pattern)
    if newest is None:
        raise ProbeError(f"no backup folder under {backup.directory} to read applied migrations")
    return pending_from_backup(migrations, newest[0], _clone_database(gate_env))


@pytest.mark.gate(id="migrations.pending", title="Pending migrations are known", needs="migrations")
def test_migrations_pending(gate, gate_env):
    migrations = gate_env.section("migrations")
    record = migrations.applied
    gate.measuring(
        f"files in {migrations.directory} matching {', '.join(migrations.files)}"
        + (f" but not {', '.join(migrations.exclude)}" if migrations.exclude else "")
        + ", less those "
        + (
            f"recorded in {record.collection}.{record.field}"
            + (" (read from the backup's dump)" if migrations.target == CLONE else "")
            if record
            else "recorded as applied (none: applied = false)"
        ),
        threshold="no pending migration",
    )
    pending = _pending(gate_env)
    # The WARN for pending files rests on the dry-run gate: an override that makes that
    # gate optional must not let them promote unjudged.
    override = gate_env.gates.get(DRY_RUN_GATE_ID)
    dry_run_required = override is None or override.required is not False
    gate.record(
        judge_pending(pending, str(migrations.directory), dry_run_required=dry_run_required)
    )


@pytest.mark.gate(
    id="migrations.dry_run",
    title="Each pending migration's dry run passes and changes nothing",
    needs="migrations",
)
def test_migrations_dry_run(gate, gate_env, gate_redactor, request):
    migrations = gate_env.section("migrations")
    where = (
        "on a clone restored from the newest backup ("
        + (
            f"the scratch server in {migrations.clone_uri_env}"
            if migrations.clone_uri_env
            else "SecantusDB started by the gate"
        )
        + "), then for real"
        + (f": {migrations.apply}" if migrations.apply else "")
        if migrations.target == CLONE
        else "against staging"
    )
    gate.measuring(
        f"per pending migration: {migrations.dry_run} (timeout {migrations.timeout_s:g} s) "
        f"{where}, between fingerprints of every database the URI lists (SHA-256 of the "
        "documents in _id order, counts, index specs, collection options), each run waited "
        "for until every process it started has exited",
        threshold="every dry run exits 0 and the fingerprint is unchanged",
    )
    if migrations.target == CLONE and gate_env.section("backup") is None:
        why = f"no [env.{gate_env.name}.backup] configured (the clone is restored from it)"
        gate.record(no_fresh_backup(why, []))
        return
    pending = _pending(gate_env)
    names = [p.name for p in pending.pending]
    if not pending.pending:
        gate.record(judge_pending(pending, str(migrations.directory)))
        return
    folder = None
    if migrations.require_backup:
        backup = gate_env.section("backup")
        if backup is None:
            gate.record(no_fresh_backup(f"no [env.{gate_env.name}.backup] configured", names))
            return
        try:
            folder = read_backup_folder(
                backup.directory, backup.database, backup.collections, backup.pattern
            )
            why = judge_backup(backup, folder)
        except ProbeError as exc:  # the backup folder cannot be read: no backup either
            gate.record(no_fresh_backup(f"backup.fresh: {exc}", names))
            return
        if not why.outcome.passing:
            gate.record(no_fresh_backup(f"backup.fresh: {why.evidence.reason}", names))
            return
        if folder is None:  # judge_backup FAILs without a folder; never reached
            gate.record(no_fresh_backup("no backup folder", names))
            return
    config = request.config
    report_dir = Path(config.invocation_params.dir) / config.getoption("gate_report_dir")
    stamp = timing.utcnow().strftime("%Y%m%dT%H%M%SZ")
    log_subdir = f"logs/{gate_env.name}-{stamp}-migrations"
    if migrations.target == CLONE:
        assert folder is not None  # the clone target needs require_backup (config)
        clone_uri = None
        if migrations.clone_uri_env:
            key = f"env.{gate_env.name}.migrations.clone_uri_env"
            clone_uri = read_secret(migrations.clone_uri_env, key)
        report = rehearse_on_clone(
            migrations,
            pending.pending,
            backup_folder=folder.path,
            database=_clone_database(gate_env),
            uri_env=migrations.mongodb_uri_env,
            clone_uri=clone_uri,
            # Read from the environment only to refuse a clone_uri_env naming the same
            # server; never connected to.
            staging_uri=os.environ.get(migrations.mongodb_uri_env) or None,
            report_dir=report_dir,
            log_subdir=log_subdir,
            redactor=gate_redactor,
        )
    else:
        report = dry_run_migrations(
            _staging_uri(gate_env),
            migrations.mongodb_uri_env,
            migrations,
            pending.pending,
            report_dir=report_dir,
            log_subdir=log_subdir,
            redactor=gate_redactor,
        )
    gate.record(judge_dry_run(report))
