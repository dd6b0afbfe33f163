"""Queue depth: a Redis ``LLEN``, or a MongoDB ``countDocuments`` of a filtered collection.

Both are reads; errors are translated by the Redis and MongoDB probes'
translators into ProbeError (gate ERROR).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pytest_fixgate import timing
from pytest_fixgate.errors import ProbeBadResponse
from pytest_fixgate.measurements.mongo_client import mongo_database
from pytest_fixgate.measurements.redis_probe import redis_client
from pytest_fixgate.measurements.redis_probe import translate_errors as translate_redis_errors
from pytest_fixgate.redaction import Redactor, mask_uri_password

__all__ = ["QueueDepth", "mongo_queue_depth", "redis_queue_depth"]


@dataclass(frozen=True)
class QueueDepth:
    """How many jobs wait, where it was read, and how long the read took."""

    depth: int
    source: str  # "LLEN queue:notifications on redis://127.0.0.1:6379/0"
    elapsed_ms: float
    exists: bool = True  # the Redis key / the collection exists (absent: read as 0)


def redis_queue_depth(url: str, key: str, *, timeout_s: float) -> QueueDepth:
    """``TYPE key``, then ``LLEN key``: a key of another type is a bad response, not a
    depth; a key that does not exist is depth 0 with ``exists=False`` (Redis deletes a
    list when its last job is taken, so the judge decides what absence means)."""
    # deferred: redis-py loads only when a queue gate runs
    from redis.exceptions import ResponseError

    target = mask_uri_password(url)
    with translate_redis_errors(target, timeout_s, Redactor([url])):
        client = redis_client(url, timeout_s=timeout_s)
        try:
            started = timing.perf_counter()
            kind = client.type(key)
            kind = kind.decode("utf-8", "replace") if isinstance(kind, bytes) else str(kind)
            if kind not in ("list", "none"):
                raise ProbeBadResponse(
                    f"{target}: key {key} is a Redis {kind}, not a list: no queue depth",
                    target=target,
                )
            depth = client.llen(key) if kind == "list" else 0
            elapsed_ms = (timing.perf_counter() - started) * 1000
        except ResponseError as exc:
            # WRONGTYPE (the key changed type between TYPE and LLEN), NOPERM (an ACL), ...
            code = str(exc).split(" ", 1)[0]
            why = ": not a list" if code == "WRONGTYPE" else ""
            raise ProbeBadResponse(
                f"{target}: TYPE/LLEN {key} failed ({code}){why}", target=target
            ) from None
        finally:
            client.close()
    return QueueDepth(int(depth), f"LLEN {key} on {target}", elapsed_ms, exists=kind != "none")


def mongo_queue_depth(
    uri: str,
    database: str | None,
    collection: str,
    query: Mapping[str, Any],
    *,
    timeout_s: float,
) -> QueueDepth:
    """``countDocuments(query)`` on ``collection``; a missing collection is reported as such."""
    with mongo_database(uri, database, timeout_s=timeout_s) as target:
        db = target.db
        exists = bool(db.list_collection_names(filter={"name": collection}))
        started = timing.perf_counter()
        depth = db[collection].count_documents(dict(query)) if exists else 0
        elapsed_ms = (timing.perf_counter() - started) * 1000
        source = f"{collection}.countDocuments({dict(query)}) on {target.target}"
    return QueueDepth(depth, source, elapsed_ms, exists=exists)
