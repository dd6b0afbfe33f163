"""A fingerprint of a MongoDB database, to prove that something changed nothing.

SecantusDB (and many managed MongoDB services) have no ``dbHash`` command, so
the fingerprint is computed client-side, per collection:

- ``digest``: SHA-256 over the raw BSON of every document, in ``_id`` order
  (a forward scan of the ``_id_`` index: no in-memory sort on the server),
  streamed in batches and never decoded, so byte-level changes (a field
  reordered, an int turned into a double) count as changes;
- ``count``: the number of documents streamed (not ``estimatedDocumentCount``);
- ``indexes``: the index specs (keys in order, name, options), canonical JSON;
- ``options``: what ``listCollections`` says of the collection besides its
  name (``options``: validator, validationLevel, capped...; ``info.uuid``,
  which changes when a collection is dropped and made again), canonical JSON,
  so a ``collMod`` that only changes a validator is a change.

In a user database every collection counts, ``system.js`` (stored functions)
and ``system.views`` included; only ``system.profile`` (the profiler writes it
on reads) is left out. :func:`fingerprint_server` prints every database the
URI can list (``listDatabases`` with ``authorizedDatabases``): a dry run that
writes to another database than the configured one is seen. In ``admin``,
``local`` and ``config`` only collections a user made count (the server's own
bookkeeping, which changes on its own, is left out: ``system.*``,
``oplog.rs``, ``startup_log``, ``replset.*``, ``transactions``,
``image_collection``, ``cache.*``). What the user may not read is listed in
``not_covered``, never silently skipped. Two fingerprints compare with
``changes``, which names each collection that was added, dropped, or changed
(and what: documents, count, indexes, options). Read-only: only
``listDatabases``, ``listCollections``, ``listIndexes`` and ``find``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
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
    "DocumentDiff",
    "ServerPrint",
    "fingerprint_database",
    "fingerprint_server",
    "fingerprint_target",
]

#: Documents per server round trip: large enough that the server, not the
#: round trips, bounds the rate; small enough to keep memory flat.
DEFAULT_BATCH_SIZE = 5000

# Index spec fields that describe the server's bookkeeping, not the index.
_INDEX_NOISE = frozenset({"v", "ns"})

#: Databases the server keeps for itself: only collections a user made in them count.
SERVER_DATABASES = frozenset({"admin", "local", "config"})
_SERVER_COLLECTIONS = (
    "system.*",
    "oplog.rs",
    "startup_log",
    "replset.*",
    "transactions",
    "image_collection",
    "cache.*",
)
# In a user database: the profiler's collection changes when anything is read.
_USER_DB_NOISE = ("system.profile",)
# MongoDB's "not authorized" (Unauthorized) error code.
_UNAUTHORIZED = 13


@dataclass(frozen=True)
class CollectionPrint:
    """One collection's fingerprint."""

    name: str
    count: int
    digest: str  # SHA-256 hex of the raw BSON documents in _id order
    indexes: tuple[str, ...]  # canonical JSON of each index spec, sorted by name
    kind: str = "collection"  # "collection" or "view" (a view's digest covers its definition)
    options: str = ""  # canonical JSON of listCollections' options and info (uuid)
    # _id (BSON) -> SHA-256 of the document, only when asked for (the real-run evidence).
    documents_by_id: Mapping[bytes, bytes] | None = field(default=None, compare=False, repr=False)

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
    what: tuple[str, ...]  # "added", "dropped", "documents", "count", "indexes", "options"
    count_before: int | None = None
    count_after: int | None = None
    documents: DocumentDiff | None = None  # per document, when both prints kept them
    indexes_created: tuple[str, ...] = ()
    indexes_dropped: tuple[str, ...] = ()

    def describe(self) -> str:
        parts = list(self.what)
        if "count" in self.what:
            parts[parts.index("count")] = f"count {self.count_before} -> {self.count_after}"
        return f"{self.name} ({', '.join(parts)})"

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "collection": self.name,
            "changed": list(self.what),
            "count_before": self.count_before,
            "count_after": self.count_after,
        }
        if self.documents is not None:
            out.update(self.documents.as_dict())
        if self.indexes_created or self.indexes_dropped:
            out["indexes_created"] = list(self.indexes_created)
            out["indexes_dropped"] = list(self.indexes_dropped)
        return out


