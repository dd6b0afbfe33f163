"""Every clock read of pytest-fixgate, in one place, so tests can control time."""

from __future__ import annotations

import datetime as _dt
import time as _time

__all__ = ["monotonic", "perf_counter", "sleep", "utcnow"]


def utcnow() -> _dt.datetime:
    """The current time as an aware UTC datetime."""
    return _dt.datetime.now(_dt.UTC)


def monotonic() -> float:
    return _time.monotonic()


def perf_counter() -> float:
    return _time.perf_counter()


def sleep(seconds: float) -> None:
    _time.sleep(seconds)
