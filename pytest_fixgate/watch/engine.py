"""The watch's rule engine: timestamped samples in, alert states and a decision out.

Pure: no pytest, no I/O, no clock. Time is the ``t`` of each :class:`Tick`
(seconds since the watch started), so the live sampler, the replay of a
samples file and the tests drive the same code with the same results.

Readings (one per source and metric per tick; a missing one is a gap)::

    Rate(bad, total)   error rates: a window is the ratio of sums, never a mean of ratios
    Dist(values)       latencies (ms): p(N) is the nearest-rank quantile of the merged
                       samples; `latency` is their maximum
    Level(value)       a gauge (number or boolean): a window is the mean (booleans: all)
    Count(n)           events in the tick (connection failures): a window is the sum

Rule modes (DESIGN.md "Time rules"), evaluated at every tick:

    window = N         aggregate the trailing N; fires while `when` holds for the
                       aggregate and it has `min_samples`
    for = N            the per-tick condition held at every tick for N (Prometheus
                       `for:`); a false tick resets it; a gap resets it too unless
                       on_no_data = "fire"
    count = K within N fires on the K-th tick whose condition held in the trailing N

No data never fires unless ``on_no_data = "fire"``, and never confirms: a rule
left without data (``"inconclusive"``, the default) makes the watch a HOLD.
"""

from __future__ import annotations

import enum
import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_fixgate.config.thresholds import Threshold

__all__ = [
    "ROLLBACK_SEVERITIES",
    "SEVERITIES",
    "Alert",
    "Count",
    "Dist",
    "Engine",
    "Level",
    "Rate",
    "Reading",
    "Rule",
    "RuleState",
    "RuleStatus",
    "Tick",
    "Transition",
    "WatchConclusion",
    "reading_value",
]

SEVERITIES = ("SEV-1", "SEV-2", "SEV-3", "SEV-4")
#: A fired alert of these severities ends the watch: ROLLBACK.
ROLLBACK_SEVERITIES = frozenset({"SEV-1", "SEV-2"})
_EPS = 1e-9  # tick times are sums of float intervals
#: State changes kept for the alert timeline (the latest ones); alerts are all kept.
TIMELINE_MAX = 1000


@dataclass(frozen=True)
class Rate:
    bad: int
    total: int


@dataclass(frozen=True)
class Dist:
    values: tuple[float, ...]


@dataclass(frozen=True)
class Level:
    value: float | bool


@dataclass(frozen=True)
class Count:
    n: float


Reading = Rate | Dist | Level | Count


@dataclass(frozen=True)
class Tick:
    """One round of sampling: readings by source, then metric; errors by source."""

    t: float
    readings: Mapping[str, Mapping[str, Reading]] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)

    def reading(self, source: str, metric: str) -> Reading | None:
        return self.readings.get(source, {}).get(metric)


class Mode(enum.Enum):
    WINDOW = "window"
    FOR = "for"
    COUNT = "count"


@dataclass(frozen=True)
class Rule:
    """One alert rule; built by :mod:`.rules` from config, or directly in tests."""

    id: str
    severity: str
    when: Threshold
    source: str = "probe"
    window_s: float | None = None
    for_s: float | None = None
    count: int | None = None
    within_s: float | None = None
    min_samples: int = 1
    on_no_data: str = "inconclusive"  # inconclusive | ok | fire

    def __post_init__(self) -> None:
        modes = [self.window_s is not None, self.for_s is not None, self.count is not None]
        if sum(modes) != 1 or (self.count is not None) != (self.within_s is not None):
            raise ValueError(f"rule {self.id}: exactly one of window, for, count+within")

    @property
    def mode(self) -> Mode:
        if self.window_s is not None:
            return Mode.WINDOW
        return Mode.FOR if self.for_s is not None else Mode.COUNT

    @property
    def metric(self) -> str:
        """The reading the rule reads: ``p(N)`` and ``latency`` read the latency samples."""
        return "latency" if self.when.metric == "p" else self.when.metric

    @property
    def rollback(self) -> bool:
        return self.severity in ROLLBACK_SEVERITIES

    @property
    def span_s(self) -> float:
        """How far back the rule looks (its window, for or within)."""
        return float(self.window_s or self.for_s or self.within_s or 0.0)

    def describe(self) -> str:
        if self.mode is Mode.WINDOW:
            how = f"over the trailing {self.window_s:g} s"
        elif self.mode is Mode.FOR:
            how = f"at every tick for {self.for_s:g} s"
        else:
            how = f"on {self.count} ticks within {self.within_s:g} s"
        return f"{self.source}: {self.when.text} {how}"


