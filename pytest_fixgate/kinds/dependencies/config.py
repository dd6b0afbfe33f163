"""The dependency gate kind: MongoDB and Redis answer a ping, directly.

It has no table of its own: the environment's ``mongodb_uri_env`` and
``redis_url_env`` configure it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_fixgate.kinds import GateKind

if TYPE_CHECKING:
    from pytest_fixgate.config.schema import EnvConfig

__all__ = ["KIND"]


def _ids(_: None, env: EnvConfig) -> list[str]:
    ids = []
    if env.mongodb_uri_env:
        ids.append("mongo.ping")
    if env.redis_url_env:
        ids.append("redis.ping")
    return ids


KIND = GateKind(section=None, gate_ids=_ids, title="dependencies")
