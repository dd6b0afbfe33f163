"""The reference staging service: the runbook's HTTP contract over real MongoDB and Redis.

Routes (the runbook's "Monitoring & Alerts" and "Feature Flag Rollback")::

    GET   /api/health            200 {"status": "ok"}
    GET   /api/health/db         200 {"mongodb": "connected"}  | 503 {"mongodb": "disconnected"}
    GET   /api/health/redis      200 {"redis": "connected"}    | 503 {"redis": "disconnected"}
    GET   /api/health/ready      200 {"ready": true, "checks": {...: "ok"}, "latency", "timestamp"}
                                 503 {"ready": false, "checks": {...: "error" | "timeout"}, ...}
    GET   /api/admin/features    {"features": [{"feature", "enabled"}], "evaluatedAt"}  (Bearer)
    PATCH /api/admin/features    {"feature": "new_dashboard", "enabled": false}         (Bearer)
    GET   /api/work-orders       ?organizationId=..&status=..  -> {"items", "count"}
    GET   /__fixgate/faults      the current :class:`Faults`
    PUT   /__fixgate/faults      replace them (omitted fields go back to their default)

Every driver call is blocking (pymongo, redis-py) and runs in the threadpool;
the drivers' own short timeouts are the probes' deadlines, so a dead
dependency answers in about half a second, not after redis-py's default
ten retries.
"""

from __future__ import annotations

import asyncio
import collections
import hmac
import json
import math
import random
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pymongo
import pymongo.errors
import redis
import redis.exceptions
from bson import ObjectId
from redis.backoff import NoBackoff
from redis.retry import Retry
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import timing
from .faults import FaultError, Faults, exact_fraction, fraction_picks

if TYPE_CHECKING:
    from pymongo.database import Database
    from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = [
    "DEFAULT_DB",
    "FEATURE_DEFAULTS",
    "FaultMiddleware",
    "Service",
    "ServiceConfig",
    "create_app",
    "seed",
]

#: Database used when the MongoDB URI names none.
DEFAULT_DB = "fixgate"

#: The feature flags ``seed`` creates, with their initial state.
FEATURE_DEFAULTS: dict[str, bool] = {
    "new_dashboard": False,
    "work_order_export": True,
    "sms_otp_login": True,
}

WORK_ORDERS_LIMIT = 50
RATE_WINDOW_S = 60.0
RATE_KEYS_MAX = 10_000

# Short driver timeouts: a probe must answer in milliseconds, or fail in under a second.
MONGO_OPTIONS: dict[str, Any] = {
    "serverSelectionTimeoutMS": 500,
    "connectTimeoutMS": 500,
    "socketTimeoutMS": 1000,
}
REDIS_OPTIONS: dict[str, Any] = {
    "socket_timeout": 1.0,
    "socket_connect_timeout": 0.5,
    # redis-py 8 retries 10 times with backoff by default: ~5 s for a down server.
    "retry": Retry(NoBackoff(), 0),
    "retry_on_timeout": False,
}


@dataclass(frozen=True)
class ServiceConfig:
    """What the service needs to start. Secret fields stay out of ``repr``."""

    mongodb_uri: str = field(repr=False)
    redis_url: str = field(repr=False)
    admin_token: str | None = field(default=None, repr=False)
    health_token: str | None = field(default=None, repr=False)
    db_name: str | None = None
    faults: Faults = field(default_factory=Faults)


def _now_iso() -> str:
    return timing.utcnow().isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- dependencies -----------------------------------------------------------


