"""A load run as evidence: the figures for the JSON verdict, one chart set for the HTML report.

Every load gate of a run attaches the same chart set under the same name
(``"load run ..."``); the HTML report draws it once, unfolded, beside the
gates it feeds. It is drawn once per process and reused: matplotlib's cost
is paid once per run, not once per gate.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING, Any

from pytest_fixgate.kinds.load import charts
from pytest_fixgate.kinds.load.charts import JudgedFigure
from pytest_fixgate.reports.html import SHARED_PREFIX

if TYPE_CHECKING:
    from pytest_fixgate.gate_api import GateRecorder
    from pytest_fixgate.kinds.load.charts import JudgedFigure
    from pytest_fixgate.kinds.load.config import LoadCheck
    from pytest_fixgate.kinds.load.results import EndpointStats, LoadRun

__all__ = ["attach_load_charts", "chart_set_name", "load_run_charts", "load_run_summary"]

_LATENCY_METRICS = ("p", "med", "avg", "min", "max")

# The last chart set drawn in this process: (run, name, html). Identity, not equality:
# one LoadRun object is one run.
_drawn: list[tuple[Any, str, str]] = []


def load_run_summary(run: LoadRun) -> dict[str, Any]:
    """The run's figures for the verdict: per endpoint and overall, count, failures by kind,
    p50/p95/p99 with intervals, rps, per-window p95; CPU as a summary, not every sample."""
    data = run.as_dict()
    data["cpu"] = {k: v for k, v in data["cpu"].items() if k != "samples"}
    return data


def chart_set_name(run: LoadRun) -> str:
    """The shared name of a run's chart set: the same for every gate of that run."""
    return f"{SHARED_PREFIX} started {run.started:%Y-%m-%d %H:%M:%S} UTC"


def attach_load_charts(gate: GateRecorder, run: LoadRun, checks: Sequence[LoadCheck]) -> None:
    """Attach the run's chart set (drawn for every load gate of the run) to this gate."""
    if _drawn and _drawn[0][0] is run:
        _, name, html = _drawn[0]
    else:
        name = chart_set_name(run)
        try:
            html = load_run_charts(run, checks)
        except Exception as exc:  # a chart is evidence, not the measurement: never a verdict
            html = (
                f"<p class='missing'>The charts of this run could not be drawn "
                f"({escape(type(exc).__name__)}: {escape(str(exc)[:200])}); "
                "its figures are in the evidence and the JSON.</p>"
            )
        _drawn[:] = [(run, name, html)]
    gate.attach_html(name, html)


def _stats_for(run: LoadRun, check: LoadCheck) -> EndpointStats | None:
    if check.endpoint is None:
        return run.overall
    return next((ep for ep in run.endpoints if ep.name == check.endpoint), None)


def _judged(run: LoadRun, check: LoadCheck) -> JudgedFigure | None:
    """What the gate of ``check`` judges, as drawn: value, interval, limit."""
    threshold = check.threshold
    if not isinstance(threshold.value, int | float) or isinstance(threshold.value, bool):
        return None
    stats = _stats_for(run, check)
    warn = check.warn.value if check.warn is not None else None
    warn_value = float(warn) if isinstance(warn, int | float) else None
    common = {
        "gate": f"load.{check.id}",
        "expression": threshold.text,
        "limit": float(threshold.value),
        "warn": warn_value,
    }
    if threshold.metric == "error_rate":
        er = stats.error_rate if stats is not None else None
        if er is None or er.rate is None:
            return JudgedFigure(kind="ratio", value=None, low=None, high=None, **common)
        return JudgedFigure(kind="ratio", value=er.rate, low=er.low, high=er.high, **common)
    if threshold.metric not in _LATENCY_METRICS:
        return None  # rps, count: a number in the table says it better than a chart
    if stats is None:
        return JudgedFigure(kind="latency", value=None, low=None, high=None, **common)
    if threshold.metric in ("p", "med"):
        q = 0.5 if threshold.metric == "med" else float(threshold.arg or 0) / 100
        est = stats.percentile(q)
        high = est.high_ms  # infinite when the samples cannot bound it: drawn open-ended
        return JudgedFigure(kind="latency", value=est.value_ms, low=est.low_ms, high=high, **common)
    hist = stats.histogram
    value = {"avg": hist.mean_ms, "min": hist.min_ms, "max": hist.max_ms}[threshold.metric]
    return JudgedFigure(kind="latency", value=value, low=None, high=None, **common)