def reading_value(reading: Reading | None, threshold: Threshold) -> tuple[Any, int]:
    """The value ``threshold`` compares for one reading, and its number of samples.
    ``(None, 0)`` when the reading cannot give one (a gap, no requests)."""
    return _aggregate([reading] if reading is not None else [], threshold)


def _aggregate(readings: list[Reading], threshold: Threshold) -> tuple[Any, int]:
    if not readings:
        return None, 0
    first = readings[0]
    if isinstance(first, Rate):
        bad = sum(r.bad for r in readings if isinstance(r, Rate))
        total = sum(r.total for r in readings if isinstance(r, Rate))
        return (bad / total if total else None), total
    if isinstance(first, Dist):
        values = sorted(v for r in readings if isinstance(r, Dist) for v in r.values)
        if not values:
            return None, 0
        if threshold.metric == "p" and threshold.arg is not None:
            rank = max(1, math.ceil(threshold.arg / 100 * len(values)))
            return values[rank - 1], len(values)
        return values[-1], len(values)
    if isinstance(first, Count):
        return sum(r.n for r in readings if isinstance(r, Count)), len(readings)
    levels = [r.value for r in readings if isinstance(r, Level)]
    if all(isinstance(v, bool) for v in levels):
        return all(levels), len(levels)
    return sum(float(v) for v in levels) / len(levels), len(levels)


class RuleState(enum.Enum):
    OK = "ok"
    PENDING = "pending"
    FIRING = "firing"
    NO_DATA = "no data"


@dataclass(frozen=True)
class RuleStatus:
    """A rule's state after a tick: what it measured and since when it is in this state."""

    rule: str
    state: RuleState
    since: float | None
    value: Any
    samples: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "state": self.state.value,
            "since": self.since,
            "value": self.value,
            "samples": self.samples,
        }


@dataclass(frozen=True)
class Transition:
    t: float
    rule: str
    previous: RuleState
    state: RuleState
    value: Any

    def as_dict(self) -> dict[str, Any]:
        return {
            "t": self.t,
            "rule": self.rule,
            "from": self.previous.value,
            "to": self.state.value,
            "value": self.value,
        }


@dataclass(frozen=True)
class Alert:
    """A rule that fired: the hook ``pytest_fixgate_alert`` receives one."""

    rule: str
    severity: str
    t: float
    value: Any
    threshold: str
    description: str

    @property
    def rollback(self) -> bool:
        return self.severity in ROLLBACK_SEVERITIES

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "t": self.t,
            "value": self.value,
            "threshold": self.threshold,
            "description": self.description,
        }


