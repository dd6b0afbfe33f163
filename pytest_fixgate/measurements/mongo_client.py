"""A short-lived, read-only pymongo client for the data gates, its errors translated once.

The fingerprint, the pending-migrations read, the index check and the queue
count all open a client the same way: short timeouts, no retried reads, the
URI's password never in a message (driver exceptions become
:class:`~pytest_fixgate.errors.ProbeError` through the MongoDB probe's translator).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from pytest_fixgate.errors import ProbeError
from pytest_fixgate.measurements.mongo_probe import translate_errors
from pytest_fixgate.redaction import Redactor, mask_uri_password

if TYPE_CHECKING:
    from pymongo import MongoClient
    from pymongo.database import Database

__all__ = ["MongoTarget", "mongo_database"]


class MongoTarget:
    """An open client on one database, plus the masked target for evidence lines."""

    def __init__(self, client: MongoClient[Any], database: str, target: str) -> None:
        self.client = client
        self.name = database
        self.target = target

    @property
    def db(self) -> Database[Any]:
        return self.client[self.name]


@contextmanager
def mongo_database(uri: str, database: str | None, *, timeout_s: float) -> Iterator[MongoTarget]:
    """A client on ``database`` (default: the URI's own database); closed on exit.

    Every pymongo error raised inside the block becomes a ProbeError (gate ERROR).
    """
    # deferred: pymongo loads only when a MongoDB reader runs
    from pymongo import MongoClient  # ~130 ms to import: only when a data gate runs

    redactor = Redactor([uri])
    target = mask_uri_password(uri)
    ms = int(timeout_s * 1000)
    with translate_errors(target, timeout_s, redactor):
        client: MongoClient[Any] = MongoClient(
            uri,
            serverSelectionTimeoutMS=ms,
            connectTimeoutMS=ms,
            socketTimeoutMS=ms,
            retryReads=False,
            retryWrites=False,
            appname="pytest-fixgate",
        )
        try:
            name = database or _uri_database(client)
            if not name:
                raise ProbeError(
                    f"{target}: the URI names no database and the config gives none "
                    "(set `database`)",
                    target=target,
                )
            yield MongoTarget(client, name, f"{target} database {name}")
        finally:
            client.close()


def _uri_database(client: MongoClient[Any]) -> str | None:
    # deferred: pymongo loads only when a MongoDB reader runs
    from pymongo.errors import ConfigurationError

    try:
        return client.get_default_database().name
    except ConfigurationError:  # the URI names no database
        return None
