"""Running a process the one way every gate does: commands, audit tools, migration dry
runs, Locust, the reference servers and the rollback command.

- The child gets its own session (process group), so a timeout or Ctrl-C kills
  everything it started, not just the direct child.
- A deadline bounds it; past it the group gets SIGTERM, then SIGKILL.
- stdout and stderr are interleaved as they come and streamed, redacted, to a
  log file (in the report directory, for the reader), and the last lines are
  kept for the evidence.
- Output is bounded in bytes, whatever the child prints: a line is read in
  pieces and at most ``LOG_LINE_MAX_BYTES`` of it are kept (the rest is
  counted, never held), the log file stops at ``LOG_MAX_BYTES`` with a note
  saying how much was left out, each tail line is cut to
  ``TAIL_LINE_MAX_BYTES`` and the whole tail to ``TAIL_MAX_BYTES``; a
  tool's separate stdout stops at ``STDOUT_MAX_BYTES`` (``stdout_cut``).
  Lines are redacted before they are cut, so a cut never exposes part of a
  secret.
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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from pytest_fixgate.redaction import Redactor, clip

__all__ = ["ManagedProcess", "ProcessResult", "kill_group", "read_log_end", "run_process"]

_GRACE_S = 3.0  # between SIGTERM and SIGKILL

# Output bounds (bytes of UTF-8). A 50 MB line with no newline used to be held whole
# and copied into every report (about 640 MB peak).
LOG_LINE_MAX_BYTES = 64 * 1024
LOG_MAX_BYTES = 32 * 1024 * 1024
TAIL_LINE_MAX_BYTES = 2000
TAIL_MAX_BYTES = 16 * 1024
STDOUT_MAX_BYTES = 64 * 1024 * 1024
_READ_PIECE = 64 * 1024
# Bytes read beyond a line's cap and then dropped again after redaction: a secret that
# straddles the cap is whole in what is redacted (secrets are far shorter than this).
_REDACT_MARGIN = 16 * 1024


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
    stdout_cut: bool = False  # stdout was longer than STDOUT_MAX_BYTES and was cut

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
    stdout_state = _Collected()
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
            threading.Thread(
                target=_collect, args=(proc.stdout, stdout_chunks, stdout_state), daemon=True
            )
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
        tail=_bounded_tail(tail),
        log_path=log_path,
        stdout=b"".join(stdout_chunks).decode("utf-8", "replace"),
        stdout_cut=stdout_state.cut,
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


def _cut_utf8(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` bytes of UTF-8, never inside a character."""
    data = text.encode("utf-8")
    return text if len(data) <= limit else data[:limit].decode("utf-8", "ignore")


def _cut(text: str, limit: int) -> str:
    """``text`` (already redacted) cut to at most ``limit`` bytes with redaction.clip's
    rule: a cut inside a run of token characters drops the whole run, so a token no
    redactor knows shows no prefix either."""
    head = _cut_utf8(text, limit)
    if len(head) == len(text):
        return text
    # clip sees one character past the cut, to know whether the cut falls inside a run.
    return clip(text[: len(head) + 1], len(head), marker="...")


def bounded_line(raw: bytes, dropped: int, redactor: Redactor) -> str:
    """One output line for the log: redacted, then cut to LOG_LINE_MAX_BYTES with a note
    of its real size. ``raw`` is what was kept of it (at most the cap plus the margin),
    ``dropped`` how many more bytes it had."""
    line = redactor.text(raw.decode("utf-8", "replace").rstrip("\r\n"))
    size = len(raw.rstrip(b"\r\n")) + dropped
    if dropped == 0 and len(line.encode("utf-8")) <= LOG_LINE_MAX_BYTES:
        return line
    limit = LOG_LINE_MAX_BYTES
    if dropped:
        # What follows the last masked secret is raw text: a secret cut off at the end of
        # what was read would show its start there. The margin is dropped again.
        limit = min(limit, max(0, len(line.encode("utf-8")) - _REDACT_MARGIN))
    return f"{_cut(line, limit)} [line of {size} bytes cut]"


