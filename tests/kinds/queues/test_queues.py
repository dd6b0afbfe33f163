"""The queue gate's measurement and judge against real redis-server and SecantusDB: LLEN
and a filtered count against max, over it FAIL, an unreachable source or a key that is not
a list ERROR, a missing collection ERROR; config."""

from __future__ import annotations

import secrets

import pymongo
import pytest
import redis

from pytest_fixgate.config.table import ConfigTable
from pytest_fixgate.errors import ConfigError, ProbeBadResponse, ProbeError
from pytest_fixgate.kinds import KindContext
from pytest_fixgate.kinds.queues.config import QueueSpec, parse_queues
from pytest_fixgate.kinds.queues.judge import judge_queue
from pytest_fixgate.kinds.queues.measurement import mongo_queue_depth, redis_queue_depth
from pytest_fixgate.outcomes.model import Outcome
from pytest_fixgate.reference import free_port


def test_redis_list_depth_against_max(redis_srv):
    key = "queue:test-" + secrets.token_hex(4)
    client = redis.Redis.from_url(redis_srv.url)
    try:
        client.rpush(key, *range(5))
        reading = redis_queue_depth(redis_srv.url, key, timeout_s=2)
        assert reading.depth == 5
        assert judge_queue(QueueSpec(id="q", max=5, redis_list=key), reading).outcome is (
            Outcome.PASS
        )
        finding = judge_queue(QueueSpec(id="q", max=4, redis_list=key), reading)
        assert finding.outcome is Outcome.FAIL
        assert finding.evidence.reason == "queue q holds 5 job(s), over its limit of 4"
        client.set(key + ":str", "x")
        with pytest.raises(ProbeBadResponse, match="not a list"):
            redis_queue_depth(redis_srv.url, key + ":str", timeout_s=2)
    finally:
        client.delete(key, key + ":str")
        client.close()


def test_unreachable_redis_is_an_error():
    with pytest.raises(ProbeError):
        redis_queue_depth(f"redis://127.0.0.1:{free_port()}/0", "q", timeout_s=0.5)


def test_mongo_count_depth_against_max(mongo):
    client: pymongo.MongoClient = pymongo.MongoClient(mongo.uri)
    name = "q_" + secrets.token_hex(4)
    try:
        client[name].background_jobs.insert_many(
            [{"status": s} for s in ["queued"] * 4 + ["completed"] * 3]
        )
        spec = QueueSpec(
            id="jobs", max=3, collection="background_jobs", filter={"status": "queued"}
        )
        reading = mongo_queue_depth(mongo.uri, name, "background_jobs", spec.filter, timeout_s=2)
        assert reading.depth == 4
        assert judge_queue(spec, reading).outcome is Outcome.FAIL
        missing = mongo_queue_depth(mongo.uri, name, "background_jobz", {}, timeout_s=2)
        finding = judge_queue(spec, missing)
        assert finding.outcome is Outcome.ERROR
        assert "does not exist" in finding.evidence.reason
    finally:
        client.drop_database(name)
        client.close()


def _parse(entries, env=None):
    env = {"redis_url_env": "R", "mongodb_uri_env": "M"} if env is None else env
    ctx = KindContext("staging", None, 5.0, "f.toml", {"staging": env})  # type: ignore[arg-type]
    return parse_queues(
        [ConfigTable(e, "f.toml", f"env.staging.queues[{i}]") for i, e in enumerate(entries)], ctx
    )


