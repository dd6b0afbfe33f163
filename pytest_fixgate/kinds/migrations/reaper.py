"""Run a command and wait for every process it starts, detached ones included.

``python reaper.py STATUS_FILE -- ARGV...`` runs ARGV and exits only when no
process it started is left: on Linux it makes itself a *child subreaper*
(``prctl(PR_SET_CHILD_SUBREAPER)``), so a grandchild whose parent exited, even
one that left the process group with ``setsid()``, is re-parented to it and
waited for. Elsewhere it waits for ARGV's process group. A migration's dry run
that forks a writer and exits is thus not "over" until the writer is, and the
fingerprint taken after it sees the write.

On SIGTERM (the gate's deadline) it SIGKILLs every descendant and exits.
STATUS_FILE gets one JSON object: ``exit_code`` (ARGV's own; a signal N is
128 + N), ``start_error``, ``outlived`` (processes still running after ARGV
exited), ``waited_s`` (how long they kept it waiting) and ``tracks`` ("all
descendants" or "process group"). Standard library only, run by path: it
imports nothing from the package.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

_PR_SET_CHILD_SUBREAPER = 36


def _become_subreaper() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _descendants(root: int) -> list[int]:
    """Every live descendant of ``root``, from /proc's parent links."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses.
        fields = stat[stat.rfind(")") + 2 :].split()
        parents[int(entry)] = int(fields[1])
    found: list[int] = []
    frontier = [root]
    while frontier:
        pid = frontier.pop()
        children = [p for p, ppid in parents.items() if ppid == pid]
        found += children
        frontier += children
    return found


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: reaper.py STATUS_FILE -- ARGV...", file=sys.stderr)
        return 2
    status_path, command = Path(argv[0]), argv[2:]
    subreaper = _become_subreaper()
    status: dict[str, object] = {"tracks": "all descendants" if subreaper else "process group"}

    def write_status() -> None:
        status_path.write_text(json.dumps(status), encoding="utf-8")

    def on_term(signum: int, frame: object) -> None:
        if subreaper:
            for pid in _descendants(os.getpid()):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
        status["killed"] = True
        write_status()
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    try:
        # Without a subreaper: the command leads its own group, which is then waited for.
        child = subprocess.Popen(command, process_group=None if subreaper else 0)
    except FileNotFoundError:
        status["start_error"] = f"program not found: {command[0]}"
    except PermissionError:
        status["start_error"] = f"program not executable: {command[0]}"
    except OSError as exc:
        status["start_error"] = f"cannot start {command[0]}: {exc.strerror or exc}"
    if "start_error" in status:
        write_status()
        return 127
    code = child.wait()
    status["exit_code"] = code if code >= 0 else 128 - code
    exited = time.monotonic()
    outlived = 0
    if subreaper:
        outlived = len(_descendants(os.getpid()))
        while True:  # every orphan is ours now: ECHILD means none is left
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                break
    else:
        while True:
            try:
                os.killpg(child.pid, 0)
            except (ProcessLookupError, PermissionError):
                break
            outlived = max(outlived, 1)
            time.sleep(0.05)
    status["outlived"] = outlived
    status["waited_s"] = round(time.monotonic() - exited, 3)
    write_status()
    return int(status["exit_code"])  # type: ignore[call-overload]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
