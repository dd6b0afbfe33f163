"""examples/fixzit.toml's data gates (backup, migrations, indexes, queues) against the
reference service speaking the real application's contract (``workorders`` with
``orgId``, its named indexes, ``background_jobs``). The config is written to the root
of a directory laid out like the checkout (its paths are relative: ``backups/``,
``scripts/migrations/``); only the database name and the backup's collections are
swapped for the reference service's, and ``pnpm`` is a stand-in on PATH (no tsx here)
that honours each script's dry-run convention as the real scripts do."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from datagates import dump_backup
from gaterun import run_gate

from pytest_fixgate.measurements.fingerprint import fingerprint_database
from pytest_fixgate.reference import MongoServer, ReferenceService, reference_service
from pytest_fixgate.reference.app import DEFAULT_DB

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "fixzit.toml"
DATA_TABLES = (
    r"(?ms)^\[\[?env\.staging\.(backup|migrations|indexes|queues)\]\]?\n"
    r".*?(?=^\[|\Z)"
)
# The stand-in for `pnpm exec tsx FILE ARGS`: writes a mark when the script's convention
# says "for real" (dry unless DRY_RUN=false; write only with --apply; always).
TSX = """import os, sys
import pymongo
assert sys.argv[1:3] == ["exec", "tsx"], sys.argv
file, args = os.path.basename(sys.argv[3]), sys.argv[4:]
assert "MONGO_URI" not in os.environ  # the scripts' fallback variable is kept from them
if "souq-orders" in file:
    real = True
elif "normalize-souq-orgId" in file:
    real = "--apply" in args
else:
    real = os.environ.get("DRY_RUN") == "false" and "--dry-run" not in args
print("real run of" if real else "dry run of", file, args)
if real:
    db = pymongo.MongoClient(os.environ["MONGODB_URI"]).get_default_database()
    db.migration_marks.insert_one({"file": file})
"""
SCRIPTS = (
    "2025-01-20-fix-souq-orgid.js",
    "2025-12-05-backfill-property-location.ts",
    "2025-12-10-souq-orders.ts",
    "2025-12-20-normalize-souq-orgId.ts",
)


@pytest.fixture(scope="module")
def fixzit(mongo: MongoServer) -> Iterator[ReferenceService]:
    with reference_service(mongo.uri, None, contract="fixzit", seed=True) as service:
        yield service


def _example_data_config(base_url: str) -> str:
    """The example's environment keys and data tables, as they are but for the database."""
    text = EXAMPLE.read_text(encoding="utf-8")
    head = text[: text.index("[[env.staging.health]]")]
    head = re.sub(r'(?m)^base_url = ".*"$', f'base_url = "{base_url}"', head)
    tables = "".join(m.group(0) for m in re.finditer(DATA_TABLES, text))
    swaps = {
        'database = "fixzit"': f'database = "{DEFAULT_DB}"',
        'MONGODB_DB = "fixzit"': f'MONGODB_DB = "{DEFAULT_DB}"',
        '"workorders", "users", "background_jobs"': '"workorders", "background_jobs"',
    }
    for old, new in swaps.items():
        assert old in tables, f"examples/fixzit.toml no longer has {old}"
        tables = tables.replace(old, new)
    assert "/backups" not in tables.replace("--out=/backups", "")  # relative paths only
    return head + tables


