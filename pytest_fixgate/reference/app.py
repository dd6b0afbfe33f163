"""The reference staging service: the runbook's HTTP contract, or Fixzit's, over real MongoDB.

It speaks one of two contracts (:data:`CONTRACTS`), chosen at start-up.

``runbook`` (the default): the runbook's "Monitoring & Alerts" and "Feature
Flag Rollback", over MongoDB and Redis::

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
    GET   /__fixgate/requests    {"admin_flags": {"GET": n, ...}}: flag-route requests by method
    GET   /metrics               Prometheus's text format (:mod:`.metrics`), both contracts

``fixzit``: the real application behind the runbook, as it has drifted from
it (``fixzit-contract.md``). MongoDB only: no Redis client, no Redis route,
and the ``redis_down`` fault changes nothing::

    GET  /api/health           200 {"status": "healthy", "timestamp", "uptime", "commit",
                                    "database": "connected"}
                               503 {"status": "unhealthy", "timestamp",
                                    "database": "error" | "timeout"}
    GET  /api/health/ready     200 {"ready": true, "latency": {"mongodb"}, "timestamp",
                                    "checks": {"mongodb": "ok", "email", "sms"}}
                               503 {"ready": false, "latency": {}, "timestamp",
                                    "checks": {"mongodb": "error" | "timeout", ...}}
    GET  /api/health/live      200 {"alive": true, "uptime", "memory": {"rss", "maxRss"},
                                    "timestamp"}
    GET  /api/health/database  200 {"status": "healthy", "database": "mongodb",
                                    "connection": "active", "timestamp", "responseTime"}
                               503 {"status": "unhealthy", ..., "connection": "failed" | "error"}
    GET  /api/admin/feature-flags  {"flags": [{"id", "enabled", "name", "category"}],
                                    "evaluatedAt"}                         (session cookie)
    PUT  /api/admin/feature-flags  {"id": "ui.new_dashboard", "enabled": false}   (session)
    GET  /api/work-orders      ?orgId=..&status=..  -> {"items", "count"}  (workorders)
    GET  /__fixgate/faults, PUT /__fixgate/faults   as above

The runbook's ``/api/health/db``, ``/api/health/redis`` and
``/api/admin/features`` answer 404 there. The four health routes are
rate-limited per client IP and route (:data:`FIXZIT_HEALTH_RATE_LIMIT` a
minute, 429 over it), the application's own limit rather than a fault: the
``rate_limit_per_min`` fault, when set (above 0), replaces it, and
``ServiceConfig.health_rate_limit_per_min=0`` turns it off. Uptime is
counted from the service's start; ``commit`` is ``ServiceConfig.commit``.
The flags route wants, as the application's does, a NextAuth session of a
SUPER_ADMIN: a ``next-auth.session-token`` (or ``__Secure-``) cookie whose
value is ``ServiceConfig.admin_token`` (the SUPER_ADMIN's session; no session
401, a bearer token is no session). :data:`FIXZIT_ADMIN_ROLE_SESSION`, a
session of a mere ADMIN, is 403.

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
import resource
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

from pytest_fixgate import timing
from pytest_fixgate.reference.faults import FaultError, Faults, exact_fraction, fraction_picks
from pytest_fixgate.reference.metrics import MetricsMiddleware, ServiceMetrics

if TYPE_CHECKING:
    from pymongo.database import Database
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "CONTRACTS",
    "DEFAULT_DB",
    "FEATURE_DEFAULTS",
    "FIXZIT_FEATURE_FLAGS",
    "FIXZIT_HEALTH_PATHS",
    "FIXZIT_HEALTH_RATE_LIMIT",
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

#: The contracts the service can speak: the runbook's, or the real application's.
CONTRACTS = ("runbook", "fixzit")

#: The feature flags ``seed`` creates in the fixzit contract (collection
#: ``feature_flags``): id -> (enabled, name, category), ids as the application spells them.
FIXZIT_FEATURE_FLAGS: dict[str, tuple[bool, str, str]] = {
    "ui.new_dashboard": (False, "New Dashboard", "ui"),
    "core.sms_notifications": (True, "SMS Notifications", "core"),
    "core.multi_language": (True, "Multi-Language Support", "core"),
    "fm.work_order_auto_assign": (False, "Auto-Assign Work Orders", "fm"),
    "integrations.graphql_api": (False, "GraphQL API", "integrations"),
}

#: NextAuth's session cookies (http, and https with the __Secure- prefix).
FIXZIT_SESSION_COOKIES = ("next-auth.session-token", "__Secure-next-auth.session-token")
#: A session of a user whose role is ADMIN, not SUPER_ADMIN: the flags route answers 403.
FIXZIT_ADMIN_ROLE_SESSION = "fixzit-session-of-an-ADMIN-not-SUPER_ADMIN"

#: The fixzit contract's health routes, each limited per client IP.
FIXZIT_HEALTH_PATHS = frozenset(
    {"/api/health", "/api/health/ready", "/api/health/live", "/api/health/database"}
)
#: Requests per minute per client IP and health route, in the fixzit contract.
FIXZIT_HEALTH_RATE_LIMIT = 120

WORK_ORDERS_LIMIT = 50
RATE_WINDOW_S = 60.0
RATE_KEYS_MAX = 10_000

#: The index the ``missing_index`` fault drops, per contract: collection, keys, name.
WORK_ORDER_STATUS_INDEX: dict[str, tuple[str, list[tuple[str, int]], str | None]] = {
    "runbook": ("workOrders", [("organizationId", 1), ("status", 1)], None),
    "fixzit": ("workorders", [("orgId", 1), ("status", 1)], "workorders_orgId_status"),
}

#: Migration files the seeded ``changelog`` records as applied (reference/migrations/).
APPLIED_MIGRATIONS = ("001_create_work_order_indexes.py",)

#: The Redis list seeded as the notifications queue, and its length.
NOTIFICATIONS_QUEUE = "queue:notifications"
NOTIFICATIONS_SEEDED = 3

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
    """What the service needs to start. Secret fields stay out of ``repr``.

    ``redis_url`` is required by the runbook contract and unused by the
    fixzit one. ``health_rate_limit_per_min`` is the contract's own limit on
    its health routes: ``None`` means the contract's default (none for the
    runbook, :data:`FIXZIT_HEALTH_RATE_LIMIT` for fixzit), 0 turns it off.
    """

    mongodb_uri: str = field(repr=False)
    redis_url: str | None = field(default=None, repr=False)
    admin_token: str | None = field(default=None, repr=False)
    health_token: str | None = field(default=None, repr=False)
    db_name: str | None = None
    faults: Faults = field(default_factory=Faults)
    contract: str = "runbook"
    health_rate_limit_per_min: int | None = None
    commit: str = "unknown"

    def __post_init__(self) -> None:
        if self.contract not in CONTRACTS:
            raise ValueError(f"contract: expected one of {CONTRACTS}, got {self.contract!r}")
        if self.contract == "runbook" and not self.redis_url:
            raise ValueError("redis_url: the runbook contract needs Redis")
        limit = self.health_rate_limit_per_min
        if limit is not None and (isinstance(limit, bool) or limit < 0):
            raise ValueError(f"health_rate_limit_per_min: expected an integer >= 0, got {limit!r}")

    @property
    def health_rate_limit(self) -> int:
        """Requests per minute per client IP and health route; 0 when there is no limit."""
        if self.health_rate_limit_per_min is not None:
            return self.health_rate_limit_per_min
        return FIXZIT_HEALTH_RATE_LIMIT if self.contract == "fixzit" else 0

    @property
    def health_paths(self) -> frozenset[str]:
        """The routes :attr:`health_rate_limit` applies to."""
        return FIXZIT_HEALTH_PATHS if self.contract == "fixzit" else frozenset()


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
        # The fixzit contract has no Redis: no client, so nothing ever connects to one.
        self._redis: redis.Redis | None = None
        if config.contract == "runbook" and config.redis_url:
            self._redis = redis.Redis.from_url(config.redis_url, **REDIS_OPTIONS)
        self._db_name = config.db_name or self._mongo.get_default_database(DEFAULT_DB).name
        self._dead_socket: socket.socket | None = None
        self._dead_mongo: pymongo.MongoClient[dict[str, Any]] | None = None
        self._dead_redis: redis.Redis | None = None
        self._mongo_down = False
        self._redis_down = False
        self._contract = config.contract
        self._index_dropped = False
        self._in_flight: dict[str, asyncio.Future[tuple[str, float | None]]] = {}

    def set_down(self, *, mongo: bool, redis: bool) -> None:
        self._mongo_down = mongo
        self._redis_down = redis
        # A probe started before the switch must not answer for requests after it.
        self._in_flight.clear()

    def set_index_dropped(self, dropped: bool) -> None:
        """The ``missing_index`` fault: drop the work orders' organization+status index,
        or put it back. A real change to the database, so the index gate sees it."""
        if not dropped and not self._index_dropped:
            return  # nothing to put back: no write on every fault reset
        collection, keys, name = WORK_ORDER_STATUS_INDEX[self._contract]
        coll = self._mongo[self._db_name][collection]
        if dropped:
            for spec in coll.list_indexes():
                if list(spec["key"].items()) == keys:
                    coll.drop_index(spec["name"])
        else:
            coll.create_index(keys, name=name)
        self._index_dropped = dropped

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
        if self._redis is None:
            raise RuntimeError("this service has no Redis (fixzit contract)")
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

    def __init__(
        self,
        faults: Faults,
        deps: Dependencies,
        clock: Callable[[], float],
        *,
        route_limit: int = 0,
        limited_paths: frozenset[str] = frozenset(),
    ) -> None:
        self._deps = deps
        self._clock = clock
        # The contract's own rate limit (fixzit's health routes); a fault replaces it.
        self._route_limit = route_limit if limited_paths else 0
        self._limited_paths = limited_paths
        self.set(faults)

    def set(self, faults: Faults) -> None:
        self.faults = faults
        self.active = faults.active
        # Whether the middleware has any work: a fault, or the contract's rate limit.
        self.engaged = self.active or self._route_limit > 0
        self._count = 0
        self._slow = exact_fraction(faults.slow_fraction)
        self._error = exact_fraction(faults.error_ratio)
        self._distribution = faults.distribution
        self._rng = random.Random(faults.latency_seed)
        self._windows: dict[tuple[str, str], collections.deque[float]] = {}
        self._since = self._clock()
        self._deps.set_down(mongo=faults.mongo_down, redis=faults.redis_down)
        self._deps.set_index_dropped(faults.missing_index)

    def ready_flapped_down(self) -> bool:
        """Whether readiness is in the "503" half of its flap period."""
        period = self.faults.ready_flap_s
        return period > 0 and int((self._clock() - self._since) // period) % 2 == 1

    def _rate_limited(self, client: str, path: str, limit: int) -> Response | None:
        now = self._clock()
        if len(self._windows) > RATE_KEYS_MAX:
            # Forget idle (client, route) pairs: a scan of many paths must not grow memory.
            cutoff = now - RATE_WINDOW_S
            self._windows = {k: w for k, w in self._windows.items() if w and w[-1] > cutoff}
        window = self._windows.setdefault((client, path), collections.deque())
        while window and window[0] <= now - RATE_WINDOW_S:
            window.popleft()
        if len(window) >= limit:
            retry_after = max(1, math.ceil(window[0] + RATE_WINDOW_S - now))
            return JSONResponse(
                {"error": "Too many requests", "code": "RATE_LIMIT_EXCEEDED"},
                status_code=429,
                headers={"Retry-After": str(retry_after)},
            )
        window.append(now)
        return None

    async def intercept(self, scope: Scope) -> Response | float | None:
        """Apply the faults to one ``/api/`` request: a response ends it early; a number
        is the monotonic deadline before which its response may not start."""
        f = self.faults
        path: str = scope["path"]
        limit = f.rate_limit_per_min or (self._route_limit if path in self._limited_paths else 0)
        if limit:
            client = scope["client"][0] if scope.get("client") else "unknown"
            limited = self._rate_limited(client, path, limit)
            if limited is not None:
                return limited
        if not self.active:
            return None
        if f.paths and not path.startswith(f.paths):
            return None
        self._count += 1
        k = self._count
        delay_ms = f.latency_ms
        if self._distribution is not None:
            delay_ms += self._distribution.sample(self._rng)
        if self._slow and fraction_picks(k, self._slow):
            delay_ms += f.slow_ms
        # The delay counts from the request's arrival and overlaps the handler's own
        # work (Mongo and Redis pings): a response takes max(delay, handler), so a
        # loaded machine does not add its handler time on top of an exact latency.
        deadline = timing.monotonic() + delay_ms / 1000 if delay_ms > 0 else None
        if self._error and fraction_picks(k, self._error):
            if deadline is not None:
                await _sleep_until(deadline)
            return JSONResponse({"error": "injected"}, status_code=500)
        return deadline


async def _sleep_until(deadline: float) -> None:
    """An injected delay is never short: uvloop's timers read a loop time cached at the
    start of the iteration (millisecond resolution), so one sleep may end ~1 ms early."""
    while (left := deadline - timing.monotonic()) > 0:
        await asyncio.sleep(left)


def _send_after(deadline: float, send: Send) -> Send:
    """``send`` that holds the response's start until ``deadline``."""

    async def delayed_send(message: Message) -> None:
        if message["type"] == "http.response.start":
            await _sleep_until(deadline)
        await send(message)

    return delayed_send


