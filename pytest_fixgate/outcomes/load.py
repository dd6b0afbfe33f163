"""Judging a load run's figures against threshold expressions, honestly.

A threshold is decided on a confidence interval, not a point: when the
limit lies inside the interval the gate is INCONCLUSIVE. Before any number
is judged, the run must be trustworthy: enough samples, no HTTP 429 (the
target refused part of the load), and, for latencies, a load generator
that was not itself CPU-bound.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_fixgate.config.thresholds import MetricKind, Threshold
from pytest_fixgate.outcomes.model import Evidence, Finding, Outcome

if TYPE_CHECKING:
    from pytest_fixgate.measurements.load.results import EndpointStats, LoadRun

__all__ = ["judge_load_threshold", "missing_endpoint"]

_RATE_LIMIT_ADVICE = (
    "lower users or the request rate (the real application allows 120 requests/min "
    "per client IP on health routes)"
)


def _pct(x: float) -> str:
    return f"{x * 100:.2f}%"


def _quantile(threshold: Threshold) -> float | None:
    if threshold.metric == "p" and threshold.arg is not None:
        return threshold.arg / 100
    if threshold.metric == "med":
        return 0.5
    return None


def _verdict(threshold: Threshold, verdict: bool | None) -> Outcome:
    if verdict is None:
        return Outcome.INCONCLUSIVE
    return Outcome.PASS if verdict else Outcome.FAIL


def judge_load_threshold(
    threshold: Threshold,
    stats: EndpointStats,
    run: LoadRun,
    *,
    min_samples: int,
    warn: Threshold | None = None,
) -> Finding:
    """One threshold against one endpoint's (or the overall) figures."""
    details: dict[str, Any] = {
        "endpoint": stats.name,
        "requests": stats.requests,
        "successes": stats.successes,
        "failures": {"total": stats.failures_total, **dict(stats.failures)},
        "rate_limited": stats.rate_limited,
        "cpu": {"saturated": run.cpu.saturated, "peak_5s_pct": run.cpu.peak_rolling_pct},
    }
    method = (
        f"{run.spec.describe()}; every request's own response time recorded in the load "
        "process (HdrHistogram, 0.1% resolution), order-statistic 95% intervals for "
        "percentiles, Wilson 95% intervals for error rates"
    )

    def finding(outcome: Outcome, reason: str, measured: str | None = None, **more: Any) -> Finding:
        return Finding(
            outcome,
            Evidence(
                reason=reason,
                measured=measured,
                threshold=str(threshold),
                samples=stats.requests,
                method=method,
                details={**details, **more},
            ),
        )

    if stats.requests == 0:
        return finding(Outcome.ERROR, f"the load run made no request to {stats.name}")
    if stats.rate_limited:
        return finding(
            Outcome.INCONCLUSIVE,
            f"rate-limited: {stats.rate_limited} of {stats.requests} requests got HTTP 429, "
            f"so the target did not serve the load it was given; {_RATE_LIMIT_ADVICE}",
        )
    if stats.requests < min_samples:
        return finding(
            Outcome.INCONCLUSIVE,
            f"only {stats.requests} requests, fewer than min_samples = {min_samples}",
        )
    quantile = _quantile(threshold)
    if quantile is not None:
        return _judge_quantile(threshold, quantile, stats, run, warn, finding)
    if threshold.metric == "error_rate":
        er = stats.error_rate
        verdict = threshold.holds_for_interval(er.low, er.high)
        measured = f"{_pct(er.rate or 0.0)} (95% CI {_pct(er.low)} to {_pct(er.high)})"
        outcome = _verdict(threshold, verdict)
        kinds = ", ".join(f"{k} {v}" for k, v in stats.failures.items() if v) or "none"
        if outcome is Outcome.INCONCLUSIVE:
            reason = (
                f"the limit {threshold.format(threshold.value)} lies inside the 95% "
                f"interval of the error rate; run longer to decide"
            )
        else:
            reason = (
                f"{er.failures} of {er.total} requests failed ({kinds}); "
                f"{'within' if verdict else 'over'} the limit"
            )
        return _with_warn(
            finding(outcome, reason, measured, error_rate=er.as_dict()),
            warn,
            (er.low, er.high),
            measured,
        )
    if threshold.metric in ("avg", "min", "max"):
        hist = stats.histogram
        value = {"avg": hist.mean_ms, "min": hist.min_ms, "max": hist.max_ms}[threshold.metric]
        if value is None:
            return finding(Outcome.INCONCLUSIVE, "no successful request to time")
        if threshold.kind is MetricKind.DURATION and _untrusted_generator(run):
            return _saturated(run, finding)
        measured = threshold.format(value)
        ok = threshold.holds(value)
        return _with_warn(
            finding(
                Outcome.PASS if ok else Outcome.FAIL,
                f"{threshold.metric} {measured} "
                f"{'within' if ok else 'outside'} the limit (point value)",
                measured,
            ),
            warn,
            (value, value),
            measured,
        )
    if threshold.metric in ("rps", "count"):
        value = stats.rps if threshold.metric == "rps" else float(stats.requests)
        measured = threshold.format(value)
        ok = threshold.holds(value)
        return _with_warn(
            finding(
                Outcome.PASS if ok else Outcome.FAIL,
                f"{threshold.metric} {measured} {'within' if ok else 'outside'} the limit",
                measured,
            ),
            warn,
            (value, value),
            measured,
        )
    return finding(Outcome.ERROR, f"{threshold.key} has no meaning for a load run")


