"""Shared fixtures: real servers on free ports of 127.0.0.1, started once per session.

- ``mongo``: a SecantusDB server (MongoDB wire protocol), in memory.
- ``redis_srv``: a redis-server without persistence.
- ``reference``: the reference staging service over both, seeded, with the
  admin token ``reference_admin_token``. Tests share it: faults set with
  ``reference.set_faults(...)`` are put back to ``Faults()`` after each test.

Under pytest-xdist each worker starts its own servers.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from pytest_fixgate.reference import (
    MongoServer,
    RedisServer,
    ReferenceService,
    mongo_server,
    redis_server,
    reference_service,
)


@pytest.fixture(scope="session")
def mongo() -> Iterator[MongoServer]:
    with mongo_server() as server:
        yield server


@pytest.fixture(scope="session")
def redis_srv() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


@pytest.fixture(scope="session")
def reference_admin_token() -> str:
    return "test-admin-" + secrets.token_hex(8)


@pytest.fixture(scope="session")
def reference(
    mongo: MongoServer, redis_srv: RedisServer, reference_admin_token: str
) -> Iterator[ReferenceService]:
    with reference_service(
        mongo.uri, redis_srv.url, admin_token=reference_admin_token, seed=True
    ) as service:
        yield service


@pytest.fixture(autouse=True)
def _reset_reference_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    # Only for tests that use the shared service: the others must not start it.
    yield
    if "reference" in request.fixturenames:
        request.getfixturevalue("reference").set_faults()
