"""`fixgate demo`, run as a newcomer runs it: the stack starts, the gate decides, all stops."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

DEMO = [sys.executable, "-m", "pytest_fixgate.cli", "demo"]


def _demo(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*DEMO, "--gate-report-dir", str(tmp_path / "reports"), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _ports(output: str) -> list[int]:
    match = re.search(
        r"MongoDB wire on (\d+), redis on (\d+), reference service at "
        r"http://127\.0\.0\.1:(\d+)",
        output,
    )
    assert match, output
    return [int(p) for p in match.groups()]


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_demo_promotes_and_stops_everything(tmp_path: Path) -> None:
    done = _demo(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"fixgate: PROMOTE \(all \d+ required gates passed", done.stdout)
    latest = json.loads((tmp_path / "reports" / "demo-latest.json").read_text())
    ran = {g["id"] for g in latest["gates"]}
    assert {"health./api/health/ready", "load.p(95)", "secrets.must_differ", "flags.rollout"} <= ran
    assert len(list((tmp_path / "reports").glob("demo-*.json"))) == 2  # stamped + latest
    assert not any(_listening(port) for port in _ports(done.stdout))


@pytest.mark.parametrize(
    ("fault", "gates"),
    [
        ("db-down", ["health./api/health/db FAIL", "health./api/health/ready FAIL"]),
        ("down", ["health./api/health ERROR"]),
        (
            "secrets-drift",
            ["secrets.must_differ FAIL", "secrets.localhost FAIL", "secrets.forbidden FAIL"],
        ),
    ],
)
def test_demo_fault_holds(tmp_path: Path, fault: str, gates: list[str]) -> None:
    done = _demo(tmp_path, "--fault", fault)
    assert done.returncode == 1, done.stdout + done.stderr
    decision = next(line for line in done.stdout.splitlines() if line.startswith("fixgate: "))
    assert decision.startswith("fixgate: HOLD")
    assert all(gate in decision for gate in gates), decision


def test_ctrl_c_stops_the_stack(tmp_path: Path) -> None:
    # "slow": every probe waits out its 2 s timeout, so the run is still going when we
    # interrupt it, as a user pressing Ctrl-C would (SIGINT to the whole process group).
    proc = subprocess.Popen(
        [*DEMO, "--fault", "slow", "--gate-report-dir", str(tmp_path)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    output = ""
    deadline = time.monotonic() + 60
    while "reference service at" not in output and time.monotonic() < deadline:
        output += proc.stdout.readline()
    ports = _ports(output)
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(timeout=60)
    assert proc.returncode != 0
    assert not any(_listening(port) for port in ports)
