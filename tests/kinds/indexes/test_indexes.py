"""The index gate's measurement and judge against a real SecantusDB: exact keys in order,
a name that need not match, explain() IXSCAN vs COLLSCAN, a missing collection; config."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pymongo
import pytest

from pytest_fixgate.config.table import ConfigTable
from pytest_fixgate.errors import ConfigError, ProbeError
from pytest_fixgate.kinds import KindContext
from pytest_fixgate.kinds.indexes.config import IndexSpec, parse_indexes
from pytest_fixgate.kinds.indexes.judge import judge_index
from pytest_fixgate.kinds.indexes.measurement import plan_stages, read_indexes
from pytest_fixgate.outcomes.model import Outcome
from pytest_fixgate.reference import free_port


@pytest.fixture
def db(mongo) -> Iterator[pymongo.database.Database]:
    client: pymongo.MongoClient = pymongo.MongoClient(mongo.uri)
    name = "ix_" + secrets.token_hex(4)
    db = client[name]
    db.workOrders.insert_many(
        [{"organizationId": f"org-{i % 5}", "status": "open", "n": i} for i in range(40)]
    )
    db.workOrders.create_index([("organizationId", 1), ("status", 1)], name="idx_org_status")
    yield db
    client.drop_database(name)
    client.close()


def _spec(keys, query=None, collection="workOrders", db_name=None) -> IndexSpec:
    return IndexSpec(
        collection=collection,
        keys=tuple(keys),
        mongodb_uri_env="MONGODB_URI",
        database=db_name,
        query=query,
    )


def _judge(mongo, db, spec: IndexSpec):
    reading = read_indexes(mongo.uri, db.name, spec.collection, query=spec.query, timeout_s=5)
    return judge_index(spec, reading)


def test_index_with_the_keys_passes_whatever_its_name(mongo, db):
    spec = _spec(
        [("organizationId", 1), ("status", 1)], {"organizationId": "org-1", "status": "open"}
    )
    finding = _judge(mongo, db, spec)
    assert finding.outcome is Outcome.PASS, finding.evidence.reason
    assert finding.evidence.details["matching_index"] == "idx_org_status"
    assert "IXSCAN" in finding.evidence.details["plan_stages"]
    assert spec.gate_id == "index.workOrders.organizationId_1_status_1"


def test_keys_in_another_order_or_direction_are_not_the_index(mongo, db):
    finding = _judge(mongo, db, _spec([("status", 1), ("organizationId", 1)]))
    assert finding.outcome is Outcome.FAIL
    assert finding.evidence.reason == (
        f"{db.name}.workOrders has no index on {{status: 1, organizationId: 1}} "
        "(index idx_org_status has these fields in another order or direction)"
    )
    assert _judge(mongo, db, _spec([("organizationId", 1), ("status", -1)])).outcome is (
        Outcome.FAIL
    )


def test_a_query_planned_as_a_collection_scan_fails(mongo, db):
    finding = _judge(mongo, db, _spec([("organizationId", 1), ("status", 1)], {"n": 3}))
    assert finding.outcome is Outcome.FAIL
    assert "COLLSCAN" in finding.evidence.reason


def test_a_missing_collection_is_an_error(mongo, db):
    finding = _judge(mongo, db, _spec([("a", 1)], collection="nope"))
    assert finding.outcome is Outcome.ERROR
    assert finding.evidence.reason == f"collection {db.name}.nope does not exist"


def test_an_unreachable_server_is_an_error():
    with pytest.raises(ProbeError):
        read_indexes(f"mongodb://127.0.0.1:{free_port()}/", "x", "c", query=None, timeout_s=0.3)


def test_plan_stages_walks_nested_plans():
    plan = {
        "stage": "SORT",
        "inputStage": {
            "stage": "OR",
            "inputStages": [
                {"stage": "IXSCAN", "indexName": "a_1"},
                {"stage": "FETCH", "inputStage": {"stage": "COLLSCAN"}},
            ],
        },
    }
    assert plan_stages(plan) == (["SORT", "OR", "IXSCAN", "FETCH", "COLLSCAN"], ["a_1"])


def _parse(entries):
    ctx = KindContext("staging", None, 5.0, "f.toml", {"staging": {"mongodb_uri_env": "M"}})  # type: ignore[arg-type]
    return parse_indexes(
        [ConfigTable(e, "f.toml", f"env.staging.indexes[{i}]") for i, e in enumerate(entries)], ctx
    )


def test_index_config():
    (spec,) = _parse([{"collection": "w", "keys": {"b": 1, "a": -1}, "name": "idx_b"}])
    assert spec.keys == (("b", 1), ("a", -1)) and spec.gate_id == "index.w.idx_b"
    assert spec.mongodb_uri_env == "M"
    for entries, message in [
        ([{"collection": "w", "keys": {}}], "indexes\\[0\\].keys"),
        ([{"collection": "w", "keys": {"a": 2}}], "indexes\\[0\\].keys.a"),
        ([{"collection": "w", "keys": {"a": True}}], "indexes\\[0\\].keys.a"),
        ([{"collection": "w", "keys": {"a": 1}}] * 2, "one entry per gate id"),
        ([{"collection": "w", "key": {"a": 1}}], "missing required key"),
    ]:
        with pytest.raises(ConfigError, match=message):
            _parse(entries)


def test_missing_index_fault_at_start_up_and_switched_off():
    from pytest_fixgate.reference import Faults, mongo_server, redis_server, reference_service
    from pytest_fixgate.reference.app import DEFAULT_DB

    spec = _spec([("organizationId", 1), ("status", 1)])
    with (
        mongo_server() as own_mongo,
        redis_server() as own_redis,
        reference_service(
            own_mongo.uri, own_redis.url, Faults(missing_index=True), seed=True
        ) as service,
    ):
        client: pymongo.MongoClient = pymongo.MongoClient(own_mongo.uri)
        db = client[DEFAULT_DB]
        # Seeding builds the index; the fault given at start-up still wins.
        assert _judge(own_mongo, db, spec).outcome is Outcome.FAIL
        service.set_faults()
        assert _judge(own_mongo, db, spec).outcome is Outcome.PASS
        service.set_faults(missing_index=True)
        assert _judge(own_mongo, db, spec).outcome is Outcome.FAIL
        client.close()