class Dependencies:
    """The MongoDB and Redis clients, their "unreachable" twins, and the health checks.

    ``mongo_down`` / ``redis_down`` are real failures, not fakes: the twins
    point at a port bound but never listened on (so every connect is refused,
    and nobody else can take that port while we hold it). The probes and the
    data routes then take exactly the code path, and the time, of a dead
    server: pymongo's server selection times out, redis-py's connect fails.
    """

    def __init__(self, config: ServiceConfig) -> None:
        self._mongo = pymongo.MongoClient(config.mongodb_uri, **MONGO_OPTIONS)
        self._redis = redis.Redis.from_url(config.redis_url, **REDIS_OPTIONS)
        self._db_name = config.db_name or self._mongo.get_default_database(DEFAULT_DB).name
        self._dead_socket: socket.socket | None = None
        self._dead_mongo: pymongo.MongoClient[dict[str, Any]] | None = None
        self._dead_redis: redis.Redis | None = None
        self._mongo_down = False
        self._redis_down = False
        self._in_flight: dict[str, asyncio.Future[tuple[str, float | None]]] = {}

    def set_down(self, *, mongo: bool, redis: bool) -> None:
        self._mongo_down = mongo
        self._redis_down = redis
        # A probe started before the switch must not answer for requests after it.
        self._in_flight.clear()

    def _dead_port(self) -> int:
        if self._dead_socket is None:
            self._dead_socket = socket.socket()
            self._dead_socket.bind(("127.0.0.1", 0))  # bound, never listen(): refused
        return int(self._dead_socket.getsockname()[1])

    def db(self) -> Database[dict[str, Any]]:
        """The database, through the dead twin when ``mongo_down`` is on."""
        if not self._mongo_down:
            return self._mongo[self._db_name]
        if self._dead_mongo is None:
            uri = f"mongodb://127.0.0.1:{self._dead_port()}/"
            self._dead_mongo = pymongo.MongoClient(uri, **MONGO_OPTIONS)
        return self._dead_mongo[self._db_name]

    def redis(self) -> redis.Redis:
        """The Redis client, or its dead twin when ``redis_down`` is on."""
        if not self._redis_down:
            return self._redis
        if self._dead_redis is None:
            url = f"redis://127.0.0.1:{self._dead_port()}/0"
            self._dead_redis = redis.Redis.from_url(url, **REDIS_OPTIONS)
        return self._dead_redis

    async def check_mongo(self) -> tuple[str, float | None]:
        """A real ``ping``: ("ok", round trip in ms), ("timeout", None) or ("error", None)."""
        db = self.db()
        return await self._shared("mongodb", lambda: db.command("ping"))

    async def check_redis(self) -> tuple[str, float | None]:
        """A real ``PING``, same answers as :meth:`check_mongo`."""
        return await self._shared("redis", self.redis().ping)

    async def _shared(self, key: str, call: Callable[[], object]) -> tuple[str, float | None]:
        # Concurrent requests share the probe in flight: under load the
        # dependencies see one ping at a time, not one per request, and the
        # service's throughput stays near that of a route without probes.
        # Each answer still comes from a ping sent while the request waited.
        future = self._in_flight.get(key)
        if future is None:
            future = asyncio.ensure_future(_check(call))
            self._in_flight[key] = future
            future.add_done_callback(lambda f: self._forget(key, f))
        # shield: a client that hangs up must not cancel the others' probe.
        return await asyncio.shield(future)

    def _forget(self, key: str, future: asyncio.Future[tuple[str, float | None]]) -> None:
        if self._in_flight.get(key) is future:
            del self._in_flight[key]

    def close(self) -> None:
        for client in (self._mongo, self._dead_mongo, self._redis, self._dead_redis):
            if client is not None:
                client.close()
        if self._dead_socket is not None:
            self._dead_socket.close()


# The one place driver exceptions become a check status.
_TIMEOUTS = (
    pymongo.errors.NetworkTimeout,
    pymongo.errors.ExecutionTimeout,
    redis.exceptions.TimeoutError,
)
_FAILURES = (pymongo.errors.PyMongoError, redis.exceptions.RedisError, OSError)


def _timed(call: Callable[[], object]) -> float:
    start = timing.perf_counter()
    call()
    return (timing.perf_counter() - start) * 1000


async def _check(call: Callable[[], object]) -> tuple[str, float | None]:
    """Run a blocking probe in the threadpool: ("ok", ms), ("timeout", None) or ("error", None)."""
    try:
        return "ok", round(await run_in_threadpool(_timed, call), 2)
    except _TIMEOUTS:
        return "timeout", None
    except _FAILURES:
        return "error", None


# --- faults at run time -----------------------------------------------------


