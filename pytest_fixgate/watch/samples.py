"""The samples file: one JSON line per tick, flushed and fsync'd as it is taken.

``<report dir>/<env>-<stamp>.samples.jsonl``. The first line is a header
(``{"fixgate_watch": 1, "env", "started", "interval_s", "duration_s", ...}``);
every other line is one tick::

    {"t": 15.0, "readings": {"probe": {"error_rate": {"rate": [0, 1]},
                                       "latency": {"dist": [12.5]},
                                       "ready": {"level": true}}},
     "errors": {"mongo": "127.0.0.1:27017: connection refused"}}

A watch killed mid-write leaves at most one partial last line: reading skips
it, and resuming cuts it off before appending.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from pytest_fixgate.measurements.files import FileReadError, open_regular
from pytest_fixgate.watch.engine import Count, Dist, Level, Rate, Reading, Tick

__all__ = ["SamplesFile", "SamplesWriter", "decode_tick", "encode_tick", "read_samples"]

SCHEMA = 1
# A tick line is a few hundred bytes; a longer one is not a tick (read as the file's end).
_LINE_MAX = 1024 * 1024


def _open(path: Path) -> IO[bytes]:
    """The samples file, a regular file only (files.open_regular: a FIFO would block)."""
    try:
        return open_regular(path)
    except FileReadError as exc:
        raise ValueError(str(exc)) from None


def _encode_reading(reading: Reading) -> dict[str, Any]:
    if isinstance(reading, Rate):
        return {"rate": [reading.bad, reading.total]}
    if isinstance(reading, Dist):
        return {"dist": [round(v, 3) for v in reading.values]}
    if isinstance(reading, Count):
        return {"count": reading.n}
    return {"level": reading.value}


def _decode_reading(data: Mapping[str, Any]) -> Reading:
    if "rate" in data:
        bad, total = data["rate"]
        return Rate(int(bad), int(total))
    if "dist" in data:
        return Dist(tuple(float(v) for v in data["dist"]))
    if "count" in data:
        return Count(data["count"])
    return Level(data["level"])


def encode_tick(tick: Tick) -> dict[str, Any]:
    out: dict[str, Any] = {
        "t": round(tick.t, 6),
        "readings": {
            src: {m: _encode_reading(r) for m, r in metrics.items()}
            for src, metrics in tick.readings.items()
        },
    }
    if tick.errors:
        out["errors"] = dict(tick.errors)
    return out


def decode_tick(data: Mapping[str, Any]) -> Tick:
    readings = {
        src: {m: _decode_reading(r) for m, r in metrics.items()}
        for src, metrics in data.get("readings", {}).items()
    }
    return Tick(float(data["t"]), readings, dict(data.get("errors", {})))


@dataclass
class SamplesFile:
    """A samples file read back: its header and complete ticks."""

    path: Path
    header: dict[str, Any]
    ticks: list[Tick]
    good_bytes: int  # length of the file up to the last complete line
    partial: bool  # a partial last line (a kill mid-write) was skipped

    @property
    def last_t(self) -> float | None:
        return self.ticks[-1].t if self.ticks else None


def iter_ticks(path: Path) -> Iterator[Tick]:
    """Ticks one at a time, for a replay that must not hold the file in memory."""
    with _open(path) as fh:
        fh.readline(_LINE_MAX)
        for raw in iter(lambda: fh.readline(_LINE_MAX), b""):
            if not raw.endswith(b"\n"):
                return  # a partial last line: the watch was killed mid-write
            try:
                tick = decode_tick(json.loads(raw))
            except (ValueError, KeyError, TypeError):
                return  # the same place read_samples stops, so resume appends there
            yield tick


def read_header(path: Path) -> dict[str, Any]:
    with _open(path) as fh:
        first = fh.readline(_LINE_MAX)
    try:
        header = json.loads(first)
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("fixgate_watch") != SCHEMA:
        raise ValueError(f"{path}: not a fixgate watch samples file (no header line)")
    return header


def read_samples(path: Path) -> SamplesFile:
    header = read_header(path)
    ticks: list[Tick] = []
    good = 0
    partial = False
    with _open(path) as fh:
        good = len(fh.readline(_LINE_MAX))
        for raw in iter(lambda: fh.readline(_LINE_MAX), b""):
            if not raw.endswith(b"\n"):
                partial = True
                break
            try:
                ticks.append(decode_tick(json.loads(raw)))
            except (ValueError, KeyError, TypeError):
                partial = True
                break
            good += len(raw)
    return SamplesFile(path, header, ticks, good, partial)


class SamplesWriter:
    """Appends ticks; each line is flushed and fsync'd before the tick counts."""

    def __init__(self, path: Path, fh: IO[bytes]) -> None:
        self.path = path
        self._fh = fh

    @classmethod
    def create(cls, path: Path, header: Mapping[str, Any]) -> SamplesWriter:
        path.parent.mkdir(parents=True, exist_ok=True)
        stem, n = path.name.removesuffix(".samples.jsonl"), 1
        while True:  # never append to another watch's file (two runs in one second)
            try:
                fh = path.open("xb")
                break
            except FileExistsError:
                n += 1
                path = path.with_name(f"{stem}-{n}.samples.jsonl")
        writer = cls(path, fh)
        writer._write({"fixgate_watch": SCHEMA, **header})
        return writer

    @classmethod
    def resume(cls, existing: SamplesFile) -> SamplesWriter:
        fh = existing.path.open("r+b")
        fh.truncate(existing.good_bytes)  # drop a partial last line
        fh.seek(existing.good_bytes)
        return cls(existing.path, fh)

    def append(self, tick: Tick) -> None:
        self._write(encode_tick(tick))

    def _write(self, record: Mapping[str, Any]) -> None:
        self._fh.write(json.dumps(record, separators=(",", ":")).encode() + b"\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()
