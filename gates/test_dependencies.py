"""Runbook, "Common Issues & Fixes": check MongoDB connectivity
(`db.adminCommand('ping')`) and the Redis session store, directly."""

from __future__ import annotations

import pytest

from pytest_fixgate.kinds.dependencies.judge import judge_ping
from pytest_fixgate.measurements.mongo_probe import mongo_ping
from pytest_fixgate.measurements.redis_probe import redis_ping
from pytest_fixgate.measurements.secrets import read_secret
from pytest_fixgate.redaction import mask_uri_password


@pytest.mark.gate(
    id="mongo.ping", title="MongoDB answers ping", severity="critical", needs="mongodb_uri_env"
)
def test_mongo_ping(gate, gate_env):
    uri = read_secret(gate_env.mongodb_uri_env, f"env.{gate_env.name}.mongodb_uri_env")
    gate.measuring(
        f"pymongo admin.command('ping') on {mask_uri_password(uri)}, "
        f"serverSelectionTimeoutMS={int(gate_env.timeout_s * 1000)}",
        threshold="ok",
    )
    gate.record(judge_ping("MongoDB", mongo_ping(uri, timeout_s=gate_env.timeout_s)))


@pytest.mark.gate(
    id="redis.ping", title="Redis answers PING", severity="major", needs="redis_url_env"
)
def test_redis_ping(gate, gate_env):
    url = read_secret(gate_env.redis_url_env, f"env.{gate_env.name}.redis_url_env")
    gate.measuring(
        f"redis-py PING on {mask_uri_password(url)}, no retries, timeout {gate_env.timeout_s:g} s",
        threshold="ok",
    )
    gate.record(judge_ping("Redis", redis_ping(url, timeout_s=gate_env.timeout_s)))
