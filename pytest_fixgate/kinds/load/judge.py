"""Judging a load run's figures against threshold expressions, honestly.

A threshold is decided on a confidence interval, not a point: when the
limit lies inside the interval the gate is INCONCLUSIVE. The order of the
rules:

1. A proven failure is FAIL, whatever the sample count: an interval (Wilson
   for an error rate, order statistics for a percentile, censored requests
   counted at their lower bound) wholly on the failing side. The one
   exception: a latency measured by a load generator that was itself
   CPU-bound (or never sampled) is not trusted either way (INCONCLUSIVE).
2. A latency gate cannot PASS while failures are over the run's error-rate
   limit (``error_limit``, the table's ``error_rate`` threshold, by default
   the runbook's 1%): the latency of the answers that came back is not the
   service's latency. FAIL when the error rate is proven over the limit,
   INCONCLUSIVE when its point is over but its interval reaches below.
3. With ``window``, the p95 must hold in every window: a window proven over
   the limit FAILs; a window where no request ended (a hang) or none
   succeeded is no data, and no data is not a pass (INCONCLUSIVE).
4. Only a would-be PASS (or an undecided interval) is then held back, to
   INCONCLUSIVE: HTTP 429 (the target refused part of the load), fewer than
   ``min_samples`` requests, a load run stopped early (abort on fail) that
   this gate needed in full, remote workers lost mid-run (their requests and
   failures are missing).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pytest_fixgate.config.thresholds import MetricKind, Threshold
from pytest_fixgate.measurements.stats import LatencyHistogram
from pytest_fixgate.outcomes.model import Evidence, Finding, Outcome

if TYPE_CHECKING:
    from pytest_fixgate.kinds.load.results import EndpointStats, LoadRun
    from pytest_fixgate.measurements.stats import PercentileEstimate

__all__ = ["endpoint_stats", "judge_load_threshold", "missing_endpoint"]

_RATE_LIMIT_ADVICE = (
    "lower users or the request rate (the real application allows 120 requests/min "
    "per client IP on health routes)"
)

_FindingMaker = Callable[..., Finding]


def _pct(x: float) -> str:
    return f"{x * 100:.2f}%"


def _quantile(threshold: Threshold) -> float | None:
    if threshold.metric == "p" and threshold.arg is not None:
        return threshold.arg / 100
    if threshold.metric == "med":
        return 0.5
    return None


def _bound(ms: float) -> str:
    return "unbounded" if ms == float("inf") else f"{ms:.1f}"


def judge_load_threshold(
    threshold: Threshold,
    stats: EndpointStats,
    run: LoadRun,
    *,
    min_samples: int,
    warn: Threshold | None = None,
    error_limit: Threshold | None = None,
) -> Finding:
    """One threshold against one endpoint's (or the overall) figures.

    ``error_limit`` is the error-rate threshold latency gates are held to
    (rule 2 of the module docstring); None leaves latency gates alone.
    """
    details: dict[str, Any] = {
        "endpoint": stats.name,
        "requests": stats.requests,
        "successes": stats.successes,
        "failures": {"total": stats.failures_total, **dict(stats.failures)},
        "rate_limited": stats.rate_limited,
        "cpu": {"saturated": run.cpu.saturated, "peak_5s_pct": run.cpu.peak_rolling_pct},
    }
    if run.aborted is not None:
        details["aborted"] = run.aborted.as_dict()
    method = (
        f"{run.spec.describe()}; every request's own response time recorded in the load "
        "process (HdrHistogram, 0.1% resolution), order-statistic 95% intervals for "
        "percentiles (timed-out and unfinished requests at their elapsed time, a lower "
        "bound), Wilson 95% intervals for error rates"
    )

    def finding(outcome: Outcome, reason: str, measured: str | None = None, **more: Any) -> Finding:
        if run.aborted is not None and outcome is Outcome.FAIL:
            reason += f" (the load run stopped early at {run.aborted.at_s:.1f} s: FAIL certain)"
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
    quantile = _quantile(threshold)
    if quantile is not None:
        result = _judge_quantile(threshold, quantile, stats, run, error_limit, finding)
    elif threshold.metric == "error_rate":
        result = _judge_error_rate(threshold, stats, finding)
    elif threshold.metric in ("avg", "min", "max", "rps", "count"):
        result = _judge_point(threshold, stats, run, error_limit, finding)
    else:
        return finding(Outcome.ERROR, f"{threshold.key} has no meaning for a load run")
    result = _held_back(result, stats, run, min_samples)
    if result.outcome is Outcome.PASS and warn is not None:
        return _with_warn(result, warn)
    return result


def _held_back(result: Finding, stats: EndpointStats, run: LoadRun, min_samples: int) -> Finding:
    """Rule 4: a would-be PASS (or undecided) without enough trustworthy evidence."""
    if result.outcome not in (Outcome.PASS, Outcome.INCONCLUSIVE):
        return result
    ev = result.evidence
    reason = None
    if ev.details.get("decided_by_generator") and not stats.rate_limited:
        return result  # its own reason says what to change; a 429 says it first
    if stats.rate_limited:
        reason = (
            f"rate-limited: {stats.rate_limited} of {stats.requests} requests got HTTP 429, "
            f"so the target did not serve the load it was given; {_RATE_LIMIT_ADVICE}"
        )
    elif run.aborted is not None:
        reason = (
            f"the load run stopped early at {run.aborted.at_s:.1f} s of {run.spec.duration_s} s "
            f"({run.aborted.reason}); this gate needed the full duration"
        )
    elif run.lost_workers:
        reason = (
            f"{len(run.lost_workers)} remote Locust worker(s) lost mid-run "
            f"({', '.join(run.lost_workers)}): their requests and failures are missing "
            "from the figures"
        )
    elif stats.requests < min_samples:
        reason = f"only {stats.requests} requests, fewer than min_samples = {min_samples}"
    if reason is None:
        return result
    return Finding(
        Outcome.INCONCLUSIVE,
        Evidence(
            reason=reason,
            measured=ev.measured,
            threshold=ev.threshold,
            samples=ev.samples,
            method=ev.method,
            details={**ev.details, "would_be": result.outcome.value},
        ),
    )


def _judge_error_rate(
    threshold: Threshold, stats: EndpointStats, finding: _FindingMaker
) -> Finding:
    er = stats.error_rate
    measured = f"{_pct(er.rate or 0.0)} (95% CI {_pct(er.low)} to {_pct(er.high)})"
    if er.total == 0:
        return finding(Outcome.INCONCLUSIVE, "every request was rate-limited: no error rate")
    verdict = threshold.holds_for_interval(er.low, er.high)
    kinds = ", ".join(f"{k} {v}" for k, v in stats.failures.items() if v) or "none"
    if verdict is None:
        reason = (
            f"the limit {threshold.format(threshold.value)} lies inside the 95% "
            f"interval of the error rate ({er.failures} of {er.total} failed); run longer to decide"
        )
        return finding(Outcome.INCONCLUSIVE, reason, measured, error_rate=er.as_dict())
    reason = (
        f"{er.failures} of {er.total} requests failed ({kinds}); the whole 95% interval is "
        f"{'within' if verdict else 'over'} the limit"
    )
    outcome = Outcome.PASS if verdict else Outcome.FAIL
    return finding(outcome, reason, measured, error_rate=er.as_dict(), interval=[er.low, er.high])


def _judge_point(
    threshold: Threshold,
    stats: EndpointStats,
    run: LoadRun,
    error_limit: Threshold | None,
    finding: _FindingMaker,
) -> Finding:
    if threshold.metric in ("rps", "count"):
        value: float | None = stats.rps if threshold.metric == "rps" else float(stats.requests)
        note = ""
    else:
        hist = stats.histogram
        value = {"avg": hist.mean_ms, "min": hist.min_ms, "max": hist.max_ms}[threshold.metric]
        failing = _failures_over_limit(stats, error_limit)  # rule 2, as for percentiles
        if failing is not None and failing[0] is Outcome.FAIL:
            shown = "no latency" if value is None else threshold.format(value)
            return finding(Outcome.FAIL, failing[1], shown)
        if value is None:
            return finding(Outcome.INCONCLUSIVE, "no successful request to time")
        if threshold.kind is MetricKind.DURATION and _untrusted_generator(run):
            return _saturated(run, finding)
        if stats.censored.count:
            return _judge_censored_point(threshold, stats, value, finding)
        if failing is not None and threshold.holds(value):
            return finding(Outcome.INCONCLUSIVE, failing[1], threshold.format(value))
        note = " (point value)"
    measured = threshold.format(value)
    ok = threshold.holds(value)
    return finding(
        Outcome.PASS if ok else Outcome.FAIL,
        f"{threshold.metric} {measured} {'within' if ok else 'outside'} the limit{note}",
        measured,
        interval=[value, value],
    )


def _judge_censored_point(
    threshold: Threshold, stats: EndpointStats, value: float, finding: _FindingMaker
) -> Finding:
    """avg/min/max with timed-out or unfinished requests, whose latency is known only from
    below: over all requests at their elapsed time the figure is a lower bound; the
    successes' min is also an upper bound of the true min, avg and max have none."""
    merged = LatencyHistogram.merged([stats.histogram, stats.censored])
    metric = threshold.metric
    low = {"avg": merged.mean_ms, "min": merged.min_ms, "max": merged.max_ms}[metric]
    assert low is not None  # merged holds the successes
    high = value if metric == "min" else float("inf")
    verdict = threshold.holds_for_interval(low, high)
    n = stats.censored.count
    measured = (
        f"at least {threshold.format(low)}"
        if high == float("inf")
        else f"{threshold.format(low)} to {threshold.format(high)}"
    )
    what = f"{n} timed-out or unfinished requests counted at their elapsed time (a lower bound)"
    interval = [low, None if high == float("inf") else high]
    if verdict is None:
        return finding(
            Outcome.INCONCLUSIVE,
            f"{metric} is not bounded on the limit's side: {what}",
            measured,
            interval=interval,
            censored=n,
        )
    ok = "within" if verdict else "outside"
    return finding(
        Outcome.PASS if verdict else Outcome.FAIL,
        f"{metric} {ok} the limit whatever the latency of the {what}",
        measured,
        interval=interval,
        censored=n,
    )