class FaultMiddleware:
    """Pure ASGI (not ``BaseHTTPMiddleware``): the healthy path costs one attribute read."""

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app = app
        self.service = service
        self.state = service.faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.state.engaged and scope["type"] == "http" and scope["path"].startswith("/api/"):
            verdict = await self.state.intercept(scope)
            if isinstance(verdict, Response):
                await verdict(scope, receive, send)
                return
            if verdict is not None:
                send = _send_after(verdict, send)
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
        self.faults = FaultState(
            config.faults,
            self.deps,
            clock,
            route_limit=config.health_rate_limit,
            limited_paths=config.health_paths,
        )
        self.started = clock()
        self._clock = clock
        # Requests to the admin flag routes by method: tests prove a gate only read them.
        self.admin_flag_methods: collections.Counter[str] = collections.Counter()

    def uptime_s(self) -> float:
        """Seconds since the service started (the application's ``process.uptime()``)."""
        return round(self._clock() - self.started, 3)

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
    svc.admin_flag_methods[request.method] += 1
    if (denied := svc.admin_denied(request)) is not None:
        return denied
    if request.method == "PATCH":
        return await _patch_feature(svc, request)
    try:
        flags = await run_in_threadpool(_read_features, svc.deps.db())
    except _FAILURES:
        return _db_unavailable()
    # The runbook leaves the answer's shape open: a flag gate must read each one.
    shape = svc.faults.faults.flags_shape
    if shape == "list":
        return JSONResponse(flags)
    if shape == "object":
        return JSONResponse({f["feature"]: f["enabled"] for f in flags})
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


