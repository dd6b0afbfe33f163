"""A fingerprint of a MongoDB database, to prove that something changed nothing.

SecantusDB (and many managed MongoDB services) have no ``dbHash`` command, so
the fingerprint is computed client-side, per collection:

- ``digest``: SHA-256 over the raw BSON of every document, in ``_id`` order
  (a forward scan of the ``_id_`` index: no in-memory sort on the server),
  streamed in batches and never decoded, so byte-level changes (a field
  reordered, an int turned into a double) count as changes;
- ``count``: the number of documents streamed (not ``estimatedDocumentCount``);
- ``indexes``: the index specs (keys in order, name, options), canonical JSON.

Collections named ``system.*`` are the server's own and are left out. Two
fingerprints compare with :meth:`DatabasePrint.changes`, which names each
collection that was added, dropped, or changed (and what: documents, count,
indexes). Read-only: only ``listCollections``, ``listIndexes`` and ``find``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_fixgate import timing
from pytest_fixgate.errors import ProbeTimeout
from pytest_fixgate.measurements.mongo_client import MongoTarget, mongo_database

if TYPE_CHECKING:
    from pymongo.database import Database

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "CollectionChange",
    "CollectionPrint",
    "DatabasePrint",
    "fingerprint_database",
    "fingerprint_target",
]

#: Documents per server round trip: large enough that the server, not the
#: round trips, bounds the rate; small enough to keep memory flat.
DEFAULT_BATCH_SIZE = 5000

# Index spec fields that describe the server's bookkeeping, not the index.
_INDEX_NOISE = frozenset({"v", "ns"})


@dataclass(frozen=True)
class CollectionPrint:
    """One collection's fingerprint."""

    name: str
    count: int
    digest: str  # SHA-256 hex of the raw BSON documents in _id order
    indexes: tuple[str, ...]  # canonical JSON of each index spec, sorted by name
    kind: str = "collection"  # "collection" or "view" (a view's digest covers its definition)

    def as_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "digest": self.digest[:16],
            "indexes": [_display(spec) for spec in self.indexes],
        }


@dataclass(frozen=True)
class CollectionChange:
    """How one collection differs between two fingerprints."""

    name: str
    what: tuple[str, ...]  # "added", "dropped", "documents", "count", "indexes"
    count_before: int | None = None
    count_after: int | None = None

    def describe(self) -> str:
        parts = list(self.what)
        if "count" in self.what:
            parts[parts.index("count")] = f"count {self.count_before} -> {self.count_after}"
        return f"{self.name} ({', '.join(parts)})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "collection": self.name,
            "changed": list(self.what),
            "count_before": self.count_before,
            "count_after": self.count_after,
        }


@dataclass(frozen=True)
class DatabasePrint:
    """A whole database's fingerprint, and how long it took to take."""

    database: str
    collections: Mapping[str, CollectionPrint] = field(default_factory=dict)
    duration_s: float = 0.0

    @property
    def documents(self) -> int:
        return sum(c.count for c in self.collections.values())

    @property
    def digest(self) -> str:
        """One SHA-256 over every collection's fingerprint, for display."""
        h = hashlib.sha256()
        for name in sorted(self.collections):
            c = self.collections[name]
            h.update(f"{name}\0{c.kind}\0{c.count}\0{c.digest}\0".encode())
            for spec in c.indexes:
                h.update(spec.encode() + b"\0")
        return h.hexdigest()

    def changes(self, after: DatabasePrint) -> list[CollectionChange]:
        """Every collection that differs in ``after``, by name."""
        out: list[CollectionChange] = []
        for name in sorted(set(self.collections) | set(after.collections)):
            old = self.collections.get(name)
            new = after.collections.get(name)
            if old is None and new is not None:
                out.append(CollectionChange(name, ("added",), None, new.count))
            elif new is None and old is not None:
                out.append(CollectionChange(name, ("dropped",), old.count, None))
            elif old is not None and new is not None:
                what = []
                if old.digest != new.digest or old.kind != new.kind:
                    what.append("documents")
                if old.count != new.count:
                    what.append("count")
                if old.indexes != new.indexes:
                    what.append("indexes")
                if what:
                    out.append(CollectionChange(name, tuple(what), old.count, new.count))
        return out

    def summary(self) -> dict[str, Any]:
        """Evidence: the database digest, and per collection its count, digest and indexes."""
        return {
            "database": self.database,
            "digest": self.digest[:16],
            "documents": self.documents,
            "duration_s": round(self.duration_s, 3),
            "collections": {name: c.as_dict() for name, c in sorted(self.collections.items())},
        }


