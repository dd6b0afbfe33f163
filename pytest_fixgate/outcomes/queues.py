"""Judging a queue's depth against its ``max``."""

from __future__ import annotations

from pytest_fixgate.config.queues import QueueSpec
from pytest_fixgate.measurements.queues import QueueDepth
from pytest_fixgate.outcomes.model import Evidence, Finding, Outcome

__all__ = ["judge_queue"]


def judge_queue(spec: QueueSpec, reading: QueueDepth) -> Finding:
    """PASS at or under ``max``; FAIL over it; ERROR when the counted collection is missing
    (a wrong name would otherwise read as an empty, healthy queue)."""
    threshold = f"depth <= {spec.max}"
    details = {
        "source": reading.source,
        "elapsed_ms": round(reading.elapsed_ms, 1),
        "max": spec.max,
    }
    if not reading.collection_exists:
        return Finding.error(
            f"collection {spec.collection} does not exist: nothing to count", threshold=threshold
        )
    over = reading.depth > spec.max
    return Finding(
        Outcome.FAIL if over else Outcome.PASS,
        Evidence(
            reason=f"queue {spec.id} holds {reading.depth} job(s), "
            + (f"over its limit of {spec.max}" if over else f"within its limit of {spec.max}"),
            measured=f"{reading.depth} jobs",
            threshold=threshold,
            samples=1,
            details={**details, "depth": reading.depth},
        ),
    )
