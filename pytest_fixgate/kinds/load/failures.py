"""Failure kinds of a load run, and the rule that sorts one request into them.

Pure and stdlib-only: it is loaded by file path inside the Locust process
(by ``capture.py``) and imported normally in the gate process.

Rule, first match wins:

====================  =====================================================
kind                  when
====================  =====================================================
``rate_limited``      HTTP 429, whatever the locustfile said (not a failure:
                      counted apart, it makes a gate INCONCLUSIVE)
``http_5xx``          HTTP status >= 500, even if the locustfile marked the
                      request a success
(success)             no exception, and the body matches ``expect_json``
                      when that is configured
``bad_body``          a 2xx whose JSON body does not match ``expect_json``
``timeout``           an exception whose type (or a base) is TimeoutError or
                      is named ``*Timeout*`` (gevent, requests, urllib3), or
                      that wraps one (``original``, ``__cause__``)
``connection``        likewise a ConnectionError or another OSError
                      (refused, reset, DNS failure)
``http_4xx``          HTTP 400-499 (429 excepted)
``bad_body``          the locustfile called ``response.failure()`` on a 1xx-3xx
                      response: it rejected the content
``other``             anything else
====================  =====================================================

Not from this rule but from the capture module: ``unfinished``, a request
still in flight when the load stopped (its elapsed time is a lower bound of
its latency).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

__all__ = ["FAILURE_KINDS", "FailureKind", "body_matches", "classify", "describe"]


class FailureKind(StrEnum):
    """Why a request did not count as a success."""

    HTTP_5XX = "http_5xx"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    BAD_BODY = "bad_body"
    HTTP_4XX = "http_4xx"
    OTHER = "other"
    UNFINISHED = "unfinished"
    RATE_LIMITED = "rate_limited"


# The kinds that count as failures (rate_limited is counted apart).
FAILURE_KINDS: tuple[FailureKind, ...] = tuple(k for k in FailureKind if k != "rate_limited")


def _type_names(exc: BaseException) -> list[str]:
    return [cls.__name__ for cls in type(exc).__mro__]


def _chain(exc: BaseException) -> list[BaseException]:
    # Clients wrap the cause: geventhttpclient's RetriesExceeded(original=timeout),
    # requests' ConnectionError(__cause__=urllib3's ...). Follow a few links.
    seen: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo and len(seen) < 8:
        current = todo.pop(0)
        if any(current is s for s in seen):
            continue
        seen.append(current)
        for link in (getattr(current, "original", None), current.__cause__, current.__context__):
            if isinstance(link, BaseException):
                todo.append(link)
    return seen


def _exception_kind(exc: BaseException) -> FailureKind | None:
    chain = _chain(exc)
    for link in chain:
        if isinstance(link, TimeoutError) or any("Timeout" in n for n in _type_names(link)):
            return FailureKind.TIMEOUT
    for link in chain:
        if isinstance(link, OSError) or "ConnectionError" in _type_names(link):
            return FailureKind.CONNECTION
    return None


def body_matches(expected: Mapping[str, Any], body: bytes | str | None) -> bool:
    """True when ``body`` is a JSON object holding every key of ``expected`` with that value."""
    if not body:
        return False
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return False
    if not isinstance(data, dict):
        return False
    return all(key in data and data[key] == value for key, value in expected.items())


def classify(
    status: int | None,
    exception: BaseException | None,
    body_ok: bool | None = None,
) -> FailureKind | None:
    """The kind of one request (None: a success), by the rule in the module docstring.

    ``status`` is the HTTP status (0 or None when no response arrived);
    ``body_ok`` is the ``expect_json`` check's verdict, None when not checked.
    """
    if status == 429:
        return FailureKind.RATE_LIMITED
    if status is not None and status >= 500:
        return FailureKind.HTTP_5XX
    if exception is None:
        return FailureKind.BAD_BODY if body_ok is False else None
    kind = _exception_kind(exception)
    if kind is not None:
        return kind
    if status is not None and 400 <= status < 500:
        return FailureKind.HTTP_4XX
    if status and "CatchResponseError" in _type_names(exception):
        return FailureKind.BAD_BODY
    return FailureKind.OTHER


def describe(status: int | None, exception: BaseException | None) -> str:
    """One short line for a failure example in the evidence."""
    parts = []
    if status:
        parts.append(f"HTTP {status}")
    if exception is not None:
        parts.append(f"{type(exception).__name__}: {exception}")
    return " ".join(parts)[:200] or "no response"
