"""Charts of a load run for the HTML report: latency histogram and p95/error rate over time.

Rendered with matplotlib's object API (``Figure``, no pyplot and no global
backend switch), imported only when a chart is drawn: a gate run without a
load test never pays for matplotlib. Each function returns a self-contained
string: inline SVG (``*_svg``, no XML prologue, ready to paste into HTML)
or a base64 PNG (``*_png``, for ``<img src="data:image/png;base64,...">``).
"""

from __future__ import annotations

import base64
import io
import math
import re
import uuid
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..measurements.load.results import EndpointStats, LoadRun, WindowStats

OVERALL = "Aggregated"  # results.OVERALL, without importing the load package at import time

__all__ = [
    "latency_histogram_png",
    "latency_histogram_svg",
    "timeseries_png",
    "timeseries_svg",
]

Thresholds = Mapping[str, float] | Sequence[float] | None

_BINS = 60
_THRESHOLD_COLOUR = "#c0392b"
_MEASURED_COLOUR = "#1f4e79"
_BAR_COLOUR = "#7fa7d1"
_BAND_COLOUR = "#9ec3e6"
_SIZE_IN = (7.5, 3.2)


def _labelled(thresholds: Thresholds, default: str) -> list[tuple[str, float]]:
    if thresholds is None:
        return []
    if isinstance(thresholds, Mapping):
        return [(str(k), float(v)) for k, v in thresholds.items()]
    return [(default, float(v)) for v in thresholds]


def _style() -> AbstractContextManager[Any]:
    import matplotlib

    return matplotlib.rc_context(
        {
            "svg.fonttype": "none",  # text stays text: smaller, searchable
            "svg.hashsalt": uuid.uuid4().hex,  # unique ids: several charts in one page
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    )


def _figure(rows: int = 1) -> Figure:
    from matplotlib.figure import Figure

    height = _SIZE_IN[1] * (1 if rows == 1 else 0.8 * rows)
    return Figure(figsize=(_SIZE_IN[0], height), layout="constrained")


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    text = buf.getvalue()
    text = text[text.index("<svg") :]  # drop the XML prologue and DOCTYPE
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, count=1, flags=re.DOTALL)
    return re.sub(r"<svg ", '<svg style="max-width:100%;height:auto" ', text, count=1)


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _empty(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#666")
    ax.set_xticks([])
    ax.set_yticks([])


# -- latency histogram -------------------------------------------------------------------


def _plain_log_ticks(ax: Axes) -> None:
    # "200" rather than "2 x 10^2"; minor ticks labelled at 2, 3 and 5 of each decade.
    from matplotlib.ticker import FuncFormatter

    def minor(value: float, _pos: int) -> str:
        lead = round(value / 10 ** math.floor(math.log10(value)), 6) if value > 0 else 0
        return f"{value:g}" if lead in (2, 3, 5) else ""

    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:g}"))
    ax.xaxis.set_minor_formatter(FuncFormatter(minor))


def _draw_histogram(fig: Figure, stats: EndpointStats, thresholds: Thresholds) -> None:
    import numpy as np

    ax = fig.add_subplot()
    buckets = stats.histogram.buckets()
    who = "all endpoints" if stats.name == OVERALL else f"{stats.method} {stats.name}"
    title = f"Latency of successful requests, {who} (n={stats.successes:,})"
    ax.set_title(title, loc="left")
    if not buckets:
        _empty(ax, "no successful request: no latency to show")
        return
    mids = np.array([(lo + hi) / 2 for lo, hi, _ in buckets])
    counts = np.array([n for _, _, n in buckets], dtype=float)
    low, high = max(mids.min(), 1e-3), mids.max()
    limits = [value for _, value in _labelled(thresholds, "threshold")]
    span_low, span_high = low, max([high, *limits])
    log = span_high / span_low > 20  # wide spread: log bins keep the body visible
    if log:
        edges = np.geomspace(span_low * 0.98, span_high * 1.02, _BINS + 1)
        ax.set_xscale("log")
        _plain_log_ticks(ax)
    else:
        pad = max((span_high - span_low) * 0.05, span_high * 0.005, 0.01)
        edges = np.linspace(span_low - pad, span_high + pad, _BINS + 1)
    hist, _ = np.histogram(np.clip(mids, edges[0], edges[-1]), bins=edges, weights=counts)
    ax.bar(edges[:-1], hist, width=np.diff(edges), align="edge", color=_BAR_COLOUR, linewidth=0)
    for q, style in ((0.95, "-"), (0.99, "--")):
        estimate = stats.percentile(q)
        if estimate.value_ms is None:
            continue
        right = estimate.high_ms if math.isfinite(estimate.high_ms) else edges[-1]
        ax.axvspan(estimate.low_ms, right, color=_BAND_COLOUR, alpha=0.35, linewidth=0)
        ax.axvline(
            estimate.value_ms,
            color=_MEASURED_COLOUR,
            linestyle=style,
            label=f"p{q * 100:g} {estimate.value_ms:,.1f} ms (95% CI shaded)",
        )
    for label, value in _labelled(thresholds, "threshold"):
        ax.axvline(
            value,
            color=_THRESHOLD_COLOUR,
            linestyle=":",
            linewidth=1.6,
            label=f"{label} threshold {value:g} ms",
        )
    ax.set_xlabel("response time (ms)" + (", log scale" if log else ""))
    ax.set_ylabel("requests")
    ax.legend(loc="best", fontsize=8, framealpha=0.85)


