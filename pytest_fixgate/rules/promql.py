"""PromQL over the metrics the reference service exposes (:mod:`pytest_fixgate.reference.metrics`).

The watch's probe metrics have a Prometheus twin each: the share of 5xx
answers, a latency quantile from the histogram, the queue depth. A ratio's
numerator is ``or vector(0)``: with no 5xx series yet (a healthy service)
the error rate is 0, not an empty vector (a gap).
"""

from __future__ import annotations

from pytest_fixgate.reference.metrics import DURATION_METRIC, QUEUE_METRIC, REQUESTS_METRIC

__all__ = ["API_PATHS", "error_rate", "latency_quantile", "queue_depth"]

#: The service's own routes: the fault switch and /metrics are not its traffic.
API_PATHS = 'path=~"/api/.*"'


def error_rate(range_s: float) -> str:
    """5xx answers over all answers, per second averaged over the trailing ``range_s``."""
    r = f"[{range_s:g}s]"
    bad = f'sum(rate({REQUESTS_METRIC}{{{API_PATHS},status=~"5.."}}{r}))'
    total = f"sum(rate({REQUESTS_METRIC}{{{API_PATHS}}}{r}))"
    return f"({bad} or vector(0)) / {total}"


def latency_quantile(q: float, range_s: float) -> str:
    """The ``q`` quantile (0-1) of request durations in seconds, from the histogram."""
    buckets = f"sum by (le) (rate({DURATION_METRIC}_bucket{{{API_PATHS}}}[{range_s:g}s]))"
    return f"histogram_quantile({q:g}, {buckets})"


def queue_depth() -> str:
    return f"max({QUEUE_METRIC})"