def _tail_line(line: str) -> str:
    if len(line.encode("utf-8")) <= TAIL_LINE_MAX_BYTES:
        return line
    return f"{_cut(line, TAIL_LINE_MAX_BYTES)} [cut]"


def _bounded_tail(lines: collections.deque[str]) -> str:
    """The last lines, oldest dropped first until the whole is at most TAIL_MAX_BYTES."""
    kept: list[str] = []
    total = 0
    for line in reversed(lines):
        total += len(line.encode("utf-8")) + 1
        if total > TAIL_MAX_BYTES and kept:
            break
        kept.append(line)
    return "\n".join(reversed(kept))


def _pump(
    stream: IO[bytes] | None,
    log: IO[str] | None,
    tail: collections.deque[str],
    redactor: Redactor,
    lock: threading.Lock,
) -> None:
    if stream is None:
        return
    keep = LOG_LINE_MAX_BYTES + _REDACT_MARGIN
    buf = bytearray()
    dropped = 0
    written = 0
    not_written = 0

    def emit() -> None:
        nonlocal written, not_written
        # Redacted line by line, before it is stored anywhere (and before it is cut).
        line = bounded_line(bytes(buf), dropped, redactor)
        size = len(line.encode("utf-8")) + 1
        with lock:
            tail.append(_tail_line(line))
            if log is None:
                return
            if written + size <= LOG_MAX_BYTES and not not_written:
                log.write(line + "\n")
                log.flush()
                written += size
            else:
                not_written += len(buf) + dropped + 1

    # readline with a limit: a line with no newline is read a piece at a time, never whole.
    for piece in iter(lambda: stream.readline(_READ_PIECE), b""):
        ends = piece.endswith(b"\n")
        room = keep - len(buf)
        if room > 0:
            buf += piece[:room]
        dropped += max(0, len(piece) - max(room, 0) - (1 if ends else 0))
        if ends:
            emit()
            buf.clear()
            dropped = 0
    if buf or dropped:
        emit()
    if log is not None and not_written:
        with lock:
            log.write(
                f"[log cut at {LOG_MAX_BYTES} bytes: {not_written} more bytes of output "
                "were not written; the evidence tail has the last lines]\n"
            )
            log.flush()
    stream.close()


@dataclass
class _Collected:
    cut: bool = False


def _collect(stream: IO[bytes] | None, chunks: list[bytes], state: _Collected) -> None:
    """A tool's stdout, up to STDOUT_MAX_BYTES; the rest is read and dropped (the child is
    never blocked on a full pipe) and ``state.cut`` says so."""
    if stream is None:
        return
    total = 0
    for chunk in iter(lambda: stream.read(65536), b""):
        if total + len(chunk) > STDOUT_MAX_BYTES:
            state.cut = True
            chunk = chunk[: max(0, STDOUT_MAX_BYTES - total)]
        total += len(chunk)
        if chunk:
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


def read_log_end(path: Path, max_bytes: int = 1024 * 1024) -> str:
    """The last ``max_bytes`` of a log a child wrote itself (a ManagedProcess's), whole
    lines only; ``""`` when it cannot be read. Never the whole of a log that may be huge."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            start = max(0, fh.tell() - max_bytes)
            fh.seek(start)
            data = fh.read(max_bytes)
    except OSError:
        return ""
    if start > 0:
        # Begun mid-line: its start (a secret's?) is not there to mask, so it is dropped.
        data = data.split(b"\n", 1)[1] if b"\n" in data else b""
    return data.decode("utf-8", errors="replace")


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
        """The last ``lines`` lines of the log, from at most its last TAIL_MAX_BYTES x 4
        (redacted before they are cut to TAIL_MAX_BYTES)."""
        found = read_log_end(self.log_path, 4 * TAIL_MAX_BYTES).splitlines()
        out = "\n".join(found[-lines:])
        out = redactor.text(out) if redactor is not None else out
        return _bounded_tail(collections.deque(_tail_line(ln) for ln in out.splitlines()))

    def __enter__(self) -> ManagedProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