def fingerprint_database(
    uri: str,
    database: str | None,
    *,
    timeout_s: float,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> DatabasePrint:
    """Fingerprint ``database`` (default: the URI's) within ``timeout_s`` overall: every
    collection but ``system.*``. Driver errors raise ProbeError; a fingerprint that cannot
    finish in time raises ProbeTimeout (never a partial fingerprint).
    """
    with mongo_database(uri, database, timeout_s=timeout_s) as target:
        return fingerprint_target(target, timeout_s=timeout_s, batch_size=batch_size)


def fingerprint_target(
    target: MongoTarget,
    *,
    timeout_s: float,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> DatabasePrint:
    """As :func:`fingerprint_database`, on an open client."""
    from bson import CodecOptions
    from bson.raw_bson import RawBSONDocument

    started = timing.perf_counter()
    deadline = timing.monotonic() + timeout_s
    # Raw documents: hashed as the server sent them, never decoded.
    db = target.client.get_database(
        target.name, codec_options=CodecOptions(document_class=RawBSONDocument)
    )
    infos = [
        info for info in target.db.list_collections() if not info["name"].startswith("system.")
    ]
    prints: dict[str, CollectionPrint] = {}
    for info in sorted(infos, key=lambda i: i["name"]):
        name = info["name"]
        if info.get("type") == "view":
            definition = _canonical(info.get("options", {}))
            digest = hashlib.sha256(definition.encode()).hexdigest()
            prints[name] = CollectionPrint(name, 0, digest, (), kind="view")
            continue
        prints[name] = _fingerprint_collection(db, target, name, batch_size, deadline)
    return DatabasePrint(
        database=target.name, collections=prints, duration_s=timing.perf_counter() - started
    )


def _fingerprint_collection(
    db: Database[Any], target: MongoTarget, name: str, batch_size: int, deadline: float
) -> CollectionPrint:
    specs = sorted(
        (
            _canonical({k: v for k, v in spec.items() if k not in _INDEX_NOISE})
            for spec in target.db[name].list_indexes()
        ),
    )
    has_id_index = any(json.loads(s).get("name") == "_id_" for s in specs)
    # A forward scan of the _id index returns documents in _id order without a
    # server-side sort (which would be bounded by the server's sort memory).
    options: dict[str, Any] = {"sort": [("_id", 1)], "batch_size": batch_size}
    if has_id_index:
        options["hint"] = [("_id", 1)]
    h = hashlib.sha256()
    count = 0
    cursor = db[name].find({}, **options)
    try:
        for doc in cursor:
            h.update(doc.raw)
            count += 1
            if count % batch_size == 0 and timing.monotonic() > deadline:
                raise ProbeTimeout(
                    f"{target.target}: fingerprint of {name} not finished in time "
                    f"({count} documents read)",
                    target=target.target,
                )
    finally:
        cursor.close()
    return CollectionPrint(name=name, count=count, digest=h.hexdigest(), indexes=tuple(specs))


def _canonical(value: Any) -> str:
    """Extended JSON, in the server's own key order (an index's key order matters)."""
    from bson import json_util

    return json_util.dumps(value, sort_keys=False, json_options=json_util.CANONICAL_JSON_OPTIONS)


def _display(spec: str) -> str:
    """``name {field: 1, other: -1} unique`` from a canonical spec, for the report."""
    from bson import json_util

    data = json_util.loads(spec)
    keys = ", ".join(f"{k}: {v}" for k, v in data.pop("key", {}).items())
    name = data.pop("name", "?")
    options = " ".join(f"{k}={v}" for k, v in data.items())
    return f"{name} {{{keys}}}" + (f" {options}" if options else "")
