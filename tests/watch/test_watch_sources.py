"""Watch sources against real servers: SecantusDB (MongoDB wire), redis-server, the
Prometheus and Sentry stand-ins. A failing source is a gap or a counted connection
failure, never a good value; no source writes to the watched system."""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path
from typing import Any

import pytest
from prometheus_standin import prometheus_standin
from sentry_standin import sentry_standin

from pytest_fixgate.config.loader import load_config
from pytest_fixgate.errors import ProbeError
from pytest_fixgate.redaction import Redactor
from pytest_fixgate.reference import free_port
from pytest_fixgate.watch.engine import Count, Level, Rate
from pytest_fixgate.watch.sources import open_sources


def _env(tmp_path: Path, text: str) -> Any:
    path = tmp_path / "fixgate.toml"
    path.write_text('[env.production]\nbase_url = "http://127.0.0.1:9"\n' + text)
    return load_config(path).envs["production"]


def _source(env: Any, name: str) -> Any:
    sources = open_sources(env.section("watch"), env, Redactor())
    for other, source in sources.items():
        if other != name:
            source.close()
    return sources[name]


MONGO = """
mongodb_uri_env = "W_MONGO"
[env.production.watch]
[env.production.watch.mongo]
database = "{db}"
counts = {{ queue_depth = {{ collection = "background_jobs", filter = {{ status = "queued" }} }} }}
[env.production.watch.mongo.payments]
window = "10m"
[[env.production.watch.rules]]
id = "pay"
severity = "SEV-2"
source = "mongo"
when = "payment_failure_rate > 3%"
count = 1
within = "1s"
"""


def _snapshot(db: Any) -> Any:
    return {
        name: (
            sorted((repr(d) for d in db[name].find()), key=str),
            db[name].index_information(),
        )
        for name in sorted(db.list_collection_names())
    }


@pytest.fixture
def payments_db(mongo: Any) -> Any:
    from pymongo import MongoClient

    client: MongoClient[Any] = MongoClient(mongo.uri)
    db = client[f"watch_{secrets.token_hex(4)}"]
    now = dt.datetime.now(dt.UTC)
    db.background_jobs.insert_many(
        [{"type": "email", "status": s} for s in ["queued"] * 3 + ["completed"] * 2]
    )
    statuses = ["CAPTURED"] * 16 + ["DECLINED", "CAPTURED", "FAILED", "AUTHORIZED"]
    statuses += ["CANCELLED", "DECLINED", "FAILED"]  # the newest three: a run of failures
    docs = [
        {"chargeId": f"chg_{i}", "status": s, "updatedAt": now - dt.timedelta(seconds=60 - i)}
        for i, s in enumerate(statuses)
    ]
    docs.append({"chargeId": "old", "status": "DECLINED", "updatedAt": now - dt.timedelta(hours=2)})
    docs.append({"chargeId": "open", "status": "INITIATED", "updatedAt": now})
    db.finance_tap_transactions.insert_many(docs)
    yield db
    client.drop_database(db.name)
    client.close()


