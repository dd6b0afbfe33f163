"""A load run as evidence: the figures for the JSON verdict, the charts for the HTML report."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_fixgate.config.thresholds import Threshold
    from pytest_fixgate.gate_api import GateRecorder
    from pytest_fixgate.measurements.load import LoadRun

__all__ = ["attach_load_charts", "load_run_summary"]


def load_run_summary(run: LoadRun) -> dict[str, Any]:
    """The run's figures for the verdict: per endpoint and overall, count, failures by kind,
    p50/p95/p99 with intervals, rps, per-window p95; CPU as a summary, not every sample."""
    data = run.as_dict()
    data["cpu"] = {k: v for k, v in data["cpu"].items() if k != "samples"}
    return data


def attach_load_charts(gate: GateRecorder, run: LoadRun, threshold: Threshold) -> None:
    """Charts for this gate's metric, with its threshold drawn, into the HTML report."""
    from pytest_fixgate.reports import charts

    if threshold.metric in ("p", "med", "avg", "min", "max"):
        gate.attach_html(
            "latency histogram",
            charts.latency_histogram_svg(run, {threshold.key: float(threshold.value)}),
        )
        p95 = float(threshold.value) if threshold.key == "p(95)" else None
        gate.attach_html("p95 and error rate over time", charts.timeseries_svg(run, p95, None))
    elif threshold.metric == "error_rate":
        gate.attach_html(
            "p95 and error rate over time",
            charts.timeseries_svg(run, None, float(threshold.value)),
        )
