"""The live terminal line of a watch: time left, the latest metric values, each rule's state.

On a terminal the line rewrites itself in place; otherwise (CI logs) a line
is printed when a rule changes state, and at least every ``plain_every_s``.
"""

from __future__ import annotations

import sys
from typing import IO, Any

from pytest_fixgate.watch.engine import (
    Count,
    Dist,
    Rate,
    Reading,
    RuleState,
    StepResult,
    Tick,
)

__all__ = ["LiveLine", "format_line", "format_reading"]


def format_reading(metric: str, reading: Reading) -> str:
    if isinstance(reading, Rate):
        return f"{metric} {reading.bad}/{reading.total}"
    if isinstance(reading, Dist):
        return f"{metric} {max(reading.values):.0f}ms" if reading.values else f"{metric} -"
    if isinstance(reading, Count):
        return f"{metric} {reading.n:g}"
    value = reading.value
    return f"{metric} {str(value).lower() if isinstance(value, bool) else f'{value:g}'}"


def _clock(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s"


def format_line(env: str, step: StepResult, tick: Tick, duration_s: float) -> str:
    values = [
        f"{src}: " + " ".join(format_reading(m, r) for m, r in sorted(metrics.items()))
        for src, metrics in sorted(tick.readings.items())
    ]
    values += [f"{src}: gap" for src in sorted(tick.errors)]
    states = []
    for status in step.statuses:
        text = status.state.value
        if status.state is RuleState.PENDING and status.since is not None:
            text = f"pending since {status.since:g}s"
        states.append(f"{status.rule} {text}")
    left = _clock(duration_s - step.t)
    return f"watch {env}: {left} left | {' | '.join(values)} | {', '.join(states)}"


class LiveLine:
    def __init__(
        self, env: str, duration_s: float, stream: IO[str] | None = None, plain_every_s: float = 10
    ) -> None:
        self.env = env
        self.duration_s = duration_s
        self.stream: Any = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.tty = bool(isatty and isatty())
        self.plain_every_s = plain_every_s
        self._last_plain: float | None = None
        self._dirty = False

    def __call__(self, step: StepResult, tick: Tick) -> None:
        text = format_line(self.env, step, tick, self.duration_s)
        if self.tty:
            self.stream.write(f"\r\x1b[2K{text[:300]}")
            self._dirty = True
        elif (
            self._last_plain is None
            or step.transitions
            or step.t - self._last_plain >= self.plain_every_s
        ):
            lead = "\n" if self._last_plain is None else ""
            self._last_plain = step.t
            self.stream.write(lead + text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self._dirty:
            self.stream.write("\n")
            self.stream.flush()
