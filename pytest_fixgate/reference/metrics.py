"""``GET /metrics`` of the reference service, in Prometheus's text exposition format.

Written with ``prometheus_client`` (its own registry per service, so several
services in one process never share counters)::

    fixgate_http_requests_total{method, path, status}      counter
    fixgate_http_request_duration_seconds{path}            histogram (LATENCY_BUCKETS)
    fixgate_queue_depth{queue}                             gauge, read at scrape time

The middleware is the outermost layer, outside the fault middleware, so an
injected 500 or delay is counted and timed as a client sees it. ``path`` is
the route's path, or ``other`` for a path no route serves (a scan of random
URLs must not grow the series without bound). ``/metrics`` itself is not
counted. The queue depth is read when Prometheus scrapes: the runbook
contract's Redis list (:data:`~.app.NOTIFICATIONS_QUEUE`), the fixzit
contract's ``background_jobs`` still ``queued``; a dependency that does not
answer gives no sample (a gap), never a stale or zero value.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "DURATION_METRIC",
    "LATENCY_BUCKETS",
    "METRICS_PATH",
    "QUEUE_METRIC",
    "REQUESTS_METRIC",
    "MetricsMiddleware",
    "ServiceMetrics",
]

METRICS_PATH = "/metrics"
REQUESTS_METRIC = "fixgate_http_requests_total"
DURATION_METRIC = "fixgate_http_request_duration_seconds"
QUEUE_METRIC = "fixgate_queue_depth"
#: Seconds; 1.5 s and 2.5 s are the runbook's p95 and p99 thresholds, so a
#: histogram_quantile() over these buckets is exact at the thresholds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.5, 5.0, 10.0)
OTHER_PATH = "other"


class _QueueDepth(Collector):
    """Reads the queue when scraped; no sample when the read fails."""

    def __init__(self, read: Callable[[], dict[str, float]]) -> None:
        self.read = read
        self.last: dict[str, float] | None = None  # set by the scrape, before collect()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            QUEUE_METRIC, "Jobs waiting in the service's queue", labels=["queue"]
        )
        for queue, depth in (self.last or {}).items():
            family.add_metric([queue], depth)
        yield family


class ServiceMetrics:
    def __init__(self, paths: frozenset[str], read_queues: Callable[[], dict[str, float]]) -> None:
        self.paths = paths
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            REQUESTS_METRIC,
            "HTTP requests answered, by method, route path and status code",
            ["method", "path", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            DURATION_METRIC,
            "Time to answer an HTTP request, by route path",
            ["path"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._queues = _QueueDepth(read_queues)
        self.registry.register(self._queues)

    def observe(self, method: str, path: str, status: int, seconds: float) -> None:
        label = path if path in self.paths else OTHER_PATH
        self.requests.labels(method, label, str(status)).inc()
        self.duration.labels(label).observe(seconds)

    async def exposition(self) -> bytes:
        # The queue read blocks (redis-py, pymongo): in the threadpool, as every driver call.
        try:
            self._queues.last = await run_in_threadpool(self._queues.read)
        except Exception:  # a dependency down: no queue sample this scrape
            self._queues.last = None
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Pure ASGI: serves ``/metrics`` and counts and times every other HTTP request."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics, service: Any) -> None:
        self.app = app
        self.metrics = metrics
        self.service = service  # the callers reach the service through the outer app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == METRICS_PATH:
            await self._serve(send)
            return
        started = time.perf_counter()
        status = 500  # an exception before the response started is a 500 to the client

        async def send_and_see(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_see)
        finally:
            self.metrics.observe(
                scope["method"], scope["path"], status, time.perf_counter() - started
            )

    async def _serve(self, send: Send) -> None:
        body = await self.metrics.exposition()
        headers = [
            (b"content-type", CONTENT_TYPE_LATEST.encode()),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
