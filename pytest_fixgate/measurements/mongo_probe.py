"""The MongoDB probe: a ``ping`` through pymongo, with its errors translated in one place."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pytest_fixgate import timing
from pytest_fixgate.errors import ProbeConnectError, ProbeError, ProbeTimeout
from pytest_fixgate.measurements.ping import Ping
from pytest_fixgate.redaction import Redactor, mask_uri_password

__all__ = ["mongo_ping", "translate_errors"]


@contextmanager
def translate_errors(target: str, timeout_s: float, redactor: Redactor) -> Iterator[None]:
    # deferred: pymongo loads only when a MongoDB reader runs
    from pymongo import errors

    try:
        yield
    except errors.ServerSelectionTimeoutError as exc:
        raise ProbeConnectError(
            f"{target}: no server answered within {timeout_s:g} s "
            f"({redactor.text(str(exc)).split(',')[0]})",
            target=target,
        ) from None
    except (errors.ExecutionTimeout, errors.NetworkTimeout) as exc:
        raise ProbeTimeout(f"{target}: {type(exc).__name__}", target=target) from None
    except errors.ConnectionFailure as exc:
        raise ProbeConnectError(
            f"{target}: {type(exc).__name__}: {redactor.text(str(exc))}", target=target
        ) from None
    except (errors.ConfigurationError, errors.InvalidURI) as exc:
        raise ProbeError(f"invalid MongoDB URI: {redactor.text(str(exc))}", target=target) from None
    except errors.PyMongoError as exc:
        raise ProbeError(
            f"{target}: {type(exc).__name__}: {redactor.text(str(exc))}", target=target
        ) from None


def mongo_ping(uri: str, *, timeout_s: float) -> Ping:
    """Run ``{"ping": 1}`` against ``uri`` with a short server-selection timeout."""
    # deferred: pymongo loads only when a MongoDB reader runs
    from pymongo import MongoClient  # ~130 ms to import: only when a Mongo gate runs

    redactor = Redactor([uri])
    target = mask_uri_password(uri)
    ms = int(timeout_s * 1000)
    with translate_errors(target, timeout_s, redactor):
        client: MongoClient = MongoClient(
            uri,
            serverSelectionTimeoutMS=ms,
            connectTimeoutMS=ms,
            socketTimeoutMS=ms,
            retryReads=False,
            appname="pytest-fixgate",
        )
        try:
            started = timing.perf_counter()
            reply = client.admin.command("ping")
            elapsed_ms = (timing.perf_counter() - started) * 1000
        finally:
            client.close()
    return Ping(elapsed_ms=elapsed_ms, ok=float(reply.get("ok", 0)) == 1.0)
