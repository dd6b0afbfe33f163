"""The reference staging service, its fault switches and its launchers, against real processes."""

from __future__ import annotations

import math
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import httpx
import pymongo
import pytest

from pytest_fixgate.reference import (
    FaultError,
    Faults,
    MongoServer,
    ProcessStartError,
    RedisServer,
    ReferenceService,
    parse_distribution,
    redis_server,
    reference_service,
)
from pytest_fixgate.reference.app import DEFAULT_DB, FEATURE_DEFAULTS
from pytest_fixgate.reference.faults import exact_fraction, fraction_picks

REPO_ROOT = Path(__file__).resolve().parents[2]
HEALTH_TOKEN = "test-health-token"


@pytest.fixture
def http(reference: ReferenceService) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=reference.base_url, timeout=5) as client:
        yield client


@pytest.fixture
def admin(http: httpx.Client, reference_admin_token: str) -> httpx.Client:
    http.headers["Authorization"] = f"Bearer {reference_admin_token}"
    return http


@pytest.fixture(scope="module")
def guarded(mongo: MongoServer, redis_srv: RedisServer) -> Iterator[ReferenceService]:
    """A second service: health token required, admin token not configured."""
    with reference_service(mongo.uri, redis_srv.url, health_token=HEALTH_TOKEN) as service:
        yield service


def _timed_get(client: httpx.Client, path: str) -> tuple[httpx.Response, float]:
    start = time.perf_counter()
    response = client.get(path)
    return response, (time.perf_counter() - start) * 1000


def _is_iso_utc(text: str) -> bool:
    return text.endswith("Z") and datetime.fromisoformat(text).tzinfo is not None


# --- the contract -------------------------------------------------------------


