"""Judging a queue's depth against its ``max``."""

from __future__ import annotations

from pytest_fixgate.kinds.queues.config import QueueSpec
from pytest_fixgate.kinds.queues.measurement import QueueDepth
from pytest_fixgate.outcomes.model import Evidence, Finding, Outcome

__all__ = ["judge_queue"]


def judge_queue(spec: QueueSpec, reading: QueueDepth) -> Finding:
    """PASS at or under ``max``; FAIL over it. A missing Redis key or collection is ERROR
    when the spec requires it to exist (``must_exist``; by default a collection must, a
    Redis list need not, as Redis deletes an empty list); otherwise it reads as 0 jobs and
    the reason says the key does not exist, so a misspelt name is visible."""
    threshold = f"depth <= {spec.max}"
    details = {
        "source": reading.source,
        "elapsed_ms": round(reading.elapsed_ms, 1),
        "max": spec.max,
        "exists": reading.exists,
        "must_exist": spec.requires_existence,
    }
    what = f"collection {spec.collection}"
    if spec.redis_list is not None:
        what = f"Redis key {spec.redis_list}"
    if not reading.exists and spec.requires_existence:
        return Finding.error(
            f"{what} does not exist: nothing to count (must_exist)", threshold=threshold
        )
    over = reading.depth > spec.max
    absent = ""
    if not reading.exists:
        absent = f" ({what} does not exist, read as empty; must_exist = true refuses that)"
    return Finding(
        Outcome.FAIL if over else Outcome.PASS,
        Evidence(
            reason=f"queue {spec.id} holds {reading.depth} job(s), "
            + (f"over its limit of {spec.max}" if over else f"within its limit of {spec.max}")
            + absent,
            measured=f"{reading.depth} jobs",
            threshold=threshold,
            samples=1,
            details={**details, "depth": reading.depth},
        ),
    )
