"""Helpers of the tests that run a real Prometheus (``/usr/bin/prometheus``, ``promtool``).

``reference_with_prometheus()`` starts a reference service of its own (so
its counters hold this test's requests only) and a Prometheus scraping it
every second, with traffic: a thread GETs ``/api/health`` every 50 ms, as
users would, so the error rate has requests to count.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from pytest_fixgate.reference import ReferenceService, reference_service
from pytest_fixgate.reference.prometheus_server import PrometheusServer, prometheus_server

needs_prometheus = pytest.mark.skipif(
    shutil.which("prometheus") is None or shutil.which("promtool") is None,
    reason="prometheus/promtool not installed (apt-get install prometheus; .ci/run does it)",
)


@dataclass(frozen=True)
class Stack:
    reference: ReferenceService
    prometheus: PrometheusServer


def query(prom: PrometheusServer, promql: str) -> list[dict]:
    body = httpx.get(f"{prom.base_url}/api/v1/query", params={"query": promql}, timeout=5).json()
    assert body["status"] == "success", body
    return body["data"]["result"]


def wait_for_value(prom: PrometheusServer, promql: str, timeout_s: float = 30.0) -> float:
    """Until ``promql`` answers a sample (rates need two scrapes); its value."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = query(prom, promql)
        if result:
            return float(result[0]["value"][1])
        time.sleep(0.2)
    raise AssertionError(f"no sample for {promql} within {timeout_s:g} s")


@contextlib.contextmanager
def _traffic(base_url: str, every_s: float = 0.05) -> Iterator[None]:
    stop = threading.Event()

    def run() -> None:
        with httpx.Client(base_url=base_url, timeout=2) as client:
            while not stop.is_set():
                with contextlib.suppress(httpx.HTTPError):
                    client.get("/api/health")
                stop.wait(every_s)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


@contextlib.contextmanager
def reference_with_prometheus(
    mongo_uri: str, redis_url: str, *, rules: Sequence[Path] = (), **faults: object
) -> Iterator[Stack]:
    from pytest_fixgate.reference import Faults

    with contextlib.ExitStack() as stack:
        ref = stack.enter_context(
            reference_service(mongo_uri, redis_url, Faults.from_mapping(faults), seed=True)
        )
        prom = stack.enter_context(prometheus_server([ref.base_url], rules=rules))
        stack.enter_context(_traffic(ref.base_url))
        prom.wait_scraped()
        yield Stack(ref, prom)