def test_basic_health(http: httpx.Client) -> None:
    response = http.get("/api/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_db_and_redis_health(http: httpx.Client) -> None:
    db = http.get("/api/health/db")
    assert (db.status_code, db.json()) == (200, {"mongodb": "connected"})
    red = http.get("/api/health/redis")
    assert (red.status_code, red.json()) == (200, {"redis": "connected"})


def test_ready(http: httpx.Client) -> None:
    response = http.get("/api/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["ready"] is True
    assert body["checks"] == {"mongodb": "ok", "redis": "ok"}
    assert isinstance(body["latency"]["mongodb"], float) and body["latency"]["mongodb"] >= 0
    assert _is_iso_utc(body["timestamp"])


def test_work_orders_by_organisation_and_status(http: httpx.Client) -> None:
    body = http.get("/api/work-orders", params={"organizationId": "org-alpha"}).json()
    assert body["count"] == len(body["items"]) == 4
    created = [item["createdAt"] for item in body["items"]]
    assert created == sorted(created, reverse=True)  # newest first
    assert all(_is_iso_utc(c) for c in created)
    assert all(isinstance(item["_id"], str) and len(item["_id"]) == 24 for item in body["items"])

    open_beta = http.get(
        "/api/work-orders", params={"organizationId": "org-beta", "status": "open"}
    )
    assert [i["title"] for i in open_beta.json()["items"]] == ["Broken window latch"]
    assert http.get("/api/work-orders", params={"organizationId": "nobody"}).json() == {
        "items": [],
        "count": 0,
    }


def test_work_orders_require_an_organisation(http: httpx.Client) -> None:
    response = http.get("/api/work-orders")
    assert response.status_code == 400
    assert "organizationId" in response.json()["error"]


def test_seed_creates_the_runbook_indexes(mongo: MongoServer, reference: ReferenceService) -> None:
    with pymongo.MongoClient(mongo.uri) as client:
        indexes = client[DEFAULT_DB].workOrders.index_information()
    keys = {tuple(tuple(k) for k in spec["key"]) for spec in indexes.values()}
    assert (("organizationId", 1), ("status", 1)) in keys
    assert (("organizationId", 1), ("createdAt", -1)) in keys


# --- admin routes ---------------------------------------------------------------


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Basic abc", "Bearer"])
def test_admin_rejects_a_missing_or_wrong_token(
    http: httpx.Client, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    for method in ("GET", "PATCH"):
        response = http.request(method, "/api/admin/features", headers=headers)
        assert response.status_code == 401, method


def test_admin_lists_the_features(admin: httpx.Client) -> None:
    response = admin.get("/api/admin/features")
    assert response.status_code == 200
    body = response.json()
    assert {f["feature"]: f["enabled"] for f in body["features"]} == FEATURE_DEFAULTS
    assert _is_iso_utc(body["evaluatedAt"])


def test_patch_persists_the_flag_in_mongo(admin: httpx.Client, mongo: MongoServer) -> None:
    # The runbook's curl: `-d` without a JSON content type.
    body = '{"feature": "new_dashboard", "enabled": true}'
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    try:
        response = admin.patch("/api/admin/features", content=body, headers=headers)
        assert response.status_code == 200
        assert response.json()["enabled"] is True
        with pymongo.MongoClient(mongo.uri) as client:
            stored = client[DEFAULT_DB].featureFlags.find_one({"feature": "new_dashboard"})
        assert stored is not None and stored["enabled"] is True
        listed = admin.get("/api/admin/features").json()["features"]
        assert {"feature": "new_dashboard", "enabled": True} in listed
    finally:
        admin.patch("/api/admin/features", json={"feature": "new_dashboard", "enabled": False})


def test_patch_unknown_feature_is_404(admin: httpx.Client) -> None:
    response = admin.patch("/api/admin/features", json={"feature": "nope", "enabled": True})
    assert response.status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        '{"feature": "new_dashboard"}',
        '{"feature": "new_dashboard", "enabled": "false"}',
        '{"feature": 1, "enabled": false}',
        '{"feature": "new_dashboard", "enabled": false, "extra": 1}',
    ],
)
def test_patch_bad_body_is_400(admin: httpx.Client, body: str) -> None:
    assert admin.patch("/api/admin/features", content=body).status_code == 400


def test_health_token_when_configured(guarded: ReferenceService) -> None:
    with httpx.Client(base_url=guarded.base_url) as client:
        for path in ("/api/health", "/api/health/db", "/api/health/redis", "/api/health/ready"):
            assert client.get(path).status_code == 401, path
            assert client.get(path, headers={"X-Health-Token": "wrong"}).status_code == 401
            assert client.get(path, headers={"X-Health-Token": HEALTH_TOKEN}).status_code == 200


def test_admin_without_a_configured_token_is_503(guarded: ReferenceService) -> None:
    response = httpx.get(
        guarded.base_url + "/api/admin/features", headers={"Authorization": "Bearer x"}
    )
    assert response.status_code == 503
    assert response.json() == {"error": "admin token not configured"}


# --- faults ---------------------------------------------------------------------


def test_fault_switch_reports_the_current_faults(
    http: httpx.Client, reference: ReferenceService
) -> None:
    assert http.get("/__fixgate/faults").json() == Faults().as_dict()
    reference.set_faults(latency_ms=1, paths=["/api/health"])
    assert reference.get_faults() == Faults(latency_ms=1, paths=("/api/health",))


def test_mongo_down(http: httpx.Client, reference: ReferenceService) -> None:
    reference.set_faults(mongo_down=True)
    # All at once: each waits out pymongo's server selection (0.5 to 1 s) for a dead server.
    with ThreadPoolExecutor(3) as pool:
        db, ready, orders = pool.map(
            http.get, ["/api/health/db", "/api/health/ready", "/api/work-orders?organizationId=x"]
        )
    assert (db.status_code, db.json()) == (503, {"mongodb": "disconnected"})
    assert ready.status_code == 503
    assert ready.json()["ready"] is False
    assert ready.json()["checks"] == {"mongodb": "error", "redis": "ok"}
    assert orders.status_code == 503
    assert http.get("/api/health/redis").status_code == 200
    assert http.get("/api/health").status_code == 200


def test_redis_down(http: httpx.Client, reference: ReferenceService) -> None:
    reference.set_faults(redis_down=True)
    red = http.get("/api/health/redis")
    assert (red.status_code, red.json()) == (503, {"redis": "disconnected"})
    ready = http.get("/api/health/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"mongodb": "ok", "redis": "error"}
    assert http.get("/api/health/db").status_code == 200
    reference.set_faults()
    assert http.get("/api/health/ready").status_code == 200


def test_error_ratio_is_exact(http: httpx.Client, reference: ReferenceService) -> None:
    reference.set_faults(error_ratio=0.1)
    statuses = [http.get("/api/health").status_code for _ in range(100)]
    assert statuses.count(500) == 10
    assert [i + 1 for i, s in enumerate(statuses) if s == 500] == list(range(10, 101, 10))
    reference.set_faults(error_ratio=1)
    response = http.get("/api/health/ready")
    assert (response.status_code, response.json()) == (500, {"error": "injected"})


def test_slow_fraction_is_exact(http: httpx.Client, reference: ReferenceService) -> None:
    reference.set_faults(slow_fraction=0.2, slow_ms=100)
    durations = [_timed_get(http, "/api/health")[1] for _ in range(20)]
    slow = [i + 1 for i, ms in enumerate(durations) if ms >= 100]
    assert slow == [5, 10, 15, 20], durations


def test_fixed_latency_and_distribution(http: httpx.Client, reference: ReferenceService) -> None:
    reference.set_faults(latency_ms=20, latency_distribution="fixed:30")
    for _ in range(3):
        response, ms = _timed_get(http, "/api/health")
        assert response.status_code == 200
        assert ms >= 50


def test_paths_limit_the_delay_and_error_faults(
    http: httpx.Client, reference: ReferenceService
) -> None:
    reference.set_faults(latency_ms=200, error_ratio=1, paths=["/api/health/ready"])
    response, ms = _timed_get(http, "/api/health")
    assert response.status_code == 200 and ms < 200
    response, ms = _timed_get(http, "/api/health/ready")
    assert response.status_code == 500 and ms >= 200


def test_faults_never_apply_to_the_fault_switch(
    http: httpx.Client, reference: ReferenceService
) -> None:
    reference.set_faults(error_ratio=1, rate_limit_per_min=1)
    for _ in range(3):
        assert http.get("/__fixgate/faults").status_code == 200


def test_rate_limit(http: httpx.Client, reference: ReferenceService) -> None:
    reference.set_faults(rate_limit_per_min=5)
    statuses = [http.get("/api/health/ready").status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    limited = http.get("/api/health/ready")
    assert limited.json() == {"error": "Too many requests", "code": "RATE_LIMIT_EXCEEDED"}
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    # Per route: another route has its own window.
    assert http.get("/api/health").status_code == 200


def test_wrong_json(http: httpx.Client, reference: ReferenceService) -> None:
    reference.set_faults(wrong_json=True)
    expected = {
        "/api/health": {"status": "degraded"},
        "/api/health/db": {"mongodb": "disconnected"},
        "/api/health/redis": {"redis": "disconnected"},
    }
    for path, body in expected.items():
        response = http.get(path)
        assert (response.status_code, response.json()) == (200, body), path
    ready = http.get("/api/health/ready")
    assert ready.status_code == 200
    assert ready.json()["ready"] == "yes"


def test_ready_flap(http: httpx.Client, reference: ReferenceService) -> None:
    reference.set_faults(ready_flap_s=0.3)
    start = time.monotonic()
    statuses = []
    for at in (0.05, 0.45, 0.75):  # the middle of: up, down, up
        time.sleep(max(0.0, start + at - time.monotonic()))
        statuses.append(http.get("/api/health/ready").status_code)
    assert statuses == [200, 503, 200]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"error_ratio": 2}, "error_ratio"),
        ({"slow_fraction": -0.1}, "slow_fraction"),
        ({"latency_ms": "fast"}, "latency_ms"),
        ({"latency_ms": True}, "latency_ms"),
        ({"mongo_down": "maybe"}, "mongo_down"),
        ({"rate_limit_per_min": 1.5}, "rate_limit_per_min"),
        ({"latency_distribution": "gauss:1:2"}, "latency_distribution"),
        ({"latency_distribution": "uniform:200:100"}, "latency_distribution"),
        ({"paths": ["api/health"]}, "paths"),
        ({"no_such_fault": 1}, "no_such_fault"),
    ],
)
def test_bad_fault_values_are_rejected(
    http: httpx.Client, reference: ReferenceService, body: dict[str, object], named: str
) -> None:
    reference.set_faults(latency_ms=1)
    response = http.put("/__fixgate/faults", json=body)
    assert response.status_code == 400
    assert response.json()["error"].startswith(f"{named}: ")
    assert reference.get_faults() == Faults(latency_ms=1)  # unchanged
    with pytest.raises(FaultError, match=named):
        reference.set_faults(**body)