def _figures_table(run: LoadRun) -> str:
    def pct(est: Any) -> str:
        return "" if est.value_ms is None else f"{est.value_ms:,.1f}"

    rows = []
    for stats in (run.overall, *run.endpoints):
        er = stats.error_rate
        name = "all endpoints" if stats is run.overall else f"{stats.method} {stats.name}"
        failures = ", ".join(f"{k} {v}" for k, v in stats.failures.items() if v) or "none"
        rows.append(
            "<tr>"
            + "".join(
                f"<td>{escape(str(c))}</td>"
                for c in (
                    name,
                    stats.requests,
                    failures,
                    stats.rate_limited,
                    "" if er.rate is None else f"{100 * er.rate:.2f}%",
                    pct(stats.p50),
                    pct(stats.p95),
                    pct(stats.p99),
                    f"{stats.rps:.1f}",
                    "" if stats.locust_p95_ms is None else f"{stats.locust_p95_ms:g}",
                )
            )
            + "</tr>"
        )
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "requests to",
            "requests",
            "failures",
            "HTTP 429",
            "error rate",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "req/s",
            # Locust counts failed requests' times too, and rounds them into buckets: not
            # the gates' p95 (successes only, exact), which can be blank beside it.
            "Locust's p95 ms (failures too, rounded)",
        )
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def load_run_charts(run: LoadRun, checks: Sequence[LoadCheck]) -> str:
    """The run's chart set as one HTML fragment: each gate's judged figure against its
    limit, the latency histogram, the run over time, and the figures per endpoint."""
    figures = [f for f in (_judged(run, c) for c in checks) if f is not None]
    overall_latency = {
        c.threshold.key: float(c.threshold.value)
        for c in checks
        if c.endpoint is None
        and c.threshold.metric == "p"
        and isinstance(c.threshold.value, int | float)
    }
    error_limits = [
        float(c.threshold.value)
        for c in checks
        if c.endpoint is None
        and c.threshold.metric == "error_rate"
        and isinstance(c.threshold.value, int | float)
    ]
    spec = run.spec
    what = (
        f"{spec.users} users (spawn {spec.spawn_rate:g}/s) for {spec.duration_s} s against "
        f"{spec.host}, measured {run.duration_s:.1f} s; locustfile {spec.locustfile.name}"
        + (f"; warm-up {spec.warmup_s:g} s not judged" if spec.warmup_s else "")
    )
    warnings = "".join(f"<li>{escape(w)}</li>" for w in run.warnings)
    aborted = getattr(run, "aborted", None)
    if aborted is not None:
        warnings = (
            f"<li><b>Stopped early</b> at {aborted.at_s:.1f} s of {spec.duration_s} s: "
            f"{escape(aborted.reason)}</li>{warnings}"
        )
    return (
        f"<p>{escape(what)}</p>"
        + (f"<ul class='missing'>{warnings}</ul>" if warnings else "")
        + "<div class='charts'>"
        + f"<div>{charts.judged_svg(figures)}</div>"
        + f"<div>{charts.latency_histogram_svg(run, overall_latency or None)}</div>"
        + "</div>"
        + "<div>"
        + charts.timeseries_svg(
            run,
            None,
            min(error_limits) if error_limits else None,
            latency_thresholds=overall_latency or None,
        )
        + "</div>"
        + _figures_table(run)
    )
