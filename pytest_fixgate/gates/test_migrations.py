"""Runbook, "Staging Promotion Flow": "Migrations applied and verified (dry-run logs
saved)", and "ALWAYS backup before migrations!". Pending migrations are listed; each
one's dry run must exit 0 and change nothing, proved by a database fingerprint taken
before and after."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_fixgate import timing
from pytest_fixgate.config.migrations import DRY_RUN_GATE_ID
from pytest_fixgate.errors import ProbeError
from pytest_fixgate.measurements.backup import read_backup_folder
from pytest_fixgate.measurements.migrations import dry_run_migrations, pending_migrations
from pytest_fixgate.measurements.secrets import read_secret
from pytest_fixgate.outcomes.backup import judge_backup
from pytest_fixgate.outcomes.migrations import judge_dry_run, judge_pending, no_fresh_backup


@pytest.fixture
def migrations_uri(gate_env) -> str:
    migrations = gate_env.section("migrations")
    key = f"env.{gate_env.name}.migrations.mongodb_uri_env"
    return read_secret(migrations.mongodb_uri_env, key)


@pytest.mark.gate(id="migrations.pending", title="Pending migrations are known", needs="migrations")
def test_migrations_pending(gate, gate_env, migrations_uri):
    migrations = gate_env.section("migrations")
    record = migrations.applied
    gate.measuring(
        f"files in {migrations.directory} matching {', '.join(migrations.files)}, less those "
        + (
            f"recorded in {record.collection}.{record.field}"
            if record
            else "recorded as applied (none: applied = false)"
        ),
        threshold="no pending migration",
    )
    pending = pending_migrations(migrations_uri, migrations, timeout_s=gate_env.timeout_s)
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
def test_migrations_dry_run(gate, gate_env, gate_redactor, migrations_uri, request):
    migrations = gate_env.section("migrations")
    gate.measuring(
        f"per pending migration: {migrations.dry_run} (timeout {migrations.timeout_s:g} s), "
        "between two fingerprints of the database (SHA-256 of the documents in _id order, "
        "counts, index specs)",
        threshold="every dry run exits 0 and the fingerprint is unchanged",
    )
    pending = pending_migrations(migrations_uri, migrations, timeout_s=gate_env.timeout_s)
    names = [p.name for p in pending.pending]
    if not pending.pending:
        gate.record(judge_pending(pending, str(migrations.directory)))
        return
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
    config = request.config
    report_dir = Path(config.invocation_params.dir) / config.getoption("gate_report_dir")
    stamp = timing.utcnow().strftime("%Y%m%dT%H%M%SZ")
    report = dry_run_migrations(
        migrations_uri,
        migrations.mongodb_uri_env,
        migrations,
        pending.pending,
        report_dir=report_dir,
        log_subdir=f"logs/{gate_env.name}-{stamp}-migrations",
        redactor=gate_redactor,
    )
    gate.record(judge_dry_run(report))