def _untrusted_generator(run: LoadRun) -> bool:
    """Saturated, or never measured: latencies can only be trusted from a generator
    whose CPU was seen to have room."""
    return run.cpu.saturated or run.cpu.peak_rolling_pct is None


def _saturated(run: LoadRun, finding: Any) -> Finding:
    if run.cpu.peak_rolling_pct is None:
        return finding(
            Outcome.INCONCLUSIVE,
            "the load generator's CPU was never sampled, so its latencies cannot be "
            "told apart from its own queueing; run the load for longer than a second",
        )
    peak = run.cpu.peak_rolling_pct
    warned = ", Locust warned" if run.cpu.locust_warning else ""
    return finding(
        Outcome.INCONCLUSIVE,
        f"the load generator itself was CPU-bound (peak {peak:.0f}% of a core over 5 s"
        f"{warned}): its latencies include its own queueing; use fewer users or "
        "--gate-load-workers",
    )


def _judge_quantile(
    threshold: Threshold,
    q: float,
    stats: EndpointStats,
    run: LoadRun,
    warn: Threshold | None,
    finding: Any,
) -> Finding:
    est = stats.percentile(q)
    if est.value_ms is None:
        return finding(Outcome.INCONCLUSIVE, "no successful request to time")
    locust = (
        f"; Locust's own bucketed p95 reads {stats.locust_p95_ms:g} ms"
        if q == 0.95 and stats.locust_p95_ms is not None
        else ""
    )
    measured = f"{threshold.format(est.value_ms)} (95% CI {est.low_ms:.1f} to {est.high_ms:.1f} ms)"
    extra = {"estimate": est.as_dict(), "locust_p95_ms": stats.locust_p95_ms}
    if _untrusted_generator(run):
        return _saturated(run, finding)
    if not est.bounded:
        return finding(
            Outcome.INCONCLUSIVE,
            f"{est.n} successful requests cannot bound {threshold.key} at 95%",
            measured,
            **extra,
        )
    verdict = threshold.holds_for_interval(est.low_ms, est.high_ms)
    if verdict is None:
        return finding(
            Outcome.INCONCLUSIVE,
            f"the limit lies inside the 95% interval of {threshold.key} "
            f"[{est.low_ms:.1f}, {est.high_ms:.1f}] ms: the data cannot decide; "
            f"run longer{locust}",
            measured,
            **extra,
        )
    if not verdict:
        return finding(
            Outcome.FAIL,
            f"{threshold.key} {est.value_ms:.1f} ms is over the limit "
            f"(the whole 95% interval is){locust}",
            measured,
            **extra,
        )
    # "For N minutes": with a window, the quantile must hold in every window too.
    if q == 0.95 and run.spec.window_s and stats.windows:
        bad, unsure = [], []
        for w in stats.windows:
            span = f"{w.start_s:.0f}-{w.end_s:.0f} s"
            if not w.p95.bounded:
                unsure.append(f"{span} ({w.p95.n} samples)")
                continue
            v = threshold.holds_for_interval(w.p95.low_ms, w.p95.high_ms)
            if v is False:
                bad.append(f"{span}: p95 {w.p95.value_ms:.1f} ms")
            elif v is None:
                unsure.append(f"{span} (p95 {w.p95.value_ms:.1f} ms, interval spans the limit)")
        extra["windows"] = [w.as_dict() for w in stats.windows]
        if bad:
            return finding(
                Outcome.FAIL,
                f"{threshold.key} holds overall but not in every "
                f"{run.spec.window_s:g} s window: {'; '.join(bad)}",
                measured,
                **extra,
            )
        if unsure:
            return finding(
                Outcome.INCONCLUSIVE,
                f"{threshold.key} holds overall, but these "
                f"windows cannot be decided: {'; '.join(unsure)}",
                measured,
                **extra,
            )
    result = finding(
        Outcome.PASS,
        f"{threshold.key} {est.value_ms:.1f} ms is within the limit "
        f"(the whole 95% interval is){locust}",
        measured,
        **extra,
    )
    return _with_warn(result, warn, (est.low_ms, est.high_ms), measured)


def _with_warn(
    result: Finding, warn: Threshold | None, interval: tuple[float, float], measured: str
) -> Finding:
    """A PASS outside the warning band (or not surely inside it) becomes WARN."""
    if warn is None or result.outcome is not Outcome.PASS:
        return result
    if warn.holds_for_interval(*interval) is True:
        return result
    ev = result.evidence
    return Finding(
        Outcome.WARN,
        Evidence(
            reason=f"within the limit, but not surely inside the warning band {warn}: {ev.reason}",
            measured=measured,
            threshold=ev.threshold,
            samples=ev.samples,
            method=ev.method,
            details={**ev.details, "warn": str(warn)},
        ),
    )


def missing_endpoint(name: str, run: LoadRun) -> Finding:
    """A per-endpoint threshold whose endpoint the load never hit: it cannot be measured."""
    seen = ", ".join(sorted({ep.name for ep in run.endpoints})) or "none"
    return Finding.error(
        f"the load run made no request named {name!r} (requests seen: {seen}); "
        "check the endpoint name in [load.endpoints] against the locustfile",
        method=run.spec.describe(),
    )
