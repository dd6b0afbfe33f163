"""The live watch loop: sample every source each interval, record, evaluate, stop on ROLLBACK.

Ticks are due at ``start + k * interval`` on the monotonic clock (no drift:
a slow tick does not push the next ones back). A tick's ``t`` is its due
time, so the samples file replays to the same decision. Sources are sampled
in parallel, each bounded by the interval; one still busy from the previous
tick, or failing, is a gap for this tick.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from pytest_fixgate import timing
from pytest_fixgate.redaction import Redactor
from pytest_fixgate.watch.engine import Alert, Engine, StepResult, Tick
from pytest_fixgate.watch.samples import SamplesWriter
from pytest_fixgate.watch.sources import Source

__all__ = ["Clock", "LoopResult", "run_loop", "sample_tick"]

_EPS = 1e-6


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


@dataclass(frozen=True)
class LoopResult:
    finished: bool  # reached the end, or stopped by a rollback alert
    rolled_back: bool
    last_t: float | None


class _Pool:
    """One worker per source; a source whose last sample is still running is skipped."""

    def __init__(self, sources: Mapping[str, Source]) -> None:
        self.sources = sources
        self.pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=max(1, len(sources)), thread_name_prefix="fixgate-watch"
        )
        self.busy: dict[str, concurrent.futures.Future[Mapping[str, object]]] = {}

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def sample_tick(
    pool: _Pool, t: float, budget_s: float, redactor: Redactor, clock: Clock = timing
) -> Tick:
    started = clock.monotonic()
    readings: dict[str, Mapping[str, object]] = {}
    errors: dict[str, str] = {}
    futures: dict[str, concurrent.futures.Future[Mapping[str, object]]] = {}
    for name, source in pool.sources.items():
        previous = pool.busy.get(name)
        if previous is not None and not previous.done():
            errors[name] = "still sampling the previous tick"
            continue
        futures[name] = pool.pool.submit(source.sample)
        pool.busy[name] = futures[name]
    for name, future in futures.items():
        left = max(0.0, budget_s - (clock.monotonic() - started))
        try:
            readings[name] = future.result(timeout=left)
        except concurrent.futures.TimeoutError:
            errors[name] = f"no answer within {budget_s:g} s"
        except Exception as exc:  # any failure of a source is a gap, never a good value
            text = str(exc) or type(exc).__name__
            errors[name] = redactor.text(text)[:300]
    return Tick(t, readings, errors)  # type: ignore[arg-type]


def run_loop(
    *,
    engine: Engine,
    sources: Mapping[str, Source],
    writer: SamplesWriter,
    duration_s: float,
    interval_s: float,
    redactor: Redactor,
    start_t: float = 0.0,
    clock: Clock = timing,
    on_tick: Callable[[StepResult, Tick], None] = lambda step, tick: None,
    on_alert: Callable[[Alert], None] = lambda alert: None,
) -> LoopResult:
    """Watch from ``start_t`` (0, or where a resumed file ended) to ``duration_s``."""
    origin = clock.monotonic() - start_t
    k = 0
    last_t: float | None = None
    pool = _Pool(sources)
    try:
        while True:
            t = start_t + k * interval_s
            if t > duration_s + _EPS:
                return LoopResult(True, False, last_t)
            wait = origin + t - clock.monotonic()
            if wait > 0:
                clock.sleep(wait)
            elif -wait > interval_s:
                # Fell a whole interval behind (a suspended machine): skip to now; the
                # missed ticks were not sampled, so they are not in the file.
                k += int(-wait // interval_s)
                continue
            budget = min(interval_s, max(0.05, origin + t + interval_s - clock.monotonic()))
            tick = sample_tick(pool, t, budget, redactor, clock)
            writer.append(tick)
            step = engine.step(tick)
            last_t = t
            for alert in step.fired:
                on_alert(alert)
            on_tick(step, tick)
            if step.rollback:
                return LoopResult(True, True, last_t)
            k += 1
    finally:
        pool.close()
