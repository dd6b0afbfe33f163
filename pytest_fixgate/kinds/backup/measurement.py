"""Reading mongodump output: which backup is newest, how old, and whether it holds data.

mongodump writes ``<out>/<database>/<collection>.bson`` (the documents, one
BSON document after another) and ``<collection>.metadata.json`` (indexes and
options). A ``.bson`` file is checked by walking its documents' length
prefixes to the end (the sizes must add up exactly, each document ending in
a zero byte): an empty, truncated or unreadable file is no backup. Nothing is
decoded and nothing is written.

The backup's age is the time of its own data files: the oldest modification
time among ``<database>/<collection>.bson`` and ``.metadata.json`` of the
collections named (mongodump's directory layout records no date of its own;
the oldest file is when the dump began). A note or any other file added to
the folder later does not make an old dump fresh. Every file is read through
the bounded reader (measurements/files.py): regular files only, a deadline.
"""

from __future__ import annotations

import fnmatch
import json
import os
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from pytest_fixgate import timing
from pytest_fixgate.errors import ProbeError
from pytest_fixgate.measurements.files import (
    FileNotRegular,
    FileReadError,
    FileReadTimeout,
    read_bytes,
    use_regular_file,
)

__all__ = ["BackupFolder", "CollectionDump", "newest_backup", "read_backup_folder"]

_HEADER = struct.Struct("<i")
# A BSON document is at least 5 bytes (length + terminator) and at most 16 MiB (+ slack).
_MIN_DOC, _MAX_DOC = 5, 48 * 1024 * 1024
_METADATA_MAX_BYTES = 16 * 1024 * 1024
# Walking a .bson reads 5 bytes a document; a multi-GB dump on a local disk takes seconds.
WALK_DEADLINE_S = 300.0


@dataclass(frozen=True)
class CollectionDump:
    """One collection in a backup folder."""

    name: str
    bson_bytes: int | None  # None: no .bson file
    documents: int | None  # None: not counted (missing or unreadable)
    metadata_ok: bool
    problem: str | None = None  # why this dump is not usable, or None

    def as_dict(self) -> dict[str, Any]:
        return {
            "collection": self.name,
            "bytes": self.bson_bytes,
            "documents": self.documents,
            "metadata": "ok" if self.metadata_ok else "missing or unreadable",
            "problem": self.problem or "",
        }


@dataclass(frozen=True)
class BackupFolder:
    """The newest backup folder, what it holds, and its age."""

    path: Path
    modified: datetime  # the oldest of its named collections' data files (the dump's time)
    age_s: float
    dumps: tuple[CollectionDump, ...] = ()
    candidates: int = 1  # backup folders found under the directory
    other_collections: tuple[str, ...] = field(default_factory=tuple)

    @property
    def problems(self) -> list[str]:
        return [f"{d.name}: {d.problem}" for d in self.dumps if d.problem]


def newest_backup(
    directory: Path, pattern: str = "*", database: str = "", collections: tuple[str, ...] = ()
) -> tuple[Path, datetime, int] | None:
    """The newest folder under ``directory`` whose name matches ``pattern`` (by its dump's
    time, see :func:`dump_time`), that time, and how many matched; ``None`` when there is
    none. An unreadable directory raises ProbeError."""
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        raise ProbeError(f"backup directory {directory} does not exist") from None
    except NotADirectoryError:
        raise ProbeError(f"backup directory {directory} is not a directory") from None
    except OSError as exc:
        raise ProbeError(f"backup directory {directory} cannot be read ({exc.strerror})") from None
    found: list[tuple[datetime, Path]] = []
    for entry in entries:
        if entry.name.startswith(".") or not fnmatch.fnmatch(entry.name, pattern):
            continue
        try:
            if not entry.is_dir():
                continue
            found.append((dump_time(Path(entry.path), database, collections), Path(entry.path)))
        except OSError:
            continue  # a folder that vanished or cannot be read is not a candidate
    if not found:
        return None
    modified, path = max(found)
    return path, modified, len(found)


