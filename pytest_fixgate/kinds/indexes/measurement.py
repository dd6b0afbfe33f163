"""Reading a collection's indexes and a query's plan: ``listIndexes`` and ``explain``.

Both are reads. ``explain`` runs at ``queryPlanner`` verbosity: the plan is
chosen, not executed, so a slow query costs nothing to check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_fixgate.errors import ProbeBadResponse
from pytest_fixgate.measurements.mongo_client import mongo_database

__all__ = ["IndexReading", "PlanReading", "plan_stages", "read_indexes"]


@dataclass(frozen=True)
class PlanReading:
    """The winning plan of ``explain()`` for a filter."""

    stages: tuple[str, ...]  # every stage in the winning plan, outermost first
    index_names: tuple[str, ...]  # indexes the IXSCAN stages use
    plan: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class IndexReading:
    """A collection's indexes (name -> ordered keys), or that the collection is missing."""

    database: str
    target: str
    collection_exists: bool
    indexes: Mapping[str, tuple[tuple[str, Any], ...]] = field(default_factory=dict)
    plan: PlanReading | None = None


def plan_stages(plan: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """Every ``stage`` in a winning plan (``inputStage``/``inputStages``), and the index names."""
    stages: list[str] = []
    names: list[str] = []
    todo: list[Mapping[str, Any]] = [plan]
    while todo:
        node = todo.pop(0)
        if "stage" in node:
            stages.append(str(node["stage"]))
        if node.get("indexName"):
            names.append(str(node["indexName"]))
        if isinstance(node.get("inputStage"), Mapping):
            todo.append(node["inputStage"])
        for child in node.get("inputStages") or ():
            if isinstance(child, Mapping):
                todo.append(child)
        # Newer servers wrap the classic plan: {"queryPlan": {...}, "slotBasedPlan": ...}
        if isinstance(node.get("queryPlan"), Mapping):
            todo.append(node["queryPlan"])
    return stages, names


def read_indexes(
    uri: str,
    database: str | None,
    collection: str,
    *,
    query: Mapping[str, Any] | None,
    timeout_s: float,
) -> IndexReading:
    """The collection's indexes and, with ``query``, the winning plan of ``find(query)``."""
    with mongo_database(uri, database, timeout_s=timeout_s) as target:
        db = target.db
        exists = bool(db.list_collection_names(filter={"name": collection}))
        if not exists:
            return IndexReading(target.name, target.target, False)
        indexes = {
            str(spec["name"]): tuple(spec["key"].items()) for spec in db[collection].list_indexes()
        }
        plan = None
        if query is not None:
            reply = db.command(
                "explain",
                {"find": collection, "filter": dict(query)},
                verbosity="queryPlanner",
            )
            winning = (reply.get("queryPlanner") or {}).get("winningPlan")
            if not isinstance(winning, Mapping):
                raise ProbeBadResponse(
                    f"{target.target}: explain of {collection} returned no queryPlanner.winningPlan"
                    " (this server's explain is not supported)",
                    target=target.target,
                )
            stages, names = plan_stages(winning)
            plan = PlanReading(tuple(stages), tuple(names), dict(winning))
        return IndexReading(target.name, target.target, True, indexes, plan)
