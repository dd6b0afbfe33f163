"""The reference service speaking the real application's contract (``--contract fixzit``).

Against real processes: SecantusDB under the service, no Redis at all.
tests/test_fixzit_example.py gates it with ``examples/fixzit.toml`` end to end.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pymongo
import pytest

from pytest_fixgate.reference import MongoServer, ReferenceService, reference_service
from pytest_fixgate.reference import __main__ as reference_cli
from pytest_fixgate.reference.app import (
    CONTRACTS,
    FIXZIT_ADMIN_ROLE_SESSION,
    FIXZIT_FEATURE_FLAGS,
    FIXZIT_HEALTH_PATHS,
    FIXZIT_HEALTH_RATE_LIMIT,
    ServiceConfig,
    create_app,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
HEALTH_TOKEN = "fixzit-health-token"
ADMIN_TOKEN = "fixzit-admin-token"
COMMIT = "0f1e2d3c4b5a69788796"
# Its own database on the shared server: the runbook service's data stays apart.
FIXZIT_DB = "fixzit"


@pytest.fixture(scope="session")
def fixzit(mongo: MongoServer) -> Iterator[ReferenceService]:
    """The reference service in the fixzit contract: no Redis, health token and admin token set."""
    with reference_service(
        mongo.uri + FIXZIT_DB,
        None,
        env={"GIT_COMMIT_SHA": COMMIT},
        health_token=HEALTH_TOKEN,
        admin_token=ADMIN_TOKEN,
        seed=True,
        contract="fixzit",
    ) as service:
        yield service


@pytest.fixture(autouse=True)
def _reset_fixzit_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    # Also restarts the rate-limit windows: each test starts with 120 requests per route to spend.
    if "fixzit" in request.fixturenames:
        request.getfixturevalue("fixzit").set_faults()
    yield
    if "fixzit" in request.fixturenames:
        request.getfixturevalue("fixzit").set_faults()


@pytest.fixture
def http(fixzit: ReferenceService) -> Iterator[httpx.Client]:
    headers = {"X-Health-Token": HEALTH_TOKEN}
    with httpx.Client(base_url=fixzit.base_url, headers=headers, timeout=5) as client:
        yield client


@pytest.fixture
def admin(http: httpx.Client) -> httpx.Client:
    # The application's flags route wants a NextAuth session of a SUPER_ADMIN.
    http.cookies.set("next-auth.session-token", ADMIN_TOKEN)
    return http


def _is_iso_utc(text: str) -> bool:
    return text.endswith("Z") and datetime.fromisoformat(text).tzinfo is not None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


# --- the contract ---------------------------------------------------------------------


def test_health(http: httpx.Client) -> None:
    response = http.get("/api/health")
    body = response.json()
    assert response.status_code == 200
    assert set(body) == {"status", "timestamp", "uptime", "commit", "database"}
    assert (body["status"], body["database"], body["commit"]) == ("healthy", "connected", "0f1e2d3")
    assert _is_iso_utc(body["timestamp"])
    assert _is_number(body["uptime"])


def test_ready(http: httpx.Client) -> None:
    response = http.get("/api/health/ready")
    body = response.json()
    assert response.status_code == 200
    assert set(body) == {"ready", "checks", "latency", "timestamp"}
    assert body["ready"] is True
    assert body["checks"] == {"mongodb": "ok", "email": "disabled", "sms": "not_configured"}
    assert set(body["latency"]) == {"mongodb"}
    assert _is_number(body["latency"]["mongodb"])
    assert _is_iso_utc(body["timestamp"])


def test_live(http: httpx.Client) -> None:
    response = http.get("/api/health/live")
    body = response.json()
    assert response.status_code == 200
    assert set(body) == {"alive", "uptime", "memory", "timestamp"}
    assert body["alive"] is True
    assert _is_number(body["uptime"])
    assert set(body["memory"]) == {"rss", "maxRss"}
    assert 0 < body["memory"]["rss"] <= body["memory"]["maxRss"]
    assert _is_iso_utc(body["timestamp"])


def test_database(http: httpx.Client) -> None:
    response = http.get("/api/health/database")
    body = response.json()
    assert response.status_code == 200
    assert set(body) == {"status", "database", "connection", "timestamp", "responseTime"}
    assert (body["status"], body["database"], body["connection"]) == (
        "healthy",
        "mongodb",
        "active",
    )
    assert isinstance(body["responseTime"], int) and body["responseTime"] >= 0
    assert _is_iso_utc(body["timestamp"])


@pytest.mark.parametrize("path", ["/api/health/db", "/api/health/redis", "/api/admin/features"])
def test_runbook_only_routes_do_not_exist(admin: httpx.Client, path: str) -> None:
    assert admin.get(path).status_code == 404


def test_health_token_is_required_when_configured(fixzit: ReferenceService) -> None:
    with httpx.Client(base_url=fixzit.base_url, timeout=5) as client:
        for path in sorted(FIXZIT_HEALTH_PATHS):
            response = client.get(path)
            assert (response.status_code, response.json()) == (401, {"error": "Unauthorized"})
        wrong = client.get("/api/health/ready", headers={"X-Health-Token": "nope"})
        assert wrong.status_code == 401


def test_feature_flags(admin: httpx.Client, fixzit: ReferenceService) -> None:
    with httpx.Client(base_url=fixzit.base_url, timeout=5) as anonymous:
        assert anonymous.get("/api/admin/feature-flags").status_code == 401
        bearer = {"Authorization": f"Bearer {ADMIN_TOKEN}"}  # no session: refused
        assert anonymous.get("/api/admin/feature-flags", headers=bearer).status_code == 401
        wrong = {"Cookie": "next-auth.session-token=not-a-session"}
        assert anonymous.get("/api/admin/feature-flags", headers=wrong).status_code == 401
        mere_admin = {"Cookie": f"next-auth.session-token={FIXZIT_ADMIN_ROLE_SESSION}"}
        denied = anonymous.get("/api/admin/feature-flags", headers=mere_admin)
        assert (denied.status_code, denied.json()) == (
            403,
            {"error": "Forbidden - Admin access required"},
        )
        secure = {"Cookie": f"__Secure-next-auth.session-token={ADMIN_TOKEN}"}
        assert anonymous.get("/api/admin/feature-flags", headers=secure).status_code == 200
    response = admin.get("/api/admin/feature-flags")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"flags", "evaluatedAt"}
    assert _is_iso_utc(body["evaluatedAt"])
    flags = {flag["id"]: flag["enabled"] for flag in body["flags"]}
    assert flags == {flag_id: spec[0] for flag_id, spec in FIXZIT_FEATURE_FLAGS.items()}

    turned = admin.put("/api/admin/feature-flags", json={"id": "ui.new_dashboard", "enabled": True})
    try:
        assert turned.status_code == 200
        assert turned.json()["flag"]["enabled"] is True
        listed = admin.get("/api/admin/feature-flags").json()["flags"]
        assert {"id": "ui.new_dashboard", "enabled": True}.items() <= next(
            f for f in listed if f["id"] == "ui.new_dashboard"
        ).items()
    finally:
        admin.put("/api/admin/feature-flags", json={"id": "ui.new_dashboard", "enabled": False})
    unknown = admin.put("/api/admin/feature-flags", json={"id": "ui.nope", "enabled": True})
    assert (unknown.status_code, unknown.json()) == (404, {"error": "Unknown feature flag"})
    bad = admin.put("/api/admin/feature-flags", json={"id": "ui.new_dashboard", "enabled": "no"})
    assert (bad.status_code, bad.json()) == (400, {"error": "Invalid request body"})


def test_work_orders_by_org_id(http: httpx.Client, mongo: MongoServer) -> None:
    response = http.get("/api/work-orders", params={"orgId": "org-alpha", "status": "open"})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert {item["orgId"] for item in body["items"]} == {"org-alpha"}
    assert [item["title"] for item in body["items"]] == ["Elevator inspection", "HVAC not cooling"]
    # The runbook's parameter name means nothing here.
    old = http.get("/api/work-orders", params={"organizationId": "org-alpha"})
    assert (old.status_code, old.json()) == (400, {"error": "orgId is required"})
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(mongo.uri)
    try:
        indexes = set(client[FIXZIT_DB].workorders.index_information())
    finally:
        client.close()
    assert {"workorders_orgId_status", "workorders_orgId_status_createdAt_desc"} <= indexes


# --- faults ---------------------------------------------------------------------------


def test_mongo_down(http: httpx.Client, fixzit: ReferenceService) -> None:
    fixzit.set_faults(mongo_down=True)
    paths = [
        "/api/health",
        "/api/health/ready",
        "/api/health/database",
        "/api/work-orders?orgId=org-alpha",
    ]
    # All at once: each waits out pymongo's server selection for a dead server.
    with ThreadPoolExecutor(len(paths)) as pool:
        health, ready, database, orders = pool.map(http.get, paths)
    assert health.status_code == 503
    assert {k: health.json()[k] for k in ("status", "database")} == {
        "status": "unhealthy",
        "database": "error",
    }
    assert ready.status_code == 503
    assert ready.json()["ready"] is False
    assert ready.json()["checks"]["mongodb"] == "error"
    assert database.status_code == 503
    assert database.json()["connection"] == "failed"
    assert database.json()["status"] == "unhealthy"
    assert orders.status_code == 503
    # Liveness checks no dependency.
    assert http.get("/api/health/live").status_code == 200


def test_redis_down_changes_nothing(http: httpx.Client, fixzit: ReferenceService) -> None:
    fixzit.set_faults(redis_down=True)
    for path in sorted(FIXZIT_HEALTH_PATHS):
        assert http.get(path).status_code == 200, path


def test_wrong_json(http: httpx.Client, fixzit: ReferenceService) -> None:
    fixzit.set_faults(wrong_json=True)
    expected = {
        "/api/health": {"status": "degraded", "database": "connected"},
        "/api/health/ready": {
            "ready": "yes",
            "checks": {"mongodb": "ok", "email": "disabled", "sms": "not_configured"},
        },
        "/api/health/live": {"alive": "yes"},
        "/api/health/database": {
            "status": "healthy",
            "database": "mongodb",
            "connection": "failed",
        },
    }
    for path, body in expected.items():
        response = http.get(path)
        assert (response.status_code, response.json()) == (200, body), path


def test_error_ratio_and_latency(http: httpx.Client, fixzit: ReferenceService) -> None:
    fixzit.set_faults(error_ratio=0.25)
    statuses = [http.get("/api/health/live").status_code for _ in range(8)]
    assert statuses == [200, 200, 200, 500] * 2
    fixzit.set_faults(latency_ms=60, paths=["/api/health/ready"])
    start = time.perf_counter()
    assert http.get("/api/health/ready").status_code == 200
    assert (time.perf_counter() - start) * 1000 >= 60
    start = time.perf_counter()
    assert http.get("/api/health/live").status_code == 200
    assert (time.perf_counter() - start) * 1000 < 60


def test_ready_flap(http: httpx.Client, fixzit: ReferenceService) -> None:
    fixzit.set_faults(ready_flap_s=0.3)
    assert http.get("/api/health/ready").status_code == 200
    time.sleep(0.35)
    down = http.get("/api/health/ready")
    assert down.status_code == 503
    assert down.json()["checks"]["mongodb"] == "timeout"
    assert down.json()["ready"] is False


# --- the application's own rate limit --------------------------------------------------


def test_health_routes_allow_120_requests_a_minute_per_ip_and_route(
    http: httpx.Client, fixzit: ReferenceService
) -> None:
    assert FIXZIT_HEALTH_RATE_LIMIT == 120
    statuses = [http.get("/api/health/live").status_code for _ in range(120)]
    assert statuses == [200] * 120
    limited = http.get("/api/health/live")
    assert limited.status_code == 429
    assert limited.json() == {"error": "Too many requests", "code": "RATE_LIMIT_EXCEEDED"}
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    # Per route: the other health routes have their own windows.
    assert http.get("/api/health/ready").status_code == 200
    # Per client IP: another address of the loopback has its own window.
    transport = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(
        base_url=fixzit.base_url, headers=http.headers, transport=transport, timeout=5
    ) as other:
        assert other.get("/api/health/live").status_code == 200
    # Only the health routes are limited.
    orders = [http.get("/api/work-orders?orgId=org-beta").status_code for _ in range(125)]
    assert orders == [200] * 125


def test_the_window_slides(mongo: MongoServer) -> None:
    # In process, with a clock the test moves: the 60 s window without waiting 60 s.
    now = [1000.0]
    config = ServiceConfig(mongodb_uri=mongo.uri + FIXZIT_DB, contract="fixzit")
    app = create_app(config, clock=lambda: now[0])

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://fixzit") as client:
            for _ in range(120):
                assert (await client.get("/api/health/live")).status_code == 200
            assert (await client.get("/api/health/live")).status_code == 429
            now[0] += 59.9
            limited = await client.get("/api/health/live")
            assert (limited.status_code, limited.headers["Retry-After"]) == (429, "1")
            now[0] += 0.2
            assert (await client.get("/api/health/live")).status_code == 200

    try:
        asyncio.run(scenario())
    finally:
        app.service.deps.close()


def test_the_rate_limit_fault_replaces_the_contracts_limit(
    http: httpx.Client, fixzit: ReferenceService
) -> None:
    fixzit.set_faults(rate_limit_per_min=3)
    statuses = [http.get("/api/health/ready").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    # As in the runbook contract, the fault limits every /api/ route.
    orders = [http.get("/api/work-orders?orgId=org-beta").status_code for _ in range(4)]
    assert orders == [200, 200, 200, 429]
    # Above 120 it raises the limit.
    fixzit.set_faults(rate_limit_per_min=1000)
    statuses = [http.get("/api/health/live").status_code for _ in range(130)]
    assert statuses == [200] * 130


def test_the_limit_can_be_turned_off_from_the_environment(mongo: MongoServer) -> None:
    env = {"FIXGATE_REF_CONTRACT": "fixzit", "FIXGATE_REF_HEALTH_RATE_LIMIT": "0"}
    with (
        reference_service(mongo.uri + FIXZIT_DB, None, env=env) as service,
        httpx.Client(base_url=service.base_url, timeout=5) as client,
    ):
        statuses = [client.get("/api/health/live").status_code for _ in range(130)]
        assert statuses == [200] * 130
        # The environment chose the contract.
        assert client.get("/api/health/db").status_code == 404


def test_a_lower_limit_from_the_launcher(mongo: MongoServer) -> None:
    with (
        reference_service(
            mongo.uri + FIXZIT_DB, None, contract="fixzit", health_rate_limit=2
        ) as service,
        httpx.Client(base_url=service.base_url, timeout=5) as client,
    ):
        statuses = [client.get("/api/health").status_code for _ in range(3)]
        assert statuses == [200, 200, 429]


# --- command line and configuration ----------------------------------------------------


def _run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    child_env = {
        k: v for k, v in os.environ.items() if not k.startswith("FIXGATE_REF_") and k != "REDIS_URL"
    }
    child_env.update(env, PYTHONPATH=str(REPO_ROOT))
    return subprocess.run(
        [sys.executable, "-m", "pytest_fixgate.reference", *args],
        capture_output=True,
        text=True,
        env=child_env,
        timeout=30,
        check=False,
    )


def test_cli_rejects_an_unknown_contract_naming_the_variable() -> None:
    done = _run_cli(env={"MONGODB_URI": "mongodb://127.0.0.1:1/", "FIXGATE_REF_CONTRACT": "v2"})
    assert done.returncode == 2
    assert "FIXGATE_REF_CONTRACT: expected one of runbook, fixzit, got 'v2'" in done.stderr
    flag = _run_cli("--contract", "v2", env={"MONGODB_URI": "mongodb://127.0.0.1:1/"})
    assert flag.returncode == 2
    assert "argument --contract: invalid choice: 'v2'" in flag.stderr


def test_cli_rejects_a_negative_rate_limit() -> None:
    done = _run_cli("--health-rate-limit", "-1", env={"MONGODB_URI": "mongodb://127.0.0.1:1/"})
    assert done.returncode == 2
    assert "argument --health-rate-limit: expected a whole number >= 0, got '-1'" in done.stderr
    env = {"MONGODB_URI": "mongodb://127.0.0.1:1/", "FIXGATE_REF_HEALTH_RATE_LIMIT": "lots"}
    done = _run_cli("--contract", "fixzit", env=env)
    assert done.returncode == 2
    assert "FIXGATE_REF_HEALTH_RATE_LIMIT: expected a whole number >= 0, got 'lots'" in done.stderr


def test_only_the_runbook_contract_needs_redis() -> None:
    done = _run_cli(env={"MONGODB_URI": "mongodb://127.0.0.1:1/"})
    assert done.returncode == 2
    assert "environment variable REDIS_URL (named by --redis-url-env) is not set" in done.stderr
    # fixzit gets past the Redis check; it then fails on the (dead) MongoDB while seeding.
    fixzit = _run_cli(
        "--contract", "fixzit", "--seed", env={"MONGODB_URI": "mongodb://127.0.0.1:1/"}
    )
    assert fixzit.returncode == 1
    assert "REDIS_URL" not in fixzit.stderr
    assert "cannot start: ServerSelectionTimeoutError" in fixzit.stderr


def test_service_config_checks_its_contract() -> None:
    assert reference_cli.CONTRACTS == CONTRACTS
    with pytest.raises(ValueError, match="contract: expected one of"):
        ServiceConfig(mongodb_uri="mongodb://127.0.0.1:1/", contract="v2")
    with pytest.raises(ValueError, match="the runbook contract needs Redis"):
        ServiceConfig(mongodb_uri="mongodb://127.0.0.1:1/")
    fixzit = ServiceConfig(mongodb_uri="mongodb://127.0.0.1:1/", contract="fixzit")
    assert fixzit.health_rate_limit == 120
    runbook = ServiceConfig(mongodb_uri="mongodb://127.0.0.1:1/", redis_url="redis://127.0.0.1:1")
    assert runbook.health_rate_limit == 0
    off = ServiceConfig(
        mongodb_uri="mongodb://127.0.0.1:1/", contract="fixzit", health_rate_limit_per_min=0
    )
    assert off.health_rate_limit == 0
