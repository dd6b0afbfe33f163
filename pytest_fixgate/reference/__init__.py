"""The reference staging service that gate runs and tests point at, and its launchers.

``python -m pytest_fixgate.reference`` serves the runbook's routes over real
MongoDB and Redis, with switchable faults (:mod:`.faults`);
:mod:`.processes` starts it, and the servers under it, on free ports.
Importing this package stays light: the web stack loads only in :mod:`.app`.
"""

from __future__ import annotations

from pytest_fixgate.reference.faults import Distribution, FaultError, Faults, parse_distribution
from pytest_fixgate.reference.processes import (
    MongoServer,
    ProcessStartError,
    RedisServer,
    ReferenceService,
    free_port,
    mongo_server,
    redis_server,
    reference_service,
)

__all__ = [
    "Distribution",
    "FaultError",
    "Faults",
    "MongoServer",
    "ProcessStartError",
    "RedisServer",
    "ReferenceService",
    "free_port",
    "mongo_server",
    "parse_distribution",
    "redis_server",
    "reference_service",
]
