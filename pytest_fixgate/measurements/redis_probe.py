"""The Redis probe: a ``PING`` through redis-py, with no retries, errors translated here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pytest_fixgate import timing
from pytest_fixgate.errors import ProbeConnectError, ProbeError, ProbeTimeout
from pytest_fixgate.measurements.ping import Ping
from pytest_fixgate.redaction import Redactor, mask_uri_password

__all__ = ["redis_ping", "translate_errors"]


@contextmanager
def translate_errors(target: str, timeout_s: float, redactor: Redactor) -> Iterator[None]:
    # deferred: redis-py loads only when a Redis reader runs
    from redis import exceptions

    try:
        yield
    except exceptions.TimeoutError as exc:
        raise ProbeTimeout(
            f"{target}: no answer within {timeout_s:g} s ({redactor.text(str(exc))})",
            target=target,
        ) from None
    except exceptions.AuthenticationError as exc:
        raise ProbeError(
            f"{target}: authentication failed ({type(exc).__name__})", target=target
        ) from None
    except exceptions.ConnectionError as exc:
        raise ProbeConnectError(f"{target}: {redactor.text(str(exc))}", target=target) from None
    except ValueError as exc:  # redis-py's answer to a malformed URL
        raise ProbeError(f"invalid Redis URL: {redactor.text(str(exc))}", target=target) from None
    except exceptions.RedisError as exc:
        raise ProbeError(
            f"{target}: {type(exc).__name__}: {redactor.text(str(exc))}", target=target
        ) from None


def redis_client(url: str, *, timeout_s: float) -> Any:
    """A client that makes one attempt per command, answered or failed within
    ``timeout_s``: redis-py 8 retries 10 times with backoff by default, ~5 s to say
    "down". Every Redis reader (the ping, the queue gate, the watch) uses this one."""
    # deferred: redis-py loads only when a Redis gate or source runs
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
    )


def redis_ping(url: str, *, timeout_s: float) -> Ping:
    """``PING`` the server at ``url``; one attempt, answered or failed within ``timeout_s``."""
    redactor = Redactor([url])
    target = mask_uri_password(url)
    with translate_errors(target, timeout_s, redactor):
        client = redis_client(url, timeout_s=timeout_s)
        try:
            started = timing.perf_counter()
            answer = client.ping()
            elapsed_ms = (timing.perf_counter() - started) * 1000
        finally:
            client.close()
    return Ping(elapsed_ms=elapsed_ms, ok=bool(answer))
