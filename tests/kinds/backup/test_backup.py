"""The backup gate's measurement and judge on real mongodump-shaped folders: the newest
folder, its age, each collection's BSON walked to the end; empty, truncated, unreadable
and missing files; an unreadable backup directory; and the config."""

from __future__ import annotations

import os
from pathlib import Path

import bson
import pytest
from datagates import set_age, write_backup

from pytest_fixgate.config.table import ConfigTable
from pytest_fixgate.errors import ConfigError, ProbeError
from pytest_fixgate.kinds import KindContext
from pytest_fixgate.kinds.backup.config import BackupConfig, parse_backup
from pytest_fixgate.kinds.backup.judge import judge_backup
from pytest_fixgate.kinds.backup.measurement import read_backup_folder
from pytest_fixgate.outcomes.model import Outcome

COLLECTIONS = ("workOrders", "users")


def _config(directory: Path, **more: object) -> BackupConfig:
    return BackupConfig(
        directory=directory, database="fixzit", collections=COLLECTIONS, max_age_s=3600, **more
    )


def _judge(directory: Path, **more: object):
    config = _config(directory, **more)
    folder = read_backup_folder(directory, config.database, config.collections, config.pattern)
    return judge_backup(config, folder)


def test_fresh_complete_backup_passes_with_age_and_sizes(tmp_path):
    write_backup(tmp_path, "manual-20260101-000000", COLLECTIONS, database="fixzit", age_s=7200)
    write_backup(tmp_path, "manual-20260102-000000", COLLECTIONS, database="fixzit", docs=3)
    finding = _judge(tmp_path)
    assert finding.outcome is Outcome.PASS, finding.evidence.reason
    details = finding.evidence.details
    assert details["folder"] == "manual-20260102-000000"  # the newest, not the first
    assert details["backup_folders_found"] == 2
    assert [c["documents"] for c in details["collections"]] == [3, 3]
    assert all(c["bytes"] > 0 for c in details["collections"])
    assert details["age_s"] < 60


def test_stale_backup_fails_naming_its_age(tmp_path):
    write_backup(tmp_path, "manual-1", COLLECTIONS, database="fixzit", age_s=3 * 3600)
    finding = _judge(tmp_path)
    assert finding.outcome is Outcome.FAIL
    assert "manual-1 is 3h 00m old (limit 60 min)" in finding.evidence.reason


def test_no_backup_folder_fails(tmp_path):
    (tmp_path / "notes.txt").write_text("no backups here")
    finding = _judge(tmp_path)
    assert finding.outcome is Outcome.FAIL
    assert finding.evidence.reason.startswith("no backup folder under")


def test_pattern_chooses_which_folders_are_backups(tmp_path):
    write_backup(tmp_path, "pre-migration-1", COLLECTIONS, database="fixzit", age_s=10)
    write_backup(tmp_path, "scratch", ["other"], database="fixzit")
    assert _judge(tmp_path).outcome is Outcome.FAIL  # the newest is "scratch"
    assert _judge(tmp_path, pattern="pre-migration-*").outcome is Outcome.PASS


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda f: f.write_bytes(b""), "fixzit.users: empty (0 bytes)"),
        (lambda f: f.write_bytes(bson.encode({"a": 1})[:-3]), "fixzit.users: not BSON"),
        (lambda f: f.write_bytes(b"\xff\xff\xff\x7f" + b"x" * 20), "claims 2147483647 bytes"),
        (lambda f: f.unlink(), "fixzit.users: users.bson is missing"),
        # A directory where the file should be (root reads any file mode): never opened.
        (lambda f: (f.unlink(), f.mkdir()), "fixzit.users: not a regular file (a directory)"),
        # A FIFO would block a plain open() forever; it is refused without opening it.
        (lambda f: (f.unlink(), os.mkfifo(f)), "fixzit.users: not a regular file (a FIFO)"),
        (
            lambda f: (
                f.with_name("users.metadata.json").unlink(),
                os.mkfifo(f.with_name("users.metadata.json")),
            ),
            "users.metadata.json: not a regular file (a FIFO)",
        ),
        (
            lambda f: f.with_name("users.metadata.json").write_text("{not json"),
            "users.metadata.json is missing or not JSON",
        ),
    ],
)
def test_a_damaged_dump_is_not_a_backup(tmp_path, damage, problem):
    folder = write_backup(tmp_path, "manual-1", COLLECTIONS, database="fixzit")
    damage(folder / "fixzit" / "users.bson")
    set_age(folder, 0)
    finding = _judge(tmp_path)
    assert finding.outcome is Outcome.FAIL
    assert problem in finding.evidence.reason
    assert "workOrders" not in finding.evidence.reason  # the good one is not blamed