def _untrusted_generator(run: LoadRun) -> bool:
    """Saturated, or never measured: latencies can only be trusted from a generator
    whose CPU was seen to have room."""
    return run.cpu.saturated or run.cpu.peak_rolling_pct is None or bool(run.lost_workers)


def _saturated(run: LoadRun, finding: _FindingMaker) -> Finding:
    if run.lost_workers:
        return finding(
            Outcome.INCONCLUSIVE,
            f"{len(run.lost_workers)} remote Locust worker(s) lost mid-run "
            f"({', '.join(run.lost_workers)}): their requests, maybe the slowest, are "
            "missing from the figures, so latency is not judged",
            decided_by_generator=True,
        )
    if run.cpu.peak_rolling_pct is None:
        return finding(
            Outcome.INCONCLUSIVE,
            "the load generator's CPU was never sampled, so its latencies cannot be "
            "told apart from its own queueing; run the load for longer than a second",
            decided_by_generator=True,
        )
    peak = run.cpu.peak_rolling_pct
    warned = ", Locust warned" if run.cpu.locust_warning else ""
    return finding(
        Outcome.INCONCLUSIVE,
        f"the load generator itself was CPU-bound (peak {peak:.0f}% of a core over 5 s"
        f"{warned}): its latencies include its own queueing; use fewer users or "
        "--gate-load-workers",
        decided_by_generator=True,
    )


