"""The migrations gate's default target, a clone restored from the backup, with migrations
in the real application's four dry-run conventions (dry unless DRY_RUN=false; opt-in
--dry-run; write only with --apply; no dry-run mode at all) and one that calls
createIndex even in its dry run, as two of the real scripts do. Staging (the session's
SecantusDB) is fingerprinted, every database of it, before and after each gate run.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import pymongo
import pytest
from datagates import dump_backup, write_backup
from gaterun import run_gate, staging_config

from pytest_fixgate.kinds.migrations.fingerprint import ServerPrint, fingerprint_server
from pytest_fixgate.measurements.mongo_client import mongo_database
from pytest_fixgate.reference import MongoServer, mongo_server

PY = sys.executable
_OPEN = (
    "import os, sys\nimport pymongo\n"
    "db = pymongo.MongoClient(os.environ['MONGODB_URI'], serverSelectionTimeoutMS=3000)"
    ".get_default_database()\n"
)
#: Each convention as the real scripts/migrations/ have it, written here in Python.
CONVENTIONS = {
    # 2025-12-05-backfill-property-location.ts: `const dryRun = process.env.DRY_RUN !== "false"`
    "01_env_dry.py": _OPEN + "if os.environ.get('DRY_RUN') != 'false':\n"
    "    print('dry run:', db.orders.count_documents({'total': None}), 'to backfill')\n"
    "    sys.exit(0)\n"
    "db.orders.update_many({'total': None}, {'$set': {'total': 0}})\n",
    # 2025-12-05-backfill-souq-ads-fees-orgId.ts: `process.argv.includes("--dry-run")`
    "02_opt_in.py": _OPEN
    + "if '--dry-run' in sys.argv:\n    print('dry run: would add 2 settings'); sys.exit(0)\n"
    "db.settings.insert_many([{'_id': 'a', 'v': 1}, {'_id': 'b', 'v': 2}])\n",
    # 2025-12-20-normalize-souq-orgId.ts: writes only with --apply
    "03_apply_flag.py": _OPEN
    + "if '--apply' not in sys.argv:\n    print('preview only'); sys.exit(0)\n"
    "db.orders.delete_many({'legacy': True})\n",
    # 2025-12-10-souq-orders.ts: no dry-run mode at all, always writes
    "04_always.py": _OPEN + "db.orders.update_many({}, {'$set': {'orgId': 'org-1'}})\n",
    # 2025-12-07-souq-payouts.ts: createIndex outside its dry-run check
    "05_index_in_dry.py": _OPEN
    + "db.orders.create_index([('orgId', 1), ('status', 1)], name='orders_orgId_status')\n"
    "if '--dry-run' in sys.argv:\n    print('dry run: nothing to backfill'); sys.exit(0)\n",
}
HONEST = ("01_env_dry.py", "02_opt_in.py", "03_apply_flag.py")


def _overrides(names: list[str], declared: tuple[str, ...] = ()) -> str:
    plain, dry = f"{PY} {{file}}", f"{PY} {{file}} --dry-run"
    templates = {
        "01_env_dry.py": (plain, plain),  # apply_env sets DRY_RUN=false
        "02_opt_in.py": (dry, plain),
        "03_apply_flag.py": (plain, f"{PY} {{file}} --apply"),
        "04_always.py": (plain, plain),  # nothing to ask: it writes either way
        "05_index_in_dry.py": (dry, plain),
    }
    rows = [
        f'"{n}" = {{ dry_run = '
        + ("false" if n in declared else f'"{templates[n][0]}"')
        + f', apply = "{templates[n][1]}" }}'
        for n in names
    ]
    return "\n".join(rows)


@pytest.fixture
def staging_db(mongo: MongoServer) -> Iterator[str]:
    """A database of its own on the session's server, seeded, as staging."""
    name = "clone_src_" + secrets.token_hex(4)
    client: pymongo.MongoClient = pymongo.MongoClient(mongo.uri)
    db = client[name]
    db.orders.insert_many(
        [
            {"_id": 1, "status": "open", "total": None},
            {"_id": 2, "status": "open", "total": 10, "legacy": True},
            {"_id": 3, "status": "closed", "total": 5},
        ]
    )
    db.orders.create_index([("status", 1)], name="status_1")
    db.create_collection("audit", validator={"$jsonSchema": {"bsonType": "object"}})
    db.audit.insert_one({"_id": "x", "at": 1})
    yield name
    client.drop_database(name)
    client.close()


def _server_print(uri: str, database: str) -> ServerPrint:
    with mongo_database(uri, database, timeout_s=10) as target:
        return fingerprint_server(target, timeout_s=10)


