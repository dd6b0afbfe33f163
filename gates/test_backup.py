"""Runbook, "Database Migration": **ALWAYS backup before migrations!** (mongodump
--out=/backups/...). The newest backup is fresh and holds the collections named."""

from __future__ import annotations

import pytest

from pytest_fixgate.kinds.backup.judge import judge_backup
from pytest_fixgate.kinds.backup.measurement import read_backup_folder


@pytest.mark.gate(
    id="backup.fresh", title="A fresh backup exists before migrations", needs="backup"
)
def test_backup_fresh(gate, gate_env):
    backup = gate_env.section("backup")
    gate.measuring(
        f"newest folder under {backup.directory} matching {backup.pattern!r}: "
        f"<folder>/{backup.database}/<collection>.bson (+ .metadata.json), BSON walked to the end",
    )
    folder = read_backup_folder(
        backup.directory, backup.database, backup.collections, backup.pattern
    )
    gate.record(judge_backup(backup, folder))