@dataclass(frozen=True)
class DocumentDiff:
    """Documents inserted, deleted and changed (same ``_id``, other bytes)."""

    inserted: int
    deleted: int
    changed: int

    def as_dict(self) -> dict[str, int]:
        return {
            "documents_inserted": self.inserted,
            "documents_deleted": self.deleted,
            "documents_changed": self.changed,
        }


def _document_diff(old: CollectionPrint | None, new: CollectionPrint | None) -> DocumentDiff | None:
    before = old.documents_by_id if old is not None else {}
    after = new.documents_by_id if new is not None else {}
    if before is None or after is None:
        return None
    inserted = sum(1 for k in after if k not in before)
    deleted = sum(1 for k in before if k not in after)
    changed = sum(1 for k, d in after.items() if k in before and before[k] != d)
    return DocumentDiff(inserted, deleted, changed)


def _index_names(print_: CollectionPrint | None) -> dict[str, str]:
    # deferred: pymongo loads only when a MongoDB reader runs
    from bson import json_util

    if print_ is None:
        return {}
    return {str(json_util.loads(spec).get("name", "?")): spec for spec in print_.indexes}


def _collection_change(
    name: str, old: CollectionPrint | None, new: CollectionPrint | None
) -> CollectionChange | None:
    if old is None and new is None:
        return None
    what: list[str] = []
    if old is None:
        what.append("added")
    elif new is None:
        what.append("dropped")
    else:
        if old.digest != new.digest or old.kind != new.kind:
            what.append("documents")
        if old.count != new.count:
            what.append("count")
        if old.indexes != new.indexes:
            what.append("indexes")
        if old.options != new.options:
            what.append("options")
    if not what:
        return None
    before, after = _index_names(old), _index_names(new)
    return CollectionChange(
        name,
        tuple(what),
        old.count if old is not None else None,
        new.count if new is not None else None,
        documents=_document_diff(old, new),
        # An index whose spec changed under the same name was dropped and created again.
        indexes_created=tuple(_display(s) for n, s in sorted(after.items()) if before.get(n) != s),
        indexes_dropped=tuple(_display(s) for n, s in sorted(before.items()) if after.get(n) != s),
    )


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
            h.update(f"{name}\0{c.kind}\0{c.count}\0{c.digest}\0{c.options}\0".encode())
            for spec in c.indexes:
                h.update(spec.encode() + b"\0")
        return h.hexdigest()

    def changes(self, after: DatabasePrint) -> list[CollectionChange]:
        """Every collection that differs in ``after``, by name."""
        out: list[CollectionChange] = []
        for name in sorted(set(self.collections) | set(after.collections)):
            change = _collection_change(
                name, self.collections.get(name), after.collections.get(name)
            )
            if change is not None:
                out.append(change)
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