def _config(
    tmp_path: Path,
    database: str,
    names: list[str],
    extra: str = "",
    backup: str = "",
    declared: tuple[str, ...] = (),
) -> str:
    migrations = tmp_path / "migrations"
    migrations.mkdir(exist_ok=True)
    for name in names:
        (migrations / name).write_text(CONVENTIONS[name], encoding="utf-8")
    return staging_config(
        "http://127.0.0.1:9",
        f"""
[env.staging.backup]
directory = "{tmp_path / "backups"}"
database = "{database}"
collections = ["orders", "audit"]
max_age = "1h"
{backup}
[env.staging.migrations]
directory = "{migrations}"
applied = false
dry_run = "{PY} {{file}}"
apply_env = {{ DRY_RUN = "false" }}
timeout = "30s"
{extra}
[env.staging.migrations.overrides]
{_overrides(names, declared)}
""",
        mongodb_uri_env="MONGODB_URI",
    )


def _run(
    tmp_path: Path, mongo: MongoServer, database: str, config: str, *args: str, **environ: str
):
    staging_uri = f"{mongo.uri}{database}"
    before = _server_print(staging_uri, database)
    result = run_gate(
        tmp_path / "run", config, *args, environ={"MONGODB_URI": staging_uri, **environ}
    )
    after = _server_print(staging_uri, database)
    return result, before.changes(after)


def test_every_convention_rehearses_on_the_clone_and_staging_is_untouched(
    tmp_path, mongo, staging_db
):
    dump_backup(tmp_path / "backups", "manual-1", mongo.uri, database=staging_db)
    config = _config(tmp_path, staging_db, list(CONVENTIONS))
    result, staging_changes = _run(tmp_path, mongo, staging_db, config)
    # Not one write reached staging, though two dry runs and five real runs wrote.
    assert staging_changes == []
    gate = result.gate("migrations.dry_run")
    assert gate["outcome"] == "FAIL", gate["reason"]
    assert gate["evidence"]["target"] == "clone"
    # The always-writing script and the createIndex-in-dry-run one are caught; no other.
    assert gate["reason"] == (
        "04_always.py: its dry run changed the clone: orders (documents); "
        "05_index_in_dry.py: its dry run changed the clone: orders (indexes)"
    )
    assert sorted(gate["evidence"]["dry_run_changes"]) == ["04_always.py", "05_index_in_dry.py"]
    real = {r["migration"]: r["changed"] for r in gate["evidence"]["real_runs"]}
    assert list(real) == list(CONVENTIONS)
    assert real["01_env_dry.py"] == [
        {
            "collection": "orders",
            "changed": ["documents"],
            "count_before": 3,
            "count_after": 3,
            "documents_inserted": 0,
            "documents_deleted": 0,
            "documents_changed": 1,
        }
    ]
    assert real["02_opt_in.py"][0]["collection"] == "settings"
    assert real["02_opt_in.py"][0]["changed"] == ["added"]
    assert real["02_opt_in.py"][0]["documents_inserted"] == 2
    assert real["03_apply_flag.py"][0]["documents_deleted"] == 1
    assert real["05_index_in_dry.py"] == []  # its index was made by its dry run already
    logs = [result.report_dir / p for p in gate["evidence"]["logs"]]
    assert len(logs) == 10 and all(p.is_file() for p in logs)
    assert result.exit_code == 1


@pytest.mark.parametrize("workers", ["serial", "-n 2"])
def test_honest_conventions_pass_with_what_their_real_runs_changed(
    tmp_path, mongo, staging_db, workers
):
    dump_backup(tmp_path / "backups", "manual-1", mongo.uri, database=staging_db)
    config = _config(tmp_path, staging_db, list(HONEST))
    args = ("-n", "2") if workers == "-n 2" else ()
    result, staging_changes = _run(tmp_path, mongo, staging_db, config, *args)
    assert staging_changes == []
    gate = result.gate("migrations.dry_run")
    assert gate["outcome"] == "PASS", gate["reason"]
    reason = gate["reason"]
    assert reason.startswith("3 dry run(s) exited 0 and changed nothing on a clone of backup ")
    assert "staging was not touched" in reason
    assert "01_env_dry.py: orders: 1 changed" in reason
    assert "02_opt_in.py: settings: 2 inserted, created" in reason
    assert "03_apply_flag.py: orders: 1 deleted" in reason
    clone = gate["evidence"]["clone"]
    assert clone["documents"] == 4 and clone["collections"] == 2 and clone["indexes"] == 1
    assert result.outcomes()["backup.fresh"] == "PASS"
    assert result.outcomes()["migrations.pending"] == "WARN"  # applied = false: all pending