# --- routes of the fixzit contract -------------------------------------------


def _memory_mb() -> dict[str, float]:
    """The process's resident memory now and at its peak, in MB (Linux; elsewhere peak only)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    try:
        with open("/proc/self/statm") as fh:
            rss = int(fh.read().split()[1]) * resource.getpagesize() / 2**20
    except (OSError, ValueError, IndexError):
        rss = peak
    # The kernel updates the peak lazily: it can lag the current figure.
    return {"rss": round(rss, 1), "maxRss": round(max(peak, rss), 1)}


async def fixzit_health(request: Request) -> Response:
    svc = _service(request)
    if (denied := svc.health_denied(request)) is not None:
        return denied
    if svc.faults.faults.wrong_json:
        return JSONResponse({"status": "degraded", "database": "connected"})
    status, _ = await svc.deps.check_mongo()
    if status == "ok":
        body: dict[str, Any] = {
            "status": "healthy",
            "timestamp": _now_iso(),
            "uptime": svc.uptime_s(),
            "commit": svc.config.commit,
            "database": "connected",
        }
        return JSONResponse(body)
    # "error" or "timeout", as the application names them.
    body = {"status": "unhealthy", "timestamp": _now_iso(), "database": status}
    return JSONResponse(body, status_code=503)


# The reference has no mail or SMS provider; the application reports these two, never gates on them.
_FIXZIT_PROVIDERS = {"email": "disabled", "sms": "not_configured"}


async def fixzit_health_ready(request: Request) -> Response:
    svc = _service(request)
    if (denied := svc.health_denied(request)) is not None:
        return denied
    if svc.faults.faults.wrong_json:
        return JSONResponse({"ready": "yes", "checks": {"mongodb": "ok", **_FIXZIT_PROVIDERS}})
    if svc.faults.ready_flapped_down():
        mongo, mongo_ms = "timeout", None
    else:
        mongo, mongo_ms = await svc.deps.check_mongo()
    ready = mongo == "ok"
    body = {
        "ready": ready,
        "checks": {"mongodb": mongo, **_FIXZIT_PROVIDERS},
        "latency": {"mongodb": mongo_ms} if ready else {},
        "timestamp": _now_iso(),
    }
    return JSONResponse(body, status_code=200 if ready else 503)


async def fixzit_health_live(request: Request) -> Response:
    svc = _service(request)
    if (denied := svc.health_denied(request)) is not None:
        return denied
    if svc.faults.faults.wrong_json:
        return JSONResponse({"alive": "yes"})
    body = {
        "alive": True,
        "uptime": svc.uptime_s(),
        "memory": _memory_mb(),
        "timestamp": _now_iso(),
    }
    return JSONResponse(body)


async def fixzit_health_database(request: Request) -> Response:
    svc = _service(request)
    if (denied := svc.health_denied(request)) is not None:
        return denied
    if svc.faults.faults.wrong_json:
        # 200 with a body that says down.
        return JSONResponse({"status": "healthy", "database": "mongodb", "connection": "failed"})
    start = timing.perf_counter()
    status, _ = await svc.deps.check_mongo()
    response_ms = round((timing.perf_counter() - start) * 1000)
    ok = status == "ok"
    body = {
        "status": "healthy" if ok else "unhealthy",
        "database": "mongodb",
        # The application: "failed" when it cannot reach the server, "error" when the ping throws.
        "connection": "active" if ok else ("failed" if status == "error" else "error"),
        "timestamp": _now_iso(),
        "responseTime": response_ms,
    }
    return JSONResponse(body, status_code=200 if ok else 503)


def _super_admin_denied(svc: Service, request: Request) -> Response | None:
    """The application's check: a session (401 without), whose role is SUPER_ADMIN (403)."""
    expected = svc.config.admin_token
    if not expected:
        return JSONResponse({"error": "admin session not configured"}, status_code=503)
    for name in FIXZIT_SESSION_COOKIES:
        given = request.cookies.get(name, "")
        if given and hmac.compare_digest(given.encode(), expected.encode()):
            return None
        if given == FIXZIT_ADMIN_ROLE_SESSION:
            return JSONResponse({"error": "Forbidden - Admin access required"}, status_code=403)
    return JSONResponse({"error": "Unauthorized"}, status_code=401)


