"""Charts of a load run for the HTML report: each gate's figure against its limit, the
latency histogram, and p95, error rate and throughput over the whole run.

Rendered with matplotlib's object API (``Figure``, no pyplot and no global
backend switch), imported only when a chart is drawn: a gate run without a
load test never pays for matplotlib. Each function returns a self-contained
string: inline SVG (no XML prologue, ready to paste into HTML).
"""

from __future__ import annotations

import io
import math
import re
import uuid
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from pytest_fixgate.kinds.load.results import EndpointStats, LoadRun, WindowStats

OVERALL = "Aggregated"  # results.OVERALL, without importing the load package at import time

__all__ = [
    "JudgedFigure",
    "judged_svg",
    "latency_histogram_svg",
    "timeseries_svg",
]

Thresholds = Mapping[str, float] | Sequence[float] | None

_BINS = 60
_THRESHOLD_COLOUR = "#c0392b"
_MEASURED_COLOUR = "#1f4e79"
_BAR_COLOUR = "#7fa7d1"
_BAND_COLOUR = "#9ec3e6"
_SIZE_IN = (6.4, 3.4)


def _labelled(thresholds: Thresholds, default: str) -> list[tuple[str, float]]:
    if thresholds is None:
        return []
    if isinstance(thresholds, Mapping):
        return [(str(k), float(v)) for k, v in thresholds.items()]
    return [(default, float(v)) for v in thresholds]


def _style() -> AbstractContextManager[Any]:
    # deferred: matplotlib loads only when a chart is drawn
    import matplotlib

    return matplotlib.rc_context(
        {
            "svg.fonttype": "none",  # text stays text: smaller, searchable
            "svg.hashsalt": uuid.uuid4().hex,  # unique ids: several charts in one page
            "font.size": 10,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    )


def _figure(width: float = _SIZE_IN[0], height: float = _SIZE_IN[1]) -> Figure:
    # deferred: matplotlib loads only when a chart is drawn
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    text = buf.getvalue()
    text = text[text.index("<svg") :]  # drop the XML prologue and DOCTYPE
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, count=1, flags=re.DOTALL)
    return re.sub(r"<svg ", '<svg style="max-width:100%;height:auto" ', text, count=1)


def _empty(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#666")
    ax.set_xticks([])
    ax.set_yticks([])


# -- axes helpers --------------------------------------------------------------------------


def _plain_log_ticks(ax: Axes, axis: str = "x", low: float = 1.0, high: float = 10.0) -> None:
    """Plain numbers ("200", not "2 x 10^2") at 1-2-5 steps (1-10 over wide spans); no
    labels on minor ticks, so neighbours never run into each other ("20003000")."""
    # deferred: matplotlib loads only when a chart is drawn
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    decades = math.log10(max(high, 1e-9) / max(low, 1e-9)) if low > 0 else 9
    subs = (1.0, 2.0, 5.0) if decades <= 3.5 else (1.0,)
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(LogLocator(base=10, subs=subs))
    target.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:,.6g}"))
    target.set_minor_formatter(NullFormatter())


def _legend_outside(ax: Axes) -> None:
    # Beside the plot, never over the data.
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)


# -- what each gate judges ------------------------------------------------------------------


@dataclass(frozen=True)
class JudgedFigure:
    """One load gate's judged figure, for drawing: its value and interval against its limit.

    ``kind`` is ``"latency"`` (milliseconds) or ``"ratio"`` (a proportion, drawn in %);
    ``low``/``high`` None: no interval; ``high`` infinite: the samples cannot bound it.
    """

    gate: str
    expression: str
    kind: str
    value: float | None
    low: float | None
    high: float | None
    limit: float
    warn: float | None = None