class _RuleEval:
    """One rule's memory: bounded by its span, never by the number of ticks."""

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self.window: deque[tuple[float, Reading]] = deque()
        self.hits: deque[float] = deque()
        self.pending_since: float | None = None
        self.state = RuleState.OK
        self.since: float | None = None
        self.ticks = 0
        self.data_ticks = 0
        self.answered_ticks = 0  # ticks where the rule's source answered at all
        self.fired = 0

    def step(self, tick: Tick) -> RuleStatus:
        rule = self.rule
        reading = tick.reading(rule.source, rule.metric)
        t = tick.t
        if rule.mode is Mode.WINDOW:
            if reading is not None:
                self.window.append((t, reading))
            while self.window and self.window[0][0] <= t - rule.window_s + _EPS:  # type: ignore[operator]
                self.window.popleft()
            value, samples = _aggregate([r for _, r in self.window], rule.when)
        else:
            value, samples = reading_value(reading, rule.when)
        self.ticks += 1
        if rule.source in tick.readings and rule.source not in tick.errors:
            self.answered_ticks += 1
        cond: bool | None = None
        if value is not None and samples >= rule.min_samples:
            cond = rule.when.holds(value)
            self.data_ticks += 1
        elif rule.on_no_data == "fire":
            cond = True
        elif rule.on_no_data == "ok":
            cond = False
        state = self._advance(t, cond)
        if state is not self.state:
            self.since = t
        if state is RuleState.PENDING and rule.mode is not Mode.WINDOW:
            self.since = self.pending_since if rule.mode is Mode.FOR else self.hits[0]
        self.state = state
        return RuleStatus(rule.id, state, self.since, value, samples)

    def _advance(self, t: float, cond: bool | None) -> RuleState:
        rule = self.rule
        if rule.mode is Mode.WINDOW:
            if cond is None:
                return RuleState.NO_DATA
            return RuleState.FIRING if cond else RuleState.OK
        if rule.mode is Mode.FOR:
            if not cond:
                self.pending_since = None
                return RuleState.NO_DATA if cond is None else RuleState.OK
            if self.pending_since is None:
                self.pending_since = t
            held = t - self.pending_since
            return RuleState.FIRING if held + _EPS >= rule.for_s else RuleState.PENDING  # type: ignore[operator]
        if cond:
            self.hits.append(t)
        while self.hits and self.hits[0] <= t - rule.within_s + _EPS:  # type: ignore[operator]
            self.hits.popleft()
        if len(self.hits) >= rule.count:  # type: ignore[operator]
            return RuleState.FIRING
        if self.hits:
            return RuleState.PENDING
        return RuleState.NO_DATA if cond is None else RuleState.OK

    @property
    def coverage(self) -> float:
        return self.data_ticks / self.ticks if self.ticks else 0.0


@dataclass(frozen=True)
class StepResult:
    t: float
    statuses: tuple[RuleStatus, ...]
    fired: tuple[Alert, ...]  # rules that started firing at this tick
    transitions: tuple[Transition, ...]

    @property
    def rollback(self) -> tuple[Alert, ...]:
        return tuple(a for a in self.fired if a.rollback)


@dataclass(frozen=True)
class WatchConclusion:
    """How a watch ended: ROLLBACK, PROMOTE (with WARN when SEV-3/4 fired) or HOLD."""

    decision: str  # ROLLBACK | PROMOTE | HOLD
    outcome: str  # the watch gate's outcome: FAIL | PASS | WARN | INCONCLUSIVE
    reason: str
    alerts: tuple[Alert, ...]

    @property
    def rollback_alerts(self) -> tuple[str, ...]:
        return tuple(f"{a.rule} ({a.severity})" for a in self.alerts if a.rollback)


