"""promtool's unit-test format, evaluated by the watch engine instead of by Prometheus.

A test gives ``input_series`` (``series`` and ``values`` in promtool's
expanding notation: ``1 2 _ 3+1x4 _x2``, one sample every ``interval``)
and ``alert_rule_test`` entries (``eval_time``, ``alertname``, ``exp_alerts``).
The engine is ticked at Prometheus's rule-evaluation times (multiples of
``evaluation_interval``); each tick reads every series' latest sample at or
before it and at most the 5-minute lookback old, as an instant query does.
An alert is expected at an ``eval_time`` when its rule is FIRING at the last
evaluation at or before it, as promtool sees it (pending alerts are not
listed). Series are named by the exported twins (``fixgate:error_rate``,
``fixgate:latency_p95_ms``) or by the watch metric (``error_rate``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pytest_fixgate.rules.series import series_name
from pytest_fixgate.watch.engine import Dist, Engine, Level, Reading, Rule, RuleState, Tick

__all__ = ["LOOKBACK_S", "expand_values", "firing_at", "series_for_rule"]

LOOKBACK_S = 300.0
_EXPANDING = re.compile(r"^(-?[\d.eE+]+?)(?:([+-])([\d.eE]+))?x(\d+)$")


def expand_values(text: str) -> list[float | None]:
    """promtool's ``values``: ``_`` a missing sample, ``a+bxn`` the n+1 values a..a+nb."""
    out: list[float | None] = []
    for token in text.split():
        if token == "_":
            out.append(None)
        elif token.startswith("_x"):
            out.extend([None] * int(token[2:]))
        elif "x" in token:
            match = _EXPANDING.match(token)
            if match is None:
                raise ValueError(f"values: cannot read {token!r}")
            start, sign, step, n = match.groups()
            delta = float(step or 0) * (-1 if sign == "-" else 1)
            out.extend(float(start) + delta * i for i in range(int(n) + 1))
        else:
            try:
                out.append(float(token))
            except ValueError:
                raise ValueError(f"values: cannot read {token!r}") from None
    return out


def series_for_rule(rule: Rule) -> tuple[str, ...]:
    """The input series names a rule reads: its exported twin, and the watch metric."""
    twin = series_name(rule)
    key = "error_rate" if rule.when.metric == "error_rate" else rule.when.key
    return tuple(n for n in (twin, key, rule.when.metric) if n)


@dataclass(frozen=True)
class _Series:
    samples: tuple[tuple[float, float], ...]  # (t, value), ascending

    def at(self, t: float) -> float | None:
        latest = None
        for ts, value in self.samples:
            if ts > t + 1e-9:
                break
            latest = (ts, value)
        # 2.42's lookback includes a sample exactly 5 m old (promtool says so: pinned by
        # the equivalence test's long-gap case; Prometheus 3 excludes it).
        if latest is None or latest[0] < t - LOOKBACK_S - 1e-9:
            return None
        return latest[1]


def _reading(rule: Rule, value: float) -> Reading:
    return Dist((value,)) if rule.when.metric in ("p", "latency") else Level(value)


def firing_at(
    rules: Sequence[Rule],
    input_series: Mapping[str, Sequence[float | None]],
    *,
    interval_s: float,
    evaluation_interval_s: float,
    eval_times: Sequence[float],
) -> dict[float, set[str]]:
    """For each eval time, the ids of the rules FIRING at the last evaluation before it."""
    series = {
        name: _Series(tuple((i * interval_s, v) for i, v in enumerate(values) if v is not None))
        for name, values in input_series.items()
    }
    # One engine per rule: p(95) and p(99) read one latency Dist in the engine, but two
    # series here (the twins); the engine's rules are independent of each other anyway.
    engines = [(rule, Engine([rule])) for rule in rules]
    end = max(eval_times, default=0.0)
    firing: dict[float, set[str]] = {}
    pending = sorted(eval_times)
    k = 0
    while k * evaluation_interval_s <= end + 1e-9:
        t = k * evaluation_interval_s
        now: set[str] = set()
        for rule, engine in engines:
            readings: dict[str, dict[str, Reading]] = {}
            for name in series_for_rule(rule):
                if name in series:
                    value = series[name].at(t)
                    if value is not None:
                        readings[rule.source] = {rule.metric: _reading(rule, value)}
                    break
            engine.step(Tick(t, readings))
            if engine.statuses[rule.id].state is RuleState.FIRING:
                now.add(rule.id)
        next_t = (k + 1) * evaluation_interval_s
        while pending and pending[0] < next_t - 1e-9:
            firing[pending.pop(0)] = set(now)
        k += 1
    return firing