async def fixzit_feature_flags(request: Request) -> Response:
    svc = _service(request)
    svc.admin_flag_methods[request.method] += 1
    if (denied := _super_admin_denied(svc, request)) is not None:
        return denied
    if request.method == "PUT":
        return await _put_feature_flag(svc, request)
    try:
        flags = await run_in_threadpool(_read_feature_flags, svc.deps.db())
    except _FAILURES:
        return _db_unavailable()
    return JSONResponse({"flags": flags, "evaluatedAt": _now_iso()})


def _read_feature_flags(db: Database[dict[str, Any]]) -> list[dict[str, Any]]:
    projection = {"_id": 0, "id": 1, "enabled": 1, "name": 1, "category": 1}
    return list(db.feature_flags.find({}, projection).sort("id", 1))


async def _put_feature_flag(svc: Service, request: Request) -> Response:
    try:
        body = json.loads(await request.body())
    except ValueError:
        body = None
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("id"), str)
        or not body["id"]
        or not isinstance(body.get("enabled"), bool)
    ):
        return JSONResponse({"error": "Invalid request body"}, status_code=400)
    updated_at = timing.utcnow()
    try:
        flag = await run_in_threadpool(
            svc.deps.db().feature_flags.find_one_and_update,
            {"id": body["id"]},
            {"$set": {"enabled": body["enabled"], "updatedAt": updated_at}},
            {"_id": 0, "id": 1, "enabled": 1, "name": 1, "category": 1},
            return_document=pymongo.ReturnDocument.AFTER,
        )
    except _FAILURES:
        return _db_unavailable()
    if flag is None:
        return JSONResponse({"error": "Unknown feature flag"}, status_code=404)
    return JSONResponse({"flag": flag, "updatedAt": _jsonable(updated_at)})