# --- the Faults value, without a server ---------------------------------------


def test_fraction_picking_is_exact_for_decimal_fractions() -> None:
    for ratio, n in [(0.05, 20), (0.1, 100), (0.29, 100), (0.333, 1000), (1, 7), (0, 7)]:
        picked = sum(fraction_picks(k, exact_fraction(ratio)) for k in range(1, n + 1))
        assert picked == round(ratio * n), ratio


def test_faults_from_env_and_back_to_argv() -> None:
    env = {
        "FIXGATE_REF_LATENCY_MS": "15",
        "FIXGATE_REF_MONGO_DOWN": "yes",
        "FIXGATE_REF_PATHS": "/api/health, /api/work-orders",
        "UNRELATED": "x",
    }
    faults = Faults.from_env(env)
    assert faults == Faults(
        latency_ms=15, mongo_down=True, paths=("/api/health", "/api/work-orders")
    )
    assert faults.to_argv() == [
        "--latency-ms",
        "15.0",
        "--mongo-down",
        "--paths",
        "/api/health,/api/work-orders",
    ]
    with pytest.raises(FaultError, match=r"^FIXGATE_REF_ERROR_RATIO: expected a fraction"):
        Faults.from_env({"FIXGATE_REF_ERROR_RATIO": "5%"})


