"""`fixgate demo --fault lying-migration`: a backup the demo made in mongodump's layout,
then a pending migration whose dry run writes: rehearsed on a clone of that backup, the
run HOLDs on the clone's fingerprint."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

DEMO = [sys.executable, "-m", "pytest_fixgate.cli", "demo"]


def backup_folder(gates: dict) -> str:
    return gates["backup.fresh"]["evidence"]["folder"]


@pytest.mark.xdist_group("load")  # the demo runs its short load gate too
def test_demo_lying_migration_holds_on_the_fingerprint(tmp_path: Path) -> None:
    done = subprocess.run(
        [*DEMO, "--fault", "lying-migration", "--gate-report-dir", str(tmp_path / "reports")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-2000:]
    verdict = json.loads((tmp_path / "reports" / "demo-latest.json").read_text())
    gates = {g["id"]: g for g in verdict["gates"]}
    assert verdict["decision"] == "HOLD"
    assert "migrations.dry_run FAIL" in verdict["reason"]
    dry_run = gates["migrations.dry_run"]
    # Rehearsed on a clone of the demo's backup: the lie is caught there, not on "staging".
    assert dry_run["reason"] == (
        "003_normalise_titles.py: its dry run changed the clone: workOrders (documents)"
    )
    assert dry_run["evidence"]["target"] == "clone"
    clone = dry_run["evidence"]["clone"]
    assert clone["server"].startswith("SecantusDB on 127.0.0.1:")
    assert clone["backup"] == backup_folder(gates) and clone["documents"] > 0
    # The demo's own backup, in mongodump's layout, was fresh and whole.
    backup = gates["backup.fresh"]
    assert backup["outcome"] == "PASS", backup["reason"]
    assert backup["evidence"]["folder"].startswith("pre-migration-")
    assert [c["collection"] for c in backup["evidence"]["collections"]] == [
        "workOrders",
        "changelog",
        "background_jobs",
    ]
    assert all(c["documents"] > 0 for c in backup["evidence"]["collections"])
    for gate_id in ("index.workOrders.organizationId_1_status_1", "queue.notifications"):
        assert gates[gate_id]["outcome"] == "PASS", gates[gate_id]["reason"]
    log = tmp_path / "reports" / dry_run["evidence"]["logs"][0]
    assert "nothing written" in log.read_text(encoding="utf-8")