def test_queue_config():
    redis_spec, mongo_spec = _parse(
        [
            {"id": "notifications", "redis_list": "queue:n", "max": 1000},
            {
                "id": "jobs",
                "collection": "background_jobs",
                "filter": {"status": "queued"},
                "max": 5,
            },
        ]
    )
    assert redis_spec.redis_url_env == "R" and redis_spec.gate_id == "queue.notifications"
    assert mongo_spec.mongodb_uri_env == "M" and mongo_spec.filter == {"status": "queued"}
    for entries, env, message in [
        ([{"id": "q", "max": 1}], None, "exactly one of redis_list"),
        ([{"id": "q", "max": 1, "redis_list": "a", "collection": "b"}], None, "exactly one"),
        ([{"id": "q", "max": -1, "redis_list": "a"}], None, "queues\\[0\\].max"),
        ([{"id": "q q", "max": 1, "redis_list": "a"}], None, "queues\\[0\\].id"),
        ([{"id": "q", "max": 1, "redis_list": "a"}] * 2, None, "a queue id used once"),
        ([{"id": "q", "max": 1, "redis_list": "a"}], {}, "no Redis URL variable"),
        ([{"id": "q", "max": 1, "redis_list": "a", "filter": {}}], None, "unknown key"),
    ]:
        with pytest.raises(ConfigError, match=message):
            _parse(entries, env)


# -- `pytest --gate` end to end --------------------------------------------------------------


def _queue_run(tmp_path, mongo, redis_srv, tables: str):
    from gaterun import GATES, run_gate, staging_config

    config = staging_config(
        f"http://127.0.0.1:{free_port()}",
        tables,
        redis_url_env="REDIS_URL",
        mongodb_uri_env="MONGODB_URI",
    )
    environ = {"REDIS_URL": redis_srv.url, "MONGODB_URI": mongo.uri}
    return run_gate(tmp_path, config, suite=GATES / "test_queues.py", environ=environ)


def test_a_missing_redis_key_is_visible_and_must_exist_refuses_it(tmp_path, mongo, redis_srv):
    # Seen before: a misspelt Redis list read as 0 jobs, PASS, with nothing to tell.
    real = "queue:notify-" + secrets.token_hex(4)
    client = redis.Redis.from_url(redis_srv.url)
    try:
        client.rpush(real, "job-1")
        client.hset(real + ":meta", "paused", "0")  # a BullMQ-style hash beside the list
        tables = f"""
[[env.staging.queues]]
id = "lenient"
redis_list = "{real}s"
max = 10

[[env.staging.queues]]
id = "strict"
redis_list = "{real}s"
must_exist = true
max = 10

[[env.staging.queues]]
id = "strict_real"
redis_list = "{real}"
must_exist = true
max = 10

[[env.staging.queues]]
id = "hash"
redis_list = "{real}:meta"
max = 10

[[env.staging.queues]]
id = "jobs_optional"
collection = "background_jobz"
database = "q_{secrets.token_hex(4)}"
must_exist = false
max = 10
"""
        result = _queue_run(tmp_path, mongo, redis_srv, tables)
    finally:
        client.delete(real, real + ":meta")
        client.close()
    outcomes = result.outcomes()
    assert result.exit_code == 1 and result.verdict["decision"] == "HOLD", result.output[-2000:]
    lenient = result.gate("queue.lenient")
    assert outcomes["queue.lenient"] == "PASS"
    assert f"Redis key {real}s does not exist, read as empty" in lenient["reason"]
    assert lenient["evidence"]["exists"] is False
    assert outcomes["queue.strict"] == "ERROR"
    assert (
        f"Redis key {real}s does not exist: nothing to count"
        in (result.gate("queue.strict")["reason"])
    )
    assert outcomes["queue.strict_real"] == "PASS"
    assert result.gate("queue.strict_real")["measured"] == "1 jobs"
    assert outcomes["queue.hash"] == "ERROR"
    assert f"key {real}:meta is a Redis hash, not a list" in result.gate("queue.hash")["reason"]
    # The Mongo queue takes the same key: must_exist = false reads a missing collection as 0.
    assert outcomes["queue.jobs_optional"] == "PASS"
    assert (
        "collection background_jobz does not exist, read as empty"
        in (result.gate("queue.jobs_optional")["reason"])
    )


def test_must_exist_is_a_boolean(tmp_path):
    with pytest.raises(ConfigError, match=r"queues\[0\].must_exist"):
        _parse([{"id": "q", "max": 1, "redis_list": "a", "must_exist": "yes"}])
