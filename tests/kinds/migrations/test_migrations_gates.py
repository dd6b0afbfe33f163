"""The data gates in whole gate runs (``pytest --gate=staging`` in a subprocess) against the
reference service, SecantusDB and redis-server: backup.fresh, migrations.pending,
migrations.dry_run, index.*, queue.* in their FAIL, ERROR and INCONCLUSIVE cases, the
bad and the lying migration, and a config error. The passing run is tests/test_read_only.py.
"""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

import pymongo
import pytest
from datagates import FAULTY, data_sections, dump_backup, write_backup
from gaterun import run_gate, staging_config

from pytest_fixgate.kinds.migrations.fingerprint import fingerprint_database
from pytest_fixgate.reference.app import seed

INDEX_ID = "index.workOrders.organizationId_1_status_1"


def _environ(mongo, redis_srv, **more: str) -> dict[str, str]:
    return {"MONGODB_URI": mongo.uri, "REDIS_URL": redis_srv.url, **more}


def _config(reference, sections: str) -> str:
    return staging_config(
        reference.base_url, sections, mongodb_uri_env="MONGODB_URI", redis_url_env="REDIS_URL"
    )


@pytest.mark.parametrize("workers", ["serial", "-n 2"])
def test_failing_data_gates_hold(tmp_path, reference, mongo, redis_srv, workers):
    backups = tmp_path / "backups"
    dump_backup(backups, "pre-migration-old", mongo.uri, age_s=2 * 86400)
    reference.set_faults(missing_index=True)
    sections = data_sections(backup_dir=backups, queue_max=2, jobs_max=2)
    args = ["-n", "2"] if workers == "-n 2" else []
    result = run_gate(
        tmp_path / "run", _config(reference, sections), *args, environ=_environ(mongo, redis_srv)
    )
    outcomes = result.outcomes()
    assert result.exit_code == 1, result.output[-2000:]
    assert result.verdict["decision"] == "HOLD"
    assert outcomes["backup.fresh"] == "FAIL"
    assert "2d 0h old" in result.gate("backup.fresh")["reason"]
    # The runbook's ALWAYS: no dry run without a fresh backup.
    assert outcomes["migrations.dry_run"] == "INCONCLUSIVE"
    assert "no fresh backup" in result.gate("migrations.dry_run")["reason"]
    assert result.gate("migrations.dry_run")["evidence"]["pending"] == ["002_backfill_priority.py"]
    assert outcomes["migrations.pending"] == "WARN"
    assert outcomes[INDEX_ID] == "FAIL"
    assert (
        "workOrders has no index on {organizationId: 1, status: 1}"
        in (result.gate(INDEX_ID)["reason"])
    )
    assert outcomes["queue.notifications"] == "FAIL"
    assert result.gate("queue.notifications")["measured"] == "3 jobs"
    assert outcomes["queue.jobs"] == "FAIL"
    assert not (result.report_dir / "logs").exists()  # no dry run was made


def test_unmeasurable_data_gates_error(tmp_path, reference, mongo, redis_srv):
    from pytest_fixgate.reference import free_port

    sections = data_sections(
        backup_dir=tmp_path / "no-such-backups",
        migrations_dir=tmp_path / "no-such-migrations",
        index_collection="noSuchCollection",
        redis_url_env="DEAD_REDIS_URL",
    )
    dead = f"redis://127.0.0.1:{free_port()}/0"
    result = run_gate(
        tmp_path / "run",
        _config(reference, sections),
        environ=_environ(mongo, redis_srv, DEAD_REDIS_URL=dead),
    )
    outcomes = result.outcomes()
    assert result.exit_code == 1, result.output[-2000:]
    assert outcomes["backup.fresh"] == "ERROR"
    assert "does not exist" in result.gate("backup.fresh")["reason"]
    assert outcomes["migrations.pending"] == "ERROR"
    assert outcomes["migrations.dry_run"] == "ERROR"
    assert outcomes["index.noSuchCollection.organizationId_1_status_1"] == "ERROR"
    assert (
        "does not exist"
        in result.gate("index.noSuchCollection.organizationId_1_status_1")["reason"]
    )
    assert outcomes["queue.notifications"] == "ERROR"
    assert outcomes["queue.jobs"] == "PASS"  # its source is up: only the dead one errs