def _draw_judged(fig: Figure, figures: Sequence[JudgedFigure]) -> None:
    groups = [
        (kind, [f for f in figures if f.kind == kind])
        for kind in ("latency", "ratio")
        if any(f.kind == kind for f in figures)
    ]
    heights = [max(1, len(items)) for _, items in groups]
    axes = fig.subplots(len(groups), 1, squeeze=False, height_ratios=heights)[:, 0]
    for ax, (kind, items) in zip(axes, groups, strict=True):
        scale = 100.0 if kind == "ratio" else 1.0
        rows = list(range(len(items)))[::-1]
        open_ended: list[tuple[float, float]] = []  # (row, low): drawn once the axis is set
        limit_labels: list[tuple[float, float, str]] = []  # (x, y, text): likewise
        for y, f in zip(rows, items, strict=True):
            ax.plot(
                [f.limit * scale] * 2, [y - 0.38, y + 0.38], color=_THRESHOLD_COLOUR, linewidth=2.5
            )
            if f.warn is not None:
                ax.plot(
                    [f.warn * scale] * 2,
                    [y - 0.3, y + 0.3],
                    color="#b9770e",
                    linewidth=1.6,
                    linestyle="--",
                )
            limit_labels.append(
                (
                    f.limit * scale,
                    y - 0.38,
                    f"limit {f.limit * scale:,.4g}{'%' if kind == 'ratio' else ' ms'}",
                )
            )
            if f.value is None:
                ax.text(f.limit * scale, y + 0.42, "  not measured", color="#555", va="bottom")
                continue
            low = f.low if f.low is not None else f.value
            high = f.high if f.high is not None and math.isfinite(f.high) else f.value
            if f.high is not None and math.isinf(f.high):
                open_ended.append((y, low * scale))
            ax.plot(
                [low * scale, high * scale],
                [y, y],
                color=_MEASURED_COLOUR,
                linewidth=5,
                alpha=0.45,
                solid_capstyle="butt",
            )
            ax.plot([f.value * scale], [y], "o", color=_MEASURED_COLOUR, markersize=7)
            unit = "%" if kind == "ratio" else " ms"
            ax.annotate(
                f"{f.value * scale:,.4g}{unit}",
                (f.value * scale, y),
                xytext=(0, 7),
                textcoords="offset points",
                ha="center",
                color=_MEASURED_COLOUR,
            )
        ax.set_yticks(rows, [f"{f.gate}\n{f.expression}" for f in items])
        ax.set_ylim(-0.85, len(items) - 0.3)
        values = [
            v * scale
            for f in items
            for v in (f.value, f.low, f.high, f.limit, f.warn)
            if v is not None and math.isfinite(v)
        ]
        if kind == "latency":
            positive = [v for v in values if v > 0] or [1.0]
            low, high = min(positive) / 1.8, max(positive) * 1.8
            ax.set_xscale("log")
            ax.set_xlim(low, high)
            _plain_log_ticks(ax, "x", low, high)
            ax.set_xlabel(
                "milliseconds, log scale: dot = measured, bar = 95% interval, red = limit"
            )
        else:
            ax.set_xlim(0, min(max([*values, 0.5]) * 1.25, 105.0))
            ax.set_xlabel("% of requests: dot = measured, bar = 95% interval, red = limit")
        # A limit label near an end of the axis grows inwards, clear of the spine.
        to_axes = ax.transData + ax.transAxes.inverted()
        for x, y, text in limit_labels:
            where = to_axes.transform((x, y))[0]
            ax.annotate(
                text,
                (x, y),
                xytext=(0, -2),
                textcoords="offset points",
                ha="left" if where < 0.1 else "right" if where > 0.9 else "center",
                va="top",
                color=_THRESHOLD_COLOUR,
                fontsize=9,
            )
        right = ax.get_xlim()[1]
        for y, low in open_ended:
            ax.annotate(
                "",
                xy=(right, y),
                xytext=(low, y),
                arrowprops={"arrowstyle": "->", "color": _MEASURED_COLOUR, "alpha": 0.6},
            )
            ax.text(right, y + 0.1, "no upper bound", ha="right", va="bottom", color="#555")
        ax.grid(axis="x", color="#e5e5e5", linewidth=0.8)
        ax.set_axisbelow(True)
    axes[0].set_title("What each load gate judges, against its limit", loc="left")


def judged_svg(figures: Sequence[JudgedFigure]) -> str:
    """One row per load gate: its measured value and interval, and its limit (red)."""
    rows = len(figures) + sum(1 for k in ("latency", "ratio") if any(f.kind == k for f in figures))
    with _style():
        # deferred: matplotlib loads only when a chart is drawn
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6.4, 1.2 + 0.55 * rows), layout="constrained")
        if figures:
            _draw_judged(fig, figures)
        else:
            _empty(fig.add_subplot(), "no threshold to draw")
        return _svg(fig)