async def fixzit_work_orders(request: Request) -> Response:
    svc = _service(request)
    org = request.query_params.get("orgId")
    if not org:
        return JSONResponse({"error": "orgId is required"}, status_code=400)
    query: dict[str, Any] = {"orgId": org}
    if status := request.query_params.get("status"):
        query["status"] = status
    try:
        docs = await run_in_threadpool(_read_fixzit_work_orders, svc.deps.db(), query)
    except _FAILURES:
        return _db_unavailable()
    items = [_jsonable(doc) for doc in docs]
    return JSONResponse({"items": items, "count": len(items)})


def _read_fixzit_work_orders(
    db: Database[dict[str, Any]], query: dict[str, Any]
) -> list[dict[str, Any]]:
    cursor = db.workorders.find(query).sort("createdAt", -1).limit(WORK_ORDERS_LIMIT)
    return list(cursor)


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


async def request_counts(request: Request) -> Response:
    return JSONResponse({"admin_flags": dict(_service(request).admin_flag_methods)})


# --- assembly ---------------------------------------------------------------


def create_app(
    config: ServiceConfig, *, clock: Callable[[], float] = timing.monotonic
) -> MetricsMiddleware:
    """The ASGI application: routes, wrapped in the fault middleware, wrapped in the
    metrics middleware (``GET /metrics``); ``.service`` is reachable."""
    service = Service(config, clock)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        service.deps.close()

    if config.contract == "fixzit":
        routes = [
            Route("/api/health", fixzit_health),
            Route("/api/health/ready", fixzit_health_ready),
            Route("/api/health/live", fixzit_health_live),
            Route("/api/health/database", fixzit_health_database),
            Route("/api/admin/feature-flags", fixzit_feature_flags, methods=["GET", "PUT"]),
            Route("/api/work-orders", fixzit_work_orders),
            Route("/__fixgate/faults", fault_switches, methods=["GET", "PUT"]),
            Route("/__fixgate/requests", request_counts),
        ]
    else:
        routes = [
            Route("/api/health", health),
            Route("/api/health/db", health_db),
            Route("/api/health/redis", health_redis),
            Route("/api/health/ready", health_ready),
            Route("/api/admin/features", admin_features, methods=["GET", "PATCH"]),
            Route("/api/work-orders", work_orders),
            Route("/__fixgate/faults", fault_switches, methods=["GET", "PUT"]),
            Route("/__fixgate/requests", request_counts),
        ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.service = service
    metrics = ServiceMetrics(frozenset(r.path for r in routes), _queue_reader(service))
    return MetricsMiddleware(FaultMiddleware(app, service), metrics, service)


def _queue_reader(service: Service) -> Callable[[], dict[str, float]]:
    """What ``fixgate_queue_depth`` reads at each scrape (see :mod:`.metrics`)."""
    if service.config.contract == "fixzit":
        return lambda: {
            "background_jobs": service.deps.db().background_jobs.count_documents(
                {"status": "queued"}
            )
        }
    return lambda: {"notifications": service.deps.redis().llen(NOTIFICATIONS_QUEUE)}


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


def seed(db: Database[dict[str, Any]], contract: str = "runbook") -> None:
    """Create the demo data: work orders for two organisations, the feature flags, indexes,
    and what the data gates read: a ``changelog`` recording :data:`APPLIED_MIGRATIONS` and
    a few ``background_jobs`` (both contracts). The Redis queue is :func:`seed_queue`.

    Idempotent and non-destructive: fixed ``_id``s are upserted and the flags
    reset to :data:`FEATURE_DEFAULTS` (fixzit: :data:`FIXZIT_FEATURE_FLAGS`);
    nothing else is deleted. The fixzit contract's data lives in its own
    collections (``workorders`` with ``orgId``, ``feature_flags`` by ``id``),
    so both contracts can share one database.
    """
    _seed_jobs_and_changelog(db)
    if contract == "fixzit":
        _seed_fixzit(db)
        return
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


def _seed_jobs_and_changelog(db: Database[dict[str, Any]]) -> None:
    # What the data gates read: applied migrations (migrate-mongo's changelog), and the
    # application's job queue (fixzit-contract.md: background_jobs with a status).
    db.changelog.create_index("fileName", unique=True)
    for n, name in enumerate(APPLIED_MIGRATIONS, 1):
        applied = datetime(2026, 1, n, 8, 0, tzinfo=UTC)
        db.changelog.update_one({"fileName": name}, {"$set": {"appliedAt": applied}}, upsert=True)
    jobs = [
        ("notification", "queued", 0),
        ("notification", "queued", 0),
        ("email", "queued", 1),
        ("sms", "processing", 1),
        ("email", "completed", 1),
        ("sms", "failed", 3),
    ]
    for n, (kind, status, attempts) in enumerate(jobs, 1):
        db.background_jobs.replace_one(
            {"_id": ObjectId(f"65b000000000000000000{n:03d}")},
            {
                "type": kind,
                "status": status,
                "attempts": attempts,
                "createdAt": datetime(2026, 1, 10, 9, n, tzinfo=UTC),
            },
            upsert=True,
        )


def seed_queue(client: redis.Redis) -> None:
    """The notifications queue: a Redis list of :data:`NOTIFICATIONS_SEEDED` jobs."""
    client.delete(NOTIFICATIONS_QUEUE)
    client.rpush(
        NOTIFICATIONS_QUEUE,
        *(json.dumps({"job": n, "type": "notification"}) for n in range(NOTIFICATIONS_SEEDED)),
    )


def _seed_fixzit(db: Database[dict[str, Any]]) -> None:
    # The index names the application expects (fixzit-contract.md).
    db.workorders.create_index([("orgId", 1), ("status", 1)], name="workorders_orgId_status")
    db.workorders.create_index(
        [("orgId", 1), ("status", 1), ("createdAt", -1)],
        name="workorders_orgId_status_createdAt_desc",
    )
    db.feature_flags.create_index("id", unique=True)
    for doc in _seed_work_orders():
        doc["orgId"] = doc.pop("organizationId")
        db.workorders.replace_one({"_id": doc["_id"]}, doc, upsert=True)
    now = timing.utcnow()
    for flag_id, (enabled, name, category) in FIXZIT_FEATURE_FLAGS.items():
        db.feature_flags.update_one(
            {"id": flag_id},
            {"$set": {"enabled": enabled, "name": name, "category": category, "updatedAt": now}},
            upsert=True,
        )
