"""examples/fixzit.toml's data gates (backup, migrations, indexes, queues) against the
reference service speaking the real application's contract (``workorders`` with
``orgId``, its named indexes, ``background_jobs``), with only the paths, the backup's
collections and the dry-run command swapped for what exists on this machine."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from datagates import write_backup
from gaterun import run_gate

from pytest_fixgate.reference import MongoServer, ReferenceService, reference_service
from pytest_fixgate.reference.app import DEFAULT_DB

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "fixzit.toml"
DATA_TABLES = r"(?ms)^\[\[?env\.staging\.(backup|migrations|indexes|queues)\]\]?\n.*?(?=^\[|\Z)"


@pytest.fixture(scope="module")
def fixzit(mongo: MongoServer) -> Iterator[ReferenceService]:
    with reference_service(mongo.uri, None, contract="fixzit", seed=True) as service:
        yield service


def _example_data_config(base_url: str, tmp_path: Path) -> str:
    """The example's environment keys and data tables, pointed at this machine."""
    text = EXAMPLE.read_text(encoding="utf-8")
    head = text[: text.index("[[env.staging.health]]")]
    head = re.sub(r'(?m)^base_url = ".*"$', f'base_url = "{base_url}"', head)
    tables = "".join(m.group(0) for m in re.finditer(DATA_TABLES, text))
    swaps = {
        'directory = "/backups"': f'directory = "{tmp_path / "backups"}"',
        'database = "fixzit"': f'database = "{DEFAULT_DB}"',
        '"workorders", "users", "background_jobs"': '"workorders", "background_jobs"',
        'directory = "scripts/migrations"': f'directory = "{tmp_path / "migrations"}"',
        # No tsx here: a stand-in that honours DRY_RUN as the application's scripts do.
        'dry_run = "pnpm exec tsx {file} --dry-run"': (
            f'dry_run = "{sys.executable} {tmp_path / "tsx.py"} {{file}} --dry-run"'
        ),
    }
    for old, new in swaps.items():
        assert old in tables, f"examples/fixzit.toml no longer has {old}"
        tables = tables.replace(old, new)
    return head + tables


def test_example_data_gates_describe_the_real_application(tmp_path, fixzit, mongo):
    write_backup(tmp_path / "backups", "manual-1", ["workorders", "background_jobs"])
    (tmp_path / "migrations").mkdir()
    for name in ("add-org-index.ts", "backfill-sla.ts"):
        (tmp_path / "migrations" / name).write_text("// a TypeScript migration\n")
    (tmp_path / "tsx.py").write_text(
        "import os, sys\nassert os.environ['DRY_RUN'] == 'true'\n"
        "print('dry run of', os.path.basename(sys.argv[1]), sys.argv[2:])\n",
        encoding="utf-8",
    )
    config = _example_data_config(fixzit.base_url, tmp_path)
    result = run_gate(
        tmp_path / "run",
        config,
        environ={"MONGODB_URI": f"{mongo.uri}{DEFAULT_DB}", "HEALTH_CHECK_TOKEN": "unused"},
    )
    outcomes = result.outcomes()
    assert outcomes["backup.fresh"] == "PASS", result.gate("backup.fresh")["reason"]
    # Nothing records applied migrations: both files are pending, both are dry-run.
    assert outcomes["migrations.pending"] == "WARN"
    assert "nothing records applied migrations" in result.gate("migrations.pending")["reason"]
    dry_run = result.gate("migrations.dry_run")
    assert dry_run["outcome"] == "PASS", dry_run["reason"]
    assert [r["migration"] for r in dry_run["evidence"]["runs"]] == [
        "add-org-index.ts",
        "backfill-sla.ts",
    ]
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
        write_backup(tmp_path / "backups", "manual-1", ["workorders", "background_jobs"])
        (tmp_path / "migrations").mkdir()
        config = _example_data_config(fixzit.base_url, tmp_path)
        result = run_gate(
            tmp_path / "run",
            config,
            environ={"MONGODB_URI": f"{mongo.uri}{DEFAULT_DB}", "HEALTH_CHECK_TOKEN": "unused"},
        )
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
