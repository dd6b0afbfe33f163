"""The process primitive: exit codes, output tail, missing programs, deadlines that kill
the whole group, redaction before anything is stored."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from pytest_fixgate.measurements.process import ManagedProcess, run_process
from pytest_fixgate.redaction import Redactor

PY = sys.executable


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); its state says whether it runs.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_exit_zero_is_ok_with_output(tmp_path: Path) -> None:
    result = run_process([PY, "-c", "print('hello')"], timeout_s=20, log_path=tmp_path / "a.log")
    assert result.ok and result.exit_code == 0
    assert result.tail == "hello"
    assert (tmp_path / "a.log").read_text() == "hello\n"


def test_nonzero_exit_keeps_the_last_lines_interleaved(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "for i in range(100):\n"
        "    print(f'out {i}', flush=True)\n"
        "    print(f'err {i}', file=sys.stderr, flush=True)\n"
        "sys.exit(3)\n"
    )
    result = run_process([PY, "-c", code], timeout_s=20, tail_lines=40)
    assert result.exit_code == 3 and not result.ok
    lines = result.tail.splitlines()
    assert len(lines) == 40
    assert lines[-1] == "err 99" and lines[-2] == "out 99"
    assert "exit code 3" in result.describe()


def test_missing_program_is_a_start_error(tmp_path: Path) -> None:
    result = run_process(["no-such-program-fixgate"], timeout_s=5, log_path=tmp_path / "m.log")
    assert result.exit_code is None and not result.ok
    assert result.start_error == "program not found: no-such-program-fixgate"
    assert result.describe() == result.start_error


def test_timeout_kills_the_whole_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    code = (
        "import subprocess, sys, time\n"
        f"child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
        f"open({str(pidfile)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(120)\n"
    )
    started = time.monotonic()
    result = run_process([PY, "-c", code], timeout_s=2)
    assert result.timed_out and result.exit_code is None
    assert time.monotonic() - started < 15
    grandchild = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild)


def test_a_background_child_left_behind_is_stopped(tmp_path: Path) -> None:
    pidfile = tmp_path / "daemon.pid"
    code = (
        "import subprocess, sys\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'],"
        " stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        f"open({str(pidfile)!r}, 'w').write(str(child.pid))\n"
    )
    result = run_process([PY, "-c", code], timeout_s=20)
    assert result.exit_code == 0
    daemon = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _alive(daemon) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(daemon)


def test_secrets_are_redacted_in_log_and_tail(tmp_path: Path) -> None:
    secret = "s3cr3t-" + os.urandom(6).hex()
    log = tmp_path / "r.log"
    result = run_process(
        [PY, "-c", f"print('token={secret}')"],
        timeout_s=20,
        log_path=log,
        redactor=Redactor([secret]),
    )
    assert secret not in result.tail and "token=***" in result.tail
    assert secret not in log.read_text()


def test_separate_stdout_for_a_tool_that_prints_json(tmp_path: Path) -> None:
    code = "import sys; print('{\"a\": 1}'); print('warning', file=sys.stderr)"
    result = run_process([PY, "-c", code], timeout_s=20, separate_stdout=True)
    assert result.stdout.strip() == '{"a": 1}'
    assert result.tail == "warning"


def test_managed_process_stops_its_group(tmp_path: Path) -> None:
    with ManagedProcess(
        [PY, "-c", "import time; print('up', flush=True); time.sleep(120)"],
        log_path=tmp_path / "srv.log",
    ) as proc:
        assert proc.wait(0.3) is None
        pid = proc.pid
    assert not _alive(pid)