def test_distributions_parse_strictly_and_know_their_quantiles() -> None:
    assert parse_distribution("fixed:1470").quantile(0.95) == 1470
    uniform = parse_distribution("uniform:100:2000")
    assert uniform.quantile(0.95) == pytest.approx(1905)
    lognormal = parse_distribution("lognormal:300:0.5")
    assert lognormal.quantile(0.5) == pytest.approx(300)
    assert lognormal.quantile(0.95) == pytest.approx(300 * math.exp(0.5 * 1.6448536), rel=1e-6)
    draws = [uniform.sample(random.Random(7)) for _ in range(2)]
    assert draws[0] == draws[1] and 100 <= draws[0] <= 2000  # seeded: reproducible
    for bad in ("uniform:100", "fixed:-1", "lognormal:0:1", "fixed:abc", "fixed:nan", ""):
        with pytest.raises(FaultError, match="latency_distribution"):
            parse_distribution(bad)


# --- command line ------------------------------------------------------------------


def _run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    child_env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "pytest_fixgate.reference", *args],
        capture_output=True,
        text=True,
        env=child_env,
        timeout=30,
        check=False,
    )


def test_cli_rejects_a_bad_flag_naming_it() -> None:
    done = _run_cli("--error-ratio", "2")
    assert done.returncode == 2
    assert "argument --error-ratio: expected a fraction between 0 and 1, got '2'" in done.stderr


def test_cli_rejects_a_bad_env_fault_naming_the_variable() -> None:
    env = {
        "MONGODB_URI": "mongodb://127.0.0.1:1/",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "FIXGATE_REF_LATENCY_DISTRIBUTION": "gauss:1",
    }
    done = _run_cli(env=env)
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .endswith(
            "FIXGATE_REF_LATENCY_DISTRIBUTION: expected fixed:<ms>, uniform:<low_ms>:<high_ms> or "
            "lognormal:<median_ms>:<sigma>, got 'gauss:1'"
        )
    )


def test_cli_needs_the_named_variables() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("MONGODB_URI", "DB_URI")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    done = subprocess.run(
        [sys.executable, "-m", "pytest_fixgate.reference", "--mongodb-uri-env", "DB_URI"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert "environment variable DB_URI (named by --mongodb-uri-env) is not set" in done.stderr


def test_cli_never_prints_the_mongodb_password() -> None:
    with socket.socket() as dead:
        dead.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        port = str(dead.getsockname()[1])
        # The password is the port number, so pymongo's error ("127.0.0.1:<port>:
        # Connection refused") carries it, and only redaction can keep it out.
        env = {
            "MONGODB_URI": f"mongodb://fixgate:{port}@127.0.0.1:{port}/?authSource=admin",
            "REDIS_URL": "redis://127.0.0.1:1/0",
        }
        done = _run_cli("--seed", env=env)
    assert done.returncode == 1
    assert "fixgate reference: cannot start: ServerSelectionTimeoutError: 127.0.0.1:***" in (
        done.stderr
    )
    assert port not in done.stderr + done.stdout


# --- launchers ---------------------------------------------------------------------


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def test_launchers_stop_their_processes_when_the_body_raises(mongo: MongoServer) -> None:
    with (
        pytest.raises(RuntimeError, match="boom"),
        redis_server() as red,
        reference_service(mongo.uri, red.url) as ref,
    ):
        started = [(red.proc, red.port), (ref.proc, ref.port)]
        assert all(_answers(port) for _, port in started)
        raise RuntimeError("boom")
    for proc, port in started:
        assert proc.poll() is not None
        assert not _answers(port)


def test_launcher_error_carries_the_output_tail(mongo: MongoServer, redis_srv: RedisServer) -> None:
    bad = {"FIXGATE_REF_ERROR_RATIO": "2"}
    with (
        pytest.raises(ProcessStartError) as caught,
        reference_service(mongo.uri, redis_srv.url, env=bad),
    ):
        pass  # pragma: no cover
    message = str(caught.value)
    assert "reference service exited with code 2 before answering" in message
    assert "FIXGATE_REF_ERROR_RATIO: expected a fraction between 0 and 1, got '2'" in message


def test_launcher_passes_secrets_by_environment_only(
    mongo: MongoServer, reference: ReferenceService, reference_admin_token: str
) -> None:
    cmdline = Path(f"/proc/{reference.proc.pid}/cmdline").read_bytes().decode()
    assert mongo.uri not in cmdline
    assert reference_admin_token not in cmdline