def test_an_unreadable_backup_directory_is_an_error(tmp_path):
    with pytest.raises(ProbeError, match="does not exist"):
        _judge(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ProbeError, match="is not a directory"):
        _judge(tmp_path / "file")


def _parse(tmp_path: Path, data: dict[str, object]) -> BackupConfig:
    ctx = KindContext("staging", tmp_path, 5.0, "fixgate.toml")
    return parse_backup(ConfigTable(data, "fixgate.toml", "env.staging.backup"), ctx)


GOOD = {"directory": "backups", "database": "fixzit", "collections": ["users"]}


def test_backup_config(tmp_path):
    config = _parse(tmp_path, {**GOOD, "max_age": "2h"})
    assert config.directory == tmp_path / "backups" and config.max_age_s == 7200
    assert _parse(tmp_path, GOOD).max_age_s == 86400  # the default: 24h


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"directory": "b", "collections": ["u"]}, "env.staging.backup.database"),
        ({**GOOD, "collections": []}, "a non-empty list of collection names"),
        ({**GOOD, "max_age": "soon"}, "env.staging.backup.max_age"),
        ({**GOOD, "maxage": "1h"}, "did you mean 'max_age'"),
    ],
)
def test_bad_backup_config_is_one_config_error(tmp_path, data, message):
    with pytest.raises(ConfigError, match=message):
        _parse(tmp_path, data)


# -- `pytest --gate` end to end --------------------------------------------------------------


def _backup_run(tmp_path: Path, backups: Path):
    from gaterun import GATES, run_gate, staging_config

    from pytest_fixgate.reference import free_port

    table = (
        f'[env.staging.backup]\ndirectory = "{backups}"\ndatabase = "fixzit"\n'
        'collections = ["workOrders", "users"]\nmax_age = "24h"\n'
    )
    config = staging_config(f"http://127.0.0.1:{free_port()}", table)
    # The timeout: a gate that blocks (a FIFO) must fail this test, not hang it.
    return run_gate(tmp_path / "run", config, suite=GATES / "test_backup.py", timeout=60)


def test_a_new_note_does_not_make_an_old_dump_fresh(tmp_path):
    # Seen before: a 3-day-old dump with one new restore-notes.txt read as "1 s old", PASS.
    backups = tmp_path / "backups"
    folder = write_backup(backups, "manual-1", COLLECTIONS, database="fixzit", age_s=3 * 86400)
    (folder / "restore-notes.txt").write_text("restored to staging-2 on Monday\n")
    (folder / "fixzit" / "README").write_text("a file inside the database folder, also new\n")
    result = _backup_run(tmp_path, backups)
    gate = result.gate("backup.fresh")
    assert result.exit_code == 1, result.output[-2000:]
    assert result.verdict["decision"] == "HOLD"
    assert gate["outcome"] == "FAIL", gate["reason"]
    assert "manual-1 is 3d 0h old (limit 24h 00m)" in gate["reason"]


def test_the_oldest_data_file_dates_the_dump(tmp_path):
    # One collection re-dumped today does not make the other, 3 days old, fresh.
    folder = write_backup(tmp_path, "manual-1", COLLECTIONS, database="fixzit", age_s=3 * 86400)
    users = folder / "fixzit" / "users.bson"
    users.write_bytes(users.read_bytes())  # rewritten now
    finding = _judge(tmp_path)
    assert finding.outcome is Outcome.FAIL
    assert "manual-1 is 3d 0h old" in finding.evidence.reason


def test_a_fifo_in_the_backup_ends_the_gate_fast(tmp_path):
    # Seen before: a FIFO in the backup folder blocked the gate forever.
    backups = tmp_path / "backups"
    folder = write_backup(backups, "manual-1", COLLECTIONS, database="fixzit")
    (folder / "fixzit" / "users.bson").unlink()
    os.mkfifo(folder / "fixzit" / "users.bson")
    os.mkfifo(folder / "fixzit" / "restore.pipe")  # and one among the other files
    result = _backup_run(tmp_path, backups)
    gate = result.gate("backup.fresh")
    assert result.exit_code == 1 and result.verdict["decision"] == "HOLD"
    assert gate["outcome"] == "FAIL", gate["reason"]
    assert "fixzit.users: not a regular file (a FIFO)" in gate["reason"]
    assert gate["duration_s"] < 10


def test_a_walk_past_its_deadline_is_an_error(tmp_path, monkeypatch):
    import time

    from pytest_fixgate.kinds.backup import measurement as backup_measure

    write_backup(tmp_path, "manual-1", COLLECTIONS, database="fixzit")
    monkeypatch.setattr(backup_measure, "WALK_DEADLINE_S", 0.2)
    monkeypatch.setattr(backup_measure, "_walk", lambda fh, size: time.sleep(3))
    with pytest.raises(ProbeError, match=r"workOrders.bson: not read within 0.2 s"):
        _judge(tmp_path)