def _failures_over_limit(
    stats: EndpointStats, error_limit: Threshold | None
) -> tuple[Outcome, str] | None:
    """Rule 2: FAIL / INCONCLUSIVE when failures are over the error-rate limit, else None."""
    er = stats.error_rate
    if error_limit is None or er.rate is None or error_limit.holds(er.rate):
        return None
    proven = error_limit.holds_for_interval(er.low, er.high) is False
    text = (
        f"{er.failures} of {er.total} requests failed ({_pct(er.rate)}), over {error_limit}"
        f"{'' if proven else ' (but the 95% interval reaches below it)'}: the latency of the "
        "answers that came back is not the service's latency under this load"
    )
    return (Outcome.FAIL if proven else Outcome.INCONCLUSIVE), text


def _judge_quantile(
    threshold: Threshold,
    q: float,
    stats: EndpointStats,
    run: LoadRun,
    error_limit: Threshold | None,
    finding: _FindingMaker,
) -> Finding:
    est = stats.percentile(q)
    failing = _failures_over_limit(stats, error_limit)
    if est.value_ms is None:
        if failing is not None and failing[0] is Outcome.FAIL:
            return finding(Outcome.FAIL, f"no request succeeded: {failing[1]}", "no latency")
        return finding(Outcome.INCONCLUSIVE, "no successful request to time")
    locust = (
        f"; Locust's own bucketed p95 reads {stats.locust_p95_ms:g} ms"
        if q == 0.95 and stats.locust_p95_ms is not None
        else ""
    )
    high = "no upper bound" if est.high_ms == float("inf") else f"to {est.high_ms:.1f} ms"
    measured = f"{threshold.format(est.value_ms)} (95% CI {est.low_ms:.1f} ms {high})"
    extra: dict[str, Any] = {
        "estimate": est.as_dict(),
        "locust_p95_ms": stats.locust_p95_ms,
        "interval": [est.low_ms, None if est.high_ms == float("inf") else est.high_ms],
    }
    if stats.censored.count:
        extra["censored"] = stats.censored.count
    if stats.windows:
        extra["windows"] = [w.as_dict() for w in stats.windows]
    # Failures over the limit do not depend on the generator's CPU; latencies do.
    if failing is not None and failing[0] is Outcome.FAIL:
        return finding(Outcome.FAIL, failing[1], measured, **extra)
    if _untrusted_generator(run):
        return _saturated(run, finding)
    verdict = threshold.holds_for_interval(est.low_ms, est.high_ms)
    if verdict is False:
        censored = (
            f", {stats.censored.count} timed-out or unfinished requests counted at their "
            "elapsed time"
            if stats.censored.count
            else ""
        )
        return finding(
            Outcome.FAIL,
            f"{threshold.key} {est.value_ms:.1f} ms is over the limit "
            f"(the whole 95% interval is{censored}){locust}",
            measured,
            **extra,
        )
    window_result = _judge_windows(threshold, q, stats, run, measured, extra, finding)
    if window_result is not None:
        return window_result
    if verdict is None:
        return finding(
            Outcome.INCONCLUSIVE,
            f"the limit lies inside the 95% interval of {threshold.key} "
            f"[{_bound(est.low_ms)}, {_bound(est.high_ms)}] ms: the data cannot decide; "
            f"run longer{locust}",
            measured,
            **extra,
        )
    if failing is not None:
        return finding(Outcome.INCONCLUSIVE, failing[1], measured, **extra)
    return finding(
        Outcome.PASS,
        f"{threshold.key} {est.value_ms:.1f} ms is within the limit "
        f"(the whole 95% interval is){locust}",
        measured,
        **extra,
    )


