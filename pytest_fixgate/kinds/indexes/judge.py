"""Judging an index: present with exactly the keys in order; a query planned on an index."""

from __future__ import annotations

from pytest_fixgate.kinds.indexes.config import IndexSpec
from pytest_fixgate.kinds.indexes.measurement import IndexReading
from pytest_fixgate.outcomes.model import Evidence, Finding, Outcome

__all__ = ["judge_index"]


def judge_index(spec: IndexSpec, reading: IndexReading) -> Finding:
    """ERROR for a missing collection; FAIL when no index has exactly ``spec.keys`` in order,
    or when the query's winning plan has a COLLSCAN or no IXSCAN; PASS otherwise."""
    where = f"{reading.database}.{spec.collection}"
    threshold = f"an index on {spec.keys_doc}" + (
        f", and find({dict(spec.query)}) planned with IXSCAN" if spec.query is not None else ""
    )
    if not reading.collection_exists:
        return Finding.error(
            f"collection {where} does not exist", threshold=threshold, database=reading.database
        )
    wanted = tuple((k, v) for k, v in spec.keys)
    matching = [name for name, keys in reading.indexes.items() if _same(keys, wanted)]
    details: dict[str, object] = {
        "collection": where,
        "wanted_keys": spec.keys_doc,
        "indexes": {name: _doc(keys) for name, keys in reading.indexes.items()},
    }
    if not matching:
        same_fields = [
            n for n, keys in reading.indexes.items() if {k for k, _ in keys} == dict(wanted).keys()
        ]
        hint = (
            f" (index {same_fields[0]} has these fields in another order or direction)"
            if same_fields
            else ""
        )
        return Finding(
            Outcome.FAIL,
            Evidence(
                reason=f"{where} has no index on {spec.keys_doc}{hint}",
                measured="missing",
                threshold=threshold,
                samples=len(reading.indexes),
                details=details,
            ),
        )
    details["matching_index"] = matching[0]
    measured = f"index {matching[0]}"
    if spec.query is not None:
        plan = reading.plan
        if plan is None:  # the measurement always explains when there is a query
            return Finding.error("the query was not explained", threshold=threshold)
        details["query"] = dict(spec.query)
        details["plan_stages"] = list(plan.stages)
        details["plan_indexes"] = list(plan.index_names)
        if "COLLSCAN" in plan.stages or "IXSCAN" not in plan.stages:
            return Finding(
                Outcome.FAIL,
                Evidence(
                    reason=f"find({dict(spec.query)}) on {where} is planned as "
                    f"{' <- '.join(plan.stages)}: a collection scan, not an index scan",
                    measured=f"{measured}; plan {' <- '.join(plan.stages)}",
                    threshold=threshold,
                    samples=1,
                    details=details,
                ),
            )
        measured += f"; plan {' <- '.join(plan.stages)} on {', '.join(plan.index_names)}"
    return Finding(
        Outcome.PASS,
        Evidence(
            reason=f"{where} has index {matching[0]} on {spec.keys_doc}"
            + (" and the query uses an index scan" if spec.query is not None else ""),
            measured=measured,
            threshold=threshold,
            samples=1,
            details=details,
        ),
    )


def _same(keys: tuple[tuple[str, object], ...], wanted: tuple[tuple[str, object], ...]) -> bool:
    # 1 and 1.0 are the same direction (the shell writes doubles); order matters.
    if len(keys) != len(wanted):
        return False
    for (k1, v1), (k2, v2) in zip(keys, wanted, strict=True):
        if k1 != k2:
            return False
        if isinstance(v1, int | float) and isinstance(v2, int | float) and not isinstance(v1, bool):
            if float(v1) != float(v2):
                return False
        elif v1 != v2:
            return False
    return True


def _doc(keys: tuple[tuple[str, object], ...]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in keys) + "}"