# -- latency histogram -------------------------------------------------------------------


def _draw_histogram(
    fig: Figure, stats: EndpointStats, thresholds: Thresholds, quantiles: Sequence[float]
) -> None:
    # deferred: matplotlib loads only when a chart is drawn
    import numpy as np

    ax = fig.add_subplot()
    buckets = stats.histogram.buckets()
    who = "all endpoints" if stats.name == OVERALL else f"{stats.method} {stats.name}"
    ax.set_title(f"Latency of successful requests, {who} (n={stats.successes:,})", loc="left")
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
        edges = np.geomspace(span_low * 0.9, span_high * 1.1, _BINS + 1)
        ax.set_xscale("log")
        _plain_log_ticks(ax, "x", edges[0], edges[-1])
    else:
        pad = max((span_high - span_low) * 0.05, span_high * 0.005, 0.01)
        edges = np.linspace(span_low - pad, span_high + pad, _BINS + 1)
        # deferred: matplotlib loads only when a chart is drawn
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(nbins=7))
    hist, _ = np.histogram(np.clip(mids, edges[0], edges[-1]), bins=edges, weights=counts)
    ax.bar(
        edges[:-1],
        hist,
        width=np.diff(edges),
        align="edge",
        color=_BAR_COLOUR,
        linewidth=0,
        label="requests",
    )
    styles = ("-", "--", "-.", ":")
    for i, q in enumerate(quantiles):
        estimate = stats.percentile(q)
        if estimate.value_ms is None:
            continue
        right = estimate.high_ms if math.isfinite(estimate.high_ms) else edges[-1]
        ax.axvspan(estimate.low_ms, right, color=_BAND_COLOUR, alpha=0.35, linewidth=0)
        ax.axvline(
            estimate.value_ms,
            color=_MEASURED_COLOUR,
            linestyle=styles[i % len(styles)],
            label=f"p{q * 100:g} {estimate.value_ms:,.1f} ms (95% CI shaded)",
        )
    for label, value in _labelled(thresholds, "threshold"):
        ax.axvline(
            value,
            color=_THRESHOLD_COLOUR,
            linestyle=":",
            linewidth=1.8,
            label=f"{label} threshold {value:g} ms",
        )
    ax.set_xlabel("response time (ms)" + (", log scale" if log else ""))
    ax.set_ylabel("requests")
    _legend_outside(ax)


def _quantiles_of(thresholds: Thresholds) -> tuple[float, ...]:
    found = []
    for label, _ in _labelled(thresholds, ""):
        match = re.fullmatch(r"p\((\d+(?:\.\d+)?)\)", label)
        if match:
            found.append(float(match[1]) / 100)
    return tuple(dict.fromkeys(found)) or (0.95, 0.99)


def latency_histogram_svg(
    run: LoadRun, thresholds_ms: Thresholds = None, quantiles: Sequence[float] | None = None
) -> str:
    """Histogram of the run's successful latencies, with the judged percentiles (and CIs)
    and threshold lines.

    ``thresholds_ms``: ``{"p(95)": 1500, "p(99)": 2500}`` or plain values; the
    percentiles marked are those the thresholds name (default p95 and p99).
    """
    with _style():
        fig = _figure(width=6.4)
        _draw_histogram(fig, run.overall, thresholds_ms, quantiles or _quantiles_of(thresholds_ms))
        return _svg(fig)


# -- p95, error rate and throughput over time ---------------------------------------------


