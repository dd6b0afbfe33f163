"""Durations as written in config: ``"5m"``, ``"30s"``, ``"1h"``, ``"500ms"``, or seconds."""

from __future__ import annotations

import math
import re

__all__ = ["parse_duration"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_SCALE = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(value: object) -> float:
    """Seconds in ``value``; raise ``ValueError`` with what was expected."""
    if isinstance(value, bool):
        raise ValueError('a duration such as "5m", "30s" or a number of seconds')
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _SCALE[match.group(2)]
    else:
        raise ValueError('a duration such as "5m", "30s" or a number of seconds')
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError("a positive, finite duration")
    return seconds
