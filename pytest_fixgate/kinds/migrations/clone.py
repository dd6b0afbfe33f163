"""A disposable copy of the database, restored from a mongodump backup, to rehearse on.

:func:`restore_dump` writes a mongodump folder (``<dir>/<db>/<coll>.bson`` and
``<coll>.metadata.json``) into a server with pymongo alone (no ``mongorestore``):
each collection is made with its dumped options (validator...), its documents
inserted as the raw BSON the dump holds (never decoded), then its indexes and
views made. Every database folder of the dump is restored except ``admin``,
``local`` and ``config``.

:func:`clone_server` yields the server to restore into: a SecantusDB the gate
starts on 127.0.0.1 with in-memory storage (the ``clone`` extra), or a scratch
server the user names (``clone_uri_env``), whose databases to be restored
must not exist yet, and are dropped afterwards. Anything that goes wrong is a
ProbeError: a clone that cannot be made is never a pass.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_fixgate import timing
from pytest_fixgate.errors import ProbeError
from pytest_fixgate.kinds.migrations.fingerprint import SERVER_DATABASES
from pytest_fixgate.measurements.files import FileReadError, open_regular, read_text
from pytest_fixgate.measurements.mongo_probe import translate_errors
from pytest_fixgate.redaction import Redactor, mask_uri_password

if TYPE_CHECKING:
    from pymongo import MongoClient

__all__ = [
    "CLONE_INSTALL",
    "CloneServer",
    "Restored",
    "clone_server",
    "dump_databases",
    "restore_dump",
]

#: What to install for the default clone server.
CLONE_INSTALL = "pip install 'pytest-fixgate[clone]'"
_BATCH = 1000  # documents per insert
_INDEX_NOISE = frozenset({"v", "ns"})


@dataclass(frozen=True)
class Restored:
    """What a restore wrote: for the evidence."""

    folder: str
    databases: tuple[str, ...]
    collections: int
    documents: int
    indexes: int
    views: int
    duration_s: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "backup": self.folder,
            "databases": list(self.databases),
            "collections": self.collections,
            "documents": self.documents,
            "indexes": self.indexes,
            "views": self.views,
            "restore_s": round(self.duration_s, 3),
        }


@dataclass(frozen=True)
class CloneServer:
    """Where the clone lives: its URI (a secret when the user named it) and how to say it."""

    uri: str
    described: str  # "SecantusDB on 127.0.0.1:P (in memory)", or the masked URI
    started_s: float = 0.0  # how long starting the server took (0: the user's)
    notes: tuple[str, ...] = field(default_factory=tuple)


def dump_databases(folder: Path) -> list[str]:
    """The database folders of a dump that a restore writes (not admin/local/config)."""
    try:
        return sorted(
            p.name for p in folder.iterdir() if p.is_dir() and p.name not in SERVER_DATABASES
        )
    except OSError as exc:
        raise ProbeError(f"backup {folder} cannot be read ({exc.strerror})") from None


def _metadata(path: Path) -> dict[str, Any]:
    # deferred: pymongo loads only when a MongoDB reader runs
    from bson import json_util

    try:
        data = json_util.loads(read_text(path, max_bytes=16 * 1024 * 1024))
    except FileReadError as exc:  # a FIFO, over the cap, not read in time (files.py)
        raise ProbeError(f"restore: {exc}") from None
    except (OSError, ValueError) as exc:
        raise ProbeError(f"restore: {path.name} is not readable JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ProbeError(f"restore: {path.name} is not a JSON object")
    return data


def restore_dump(client: MongoClient[Any], folder: Path, *, timeout_s: float) -> Restored:
    """Restore every database folder of ``folder`` into ``client``'s server."""
    # deferred: pymongo loads only when a MongoDB reader runs
    from bson import CodecOptions, decode_file_iter
    from bson.errors import BSONError
    from bson.raw_bson import RawBSONDocument
    from pymongo.errors import PyMongoError

    started = timing.perf_counter()
    deadline = timing.monotonic() + timeout_s
    databases = dump_databases(folder)
    if not databases:
        raise ProbeError(f"restore: the backup {folder.name} holds no database folder")
    collections = documents = indexes = views = 0
    raw_options = CodecOptions(document_class=RawBSONDocument)
    for db_name in databases:
        db_dir = folder / db_name
        db = client[db_name]
        metas = {p.name[: -len(".metadata.json")]: p for p in db_dir.glob("*.metadata.json")}
        bsons = {p.name[: -len(".bson")]: p for p in db_dir.glob("*.bson")}
        pending_views: list[tuple[str, dict[str, Any]]] = []
        for name in sorted(set(metas) | set(bsons)):
            meta = _metadata(metas[name]) if name in metas else {}
            options = dict(meta.get("options") or {})
            if meta.get("type") == "view" or "viewOn" in options:
                pending_views.append((name, options))
                continue
            try:
                db.command({"create": name, **options})
                if name in bsons:
                    with open_regular(bsons[name]) as fh:  # a FIFO is refused, not read
                        batch: list[RawBSONDocument] = []
                        for doc in decode_file_iter(fh, codec_options=raw_options):
                            batch.append(doc)
                            if len(batch) >= _BATCH:
                                db[name].insert_many(batch, ordered=True)
                                documents += len(batch)
                                batch = []
                                if timing.monotonic() > deadline:
                                    raise ProbeError(
                                        f"restore of {db_name}.{name} not finished within "
                                        f"{timeout_s:g} s ({documents} documents written)"
                                    )
                        if batch:
                            db[name].insert_many(batch, ordered=True)
                            documents += len(batch)
                specs = [
                    {k: v for k, v in spec.items() if k not in _INDEX_NOISE}
                    for spec in meta.get("indexes") or []
                    if isinstance(spec, dict) and spec.get("name") != "_id_"
                ]
                if specs:
                    db.command({"createIndexes": name, "indexes": specs})
                    indexes += len(specs)
            except (BSONError, PyMongoError, OSError) as exc:
                raise ProbeError(
                    f"restore of {db_name}.{name} from {folder.name} failed: {_error_name(exc)}"
                ) from None
            collections += 1
        for name, options in pending_views:  # after the collections they read
            try:
                db.command({"create": name, **options})
            except PyMongoError as exc:
                raise ProbeError(
                    f"restore of view {db_name}.{name} failed: {_error_name(exc)}"
                ) from None
            views += 1
    return Restored(
        folder=folder.name,
        databases=tuple(databases),
        collections=collections,
        documents=documents,
        indexes=indexes,
        views=views,
        duration_s=timing.perf_counter() - started,
    )