def _checkout(root: Path, mongo: MongoServer, scripts: tuple[str, ...] = SCRIPTS) -> dict:
    """A checkout-shaped folder: backups/manual-1 (a dump of staging), scripts/migrations,
    and the pnpm stand-in; the environment to run the gates in."""
    dump_backup(root / "backups", "manual-1", mongo.uri, database=DEFAULT_DB)
    (root / "scripts" / "migrations").mkdir(parents=True)
    for name in (*scripts, "types.d.ts"):
        (root / "scripts" / "migrations" / name).write_text("// a migration\n")
    bin_dir = root / "bin"
    bin_dir.mkdir()
    (bin_dir / "tsx.py").write_text(TSX, encoding="utf-8")
    pnpm = bin_dir / "pnpm"
    pnpm.write_text(f'#!/bin/sh\nexec {sys.executable} {bin_dir / "tsx.py"} "$@"\n')
    pnpm.chmod(0o755)
    staging = f"{mongo.uri}{DEFAULT_DB}"
    return {
        "MONGODB_URI": staging,
        "MONGO_URI": staging,
        "HEALTH_CHECK_TOKEN": "unused",
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
    }


def test_example_data_gates_describe_the_real_application(tmp_path, fixzit, mongo):
    run_dir = tmp_path / "run"
    environ = _checkout(run_dir, mongo)
    staging_before = fingerprint_database(mongo.uri, DEFAULT_DB, timeout_s=30)
    result = run_gate(run_dir, _example_data_config(fixzit.base_url), environ=environ)
    staging_after = fingerprint_database(mongo.uri, DEFAULT_DB, timeout_s=30)
    assert staging_before.changes(staging_after) == []  # rehearsed on the clone only
    outcomes = result.outcomes()
    assert outcomes["backup.fresh"] == "PASS", result.gate("backup.fresh")["reason"]
    # Nothing records applied migrations: every file is pending, *.d.ts excluded.
    assert outcomes["migrations.pending"] == "WARN"
    pending = result.gate("migrations.pending")
    assert "nothing records applied migrations" in pending["reason"]
    assert pending["evidence"]["pending"] == sorted(SCRIPTS)
    dry_run = result.gate("migrations.dry_run")
    assert dry_run["outcome"] == "PASS", dry_run["reason"]
    assert dry_run["evidence"]["target"] == "clone"
    assert [r["migration"] for r in dry_run["evidence"]["runs"]] == [
        n for n in SCRIPTS if n != "2025-12-10-souq-orders.ts"
    ]
    assert dry_run["evidence"]["no_dry_run"] == ["2025-12-10-souq-orders.ts"]
    # Every convention's real run wrote its mark on the clone, and the evidence says so.
    real = {r["migration"]: r["changed"] for r in dry_run["evidence"]["real_runs"]}
    assert list(real) == list(SCRIPTS)
    assert [c[0]["collection"] for c in real.values()] == ["migration_marks"] * 4
    assert all(c[0]["documents_inserted"] == 1 for c in real.values())
    assert dry_run["evidence"]["clone"]["removed_from_environment"] == ["MONGO_URI"]
    for gate_id in (
        "index.workorders.workorders_orgId_status",
        "index.workorders.workorders_orgId_status_createdAt_desc",
        "queue.background_jobs",
    ):
        assert outcomes[gate_id] == "PASS", result.gate(gate_id)["reason"]
    assert result.gate("queue.background_jobs")["measured"] == "3 jobs"


def test_the_fixzit_index_fault_fails_the_named_index(tmp_path, fixzit, mongo):
    fixzit.set_faults(missing_index=True)
    try:
        run_dir = tmp_path / "run"
        environ = _checkout(run_dir, mongo, scripts=())
        (run_dir / "scripts" / "migrations" / "types.d.ts").unlink()
        result = run_gate(run_dir, _example_data_config(fixzit.base_url), environ=environ)
    finally:
        fixzit.set_faults()
    gate = result.gate("index.workorders.workorders_orgId_status")
    assert gate["outcome"] == "FAIL"
    assert "workorders has no index on {orgId: 1, status: 1}" in gate["reason"]
    # The other named index (three keys) is still there.
    assert result.outcomes()["index.workorders.workorders_orgId_status_createdAt_desc"] == "PASS"
    # No migration files at all is not a pass.
    assert result.outcomes()["migrations.pending"] == "INCONCLUSIVE"
    assert result.exit_code == 1