def _window_problem(threshold: Threshold, p95: PercentileEstimate) -> tuple[bool, str] | None:
    """(proven bad, text) for one window's p95, or None when it holds."""
    verdict = threshold.holds_for_interval(p95.low_ms, p95.high_ms)
    if verdict is False:
        return True, f"p95 at least {p95.low_ms:.1f} ms"
    if verdict is None:
        return False, f"p95 {p95.value_ms:.1f} ms, interval spans the limit ({p95.n} samples)"
    return None


def _judge_windows(
    threshold: Threshold,
    q: float,
    stats: EndpointStats,
    run: LoadRun,
    measured: str,
    extra: dict[str, Any],
    finding: _FindingMaker,
) -> Finding | None:
    """With a window ("for N minutes"), the p95 must hold in every window too."""
    if q != 0.95 or not run.spec.window_s or not stats.windows:
        return None
    bad, unsure = [], []
    for w in stats.windows:
        span = f"{w.start_s:g}-{w.end_s:g} s"
        if w.requests == 0:
            unsure.append(f"{span} (no request ended in it: a hang?)")
            continue
        if w.p95.n == 0:
            unsure.append(f"{span} (all {w.requests} requests failed: no latency)")
            continue
        problem = _window_problem(threshold, w.p95)
        if problem is not None:
            (bad if problem[0] else unsure).append(f"{span}: {problem[1]}")
    if bad:
        return finding(
            Outcome.FAIL,
            f"{threshold.key} does not hold in every {run.spec.window_s:g} s window: "
            f"{'; '.join(bad)}" + (f"; undecided: {'; '.join(unsure)}" if unsure else ""),
            measured,
            **extra,
        )
    if unsure:
        return finding(
            Outcome.INCONCLUSIVE,
            f"{threshold.key} is not shown to hold in every {run.spec.window_s:g} s window "
            f"(no data is not a pass): {'; '.join(unsure)}",
            measured,
            **extra,
        )
    return None


def _with_warn(result: Finding, warn: Threshold) -> Finding:
    """A PASS outside the warning band (or not surely inside it) becomes WARN."""
    ev = result.evidence
    low, high = ev.details.get("interval", (None, None))
    high = float("inf") if high is None else high  # JSON-ready: None is unbounded
    if low is not None and warn.holds_for_interval(low, high) is True:
        return result
    return Finding(
        Outcome.WARN,
        Evidence(
            reason=f"within the limit, but not surely inside the warning band {warn}: {ev.reason}",
            measured=ev.measured,
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


def endpoint_stats(name: str, run: LoadRun) -> EndpointStats | Finding:
    """The figures of the one endpoint Locust named ``name``, or an ERROR finding: none
    (``missing_endpoint``), or several methods under that name (judging one would
    silently leave the others unjudged)."""
    matches = [ep for ep in run.endpoints if ep.name == name]
    if not matches:
        return missing_endpoint(name, run)
    if len(matches) > 1:
        methods = ", ".join(ep.method for ep in matches)
        return Finding.error(
            f"the load run has several requests named {name!r} ({methods}): a per-endpoint "
            "threshold cannot tell them apart; give each method its own name= in the locustfile",
            method=run.spec.describe(),
        )
    return matches[0]
