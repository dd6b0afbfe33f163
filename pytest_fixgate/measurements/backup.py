"""Reading mongodump output: which backup is newest, how old, and whether it holds data.

mongodump writes ``<out>/<database>/<collection>.bson`` (the documents, one
BSON document after another) and ``<collection>.metadata.json`` (indexes and
options). A ``.bson`` file is checked by walking its documents' length
prefixes to the end (the sizes must add up exactly, each document ending in
a zero byte): an empty, truncated or unreadable file is no backup. Nothing is
decoded and nothing is written.
"""

from __future__ import annotations

import fnmatch
import json
import os
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pytest_fixgate import timing
from pytest_fixgate.errors import ProbeError

__all__ = ["BackupFolder", "CollectionDump", "newest_backup", "read_backup_folder"]

_HEADER = struct.Struct("<i")
# A BSON document is at least 5 bytes (length + terminator) and at most 16 MiB (+ slack).
_MIN_DOC, _MAX_DOC = 5, 48 * 1024 * 1024


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
    modified: datetime  # the newest file in it (or the folder itself)
    age_s: float
    dumps: tuple[CollectionDump, ...] = ()
    candidates: int = 1  # backup folders found under the directory
    other_collections: tuple[str, ...] = field(default_factory=tuple)

    @property
    def problems(self) -> list[str]:
        return [f"{d.name}: {d.problem}" for d in self.dumps if d.problem]


def newest_backup(directory: Path, pattern: str = "*") -> tuple[Path, datetime, int] | None:
    """The newest folder under ``directory`` whose name matches ``pattern``, its time, and how
    many matched; ``None`` when there is none. An unreadable directory raises ProbeError."""
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
            found.append((_newest_mtime(Path(entry.path)), Path(entry.path)))
        except OSError:
            continue  # a folder that vanished or cannot be read is not a candidate
    if not found:
        return None
    modified, path = max(found)
    return path, modified, len(found)


def _newest_mtime(folder: Path) -> datetime:
    # The newest file, not the folder: copying a backup keeps file times with cp -p/rsync -t,
    # and a folder's own time changes when anything is added to it.
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
    newest = newest_backup(directory, pattern)
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
    meta_ok = _metadata_ok(db_dir / f"{name}.metadata.json")
    try:
        size = bson_path.stat().st_size
    except FileNotFoundError:
        return CollectionDump(name, None, None, meta_ok, f"{bson_path.name} is missing")
    except OSError as exc:
        return CollectionDump(name, None, None, meta_ok, f"{bson_path.name}: {exc.strerror}")
    documents, problem = _count_documents(bson_path, size)
    if problem is None and not meta_ok:
        problem = f"{name}.metadata.json is missing or not JSON"
    return CollectionDump(name, size, documents, meta_ok, problem)


def _metadata_ok(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return isinstance(json.load(fh), dict)
    except (OSError, ValueError):
        return False


def _count_documents(path: Path, size: int) -> tuple[int | None, str | None]:
    """Walk the documents' length prefixes; ``(count, None)`` or ``(None, problem)``."""
    if size == 0:
        return None, "empty (0 bytes): no documents were dumped"
    count = 0
    offset = 0
    try:
        with path.open("rb") as fh:
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
    except OSError as exc:
        return None, f"unreadable ({exc.strerror or type(exc).__name__})"
    return count, None
