"""Judging what Sentry reported for a window against a threshold, honestly.

An ``error_rate`` threshold is decided on the Wilson 95% interval of
``round(failure_rate * count)`` failures in ``count`` transactions, as the
load gates decide theirs: PASS when the whole interval holds, FAIL when none
of it does, INCONCLUSIVE when the limit lies inside. HTTP 429 (Sentry would not
answer) is INCONCLUSIVE. Fewer than ``min_samples`` transactions turn a
would-be PASS (or an undecided interval) into INCONCLUSIVE, never a proven
failure: an interval wholly over the limit is FAIL at any count. A ``count``
threshold compares the exact count() as a point.
"""

from __future__ import annotations

from typing import Any

from pytest_fixgate.config.thresholds import Threshold
from pytest_fixgate.kinds.sentry.measurement import (
    SentryErrorRate,
    SentryRateLimited,
    SentryReading,
)
from pytest_fixgate.outcomes.model import Evidence, Finding, Outcome

__all__ = ["judge_sentry_threshold"]

_INTERVAL_METHOD = (
    "Sentry Discover failure_rate() and count() of transactions (status not ok, cancelled "
    "or unknown); Wilson 95% interval on round(failure_rate * count) failures"
)


def _pct(x: float) -> str:
    return f"{x * 100:.2f}%"


def judge_sentry_threshold(
    threshold: Threshold, reading: SentryReading, *, min_samples: int
) -> Finding:
    """One ``[env.X.sentry]`` threshold against what Sentry answered."""
    if isinstance(reading, SentryRateLimited):
        wait = f" (Retry-After: {reading.retry_after})" if reading.retry_after else ""
        return Finding(
            Outcome.INCONCLUSIVE,
            Evidence(
                reason=f"rate-limited by Sentry: HTTP 429{wait}, no figures to judge; "
                "run the gate again later",
                threshold=str(threshold),
                method=reading.method,
                details=reading.details(),
            ),
        )
    if threshold.metric == "count":
        return _judge_count(threshold, reading)
    if threshold.metric != "error_rate":
        return Finding.error(
            f"{threshold.key} has no meaning for Sentry's figures (use error_rate or count)",
            method=reading.method,
            threshold=str(threshold),
            **reading.details(),
        )
    return _judge_error_rate(threshold, reading, min_samples)


def _finding(
    outcome: Outcome,
    reason: str,
    threshold: Threshold,
    reading: SentryErrorRate,
    measured: str | None,
    method: str,
    **more: Any,
) -> Finding:
    return Finding(
        outcome,
        Evidence(
            reason=reason,
            measured=measured,
            threshold=str(threshold),
            samples=reading.count,
            method=method,
            details={**reading.details(), **more},
        ),
    )


def _judge_count(threshold: Threshold, reading: SentryErrorRate) -> Finding:
    measured = f"{reading.count} transactions"
    if reading.count == 0:
        # A misspelled project or environment reads as zero too: no evidence of anything.
        return _finding(
            Outcome.INCONCLUSIVE,
            f"Sentry counted no transaction in the last {reading.period} in "
            f"{reading.environment!r}: a wrong project or environment reads the same",
            threshold,
            reading,
            measured,
            f"{reading.method}; count() compared as a point value",
        )
    ok = threshold.holds(float(reading.count))
    return _finding(
        Outcome.PASS if ok else Outcome.FAIL,
        f"Sentry counted {reading.count} transactions in the last {reading.period} in "
        f"{reading.environment!r}: {'within' if ok else 'outside'} the limit (an exact count)",
        threshold,
        reading,
        measured,
        f"{reading.method}; count() compared as a point value",
    )


def _judge_error_rate(threshold: Threshold, reading: SentryErrorRate, min_samples: int) -> Finding:
    er = reading.error_rate()
    method = f"{reading.method}; {_INTERVAL_METHOD}"
    window = f"in the last {reading.period} in {reading.environment!r}"
    if reading.count == 0:
        measured = "no transactions"
    else:
        measured = (
            f"{_pct(er.rate or 0.0)} of {er.total} transactions "
            f"(95% CI {_pct(er.low)} to {_pct(er.high)})"
        )

    def finding(outcome: Outcome, reason: str) -> Finding:
        return _finding(
            outcome, reason, threshold, reading, measured, method, error_rate=er.as_dict()
        )

    if threshold.op in ("==", "!="):
        return finding(
            Outcome.ERROR,
            f"{threshold.text!r} cannot be judged on an interval: write the limit with "
            "<, <=, > or >=",
        )
    if reading.count == 0:
        return finding(
            Outcome.INCONCLUSIVE,
            f"Sentry recorded no transactions {window}: nothing to judge; widen the period "
            "or check the environment name",
        )
    verdict = threshold.holds_for_interval(er.low, er.high)
    # min_samples guards a PASS against thin evidence; a proven failure is FAIL at any count.
    if verdict is not False and reading.count < min_samples:
        return finding(
            Outcome.INCONCLUSIVE,
            f"only {reading.count} transactions {window}, fewer than "
            f"min_samples = {min_samples}; widen the period or wait for traffic",
        )
    if verdict is None:
        return finding(
            Outcome.INCONCLUSIVE,
            f"the limit {threshold.format(threshold.value)} lies inside the 95% interval "
            f"of the error rate ({_pct(er.low)} to {_pct(er.high)}): {er.failures} of "
            f"{er.total} transactions failed {window}; widen the period to decide",
        )
    return finding(
        Outcome.PASS if verdict else Outcome.FAIL,
        f"{er.failures} of {er.total} transactions failed {window} ({_pct(er.rate or 0.0)}): "
        f"the whole 95% interval is {'within' if verdict else 'outside'} the limit",
    )