def dump_time(folder: Path, database: str, collections: tuple[str, ...]) -> datetime:
    """When the dump in ``folder`` was made: the oldest modification time of the named
    collections' ``.bson`` and ``.metadata.json`` (copies keep file times with cp -p or
    rsync -t). A folder holding none of them is dated by its newest file: it is no
    backup of these collections, and the judge fails it for what it lacks."""
    times = []
    for name in collections:
        for suffix in (".bson", ".metadata.json"):
            try:
                times.append((folder / database / f"{name}{suffix}").stat().st_mtime)
            except OSError:
                continue
    if times:
        return datetime.fromtimestamp(min(times), UTC)
    return _newest_mtime(folder)


def _newest_mtime(folder: Path) -> datetime:
    newest = folder.stat().st_mtime
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                newest = max(newest, (Path(root) / name).stat().st_mtime)
            except OSError:
                continue
    return datetime.fromtimestamp(newest, UTC)


def read_backup_folder(
    directory: Path, database: str, collections: tuple[str, ...], pattern: str = "*"
) -> BackupFolder | None:
    """The newest backup under ``directory`` and the state of each named collection in it."""
    newest = newest_backup(directory, pattern, database, collections)
    if newest is None:
        return None
    path, modified, candidates = newest
    db_dir = path / database
    dumps = tuple(_dump(db_dir, name) for name in collections)
    try:
        others = sorted(
            p.name[: -len(".bson")]
            for p in db_dir.iterdir()
            if p.name.endswith(".bson") and p.name[: -len(".bson")] not in collections
        )
    except OSError:
        others = []
    age_s = (timing.utcnow() - modified).total_seconds()
    return BackupFolder(path, modified, age_s, dumps, candidates, tuple(others))


def _dump(db_dir: Path, name: str) -> CollectionDump:
    bson_path = db_dir / f"{name}.bson"
    meta_ok, meta_problem = _metadata_ok(db_dir / f"{name}.metadata.json")
    try:
        size = bson_path.stat().st_size
    except FileNotFoundError:
        return CollectionDump(name, None, None, meta_ok, f"{bson_path.name} is missing")
    except OSError as exc:
        return CollectionDump(name, None, None, meta_ok, f"{bson_path.name}: {exc.strerror}")
    documents, problem = _count_documents(bson_path)
    if problem is None and meta_problem is not None:
        problem = meta_problem
    return CollectionDump(name, size, documents, meta_ok, problem)


def _metadata_ok(path: Path) -> tuple[bool, str | None]:
    """Whether the collection's ``.metadata.json`` is a JSON object, and if not, why.
    A read past its deadline raises FileReadTimeout: the gate ends ERROR."""
    missing = f"{path.name} is missing or not JSON"
    try:
        data = read_bytes(path, max_bytes=_METADATA_MAX_BYTES, deadline_s=WALK_DEADLINE_S)
        ok = isinstance(json.loads(data), dict)
    except FileNotRegular as exc:
        return False, f"{path.name}: {exc.problem}"
    except FileReadTimeout:
        raise
    except (OSError, FileReadError, ValueError):
        return False, missing
    return ok, None if ok else missing


def _count_documents(path: Path) -> tuple[int | None, str | None]:
    """Walk the documents' length prefixes; ``(count, None)`` or ``(None, problem)``.
    A FIFO or device is a problem (never opened for a blocking read); a walk past its
    deadline raises FileReadTimeout (the gate ends ERROR)."""
    try:
        return use_regular_file(path, _walk, deadline_s=WALK_DEADLINE_S)
    except FileNotRegular as exc:
        return None, exc.problem
    except FileReadTimeout:
        raise
    except FileReadError as exc:
        return None, f"unreadable ({exc.problem})"
    except OSError as exc:
        return None, f"unreadable ({exc.strerror or type(exc).__name__})"


def _walk(fh: BinaryIO, size: int) -> tuple[int | None, str | None]:
    if size == 0:
        return None, "empty (0 bytes): no documents were dumped"
    count = 0
    offset = 0
    while offset < size:
        fh.seek(offset)
        head = fh.read(4)
        if len(head) < 4:
            return None, f"truncated at byte {offset}"
        (length,) = _HEADER.unpack(head)
        if not _MIN_DOC <= length <= _MAX_DOC or offset + length > size:
            return None, f"not BSON: a document at byte {offset} claims {length} bytes"
        fh.seek(offset + length - 1)
        if fh.read(1) != b"\x00":
            return None, f"not BSON: the document at byte {offset} is not terminated"
        offset += length
        count += 1
    return count, None
