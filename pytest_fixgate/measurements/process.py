"""Running a process the one way every gate does: commands, audit tools, migration dry
runs, Locust, the reference servers and the rollback command.

- The child gets its own session (process group), so a timeout or Ctrl-C kills
  everything it started, not just the direct child.
- A deadline bounds it; past it the group gets SIGTERM, then SIGKILL.
- stdout and stderr are interleaved as they come and streamed, redacted, to a
  log file (in the report directory, for the reader), and the last lines are
  kept for the evidence.
- A program that does not exist or cannot start is a result (``start_error``),
  not an exception: the gate turns it into ERROR.
"""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from pytest_fixgate.redaction import Redactor

__all__ = ["ManagedProcess", "ProcessResult", "kill_group", "run_process"]

_GRACE_S = 3.0  # between SIGTERM and SIGKILL


@dataclass(frozen=True)
class ProcessResult:
    argv: tuple[str, ...]
    exit_code: int | None  # None: never started, or killed at the deadline / on Ctrl-C
    timed_out: bool
    duration_s: float
    tail: str  # the last lines of interleaved output, redacted
    log_path: Path | None = None
    start_error: str | None = None  # e.g. "program not found: pnpm"
    interrupted: bool = False
    # Raw stdout when asked for separately (a tool's JSON): for parsing only, never stored.
    stdout: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and self.start_error is None

    def describe(self) -> str:
        """One line for a reason: how the process ended."""
        if self.start_error is not None:
            return self.start_error
        if self.timed_out:
            return f"timed out after {self.duration_s:.1f} s (process group killed)"
        if self.interrupted:
            return "interrupted (process group killed)"
        return f"exit code {self.exit_code} after {self.duration_s:.1f} s"


def run_process(
    argv: Sequence[str],
    *,
    timeout_s: float,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    log_path: Path | None = None,
    redactor: Redactor | None = None,
    tail_lines: int = 40,
    separate_stdout: bool = False,
    stdin_text: str | None = None,
) -> ProcessResult:
    """Run ``argv`` to completion or to its deadline; see the module docstring.

    ``env`` replaces the environment (pass ``{**os.environ, ...}`` to add to it).
    With ``separate_stdout`` the tool's stdout is returned raw in ``stdout`` and only
    stderr goes to the log and tail (a JSON-printing tool's diagnostics).
    """
    argv = tuple(str(a) for a in argv)
    redactor = redactor or Redactor()
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.PIPE if stdin_text is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if separate_stdout else subprocess.STDOUT,
            start_new_session=True,
        )
    except FileNotFoundError:
        return _not_started(argv, f"program not found: {argv[0]}", log_path, redactor)
    except PermissionError:
        return _not_started(argv, f"program not executable: {argv[0]}", log_path, redactor)
    except OSError as exc:
        reason = f"cannot start {argv[0]}: {exc.strerror or exc}"
        return _not_started(argv, reason, log_path, redactor)

    tail: collections.deque[str] = collections.deque(maxlen=max(1, tail_lines))
    stdout_chunks: list[bytes] = []
    log = _open_log(log_path)
    lock = threading.Lock()
    readers = [
        threading.Thread(
            target=_pump,
            args=(proc.stdout if not separate_stdout else proc.stderr, log, tail, redactor, lock),
            daemon=True,
        )
    ]
    if separate_stdout:
        readers.append(
            threading.Thread(target=_collect, args=(proc.stdout, stdout_chunks), daemon=True)
        )
    for reader in readers:
        reader.start()
    if stdin_text is not None and proc.stdin is not None:
        with contextlib.suppress(OSError):
            proc.stdin.write(stdin_text.encode())
            proc.stdin.close()

    timed_out = False
    try:
        _wait_exit(proc, timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        # At the deadline, on Ctrl-C (re-raised), and after a normal exit alike: nothing
        # the command started is left running.
        if timed_out or proc.poll() is None or _group_alive(proc.pid):
            kill_group(proc)
        for reader in readers:
            reader.join(timeout=5)
        if log is not None:
            log.close()
    duration = time.monotonic() - started
    return ProcessResult(
        argv=argv,
        exit_code=None if timed_out else proc.returncode,
        timed_out=timed_out,
        duration_s=duration,
        tail="\n".join(tail),
        log_path=log_path,
        stdout=b"".join(stdout_chunks).decode("utf-8", "replace"),
    )


def _wait_exit(proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    """``proc.wait(timeout)`` without its polling: Popen polls with sleeps of up to 50 ms,
    which costs a short tool (pnpm audit: ~50 ms) a third of its time. A thread blocks in
    waitpid; the caller waits on an event (interruptible by Ctrl-C)."""
    exited = threading.Event()

    def reap() -> None:
        with contextlib.suppress(Exception):
            proc.wait()
        exited.set()

    threading.Thread(target=reap, daemon=True).start()
    if not exited.wait(timeout_s):
        raise subprocess.TimeoutExpired(proc.args, timeout_s)


def kill_group(proc: subprocess.Popen[bytes], grace_s: float = _GRACE_S) -> None:
    """SIGTERM the child's whole process group, then SIGKILL what is left, including
    grandchildren that outlive the child itself. The child leads its own session,
    so its group id is its pid, even after it has been reaped."""
    pgid = proc.pid
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=0.05)
        if proc.poll() is not None and not _group_alive(pgid):
            return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace_s)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _open_log(log_path: Path | None) -> IO[str] | None:
    if log_path is None:
        return None
    log_path.parent.mkdir(parents=True, exist_ok=True)
    return log_path.open("w", encoding="utf-8")