class FaultState:
    """The current :class:`Faults` plus what applying them needs between requests.

    Replacing the faults restarts the request counter, the seeded generator,
    the rate-limit windows and the flap clock, so a test that sets faults
    sees a reproducible sequence from its first request.
    """

    def __init__(self, faults: Faults, deps: Dependencies, clock: Callable[[], float]) -> None:
        self._deps = deps
        self._clock = clock
        self.set(faults)

    def set(self, faults: Faults) -> None:
        self.faults = faults
        self.active = faults.active
        self._count = 0
        self._slow = exact_fraction(faults.slow_fraction)
        self._error = exact_fraction(faults.error_ratio)
        self._distribution = faults.distribution
        self._rng = random.Random(faults.latency_seed)
        self._windows: dict[tuple[str, str], collections.deque[float]] = {}
        self._since = self._clock()
        self._deps.set_down(mongo=faults.mongo_down, redis=faults.redis_down)

    def ready_flapped_down(self) -> bool:
        """Whether readiness is in the "503" half of its flap period."""
        period = self.faults.ready_flap_s
        return period > 0 and int((self._clock() - self._since) // period) % 2 == 1

    def _rate_limited(self, client: str, path: str) -> Response | None:
        now = self._clock()
        if len(self._windows) > RATE_KEYS_MAX:
            # Forget idle (client, route) pairs: a scan of many paths must not grow memory.
            cutoff = now - RATE_WINDOW_S
            self._windows = {k: w for k, w in self._windows.items() if w and w[-1] > cutoff}
        window = self._windows.setdefault((client, path), collections.deque())
        while window and window[0] <= now - RATE_WINDOW_S:
            window.popleft()
        if len(window) >= self.faults.rate_limit_per_min:
            retry_after = max(1, math.ceil(window[0] + RATE_WINDOW_S - now))
            return JSONResponse(
                {"error": "Too many requests", "code": "RATE_LIMIT_EXCEEDED"},
                status_code=429,
                headers={"Retry-After": str(retry_after)},
            )
        window.append(now)
        return None

    async def intercept(self, scope: Scope) -> Response | None:
        """Apply the faults to one ``/api/`` request; a response ends it early."""
        f = self.faults
        path: str = scope["path"]
        if f.rate_limit_per_min:
            client = scope["client"][0] if scope.get("client") else "unknown"
            limited = self._rate_limited(client, path)
            if limited is not None:
                return limited
        if f.paths and not path.startswith(f.paths):
            return None
        self._count += 1
        k = self._count
        delay_ms = f.latency_ms
        if self._distribution is not None:
            delay_ms += self._distribution.sample(self._rng)
        if self._slow and fraction_picks(k, self._slow):
            delay_ms += f.slow_ms
        if delay_ms > 0:
            await asyncio.sleep(delay_ms / 1000)
        if self._error and fraction_picks(k, self._error):
            return JSONResponse({"error": "injected"}, status_code=500)
        return None


class FaultMiddleware:
    """Pure ASGI (not ``BaseHTTPMiddleware``): the healthy path costs one attribute read."""

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app = app
        self.service = service
        self.state = service.faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.state.active and scope["type"] == "http" and scope["path"].startswith("/api/"):
            response = await self.state.intercept(scope)
            if response is not None:
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


# --- routes -----------------------------------------------------------------


def _service(request: Request) -> Service:
    return request.app.state.service  # type: ignore[no-any-return]


class Service:
    """Configuration, dependencies and faults of one running service."""

    def __init__(
        self, config: ServiceConfig, clock: Callable[[], float] = timing.monotonic
    ) -> None:
        self.config = config
        self.deps = Dependencies(config)
        self.faults = FaultState(config.faults, self.deps, clock)

    def health_denied(self, request: Request) -> Response | None:
        expected = self.config.health_token
        if expected is None:
            return None
        given = request.headers.get("x-health-token", "")
        if hmac.compare_digest(given.encode(), expected.encode()):
            return None
        return JSONResponse({"error": "Unauthorized"}, status_code=401)

    def admin_denied(self, request: Request) -> Response | None:
        expected = self.config.admin_token
        if not expected:
            return JSONResponse({"error": "admin token not configured"}, status_code=503)
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), expected.encode()):
            return None
        return JSONResponse(
            {"error": "Unauthorized"}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )


async def health(request: Request) -> Response:
    svc = _service(request)
    if (denied := svc.health_denied(request)) is not None:
        return denied
    if svc.faults.faults.wrong_json:
        return JSONResponse({"status": "degraded"})
    return JSONResponse({"status": "ok"})


async def health_db(request: Request) -> Response:
    svc = _service(request)
    if (denied := svc.health_denied(request)) is not None:
        return denied
    if svc.faults.faults.wrong_json:
        return JSONResponse({"mongodb": "disconnected"})  # 200 with a body that says down
    status, _ = await svc.deps.check_mongo()
    if status == "ok":
        return JSONResponse({"mongodb": "connected"})
    return JSONResponse({"mongodb": "disconnected"}, status_code=503)


async def health_redis(request: Request) -> Response:
    svc = _service(request)
    if (denied := svc.health_denied(request)) is not None:
        return denied
    if svc.faults.faults.wrong_json:
        return JSONResponse({"redis": "disconnected"})
    status, _ = await svc.deps.check_redis()
    if status == "ok":
        return JSONResponse({"redis": "connected"})
    return JSONResponse({"redis": "disconnected"}, status_code=503)


async def health_ready(request: Request) -> Response:
    svc = _service(request)
    if (denied := svc.health_denied(request)) is not None:
        return denied
    if svc.faults.faults.wrong_json:
        # A string where a boolean belongs: a truthy check passes, a strict one must not.
        return JSONResponse({"ready": "yes", "checks": {"mongodb": "ok", "redis": "ok"}})
    if svc.faults.ready_flapped_down():
        checks = {"mongodb": "timeout", "redis": "ok"}
        return JSONResponse(
            {"ready": False, "checks": checks, "timestamp": _now_iso()}, status_code=503
        )
    (mongo, mongo_ms), (red, redis_ms) = await asyncio.gather(
        svc.deps.check_mongo(), svc.deps.check_redis()
    )
    ready = mongo == red == "ok"
    body: dict[str, Any] = {"ready": ready, "checks": {"mongodb": mongo, "redis": red}}
    if ready:
        body["latency"] = {"mongodb": mongo_ms, "redis": redis_ms}
    body["timestamp"] = _now_iso()
    return JSONResponse(body, status_code=200 if ready else 503)


def _db_unavailable() -> Response:
    return JSONResponse({"error": "database unavailable"}, status_code=503)


async def admin_features(request: Request) -> Response:
    svc = _service(request)
    if (denied := svc.admin_denied(request)) is not None:
        return denied
    if request.method == "PATCH":
        return await _patch_feature(svc, request)
    try:
        flags = await run_in_threadpool(_read_features, svc.deps.db())
    except _FAILURES:
        return _db_unavailable()
    return JSONResponse({"features": flags, "evaluatedAt": _now_iso()})


def _read_features(db: Database[dict[str, Any]]) -> list[dict[str, Any]]:
    cursor = db.featureFlags.find({}, {"_id": 0, "feature": 1, "enabled": 1}).sort("feature", 1)
    return list(cursor)


async def _patch_feature(svc: Service, request: Request) -> Response:
    # No Content-Type check: the runbook's `curl -d` sends form-encoded JSON.
    try:
        body = json.loads(await request.body())
    except ValueError:
        return JSONResponse({"error": "body must be JSON"}, status_code=400)
    if (
        not isinstance(body, dict)
        or set(body) != {"feature", "enabled"}
        or not isinstance(body["feature"], str)
        or not isinstance(body["enabled"], bool)
    ):
        return JSONResponse(
            {"error": 'expected {"feature": <string>, "enabled": <true|false>}'}, status_code=400
        )
    updated_at = timing.utcnow()
    try:
        result = await run_in_threadpool(
            svc.deps.db().featureFlags.update_one,
            {"feature": body["feature"]},
            {"$set": {"enabled": body["enabled"], "updatedAt": updated_at}},
        )
    except _FAILURES:
        return _db_unavailable()
    if result.matched_count == 0:
        return JSONResponse({"error": f"unknown feature {body['feature']!r}"}, status_code=404)
    return JSONResponse({**body, "updatedAt": _jsonable(updated_at)})