@dataclass(frozen=True)
class ServerPrint:
    """Every database the URI can list, fingerprinted; ``primary`` is the configured one.

    Collections of the primary database are named bare (``workOrders``), the others
    ``database.collection``.
    """

    primary: str
    databases: Mapping[str, DatabasePrint] = field(default_factory=dict)
    # Namespaces (or "databases other than X") the user could not read: not proven.
    not_covered: tuple[str, ...] = ()
    duration_s: float = 0.0

    @property
    def database(self) -> str:
        return self.primary

    @property
    def collections(self) -> dict[str, CollectionPrint]:
        out: dict[str, CollectionPrint] = {}
        for db_name, db_print in self.databases.items():
            for name, c in db_print.collections.items():
                out[name if db_name == self.primary else f"{db_name}.{name}"] = c
        return out

    @property
    def primary_collections(self) -> Mapping[str, CollectionPrint]:
        primary = self.databases.get(self.primary)
        return primary.collections if primary is not None else {}

    @property
    def documents(self) -> int:
        return sum(c.count for c in self.collections.values())

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        for name in sorted(self.databases):
            h.update(f"{name}\0{self.databases[name].digest}\0".encode())
        return h.hexdigest()

    def changes(self, after: ServerPrint) -> list[CollectionChange]:
        mine, theirs = self.collections, after.collections
        out: list[CollectionChange] = []
        for name in sorted(set(mine) | set(theirs)):
            change = _collection_change(name, mine.get(name), theirs.get(name))
            if change is not None:
                out.append(change)
        return out

    def summary(self) -> dict[str, Any]:
        return {
            "database": self.primary,
            "databases": sorted(self.databases),
            "digest": self.digest[:16],
            "documents": self.documents,
            "duration_s": round(self.duration_s, 3),
            "collections": {name: c.as_dict() for name, c in sorted(self.collections.items())},
            "not_covered": list(self.not_covered),
        }