def _pump(
    stream: IO[bytes] | None,
    log: IO[str] | None,
    tail: collections.deque[str],
    redactor: Redactor,
    lock: threading.Lock,
) -> None:
    if stream is None:
        return
    for raw in iter(stream.readline, b""):
        # Redacted line by line, before it is stored anywhere.
        line = redactor.text(raw.decode("utf-8", "replace").rstrip("\r\n"))
        with lock:
            tail.append(line)
            if log is not None:
                log.write(line + "\n")
                log.flush()
    stream.close()


def _collect(stream: IO[bytes] | None, chunks: list[bytes]) -> None:
    if stream is None:
        return
    for chunk in iter(lambda: stream.read(65536), b""):
        chunks.append(chunk)
    stream.close()


def _not_started(
    argv: tuple[str, ...], reason: str, log_path: Path | None, redactor: Redactor
) -> ProcessResult:
    reason = redactor.text(reason)
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text(reason + "\n", encoding="utf-8")
    return ProcessResult(
        argv=argv,
        exit_code=None,
        timed_out=False,
        duration_s=0.0,
        tail=reason,
        log_path=log_path,
        start_error=reason,
    )


class ManagedProcess:
    """A long-running child (a server, Locust) in its own process group, output to a
    log file; stopped with :meth:`stop` (the whole group) or on leaving ``with``."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        log_path: Path,
        cwd: Path | str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.argv = tuple(str(a) for a in argv)
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("wb")
        try:
            self.proc: subprocess.Popen[bytes] = subprocess.Popen(
                self.argv,
                cwd=cwd,
                env=dict(env) if env is not None else None,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except BaseException:
            self._log.close()
            raise

    @property
    def pid(self) -> int:
        return self.proc.pid

    def poll(self) -> int | None:
        return self.proc.poll()

    def wait(self, timeout_s: float | None = None) -> int | None:
        """The exit code, or ``None`` if still running at the deadline."""
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, grace_s: float = _GRACE_S) -> int | None:
        kill_group(self.proc, grace_s)
        self._log.close()
        return self.proc.returncode

    def tail(self, lines: int = 40, redactor: Redactor | None = None) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        out = "\n".join(text.splitlines()[-lines:])
        return redactor.text(out) if redactor is not None else out

    def __enter__(self) -> ManagedProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def managed(argv: Sequence[str], **kwargs: object) -> Iterator[ManagedProcess]:
    process = ManagedProcess(argv, **kwargs)  # type: ignore[arg-type]
    try:
        yield process
    finally:
        process.stop()