class Engine:
    """Evaluates every rule at every tick. Feed ticks in time order with :meth:`step`."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self._rules = {rule.id: _RuleEval(rule) for rule in rules}
        self.alerts: list[Alert] = []
        # The timeline: bounded, so a flapping rule cannot grow memory with the ticks.
        self.transitions: deque[Transition] = deque(maxlen=TIMELINE_MAX)
        self.transitions_dropped = 0
        self.ticks = 0
        self.last_t: float | None = None
        self.statuses: dict[str, RuleStatus] = {}

    @property
    def rules(self) -> list[Rule]:
        return [e.rule for e in self._rules.values()]

    def step(self, tick: Tick) -> StepResult:
        if self.last_t is not None and tick.t <= self.last_t:
            raise ValueError(f"tick at {tick.t} s is not after the last one ({self.last_t} s)")
        self.last_t = tick.t
        self.ticks += 1
        fired: list[Alert] = []
        changes: list[Transition] = []
        for ev in self._rules.values():
            previous = ev.state
            status = ev.step(tick)
            self.statuses[ev.rule.id] = status
            if status.state is not previous:
                changes.append(Transition(tick.t, ev.rule.id, previous, status.state, status.value))
            if status.state is RuleState.FIRING and previous is not RuleState.FIRING:
                ev.fired += 1
                rule = ev.rule
                alert = Alert(
                    rule.id, rule.severity, tick.t, status.value, rule.when.text, rule.describe()
                )
                fired.append(alert)
        self.alerts.extend(fired)
        overflow = len(self.transitions) + len(changes) - TIMELINE_MAX
        self.transitions_dropped += max(0, overflow)
        self.transitions.extend(changes)
        return StepResult(tick.t, tuple(self.statuses.values()), tuple(fired), tuple(changes))

    def coverage(self) -> dict[str, float]:
        """For each rule, the share of ticks where it had data."""
        return {rid: ev.coverage for rid, ev in self._rules.items()}

    def verdict(
        self, *, finished: bool, min_coverage: float = 0.9, expected_ticks: int | None = None
    ) -> WatchConclusion:
        """The watch's decision. ``finished``: the watch reached its end (or a rollback).
        ``expected_ticks``: how many ticks the whole watch is due (its duration over its
        interval); fewer than ``min_coverage`` of them sampled (a suspended sampler, a
        samples file with lines cut out) cannot confirm a release."""
        alerts = tuple(self.alerts)
        rollback = [a for a in alerts if a.rollback]
        if rollback:
            named = ", ".join(f"{a.rule} ({a.severity}) at {a.t:g} s" for a in rollback)
            return WatchConclusion("ROLLBACK", "FAIL", f"alert fired: {named}", alerts)
        if not finished:
            return WatchConclusion(
                "HOLD", "INCONCLUSIVE", f"the watch did not finish ({self.ticks} ticks)", alerts
            )
        if self.ticks == 0 or not self._rules:
            what = "no tick was sampled" if self.ticks == 0 else "no rule was evaluated"
            return WatchConclusion("HOLD", "INCONCLUSIVE", what, alerts)
        if expected_ticks and self.ticks < min_coverage * expected_ticks:
            return WatchConclusion(
                "HOLD",
                "INCONCLUSIVE",
                f"not enough data to confirm the release: {self.ticks} of the "
                f"{expected_ticks} ticks due were sampled",
                alerts,
            )
        blind = [
            f"{rid} had data at {ev.data_ticks} of {ev.ticks} ticks"
            for rid, ev in self._rules.items()
            if ev.rule.on_no_data == "inconclusive" and ev.coverage < min_coverage
        ]
        # on_no_data = "ok"/"fire" covers a source that answered without the metric
        # (no requests); a source that could not be sampled measured nothing.
        blind += [
            f"{rid}: source {ev.rule.source} answered at {ev.answered_ticks} of {ev.ticks} ticks"
            for rid, ev in self._rules.items()
            if ev.rule.on_no_data != "inconclusive" and ev.answered_ticks < min_coverage * ev.ticks
        ]
        if blind or not any(ev.data_ticks for ev in self._rules.values()):
            why = "; ".join(blind) or "no rule had data"
            return WatchConclusion(
                "HOLD", "INCONCLUSIVE", f"not enough data to confirm the release: {why}", alerts
            )
        warned = [a for a in alerts if not a.rollback]
        if warned:
            named = ", ".join(f"{a.rule} ({a.severity})" for a in warned)
            return WatchConclusion("PROMOTE", "WARN", f"confirmed with warnings: {named}", alerts)
        return WatchConclusion(
            "PROMOTE",
            "PASS",
            f"no alert fired in {self.ticks} ticks ({len(self._rules)} rules)",
            alerts,
        )
