"""The queue gate kind: ``[[env.X.queues]]``, the runbook's queue depth (">1000 jobs").

One gate per entry, ``queue.<id>``: the depth (a Redis ``LLEN``, or a MongoDB
count of a filtered collection) must not exceed ``max``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_fixgate.config.data_sources import database_name, mongo_uri_env, redis_url_env
from pytest_fixgate.config.table import ConfigTable
from pytest_fixgate.kinds import GateKind, KindContext

__all__ = ["KIND", "QueueSpec", "parse_queues"]

_ID = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class QueueSpec:
    """One queue and its most tolerable depth; exactly one of ``redis_list``/``collection``."""

    id: str
    max: int
    redis_list: str | None = None
    redis_url_env: str | None = None
    collection: str | None = None
    filter: Mapping[str, Any] = field(default_factory=dict)
    mongodb_uri_env: str | None = None
    database: str | None = None
    # Whether a missing key/collection is ERROR. Default: a Redis list may be missing
    # (Redis deletes an empty list), a collection may not (a misspelt name reads as 0).
    must_exist: bool | None = None

    @property
    def requires_existence(self) -> bool:
        if self.must_exist is not None:
            return self.must_exist
        return self.collection is not None

    @property
    def gate_id(self) -> str:
        return f"queue.{self.id}"

    @property
    def source(self) -> str:
        if self.redis_list is not None:
            return f"Redis LLEN {self.redis_list}"
        return f"MongoDB count of {self.collection} where {dict(self.filter)}"


def _parse_one(table: ConfigTable, ctx: KindContext) -> QueueSpec:
    queue_id = table.get("id", str, expected="a queue id (letters, digits, _ . -)")
    if not _ID.match(queue_id):
        raise table.error("id", queue_id, "a queue id (letters, digits, _ . -)")
    limit = table.get("max", int, expected="the most jobs the queue may hold (an integer >= 0)")
    if limit < 0:
        raise table.error("max", limit, "an integer >= 0")
    redis_list = table.get("redis_list", str, None, expected="a Redis list key")
    collection = table.get("collection", str, None, expected="a collection name")
    if (redis_list is None) == (collection is None):
        raise table.error(
            "redis_list", redis_list, "exactly one of redis_list (LLEN) or collection (a count)"
        )
    must_exist = table.get(
        "must_exist", bool, None, expected="true (a missing key or collection is ERROR) or false"
    )
    if redis_list is not None:
        spec = QueueSpec(
            id=queue_id,
            max=limit,
            redis_list=redis_list,
            redis_url_env=redis_url_env(table, ctx),
            must_exist=must_exist,
        )
    else:
        spec = QueueSpec(
            id=queue_id,
            max=limit,
            collection=collection,
            filter=table.get(
                "filter", dict, {}, expected='a filter table, e.g. { status = "queued" }'
            ),
            mongodb_uri_env=mongo_uri_env(table, ctx),
            database=database_name(table),
            must_exist=must_exist,
        )
    table.finish()
    return spec


def parse_queues(tables: list[ConfigTable], ctx: KindContext) -> tuple[QueueSpec, ...]:
    specs: list[QueueSpec] = []
    for table in tables:
        spec = _parse_one(table, ctx)
        if any(s.id == spec.id for s in specs):
            raise table.error("id", spec.id, "a queue id used once")
        specs.append(spec)
    return tuple(specs)


def _secrets(specs: tuple[QueueSpec, ...]) -> list[str]:
    names = {s.redis_url_env or s.mongodb_uri_env for s in specs}
    return sorted(n for n in names if n)


KIND = GateKind(
    section="queues",
    array=True,
    parse=parse_queues,
    gate_ids=lambda specs, env: [s.gate_id for s in specs],
    params={"queue_spec": lambda specs, env: [(s.id, s) for s in specs]},
    secret_envs=_secrets,
    title="queue depth",
)
