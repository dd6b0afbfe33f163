"""The watch's evidence: per-metric time series, the alert timeline, and an HTML fragment.

Built at the end from the samples file (not from memory: the engine keeps
only its rules' windows), downsampled to at most :data:`MAX_POINTS` points
per metric so a long watch stays a small report. Each chart draws the
thresholds of the rules on its metric and shades the spans where one of
them was pending (amber) or firing (red).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pytest_fixgate.config.thresholds import MetricKind
from pytest_fixgate.watch.engine import Count, Dist, Engine, Rate, Reading, Rule
from pytest_fixgate.watch.samples import iter_ticks

__all__ = ["MAX_POINTS", "series_from_file", "watch_html"]

MAX_POINTS = 240
# How to print a metric no rule reads (a rule's own threshold says it otherwise).
_KINDS = {
    "error_rate": MetricKind.RATIO,
    "rate_limited": MetricKind.RATIO,
    "payment_failure_rate": MetricKind.RATIO,
    "latency": MetricKind.DURATION,
}


def _point(reading: Reading) -> float | None:
    if isinstance(reading, Rate):
        return reading.bad / reading.total if reading.total else None
    if isinstance(reading, Dist):
        return max(reading.values) if reading.values else None
    if isinstance(reading, Count):
        return float(reading.n)
    return float(reading.value)


def series_from_file(path: Path) -> dict[str, list[list[float | None]]]:
    """``{"probe.error_rate": [[t, value], ...]}``; a gap is ``[t, None]``."""
    series: dict[str, list[list[float | None]]] = {}
    sources: set[str] = set()
    for tick in iter_ticks(path):
        sources.update(tick.readings)
        sources.update(tick.errors)
        for src, metrics in tick.readings.items():
            for metric, reading in metrics.items():
                series.setdefault(f"{src}.{metric}", []).append([tick.t, _point(reading)])
        for src in tick.errors:
            for key in [k for k in series if k.startswith(f"{src}.")]:
                series[key].append([tick.t, None])
    return {key: _downsample(points) for key, points in series.items()}


def _downsample(points: list[list[float | None]]) -> list[list[float | None]]:
    if len(points) <= MAX_POINTS:
        return points
    step = len(points) / MAX_POINTS
    # Keep the worst (largest) value of each bucket: a spike must survive downsampling.
    out = []
    for i in range(MAX_POINTS):
        bucket = points[int(i * step) : int((i + 1) * step)] or [points[-1]]
        values = [p[1] for p in bucket if p[1] is not None]
        out.append([bucket[0][0], max(values) if values else None])
    return out


def spans(engine: Engine, end_t: float) -> dict[str, list[tuple[float, float, str]]]:
    """Per rule, the ``(start, end, state)`` spans it was pending or firing."""
    out: dict[str, list[tuple[float, float, str]]] = {}
    open_: dict[str, tuple[float, str]] = {}
    for tr in engine.transitions:
        if tr.rule in open_:
            start, state = open_.pop(tr.rule)
            out.setdefault(tr.rule, []).append((start, tr.t, state))
        if tr.state.value in ("pending", "firing"):
            open_[tr.rule] = (tr.t, tr.state.value)
    for rule, (start, state) in open_.items():
        out.setdefault(rule, []).append((start, end_t, state))
    return out


def _fmt(value: float | None, kind: MetricKind | None) -> str:
    if value is None:
        return "gap"
    if kind is MetricKind.RATIO:
        return f"{value * 100:.2f}%"
    if kind is MetricKind.DURATION:
        return f"{value:.0f} ms"
    return f"{value:g}"


def _chart(
    key: str,
    points: Sequence[Sequence[float | None]],
    rules: Sequence[Rule],
    shaded: Iterable[tuple[float, float, str]],
    duration_s: float,
) -> str:
    width, height, pad = 640, 140, 30
    values = [p[1] for p in points if p[1] is not None]
    limits = [float(r.when.value) for r in rules if isinstance(r.when.value, int | float)]
    top = max([*values, *limits, 1e-9]) * 1.1
    t_end = max(duration_s, max((p[0] or 0.0 for p in points), default=0.0), 1e-9)

    def x(t: float) -> float:
        return pad + (width - 2 * pad) * t / t_end

    def y(v: float) -> float:
        return height - pad + (-(height - 2 * pad)) * v / top

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{html.escape(key)}">'
        f'<rect x="{pad}" y="{pad}" width="{width - 2 * pad}" height="{height - 2 * pad}" '
        'fill="none" stroke="#ccc"/>'
    ]
    for start, end, state in shaded:
        colour = "#f8d7da" if state == "firing" else "#fff3cd"
        parts.append(
            f'<rect x="{x(start):.1f}" y="{pad}" width="{max(4.0, x(end) - x(start)):.1f}" '
            f'height="{height - 2 * pad}" fill="{colour}"><title>{state}</title></rect>'
        )
    for limit, rule in zip(limits, rules, strict=False):
        parts.append(
            f'<line x1="{pad}" x2="{width - pad}" y1="{y(limit):.1f}" y2="{y(limit):.1f}" '
            f'stroke="#c00" stroke-dasharray="4 3"><title>{html.escape(rule.id)}: '
            f"{html.escape(rule.when.text)}</title></line>"
        )
    path: list[str] = []
    for t, v in points:
        if v is None or t is None:
            if path:
                parts.append(_polyline(path))
            path = []
            continue
        path.append(f"{x(t):.1f},{y(v):.1f}")
    if path:
        parts.append(_polyline(path))
    kind = rules[0].when.kind if rules else _KINDS.get(key.partition(".")[2])
    peak = f"max {_fmt(max(values), kind)}" if values else "no data"
    parts.append(
        f'<text x="{width - pad}" y="{pad - 8}" font-size="10" text-anchor="end">'
        f"{html.escape(peak)}</text>"
        f'<text x="{pad}" y="{pad - 8}" font-size="12">{html.escape(key)}</text>'
        f'<text x="{width - pad}" y="{height - 8}" font-size="10" text-anchor="end">'
        f"{t_end:g} s</text></svg>"
    )
    return "".join(parts)


def _polyline(points: list[str]) -> str:
    if len(points) == 1:
        cx, cy = points[0].split(",")
        return f'<circle cx="{cx}" cy="{cy}" r="2" fill="#0366d6"/>'
    return f'<polyline fill="none" stroke="#0366d6" points="{" ".join(points)}"/>'


def watch_html(
    details: dict[str, Any],
    engine: Engine,
    series: dict[str, list[list[float | None]]],
    duration_s: float,
) -> str:
    """The HTML fragment for the report: one chart per metric, then the alert timeline."""
    end_t = engine.last_t or 0.0
    shaded = spans(engine, end_t)
    parts = ['<div class="fixgate-watch">']
    for key, points in sorted(series.items()):
        source, _, metric = key.partition(".")
        rules = [r for r in engine.rules if r.source == source and r.metric == metric]
        spans_here = [s for r in rules for s in shaded.get(r.id, ())]
        parts.append(_chart(key, points, rules, spans_here, duration_s))
    rows = "".join(
        f"<tr><td>{tr['t']:g} s</td><td>{html.escape(tr['rule'])}</td>"
        f"<td>{html.escape(tr['from'])} &rarr; {html.escape(tr['to'])}</td>"
        f"<td>{html.escape(str(tr['value']))}</td></tr>"
        for tr in details.get("timeline", [])
    )
    parts.append(
        "<table><caption>Alert timeline</caption><tr><th>t</th><th>rule</th>"
        f"<th>state</th><th>value</th></tr>{rows or '<tr><td colspan=4>no change</td></tr>'}"
        "</table></div>"
    )
    return "".join(parts)
