"""The one bounded file reader (measurements/files.py) and the gates that read through it:
a FIFO, device, socket or directory where a file should be is refused without blocking,
a file over its cap is refused, a read past its deadline is refused; and in whole gate
runs a FIFO as a dotenv source or a bundle report ends ERROR (HOLD) fast.
The backup gate's own FIFO case is in tests/test_backup.py."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from gaterun import GATES, run_gate, staging_config

from pytest_fixgate.errors import ProbeError
from pytest_fixgate.kinds.migrations.measurement import migration_files
from pytest_fixgate.measurements.files import (
    FileNotRegular,
    FileReadError,
    FileReadTimeout,
    check_regular,
    read_bytes,
    read_text,
    use_regular_file,
)
from pytest_fixgate.reference import free_port

# A gate that blocks on a FIFO must fail the test by this timeout, never hang the suite.
RUN_TIMEOUT_S = 60


def test_regular_files_are_read_whole(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("héllo\n", encoding="utf-8")
    os.symlink(tmp_path / "a.txt", tmp_path / "link")
    assert read_text(tmp_path / "a.txt") == "héllo\n"
    assert read_text(tmp_path / "link") == "héllo\n"  # a symlink is judged by its target
    with pytest.raises(FileNotFoundError):
        read_bytes(tmp_path / "missing")


def _socket(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    return sock


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (lambda p: os.mkfifo(p), "a FIFO"),
        (lambda p: (os.mkfifo(p.with_name("pipe")), os.symlink(p.with_name("pipe"), p)), "a FIFO"),
        (lambda p: os.symlink("/dev/zero", p), "a device"),
        (lambda p: p.mkdir(), "a directory"),
        (_socket, "a socket"),
    ],
)
def test_anything_but_a_regular_file_is_refused_at_once(tmp_path: Path, make, kind) -> None:
    path = tmp_path / "thing"
    keep = make(path)
    started = time.monotonic()
    with pytest.raises(FileNotRegular) as err:
        read_text(path)
    assert str(err.value) == f"{path}: not a regular file ({kind}): not read"
    with pytest.raises(FileNotRegular):
        check_regular(path)
    assert time.monotonic() - started < 2
    if isinstance(keep, socket.socket):
        keep.close()


def test_a_file_over_its_cap_is_refused_not_truncated(tmp_path: Path) -> None:
    (tmp_path / "big").write_bytes(b"x" * 2048)
    with pytest.raises(FileReadError, match=r"big: 2048 bytes, over the 1024 bytes limit"):
        read_bytes(tmp_path / "big", max_bytes=1024)
    assert len(read_bytes(tmp_path / "big", max_bytes=2048)) == 2048


def test_a_read_past_its_deadline_is_refused(tmp_path: Path) -> None:
    (tmp_path / "slow").write_bytes(b"x")
    started = time.monotonic()
    with pytest.raises(FileReadTimeout, match=r"slow: not read within 0.2 s"):
        use_regular_file(tmp_path / "slow", lambda fh, size: time.sleep(3), deadline_s=0.2)
    assert time.monotonic() - started < 1.5


def test_text_that_does_not_decode_is_refused_without_showing_it(tmp_path: Path) -> None:
    (tmp_path / "bin").write_bytes(b"TOKEN=s3cr3t\xff\n")
    with pytest.raises(FileReadError) as err:
        read_text(tmp_path / "bin")
    assert "not utf-8 text" in str(err.value) and "s3cr3t" not in str(err.value)


def test_a_fifo_named_like_a_migration_is_an_error_not_skipped(tmp_path: Path) -> None:
    (tmp_path / "001_a.py").write_text("print('ok')\n")
    config = SimpleNamespace(directory=tmp_path, files=("*.py",), exclude=())
    assert [p.name for p in migration_files(config)] == ["001_a.py"]  # type: ignore[arg-type]
    os.mkfifo(tmp_path / "002_b.py")
    with pytest.raises(ProbeError, match=r"002_b.py: not a regular file \(a FIFO\)"):
        migration_files(config)  # type: ignore[arg-type]
    (tmp_path / "002_b.py").unlink()
    os.symlink(tmp_path / "gone.py", tmp_path / "002_b.py")
    with pytest.raises(ProbeError, match=r"002_b.py: a link to nothing"):
        migration_files(config)  # type: ignore[arg-type]


# -- `pytest --gate` end to end --------------------------------------------------------------


def _dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


def test_a_fifo_as_a_dotenv_source_ends_error_fast(tmp_path: Path) -> None:
    (tmp_path / "envs").mkdir()
    (tmp_path / "app.env.example").write_text("NEXTAUTH_SECRET=\nMONGODB_URI=\n")
    (tmp_path / "envs" / "staging.env").write_text("NEXTAUTH_SECRET=a1\nMONGODB_URI=mongodb://a\n")
    os.mkfifo(tmp_path / "envs" / "production.env")
    table = (
        '[env.staging.secrets]\nmanifest = "app.env.example"\n'
        'sources = { staging = "envs/staging.env", production = "envs/production.env" }\n'
        'must_differ = ["NEXTAUTH_SECRET"]\n'
    )
    started = time.monotonic()
    result = run_gate(
        tmp_path,
        staging_config(_dead_url(), table),
        suite=GATES / "test_secrets_parity.py",
        timeout=RUN_TIMEOUT_S,
    )
    assert time.monotonic() - started < RUN_TIMEOUT_S
    assert result.exit_code == 1 and result.verdict["decision"] == "HOLD"
    secrets = {k: v for k, v in result.outcomes().items() if k.startswith("secrets.")}
    assert secrets and set(secrets.values()) == {"ERROR"}, secrets
    assert (
        "production.env: not a regular file (a FIFO): not read"
        in (result.gate("secrets.missing")["reason"])
    )


def test_a_fifo_as_the_bundle_report_ends_error_fast(tmp_path: Path) -> None:
    (tmp_path / "reports-app").mkdir()
    os.mkfifo(tmp_path / "reports-app" / "bundle-budget-history.json")
    table = '[env.staging.bundle]\nreport = "reports-app/bundle-budget-history.json"\n'
    result = run_gate(
        tmp_path,
        staging_config(_dead_url(), table),
        suite=GATES / "test_bundle.py",
        timeout=RUN_TIMEOUT_S,
    )
    gate = result.gate("bundle.budget")
    assert result.exit_code == 1 and result.verdict["decision"] == "HOLD"
    assert gate["outcome"] == "ERROR", gate["reason"]
    assert "bundle-budget-history.json: not a regular file (a FIFO): not read" in gate["reason"]


def test_a_fifo_among_the_reports_does_not_block_the_baseline_search(tmp_path: Path) -> None:
    import threading

    from pytest_fixgate.release.baseline import find_baseline

    os.mkfifo(tmp_path / "staging-20260107T000000Z.json")
    found: list[object] = []
    search = threading.Thread(
        target=lambda: found.append(
            find_baseline("staging", pinned=None, report_dir=tmp_path, repo=tmp_path)
        ),
        daemon=True,  # on the old code it blocks in open() forever
    )
    search.start()
    search.join(10)
    assert not search.is_alive(), "the baseline search blocked on a FIFO"
    assert found[0][0] is None  # type: ignore[index]


def test_a_fifo_in_the_backup_is_refused_by_the_clone_restore(tmp_path: Path, mongo) -> None:
    import threading

    import pymongo
    from datagates import write_backup

    from pytest_fixgate.kinds.migrations.clone import restore_dump

    folder = write_backup(tmp_path, "manual-1", ["workOrders"], database="fixgate_fifo")
    # A collection the backup gate does not check (not named), restored all the same.
    os.mkfifo(folder / "fixgate_fifo" / "scratch.bson")
    client: pymongo.MongoClient = pymongo.MongoClient(mongo.uri)
    errors: list[BaseException] = []

    def restore() -> None:
        try:
            restore_dump(client, folder, timeout_s=30)
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=restore, daemon=True)
    try:
        worker.start()
        worker.join(20)
        assert not worker.is_alive(), "the restore blocked on a FIFO"
    finally:
        client.drop_database("fixgate_fifo")
        client.close()
    assert isinstance(errors[0], ProbeError)
    assert "scratch.bson: not a regular file (a FIFO)" in str(errors[0])