async def work_orders(request: Request) -> Response:
    svc = _service(request)
    org = request.query_params.get("organizationId")
    if not org:
        return JSONResponse({"error": "organizationId is required"}, status_code=400)
    query: dict[str, Any] = {"organizationId": org}
    if status := request.query_params.get("status"):
        query["status"] = status
    try:
        docs = await run_in_threadpool(_read_work_orders, svc.deps.db(), query)
    except _FAILURES:
        return _db_unavailable()
    items = [_jsonable(doc) for doc in docs]
    return JSONResponse({"items": items, "count": len(items)})


def _read_work_orders(db: Database[dict[str, Any]], query: dict[str, Any]) -> list[dict[str, Any]]:
    cursor = db.workOrders.find(query).sort("createdAt", -1).limit(WORK_ORDERS_LIMIT)
    return list(cursor)


def _jsonable(value: Any) -> Any:
    """BSON values as JSON: ObjectIds as hex strings, dates as ISO 8601 UTC."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, ObjectId):
        return str(value)
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return value


async def fault_switches(request: Request) -> Response:
    state = _service(request).faults
    if request.method == "PUT":
        try:
            data = json.loads(await request.body())
            if not isinstance(data, dict):
                raise ValueError
        except ValueError:
            return JSONResponse({"error": "body must be a JSON object of faults"}, status_code=400)
        try:
            state.set(Faults.from_mapping(data))
        except FaultError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse(state.faults.as_dict())


# --- assembly ---------------------------------------------------------------


def create_app(
    config: ServiceConfig, *, clock: Callable[[], float] = timing.monotonic
) -> FaultMiddleware:
    """The ASGI application: routes, wrapped in the fault middleware (``.service`` is reachable)."""
    service = Service(config, clock)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        service.deps.close()

    routes = [
        Route("/api/health", health),
        Route("/api/health/db", health_db),
        Route("/api/health/redis", health_redis),
        Route("/api/health/ready", health_ready),
        Route("/api/admin/features", admin_features, methods=["GET", "PATCH"]),
        Route("/api/work-orders", work_orders),
        Route("/__fixgate/faults", fault_switches, methods=["GET", "PUT"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.service = service
    return FaultMiddleware(app, service)


# --- demo data --------------------------------------------------------------


def _seed_work_orders() -> list[dict[str, Any]]:
    rows = [
        ("org-alpha", "open", "HVAC not cooling", 1),
        ("org-alpha", "in_progress", "Leaking tap, unit 4B", 2),
        ("org-alpha", "closed", "Replace lobby lights", 3),
        ("org-alpha", "open", "Elevator inspection", 4),
        ("org-beta", "open", "Broken window latch", 5),
        ("org-beta", "closed", "Pest control visit", 6),
    ]
    return [
        {
            "_id": ObjectId(f"65a000000000000000000{n:03d}"),
            "organizationId": org,
            "status": status,
            "title": title,
            "createdAt": datetime(2026, 1, n, 9, 0, tzinfo=UTC),
        }
        for org, status, title, n in rows
    ]


def seed(db: Database[dict[str, Any]]) -> None:
    """Create the demo data: work orders for two organisations, the feature flags, indexes.

    Idempotent and non-destructive: fixed ``_id``s are upserted and the flags
    reset to :data:`FEATURE_DEFAULTS`; nothing else is deleted.
    """
    db.workOrders.create_index([("organizationId", 1), ("status", 1)])
    db.workOrders.create_index([("organizationId", 1), ("createdAt", -1)])
    db.featureFlags.create_index("feature", unique=True)
    for doc in _seed_work_orders():
        db.workOrders.replace_one({"_id": doc["_id"]}, doc, upsert=True)
    now = timing.utcnow()
    for name, enabled in FEATURE_DEFAULTS.items():
        db.featureFlags.update_one(
            {"feature": name}, {"$set": {"enabled": enabled, "updatedAt": now}}, upsert=True
        )