def fingerprint_database(
    uri: str,
    database: str | None,
    *,
    timeout_s: float,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> DatabasePrint:
    """Fingerprint ``database`` (default: the URI's) within ``timeout_s`` overall: every
    collection but ``system.profile``. Driver errors raise ProbeError; a fingerprint that
    cannot finish in time raises ProbeTimeout (never a partial fingerprint).
    """
    with mongo_database(uri, database, timeout_s=timeout_s) as target:
        return fingerprint_target(target, timeout_s=timeout_s, batch_size=batch_size)


def fingerprint_target(
    target: MongoTarget,
    *,
    timeout_s: float,
    batch_size: int = DEFAULT_BATCH_SIZE,
    keep_documents: bool = False,
) -> DatabasePrint:
    """As :func:`fingerprint_database`, on an open client (its configured database only)."""
    deadline = timing.monotonic() + timeout_s
    printed, _ = _fingerprint_db(target, target.name, batch_size, deadline, keep_documents)
    return printed


def fingerprint_server(
    target: MongoTarget,
    *,
    timeout_s: float,
    batch_size: int = DEFAULT_BATCH_SIZE,
    keep_documents: bool = False,
) -> ServerPrint:
    """Every database the URI can list, each as :func:`fingerprint_target` does (see the
    module docstring for what ``admin``, ``local`` and ``config`` contribute). A server that
    refuses ``listDatabases`` leaves only the configured database, and says so."""
    # deferred: pymongo loads only when a MongoDB reader runs
    from pymongo.errors import OperationFailure

    started = timing.perf_counter()
    deadline = timing.monotonic() + timeout_s
    not_covered: list[str] = []
    try:
        names = sorted(
            str(d["name"])
            for d in target.client.admin.command(
                "listDatabases", nameOnly=True, authorizedDatabases=True
            )["databases"]
        )
    except OperationFailure as exc:
        if exc.code != _UNAUTHORIZED:
            raise
        names = [target.name]
        not_covered.append(f"databases other than {target.name} (listDatabases refused)")
    if target.name not in names:
        names.append(target.name)  # not created yet: an empty print, so its creation shows
    databases: dict[str, DatabasePrint] = {}
    for name in sorted(names):
        printed, refused = _fingerprint_db(target, name, batch_size, deadline, keep_documents)
        databases[name] = printed
        not_covered += refused
    return ServerPrint(
        primary=target.name,
        databases=databases,
        not_covered=tuple(not_covered),
        duration_s=timing.perf_counter() - started,
    )


def _counts(database: str, name: str) -> bool:
    if database in SERVER_DATABASES:
        return not any(fnmatch.fnmatchcase(name, p) for p in _SERVER_COLLECTIONS)
    return name not in _USER_DB_NOISE


def _fingerprint_db(
    target: MongoTarget, database: str, batch_size: int, deadline: float, keep_documents: bool
) -> tuple[DatabasePrint, list[str]]:
    # deferred: pymongo loads only when a MongoDB reader runs
    from bson import CodecOptions
    from bson.raw_bson import RawBSONDocument
    from pymongo.errors import OperationFailure

    started = timing.perf_counter()
    plain = target.client[database]
    # Raw documents: hashed as the server sent them, never decoded.
    raw = target.client.get_database(
        database, codec_options=CodecOptions(document_class=RawBSONDocument)
    )
    refused: list[str] = []
    try:
        infos = [info for info in plain.list_collections() if _counts(database, info["name"])]
    except OperationFailure as exc:
        if exc.code != _UNAUTHORIZED:
            raise
        return DatabasePrint(database=database), [f"{database} (listCollections refused)"]
    prints: dict[str, CollectionPrint] = {}
    for info in sorted(infos, key=lambda i: i["name"]):
        name = info["name"]
        options = _canonical({"options": info.get("options", {}), "info": info.get("info", {})})
        if info.get("type") == "view":
            digest = hashlib.sha256(options.encode()).hexdigest()
            prints[name] = CollectionPrint(name, 0, digest, (), kind="view", options=options)
            continue
        try:
            collected = _fingerprint_collection(
                raw, plain, target, name, batch_size, deadline, keep_documents
            )
        except OperationFailure as exc:
            if exc.code != _UNAUTHORIZED:
                raise
            refused.append(f"{database}.{name} (find refused)")
            continue
        prints[name] = replace(collected, options=options)
    return (
        DatabasePrint(
            database=database, collections=prints, duration_s=timing.perf_counter() - started
        ),
        refused,
    )


def _fingerprint_collection(
    raw: Database[Any],
    plain: Database[Any],
    target: MongoTarget,
    name: str,
    batch_size: int,
    deadline: float,
    keep_documents: bool,
) -> CollectionPrint:
    # deferred: pymongo loads only when a MongoDB reader runs
    import bson

    specs = sorted(
        (
            _canonical({k: v for k, v in spec.items() if k not in _INDEX_NOISE})
            for spec in plain[name].list_indexes()
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
    by_id: dict[bytes, bytes] | None = {} if keep_documents else None
    cursor = raw[name].find({}, **options)
    try:
        for doc in cursor:
            h.update(doc.raw)
            count += 1
            if by_id is not None:
                by_id[bson.encode({"_id": doc.get("_id")})] = hashlib.sha256(doc.raw).digest()
            if count % batch_size == 0 and timing.monotonic() > deadline:
                raise ProbeTimeout(
                    f"{target.target}: fingerprint of {name} not finished in time "
                    f"({count} documents read)",
                    target=target.target,
                )
    finally:
        cursor.close()
    return CollectionPrint(
        name=name, count=count, digest=h.hexdigest(), indexes=tuple(specs), documents_by_id=by_id
    )


def _canonical(value: Any) -> str:
    """Extended JSON, in the server's own key order (an index's key order matters)."""
    # deferred: pymongo loads only when a MongoDB reader runs
    from bson import json_util

    return json_util.dumps(value, sort_keys=False, json_options=json_util.CANONICAL_JSON_OPTIONS)


def _display(spec: str) -> str:
    """``name {field: 1, other: -1} unique`` from a canonical spec, for the report."""
    # deferred: pymongo loads only when a MongoDB reader runs
    from bson import json_util

    data = json_util.loads(spec)
    keys = ", ".join(f"{k}: {v}" for k, v in data.pop("key", {}).items())
    name = data.pop("name", "?")
    options = " ".join(f"{k}={v}" for k, v in data.items())
    return f"{name} {{{keys}}}" + (f" {options}" if options else "")