@pytest.mark.parametrize("target", ["clone", "staging"])
def test_bad_migration_fails_and_its_logs_are_saved_redacted(
    tmp_path, reference, mongo, redis_srv, target
):
    backups = tmp_path / "backups"
    dump_backup(backups, "pre-migration-1", mongo.uri, age_s=60)
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    shutil.copy(FAULTY / "003_rename_status.py", migrations)
    # A migration that prints its connection string: the log must not keep it.
    (migrations / "004_print_uri.py").write_text(
        "import os, sys\nprint('connecting to', os.environ[sys.argv[sys.argv.index("
        "'--uri-env') + 1]])\n",
        encoding="utf-8",
    )
    sections = data_sections(
        backup_dir=backups, migrations_dir=migrations, migrations_extra=f'target = "{target}"\n'
    )
    result = run_gate(
        tmp_path / "run", _config(reference, sections), environ=_environ(mongo, redis_srv)
    )
    gate = result.gate("migrations.dry_run")
    assert result.exit_code == 1
    assert gate["outcome"] == "FAIL", gate["reason"]
    # On the clone too: it holds staging's data, restored from the backup.
    assert "003_rename_status.py: exit code 1" in gate["reason"]
    assert "004_print_uri.py" not in gate["reason"]  # it exited 0
    assert "fingerprint" not in gate["reason"]  # and nothing changed
    logs = gate["evidence"]["logs"]
    assert len(logs) == 2 and all(not Path(p).is_absolute() for p in logs)
    texts = [(result.report_dir / p).read_text(encoding="utf-8") for p in logs]
    assert "precondition failed" in texts[0]
    if target == "staging":
        assert "connecting to ***" in texts[1]
    else:  # the migration was handed the clone's URI, never staging's
        assert "connecting to mongodb://127.0.0.1:" in texts[1]
        assert f":{mongo.port}/" not in texts[1]
        assert gate["evidence"]["clone"]["server"].startswith("SecantusDB on 127.0.0.1:")
    # The URI is a secret: in no log, report or terminal line.
    artifacts = [result.output] + [
        p.read_text(encoding="utf-8", errors="replace")
        for p in result.report_dir.rglob("*")
        if p.is_file()
    ]
    assert len(artifacts) >= 6
    assert not [a[:80] for a in artifacts if mongo.uri in a]


@pytest.mark.parametrize("target", ["clone", "staging"])
def test_lying_migration_is_caught_by_the_fingerprint(
    tmp_path, reference, mongo, redis_srv, target
):
    # Its own database: the lying migration really writes.
    database = "lying_" + secrets.token_hex(4)
    client: pymongo.MongoClient = pymongo.MongoClient(mongo.uri)
    try:
        seed(client[database])
    finally:
        client.close()
    backups = tmp_path / "backups"
    write_backup(backups, "pre-migration-1", ["workOrders"], database=database)
    sections = data_sections(
        backup_dir=backups,
        backup_collections=["workOrders"],
        migrations_dir=FAULTY,
        migration_files=["003_normalise_titles.py"],
        database=database,
        migrations_extra=f'target = "{target}"\n',
    )
    staging_before = fingerprint_database(mongo.uri, database, timeout_s=10)
    result = run_gate(
        tmp_path / "run", _config(reference, sections), environ=_environ(mongo, redis_srv)
    )
    staging_changes = staging_before.changes(
        fingerprint_database(mongo.uri, database, timeout_s=10)
    )
    gate = result.gate("migrations.dry_run")
    assert result.exit_code == 1
    assert gate["outcome"] == "FAIL", gate["reason"]
    if target == "clone":
        assert gate["reason"] == (
            "003_normalise_titles.py: its dry run changed the clone: workOrders (documents)"
        )
        assert staging_changes == []  # the lie was told on the clone only
        lie = gate["evidence"]["dry_run_changes"]["003_normalise_titles.py"][0]
        assert lie["documents_changed"] == 2
    else:
        assert (
            "the database changed during the dry runs: workOrders (documents)" in (gate["reason"])
        )
        assert [c.name for c in staging_changes] == ["workOrders"]
    changed = gate["evidence"]["changed_collections"]
    assert [c["collection"] for c in changed] == ["workOrders"]
    assert gate["evidence"]["runs"][0]["exit_code"] == 0  # it "passed" its own dry run
    log = (result.report_dir / gate["evidence"]["logs"][0]).read_text(encoding="utf-8")
    assert "nothing written" in log  # and said so


def test_unknown_template_placeholder_is_a_config_error(tmp_path, reference, mongo, redis_srv):
    sections = data_sections(backup_dir=tmp_path).replace(
        "--database {database}", "--database {db_name}"
    )
    result = run_gate(
        tmp_path / "run", _config(reference, sections), environ=_environ(mongo, redis_srv)
    )
    assert result.exit_code == 4
    line = next(ln for ln in result.output.splitlines() if "fixgate:" in ln)
    assert "fixgate.toml: env.staging.migrations.dry_run: unknown placeholder {db_name}" in line
    assert "Traceback" not in result.output


def test_no_backup_configured_means_no_dry_run(tmp_path, reference, mongo, redis_srv):
    sections = data_sections(backup_dir=tmp_path)
    start = sections.index("[env.staging.backup]")
    sections = sections[:start] + sections[sections.index("[env.staging.migrations]") :]
    result = run_gate(
        tmp_path / "run", _config(reference, sections), environ=_environ(mongo, redis_srv)
    )
    gate = result.gate("migrations.dry_run")
    assert gate["outcome"] == "INCONCLUSIVE"
    assert "no [env.staging.backup] configured" in gate["reason"]
    assert "backup.fresh" not in result.outcomes()
    assert result.exit_code == 1


def test_an_optional_dry_run_leaves_pending_migrations_inconclusive(
    tmp_path, reference, mongo, redis_srv
):
    # With migrations.dry_run made optional, nothing blocks on the dry run: the pending
    # gate must not WARN (promote) files no dry run vouches for.
    sections = data_sections(backup_dir=tmp_path)
    sections += '\n[env.staging.gates."migrations.dry_run"]\nrequired = false\n'
    result = run_gate(
        tmp_path / "run", _config(reference, sections), environ=_environ(mongo, redis_srv)
    )
    gate = result.gate("migrations.pending")
    assert gate["outcome"] == "INCONCLUSIVE"
    assert "migrations.dry_run is not required" in gate["reason"]
    assert result.exit_code == 1