def test_a_script_declared_without_dry_run_is_rehearsed_by_its_real_run(
    tmp_path, mongo, staging_db
):
    # `dry_run = false`: the script always writes (2025-12-10-souq-orders.ts); on the clone
    # that is safe, so its real run is the rehearsal, and its writes are the evidence.
    dump_backup(tmp_path / "backups", "manual-1", mongo.uri, database=staging_db)
    names = [*HONEST, "04_always.py"]
    config = _config(tmp_path, staging_db, names, declared=("04_always.py",))
    result, staging_changes = _run(tmp_path, mongo, staging_db, config)
    assert staging_changes == []
    gate = result.gate("migrations.dry_run")
    assert gate["outcome"] == "PASS", gate["reason"]
    assert "04_always.py: no dry-run mode, rehearsed by the real run only" in gate["reason"]
    assert "04_always.py: orders: 2 changed" in gate["reason"]  # 1 of 3 deleted by 03
    assert [r["migration"] for r in gate["evidence"]["runs"]] == list(HONEST)
    assert gate["evidence"]["no_dry_run"] == ["04_always.py"]


def test_the_clone_target_never_connects_to_staging(tmp_path, mongo, staging_db):
    # Staging's variable names a server that does not exist: on the clone target nothing
    # needs it (the applied migrations come from the backup), and the runs do not see it.
    from pytest_fixgate.reference import free_port

    dump_backup(tmp_path / "backups", "manual-1", mongo.uri, database=staging_db)
    config = _config(tmp_path, staging_db, list(HONEST))
    dead = f"mongodb://127.0.0.1:{free_port()}/{staging_db}"
    result = run_gate(tmp_path / "run", config, environ={"MONGODB_URI": dead, "MONGO_URI": dead})
    gate = result.gate("migrations.dry_run")
    assert gate["outcome"] == "PASS", gate["reason"]
    assert result.outcomes()["migrations.pending"] == "WARN"
    # A fallback variable holding a MongoDB URI is kept from the runs (by name).
    assert gate["evidence"]["clone"]["removed_from_environment"] == ["MONGO_URI"]


def test_a_scratch_server_named_by_clone_uri_env(tmp_path, mongo, staging_db):
    dump_backup(tmp_path / "backups", "manual-1", mongo.uri, database=staging_db)
    config = _config(tmp_path, staging_db, list(HONEST), extra='clone_uri_env = "SCRATCH_URI"')
    with mongo_server() as scratch:
        result, staging_changes = _run(tmp_path, mongo, staging_db, config, SCRATCH_URI=scratch.uri)
        left = pymongo.MongoClient(scratch.uri).list_database_names()
    assert staging_changes == []
    gate = result.gate("migrations.dry_run")
    assert gate["outcome"] == "PASS", gate["reason"]
    assert "(clone_uri_env, scratch)" in gate["evidence"]["clone"]["server"]
    assert staging_db not in left  # what the clone restored is dropped afterwards

    # The staging server itself is refused as a scratch server.
    result = run_gate(
        tmp_path / "run2",
        config,
        environ={"MONGODB_URI": f"{mongo.uri}{staging_db}", "SCRATCH_URI": mongo.uri},
    )
    gate = result.gate("migrations.dry_run")
    assert gate["outcome"] == "ERROR"
    assert "clone_uri_env points at the staging server" in gate["reason"]


def test_a_clone_that_cannot_be_made_is_never_a_pass(tmp_path, mongo, staging_db):
    # A backup whose named collections are whole, with another collection's dump corrupt:
    # backup.fresh passes, the restore fails, the dry run is ERROR.
    folder = write_backup(
        tmp_path / "backups", "manual-1", ["orders", "audit"], database=staging_db
    )
    (folder / staging_db / "broken.bson").write_bytes(b"\x20\x00\x00\x00garbage")
    config = _config(tmp_path, staging_db, list(HONEST))
    result, staging_changes = _run(tmp_path, mongo, staging_db, config)
    gate = result.gate("migrations.dry_run")
    assert result.outcomes()["backup.fresh"] == "PASS"
    assert gate["outcome"] == "ERROR", gate["reason"]
    assert f"restore of {staging_db}.broken from manual-1 failed" in gate["reason"]
    assert staging_changes == []

    # No SecantusDB installed: ERROR naming the install command.
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text("import sys\nsys.modules['secantus'] = None\n")
    (folder / staging_db / "broken.bson").unlink()
    result = run_gate(
        tmp_path / "run-no-secantus",
        config,
        environ={
            "MONGODB_URI": f"{mongo.uri}{staging_db}",
            "PYTHONPATH": f"{shim}:{Path(__file__).resolve().parents[3]}",
        },
    )
    gate = result.gate("migrations.dry_run")
    assert gate["outcome"] == "ERROR", gate["reason"]
    assert "pip install 'pytest-fixgate[clone]'" in gate["reason"]

    # A stale backup: no clone, no dry run.
    from datagates import set_age

    set_age(folder, 7200)
    result = run_gate(tmp_path / "run-stale", config, environ={"MONGODB_URI": mongo.uri})
    assert result.gate("migrations.dry_run")["outcome"] == "INCONCLUSIVE"
    assert result.exit_code == 1