def _points(series: Sequence[WindowStats]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {k: [] for k in ("t", "p95", "lo", "hi", "err")}
    for w in series:
        out["t"].append((w.start_s + w.end_s) / 2)
        p = w.p95
        out["p95"].append(math.nan if p.value_ms is None else p.value_ms)
        out["lo"].append(math.nan if p.value_ms is None else p.low_ms)
        out["hi"].append(math.nan if p.value_ms is None else p.high_ms)
        e = w.error_rate
        out["err"].append(math.nan if e.rate is None else 100 * e.rate)
    return out


def _shade_run_phases(axes: Sequence[Axes], run: LoadRun, end_s: float) -> None:
    """Warm-up, and steps in which no request completed (no data is shown, not hidden).

    Labelled on the error-rate axes, whose legend is always drawn: the latency axes have
    none when no request succeeded, and the shading would go unexplained."""
    step = run.spec.step_s
    seen = {round(w.start_s / step) for w in run.overall.series}
    gaps = [i * step for i in range(math.ceil(end_s / step - 1e-9)) if i not in seen]
    aborted = getattr(run, "aborted", None)
    for n, ax in enumerate(axes):
        if aborted is not None:
            ax.axvline(
                aborted.at_s,
                color="#6e7781",
                linewidth=2,
                linestyle="--",
                label="load stopped early (FAIL certain)" if n == 1 else None,
            )
        if run.spec.warmup_s:
            ax.axvspan(
                0,
                run.spec.warmup_s,
                color="#d9d9d9",
                alpha=0.5,
                linewidth=0,
                label="warm-up (not judged)" if n == 1 else None,
            )
        for i, start in enumerate(gaps):
            ax.axvspan(
                start,
                min(start + step, end_s),
                facecolor="none",
                edgecolor="#999",
                hatch="///",
                linewidth=0,
                label="no request completed" if n == 1 and i == 0 else None,
            )


def _draw_timeseries(
    fig: Figure,
    run: LoadRun,
    latency_thresholds: Thresholds,
    error_rate_threshold: float | None,
) -> None:
    # deferred: matplotlib loads only when a chart is drawn
    import numpy as np

    top, middle, bottom = fig.subplots(3, 1, sharex=True, height_ratios=[3, 2, 1.4])
    series = run.overall.series
    step = run.spec.step_s
    end_s = max([float(run.duration_s), *(w.end_s for w in series)]) or 1.0
    top.set_title(
        f"Over the whole run ({end_s:.0f} s, steps of {step:g} s), all endpoints", loc="left"
    )
    top.set_xlim(0, end_s)
    _shade_run_phases((top, middle, bottom), run, end_s)
    if not series:
        _empty(top, "no request completed")
        _legend_outside(middle)
        middle.set_yticks([])
        bottom.set_yticks([])
        bottom.set_xlabel("seconds since the load started")
        return
    pts = {k: np.array(v, dtype=float) for k, v in _points(series).items()}
    limits = _labelled(latency_thresholds, "threshold")
    finite = [v for v in [*pts["lo"], *pts["p95"], *pts["hi"]] if math.isfinite(v) and v > 0]
    if not finite:
        top.text(
            0.5,
            0.5,
            "no successful request: no latency over time",
            ha="center",
            va="center",
            transform=top.transAxes,
            color="#666",
        )
        top.set_yticks([])
        limits = []
    values = finite + [v for _, v in limits]
    low, high = (min(values) / 1.6, max(values) * 1.6) if values else (1.0, 10.0)
    # An unbounded interval (too few samples in a step) is drawn to the top of the axis.
    hi = np.where(np.isinf(pts["hi"]), high, pts["hi"])
    top.fill_between(
        pts["t"],
        np.maximum(pts["lo"], low),
        hi,
        color=_BAND_COLOUR,
        alpha=0.5,
        linewidth=0,
        label="p95 95% CI",
    )
    top.plot(
        pts["t"],
        pts["p95"],
        marker="o",
        markersize=3,
        color=_MEASURED_COLOUR,
        label=f"p95 per {step:g} s step",
    )
    for w in run.overall.windows:
        if w.p95.value_ms is not None:
            top.hlines(w.p95.value_ms, w.start_s, w.end_s, color="#555", linewidth=2.2)
    if run.overall.windows and run.spec.window_s:
        top.plot(
            [], [], color="#555", linewidth=2.2, label=f"p95 per {run.spec.window_s:g} s window"
        )
    styles = ("--", "-.", ":")
    for i, (label, value) in enumerate(limits):
        match = re.fullmatch(r"p\((\d+(?:\.\d+)?)\)", label)
        if match and float(match[1]) != 95:  # another percentile: its whole-run value
            est = run.overall.percentile(float(match[1]) / 100)
            if est.value_ms is not None:
                top.axhline(
                    est.value_ms,
                    color="#6c3483",
                    linestyle=styles[i % 3],
                    linewidth=1.4,
                    label=f"{label.replace('(', '').replace(')', '')} over the run "
                    f"{est.value_ms:,.1f} ms",
                )
        top.axhline(
            value,
            color=_THRESHOLD_COLOUR,
            linestyle=styles[i % 3],
            linewidth=1.6,
            label=f"{label} threshold {value:g} ms",
        )
    if finite:
        top.set_yscale("log")
        top.set_ylim(low, high)
        _plain_log_ticks(top, "y", low, high)
        top.set_ylabel("ms, log scale")
        _legend_outside(top)

    # Error rate per step as bars; the whole run's rate and interval as a band.
    errors = np.nan_to_num(pts["err"])
    middle.bar(
        pts["t"],
        errors,
        width=step * 0.9,
        color="#c0392b",
        alpha=0.8,
        label=f"error rate per {step:g} s step",
    )
    er = run.overall.error_rate
    ceiling = [float(errors.max()) * 1.15, 1.0]
    if er.rate is not None:
        middle.axhspan(
            100 * er.low,
            100 * er.high,
            color="#f5b7b1",
            alpha=0.55,
            linewidth=0,
            label=f"whole run {100 * er.rate:.2f}% (95% CI {100 * er.low:.2f}-"
            f"{100 * er.high:.2f}%)",
        )
        ceiling.append(100 * er.high * 1.2)
    if error_rate_threshold is not None:
        middle.axhline(
            100 * error_rate_threshold,
            color=_THRESHOLD_COLOUR,
            linestyle=":",
            linewidth=1.8,
            label=f"threshold {100 * error_rate_threshold:g}%",
        )
        ceiling.append(200 * error_rate_threshold)
    limited = [w.rate_limited for w in series]
    if any(limited):
        share = [100 * w.rate_limited / w.requests if w.requests else 0.0 for w in series]
        middle.plot(pts["t"], share, color="#b9770e", linestyle="--", label="rate-limited (429)")
        ceiling.append(max(share) * 1.15)
    middle.set_ylim(0, min(100.0, max(ceiling)) or 1.0)
    middle.set_ylabel("% failed")
    _legend_outside(middle)

    requests = np.array([w.requests / step for w in series])
    failed = np.array([w.failures / step for w in series])
    limited = np.array([w.rate_limited / step for w in series])
    succeeded = requests - failed - limited
    bottom.bar(pts["t"], succeeded, width=step * 0.9, color=_BAR_COLOUR, label="succeeded /s")
    bottom.bar(
        pts["t"],
        failed,
        bottom=succeeded,
        width=step * 0.9,
        color="#c0392b",
        label="failed /s",
    )
    if limited.any():
        bottom.bar(
            pts["t"],
            limited,
            bottom=succeeded + failed,
            width=step * 0.9,
            color="#e0a526",
            label="rate-limited (429) /s",
        )
    bottom.set_ylabel("requests/s")
    bottom.set_xlabel("seconds since the load started")
    _legend_outside(bottom)


def timeseries_svg(
    run: LoadRun,
    p95_threshold_ms: float | None = None,
    error_rate_threshold: float | None = None,
    *,
    latency_thresholds: Thresholds = None,
) -> str:
    """p95 (log scale, with its CI band, per-window values and every latency threshold),
    error rate per step against its limit, and throughput, over the whole run.

    ``error_rate_threshold`` is a proportion (0.01 for 1%); ``latency_thresholds``
    (``{"p(99)": 2500}``) adds further latency limits, with the run's value of each.
    """
    with _style():
        fig = _figure(width=13.0, height=6.6)
        _draw_timeseries(
            fig, run, _merge(p95_threshold_ms, latency_thresholds), error_rate_threshold
        )
        return _svg(fig)


def _merge(p95_threshold_ms: float | None, more: Thresholds) -> dict[str, float]:
    merged = dict(_labelled(more, "threshold"))
    if p95_threshold_ms is not None:
        merged = {"p(95)": float(p95_threshold_ms), **merged}
    return merged