def test_mongo_source_counts_and_payments_read_only(
    tmp_path: Path, mongo: Any, payments_db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("W_MONGO", mongo.uri)
    env = _env(tmp_path, MONGO.format(db=payments_db.name))
    before = _snapshot(payments_db)
    source = _source(env, "mongo")
    try:
        readings = [source.sample() for _ in range(3)]
    finally:
        source.close()
    assert readings[0]["connection_failures"] == Count(0)
    assert readings[0]["queue_depth"] == Count(3)
    # 23 terminal in the window (the INITIATED one is not, the 2-hour-old one is out)
    assert readings[0]["payment_failure_rate"] == Rate(5, 23)
    assert readings[0]["payment_consecutive_failures"] == Count(3)
    assert _snapshot(payments_db) == before  # the watch never writes


def test_mongo_down_is_a_connection_failure_and_gaps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("W_MONGO", f"mongodb://user:pw-{'x' * 8}@127.0.0.1:{free_port()}/app")
    env = _env(tmp_path, MONGO.format(db="app").replace('"10m"', '"10m"'))
    source = _source(env, "mongo")
    try:
        assert source.sample() == {"connection_failures": Count(1)}
    finally:
        source.close()
    assert "pw-" not in source.method


REDIS = """
redis_url_env = "W_REDIS"
[env.production.watch]
[env.production.watch.redis]
lists = { queue_depth = ["q:email", "q:sms"], otp = "q:otp" }
[[env.production.watch.rules]]
id = "q"
severity = "SEV-3"
source = "redis"
when = "queue_depth > 1000"
for = "10m"
"""


def test_redis_source_sums_list_lengths(
    tmp_path: Path, redis_srv: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import redis

    client = redis.Redis.from_url(redis_srv.url)
    prefix = secrets.token_hex(3)
    client.rpush(f"{prefix}q:email", *range(4))
    client.rpush(f"{prefix}q:sms", *range(3))
    monkeypatch.setenv("W_REDIS", redis_srv.url)
    env = _env(tmp_path, REDIS.replace('"q:', f'"{prefix}q:'))
    source = _source(env, "redis")
    try:
        assert source.sample() == {
            "connection_failures": Count(0),
            "queue_depth": Count(7),
            "otp": Count(0),
        }
    finally:
        source.close()
    assert client.llen(f"{prefix}q:email") == 4  # read, not popped
    monkeypatch.setenv("W_REDIS", f"redis://127.0.0.1:{free_port()}/0")
    source = _source(_env(tmp_path, REDIS), "redis")
    try:
        assert source.sample() == {"connection_failures": Count(1)}
    finally:
        source.close()


PROM = """
[env.production.watch]
[env.production.watch.prometheus]
url = "{url}"
queries = {{ cpu = "cpu_q", memory = "mem_q", disk = {{ query = "disk_q", kind = "ratio" }} }}
[[env.production.watch.rules]]
id = "cpu"
severity = "SEV-3"
source = "prometheus"
when = "cpu > 80%"
for = "10m"
"""


def test_prometheus_source_instant_queries(tmp_path: Path) -> None:
    with prometheus_standin() as prom:
        prom.set("cpu_q", 0.42)
        prom.set("mem_q", [0.2, 0.9])  # two nodes: the worst counts
        prom.set("disk_q", [])  # no series: a gap, not 0
        source = _source(_env(tmp_path, PROM.format(url=prom.base_url)), "prometheus")
        try:
            assert source.sample() == {"cpu": Level(0.42), "memory": Level(0.9)}
            prom.fault = "500"
            with pytest.raises(ProbeError, match="error"):
                source.sample()
        finally:
            source.close()
        assert ("GET", "cpu_q") in prom.queries


def test_prometheus_unknown_query_is_a_gap_of_that_metric(tmp_path: Path) -> None:
    with prometheus_standin() as prom:
        prom.set("cpu_q", 0.5)
        source = _source(_env(tmp_path, PROM.format(url=prom.base_url)), "prometheus")
        try:
            assert source.sample() == {"cpu": Level(0.5)}  # mem_q and disk_q: bad_data
        finally:
            source.close()


SENTRY = """
[env.production.sentry]
base_url = "{url}"
org_env = "W_ORG"
project_env = "W_PROJECT"
token_env = "W_TOKEN"
[env.production.watch]
[[env.production.watch.rules]]
id = "sentry"
severity = "SEV-2"
source = "sentry"
when = "error_rate > 2%"
for = "5m"
"""


def test_sentry_source_reuses_the_sentry_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "sntrys_" + secrets.token_hex(8)
    with sentry_standin(token=token) as sentry:
        sentry.set(failure_rate=0.1, count=200)
        for name, value in {"W_ORG": "acme", "W_PROJECT": "backend", "W_TOKEN": token}.items():
            monkeypatch.setenv(name, value)
        source = _source(_env(tmp_path, SENTRY.format(url=sentry.base_url)), "sentry")
        try:
            assert source.sample() == {"error_rate": Rate(20, 200), "count": Count(200)}
            sentry.set(fault="429")
            with pytest.raises(ProbeError, match="429"):
                source.sample()
        finally:
            source.close()
        assert token not in source.method


# -- end to end: pytest --gate=production --watch --------------------------------------


def test_payment_rule_against_a_real_collection_rolls_back(
    tmp_path: Path, mongo: Any, payments_db: Any
) -> None:
    from gaterun import run_gate

    config = '[env.production]\nbase_url = "http://127.0.0.1:9"\n' + MONGO.format(
        db=payments_db.name
    ).replace("[env.production.watch]\n", '[env.production.watch]\ninterval = "1s"\n', 1)
    result = run_gate(
        tmp_path, config, "--watch=5s", env_name="production", environ={"W_MONGO": mongo.uri}
    )
    assert result.exit_code == 10, result.output
    gate = result.gate("watch")
    assert gate["evidence"]["alerts"][0]["rule"] == "pay"
    assert gate["evidence"]["alerts"][0]["t"] == 0.0  # 5 of 23 > 3% at the first tick
    assert mongo.uri not in result.output


def test_sev3_alert_is_a_warning_and_the_release_is_confirmed(tmp_path: Path) -> None:
    from gaterun import run_gate

    with prometheus_standin() as prom:
        prom.set("cpu_q", 0.95)
        prom.set("mem_q", 0.5)
        prom.set("disk_q", 0.5)
        config = '[env.production]\nbase_url = "http://127.0.0.1:9"\n' + PROM.format(
            url=prom.base_url
        ).replace('for = "10m"', 'for = "1s"').replace(
            "[env.production.watch]\n", '[env.production.watch]\ninterval = "1s"\n', 1
        )
        result = run_gate(tmp_path, config, "--watch=3s", env_name="production")
    assert result.exit_code == 0, result.output
    assert result.verdict["decision"] == "PROMOTE"
    gate = result.gate("watch")
    assert gate["outcome"] == "WARN"
    assert [a["severity"] for a in gate["evidence"]["alerts"]] == ["SEV-3"]


PROBE = """
[env.production.watch]
interval = "1s"
probe_timeout = "300ms"
"""


@pytest.mark.parametrize(
    ("faults", "expected"),
    [
        ({}, {"error_rate": Rate(0, 1), "ready": Level(True)}),
        ({"wrong_json": True}, {"error_rate": Rate(1, 1), "ready": Level(False)}),
        ({"latency_ms": 600}, {"error_rate": Rate(1, 1), "ready": Level(False)}),  # a timeout
        ({"error_ratio": 1.0}, {"error_rate": Rate(1, 1), "ready": Level(False)}),
    ],
)
def test_probe_source_classifies_answers(
    tmp_path: Path, reference: Any, faults: dict, expected: dict
) -> None:
    reference.set_faults(**faults)
    path = tmp_path / "fixgate.toml"
    path.write_text(f'[env.production]\nbase_url = "{reference.base_url}"\n' + PROBE)
    env = load_config(path).envs["production"]
    source = _source(env, "probe")
    try:
        readings = dict(source.sample())
    finally:
        source.close()
    assert readings.pop("rate_limited") == Rate(0, 1)
    latency = readings.pop("latency", None)
    assert readings == expected
    assert (latency is None) == ("latency_ms" in faults)  # a timeout has no latency


def test_probe_source_429_is_never_a_success_and_refused_is_a_gap(
    tmp_path: Path, reference: Any
) -> None:
    reference.set_faults(rate_limit_per_min=1)
    path = tmp_path / "fixgate.toml"
    path.write_text(f'[env.production]\nbase_url = "{reference.base_url}"\n' + PROBE)
    source = _source(load_config(path).envs["production"], "probe")
    try:
        source.sample()  # uses up the one request a minute
        limited = dict(source.sample())
    finally:
        source.close()
    assert limited["rate_limited"] == Rate(1, 1)
    assert "error_rate" not in limited and "ready" not in limited  # no data, not "ok"
    path.write_text(f'[env.production]\nbase_url = "http://127.0.0.1:{free_port()}"\n' + PROBE)
    source = _source(load_config(path).envs["production"], "probe")
    try:
        with pytest.raises(ProbeError, match="cannot connect"):
            source.sample()
    finally:
        source.close()