def _hosts(uri: str) -> set[str]:
    """``host:port`` of every seed in a MongoDB URI, lower-cased; no DNS lookup (an SRV
    URI is compared by its name)."""
    rest = uri.split("://", 1)[-1]
    netloc = rest.split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]
    default = "" if uri.lower().startswith("mongodb+srv://") else ":27017"
    hosts = set()
    for host in netloc.lower().split(","):
        if host:
            hosts.add(host if ":" in host.rsplit("]", 1)[-1] else host + default)
    return hosts


def _same_server(a: str, b: str) -> bool:
    return bool(_hosts(a) & _hosts(b))


@contextlib.contextmanager
def clone_server(
    *,
    clone_uri: str | None,
    staging_uri: str | None,
    databases: list[str],
    timeout_s: float,
) -> Iterator[CloneServer]:
    """The server to restore into (see the module docstring); stopped or cleaned on exit."""
    if clone_uri is not None:
        with _scratch_server(clone_uri, staging_uri, databases, timeout_s) as server:
            yield server
        return
    if importlib.util.find_spec("secantus") is None:
        raise ProbeError(
            "the clone target needs SecantusDB, which is not installed: "
            f"{CLONE_INSTALL} (or set clone_uri_env to a scratch MongoDB, "
            'or target = "staging")'
        )
    # deferred: the clone server's launcher loads only when the gate starts one
    from pytest_fixgate.reference.processes import ProcessStartError, mongo_server

    started = timing.perf_counter()
    try:
        cm = mongo_server(startup_timeout=min(timeout_s, 60.0))
        server = cm.__enter__()
    except ProcessStartError as exc:
        raise ProbeError(f"the clone server (SecantusDB) did not start: {exc}") from None
    try:
        yield CloneServer(
            uri=server.uri,
            described=f"SecantusDB on 127.0.0.1:{server.port} (in memory, started by the gate)",
            started_s=timing.perf_counter() - started,
        )
    finally:
        cm.__exit__(None, None, None)


@contextlib.contextmanager
def _scratch_server(
    uri: str, staging_uri: str | None, databases: list[str], timeout_s: float
) -> Iterator[CloneServer]:
    # deferred: pymongo loads only when a MongoDB reader runs
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    masked = mask_uri_password(uri)
    if staging_uri is not None and _same_server(uri, staging_uri):
        raise ProbeError(
            f"clone_uri_env points at the staging server ({masked}): the clone must be a "
            "scratch server, never the one it protects"
        )
    redactor = Redactor([uri])
    ms = int(min(timeout_s, 30.0) * 1000)
    client: MongoClient[Any] = MongoClient(uri, serverSelectionTimeoutMS=ms, appname="fixgate")
    created: list[str] = []
    try:
        with translate_errors(masked, timeout_s, redactor):
            existing = set(client.list_database_names())
            taken = [d for d in databases if d in existing]
            if taken:
                raise ProbeError(
                    f"the scratch server {masked} already holds database(s) "
                    f"{', '.join(taken)}: a clone is restored only into databases that do "
                    "not exist (drop them, or use another server)"
                )
        created = list(databases)
        yield CloneServer(uri=uri, described=f"{masked} (clone_uri_env, scratch)")
    finally:
        # Only what this clone restored, never anything it found there.
        for name in created:
            with contextlib.suppress(PyMongoError):
                client.drop_database(name)
        client.close()


def _error_name(exc: BaseException) -> str:
    """An error's class and server code, never its text: pymongo quotes the documents
    and keys it failed on (a duplicate key's value, a session token), which no redactor
    knows."""
    code = getattr(exc, "code", None)
    return type(exc).__name__ + (f" (code {code})" if code is not None else "")
