"""The live progress of a load run: a LoadProgress value and the one-line display of it.

On a terminal the line rewrites itself in place; anywhere else (CI logs,
pytest's captured output) it prints a plain line every ``plain_every_s``
seconds and at the end, so logs stay short but still show the run moving.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import IO

__all__ = ["LoadProgress", "ProgressLine", "format_progress"]


@dataclass(frozen=True)
class LoadProgress:
    """A snapshot of a running load test (from the capture module's progress file).

    ``p95_ms`` (exact, HdrHistogram) and ``rps`` cover the last ~6 s;
    ``failures`` excludes ``rate_limited``; ``cpu_pct`` is the busiest load
    process's CPU (100 = one core); ``state`` is "waiting" (Locust starting),
    "running", "stopping" or "aborted" (stopped early: a gate's FAIL is certain).
    """

    elapsed_s: float
    duration_s: float
    users: int
    rps: float
    p95_ms: float | None
    requests: int
    failures: int
    rate_limited: int
    cpu_pct: float | None = None
    state: str = "running"

    @property
    def remaining_s(self) -> float:
        """Seconds of run time left (0 once the run time is over)."""
        return max(0.0, self.duration_s - self.elapsed_s)


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def format_progress(p: LoadProgress) -> str:
    """One line: ``load 0:42/5:00 (4:18 left) | 20 users | 183.2 rps | p95 1471 ms | ...``."""
    if p.state == "waiting":
        return "load: starting Locust ..."
    if p.state == "aborted":
        return (
            f"load: stopped early at {_clock(p.elapsed_s)} (a gate's FAIL is already certain)"
            f" | {p.requests} requests | failures {p.failures}"
        )
    if p.state == "stopping":
        share = f" ({p.failures / p.requests:.1%})" if p.requests else ""
        return (
            f"load: run time over, stopping Locust | {p.requests} requests"
            f" | failures {p.failures}{share}"
        )
    p95 = "-" if p.p95_ms is None else f"{p.p95_ms:.0f} ms"
    share = f" ({p.failures / p.requests:.1%})" if p.requests else ""
    parts = [
        f"load {_clock(p.elapsed_s)}/{_clock(p.duration_s)} ({_clock(p.remaining_s)} left)",
        f"{p.users} users",
        f"{p.rps:.1f} rps",
        f"p95 {p95} (last 6 s)",
        f"{p.requests} requests",
        f"failures {p.failures}{share}",
    ]
    if p.rate_limited:
        parts.append(f"rate-limited {p.rate_limited}")
    if p.cpu_pct is not None:
        parts.append(f"cpu {p.cpu_pct:.0f}%")
    return " | ".join(parts)


class ProgressLine:
    """A callable for ``LoadRunner.run(on_progress=...)`` that shows one live line.

    Call ``close()`` when the run ends, to finish the line.
    """

    def __init__(
        self,
        stream: IO[str] | None = None,
        *,
        tty: bool | None = None,
        plain_every_s: float = 10.0,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.tty = tty if tty is not None else bool(isatty and isatty())
        self.plain_every_s = plain_every_s
        self._last_plain: float | None = None
        self._last: LoadProgress | None = None
        self._dirty = False

    def __call__(self, progress: LoadProgress) -> None:
        self._last = progress
        text = format_progress(progress)
        if self.tty:
            # \r and "erase line": the line rewrites itself in place.
            self.stream.write(f"\r\x1b[2K{text}")
            self._dirty = True
        elif (
            self._last_plain is None or progress.elapsed_s - self._last_plain >= self.plain_every_s
        ):
            # The first line starts on a line of its own: the stream may be mid-line
            # (pytest's own progress, "gates/test_load.py ").
            lead = "\n" if self._last_plain is None else ""
            self._last_plain = progress.elapsed_s
            self.stream.write(lead + text + "\n")
        self.stream.flush()

    def close(self) -> None:
        """End the line (terminal) or print the last state (plain), once."""
        if self.tty and self._dirty:
            self.stream.write("\n")
        elif not self.tty and self._last is not None and self._last_plain != self._last.elapsed_s:
            self.stream.write(format_progress(self._last) + "\n")
        self._dirty = False
        self._last = None
        self.stream.flush()
