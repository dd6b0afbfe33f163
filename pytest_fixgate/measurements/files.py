"""The one way a gate reads a file: regular files only, a size cap, a deadline.

Every gate that reads a file someone else wrote (a backup, a bundle report, a
dotenv file, a lockfile, a waiver file, a watch samples file) reads it here:

- Only a regular file is read. The file is opened with ``O_NONBLOCK`` (so
  opening a FIFO cannot block) and checked with ``fstat`` on the open
  descriptor (so a symlink is judged by what it points at, with no race
  between the check and the read); a FIFO, device, socket or directory is
  refused.
- At most ``max_bytes`` are read; a larger file is refused, never truncated.
- The whole open-and-read runs in a worker thread the caller waits on for at
  most ``deadline_s`` (a hung network mount blocks even ``open``); past it
  the read is refused and the thread is left to finish on its own.

Every refusal is a :class:`FileReadError` (a ProbeError, so the gate ends
ERROR) whose message is one line naming the path. A file that does not
exist raises :class:`FileNotFoundError` as ``open`` does, so callers keep
their own "run X first" message for it.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, TypeVar

from pytest_fixgate.errors import ProbeError

__all__ = [
    "DEFAULT_DEADLINE_S",
    "DEFAULT_MAX_BYTES",
    "FileNotRegular",
    "FileReadError",
    "FileReadTimeout",
    "check_regular",
    "open_regular",
    "read_bytes",
    "read_text",
    "use_regular_file",
]

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_DEADLINE_S = 30.0
_CHUNK = 1024 * 1024

T = TypeVar("T")


class FileReadError(ProbeError):
    """A file that was not read: not a regular file, too large, too slow, unreadable."""

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}", target=str(path))


class FileNotRegular(FileReadError):
    """A FIFO, device, socket or directory where a file was expected."""


class FileReadTimeout(FileReadError):
    """A read that did not finish within its deadline."""


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISDIR(mode):
        return "a directory"
    return f"file type {stat.S_IFMT(mode):o}"


def _not_regular(path: Path | str, mode: int) -> FileNotRegular:
    return FileNotRegular(path, f"not a regular file ({_kind(mode)}): not read")


def check_regular(path: Path | str) -> os.stat_result:
    """``stat`` (following symlinks) and refuse anything but a regular file; for listings
    that pick files to hand to another program."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise FileReadError(path, f"cannot be read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(info.st_mode):
        raise _not_regular(path, info.st_mode)
    return info


def open_regular(path: Path | str) -> BinaryIO:
    """A regular file opened for buffered reading, for readers that stream it line by line
    (a watch samples file); no deadline: the caller's loop bounds its own work."""
    fh, _ = _open_regular(path, buffered=True)
    return fh


def _open_regular(path: Path | str, *, buffered: bool = False) -> tuple[BinaryIO, int]:
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError as exc:  # ENXIO: a socket; EACCES, EISDIR ...
        try:
            mode = os.stat(path).st_mode
        except OSError:
            mode = 0
        if mode and not stat.S_ISREG(mode):
            raise _not_regular(path, mode) from None
        raise FileReadError(path, f"cannot be read ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _not_regular(path, info.st_mode)
        os.set_blocking(fd, True)  # a regular file: plain blocking reads from here on
        return os.fdopen(fd, "rb", buffering=-1 if buffered else 0), info.st_size
    except BaseException:
        os.close(fd)
        raise


def _within(deadline_s: float, path: Path | str, work: Callable[[], T]) -> T:
    """Run ``work`` in a worker thread; its result, its exception, or FileReadError."""
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["value"] = work()
        except BaseException as exc:
            box["error"] = exc

    worker = threading.Thread(target=run, name=f"fixgate-read {path}", daemon=True)
    worker.start()
    worker.join(deadline_s)
    if worker.is_alive():
        raise FileReadTimeout(path, f"not read within {deadline_s:g} s (a hung mount or device?)")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


def use_regular_file(
    path: Path | str,
    use: Callable[[BinaryIO, int], T],
    *,
    deadline_s: float = DEFAULT_DEADLINE_S,
) -> T:
    """Open ``path`` as a regular file and return ``use(fh, size)``, all within
    ``deadline_s``; for readers that stream (a BSON walk) rather than load."""

    def work() -> T:
        fh, size = _open_regular(path)
        with fh:
            return use(fh, size)

    return _within(deadline_s, path, work)


def read_bytes(
    path: Path | str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    deadline_s: float = DEFAULT_DEADLINE_S,
) -> bytes:
    """The whole of a regular file of at most ``max_bytes``, read within ``deadline_s``."""

    def load(fh: BinaryIO, size: int) -> bytes:
        if size > max_bytes:
            raise FileReadError(path, f"{size} bytes, over the {_mib(max_bytes)} limit")
        parts: list[bytes] = []
        total = 0
        while chunk := fh.read(_CHUNK):
            total += len(chunk)
            if total > max_bytes:  # grew while being read
                raise FileReadError(path, f"over the {_mib(max_bytes)} limit")
            parts.append(chunk)
        return b"".join(parts)

    try:
        return use_regular_file(path, load, deadline_s=deadline_s)
    except (FileNotFoundError, FileReadError):
        raise
    except OSError as exc:
        raise FileReadError(path, f"cannot be read ({exc.strerror or exc})") from None


def read_text(
    path: Path | str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    deadline_s: float = DEFAULT_DEADLINE_S,
    encoding: str = "utf-8",
) -> str:
    """:func:`read_bytes` decoded; text that does not decode is refused without showing it."""
    data = read_bytes(path, max_bytes=max_bytes, deadline_s=deadline_s)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise FileReadError(
            path, f"not {encoding} text (byte {exc.start}; the content is not shown)"
        ) from None


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):g} MiB" if n >= 1024 * 1024 else f"{n} bytes"