def latency_histogram_svg(run: LoadRun, thresholds_ms: Thresholds = None) -> str:
    """Histogram of the run's successful latencies, with p95/p99 (and CIs) and threshold lines.

    ``thresholds_ms``: ``{"p(95)": 1500, "p(99)": 2500}`` or plain values.
    """
    with _style():
        fig = _figure()
        _draw_histogram(fig, run.overall, thresholds_ms)
        return _svg(fig)


def latency_histogram_png(run: LoadRun, thresholds_ms: Thresholds = None) -> str:
    """``latency_histogram_svg`` as a base64 PNG."""
    with _style():
        fig = _figure()
        _draw_histogram(fig, run.overall, thresholds_ms)
        return _png(fig)


# -- p95 and error rate over time ---------------------------------------------------------


def _points(series: Sequence[WindowStats]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {k: [] for k in ("t", "p95", "lo", "hi", "err", "elo", "ehi")}
    for w in series:
        out["t"].append((w.start_s + w.end_s) / 2)
        p = w.p95
        out["p95"].append(math.nan if p.value_ms is None else p.value_ms)
        out["lo"].append(math.nan if p.value_ms is None else p.low_ms)
        out["hi"].append(math.nan if p.value_ms is None else p.high_ms)
        e = w.error_rate
        out["err"].append(math.nan if e.rate is None else 100 * e.rate)
        out["elo"].append(math.nan if e.rate is None else 100 * e.low)
        out["ehi"].append(math.nan if e.rate is None else 100 * e.high)
    return out


def _draw_timeseries(
    fig: Figure,
    run: LoadRun,
    p95_threshold_ms: float | None,
    error_rate_threshold: float | None,
) -> None:
    import numpy as np

    top, bottom = fig.subplots(2, 1, sharex=True)
    series = run.overall.series
    top.set_title(f"p95 and error rate over time (steps of {run.spec.step_s:g} s)", loc="left")
    if not series:
        _empty(top, "no requests")
        _empty(bottom, "")
        return
    pts = {k: np.array(v, dtype=float) for k, v in _points(series).items()}
    finite_hi = pts["hi"][np.isfinite(pts["hi"])]
    ceiling = max(
        [*(finite_hi.tolist() or [1.0]), *(p for p in pts["p95"] if math.isfinite(p))]
        + ([p95_threshold_ms * 1.1] if p95_threshold_ms else [])
    )
    # An unbounded interval (too few samples) is drawn to the top of the axis.
    hi = np.where(np.isinf(pts["hi"]), ceiling, pts["hi"])
    top.fill_between(
        pts["t"], pts["lo"], hi, color=_BAND_COLOUR, alpha=0.5, linewidth=0, label="95% CI"
    )
    top.plot(pts["t"], pts["p95"], marker="o", markersize=3, color=_MEASURED_COLOUR, label="p95")
    for w in run.overall.windows:
        if w.p95.value_ms is not None:
            top.hlines(w.p95.value_ms, w.start_s, w.end_s, color="#555", linewidth=2.2, label=None)
    if run.overall.windows:
        top.plot(
            [], [], color="#555", linewidth=2.2, label=f"p95 per {run.spec.window_s:g} s window"
        )
    if p95_threshold_ms is not None:
        top.axhline(
            p95_threshold_ms,
            color=_THRESHOLD_COLOUR,
            linestyle=":",
            linewidth=1.6,
            label=f"threshold {p95_threshold_ms:g} ms",
        )
    top.set_ylim(bottom=0, top=ceiling * 1.05)
    top.set_ylabel("p95 (ms)")
    top.legend(loc="lower right", fontsize=8, frameon=False, ncols=2)

    bottom.fill_between(
        pts["t"],
        pts["elo"],
        pts["ehi"],
        color="#f5b7b1",
        alpha=0.6,
        linewidth=0,
        label="95% Wilson interval",
    )
    bottom.plot(pts["t"], pts["err"], marker="o", markersize=3, color="#922b21", label="error rate")
    if error_rate_threshold is not None:
        bottom.axhline(
            100 * error_rate_threshold,
            color=_THRESHOLD_COLOUR,
            linestyle=":",
            linewidth=1.6,
            label=f"threshold {100 * error_rate_threshold:g}%",
        )
    limited = [w.rate_limited for w in series]
    if any(limited):
        share = [100 * w.rate_limited / w.requests if w.requests else 0.0 for w in series]
        bottom.plot(pts["t"], share, color="#b9770e", linestyle="--", label="rate-limited (429)")
    bottom.set_ylim(bottom=0)
    bottom.set_ylabel("% of requests")
    bottom.set_xlabel("seconds since the load started")
    bottom.legend(loc="upper right", fontsize=8, frameon=False, ncols=2)


def timeseries_svg(
    run: LoadRun,
    p95_threshold_ms: float | None = None,
    error_rate_threshold: float | None = None,
) -> str:
    """p95 (with its CI band and per-window values) and error rate over the run, thresholds drawn.

    ``error_rate_threshold`` is a proportion (0.01 for 1%).
    """
    with _style():
        fig = _figure(rows=2)
        _draw_timeseries(fig, run, p95_threshold_ms, error_rate_threshold)
        return _svg(fig)


def timeseries_png(
    run: LoadRun,
    p95_threshold_ms: float | None = None,
    error_rate_threshold: float | None = None,
) -> str:
    """``timeseries_svg`` as a base64 PNG."""
    with _style():
        fig = _figure(rows=2)
        _draw_timeseries(fig, run, p95_threshold_ms, error_rate_threshold)
        return _png(fig)
