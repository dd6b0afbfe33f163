"""Deliveries off the watch's thread: one worker posts them in order, each bounded.

A delivery is tried ``1 + retries`` times, each with ``timeout_s``; only a
5xx, a 429, a timeout or a refused connection is retried (backoff 0.5 s,
1 s, 2 s...). One that still fails is written to the terminal at once,
loudly, secrets redacted, and recorded; it never raises into the watch, so
it cannot change the decision or hold up the rollback command.
:meth:`Outbox.close` waits for what is queued, within a bound.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from typing import Any, TextIO

from pytest_fixgate import timing
from pytest_fixgate.redaction import Redactor

__all__ = ["Delivery", "Outbox"]

_BACKOFF_S = 0.5


@dataclass
class Delivery:
    service: str  # slack | pagerduty
    what: str  # "SEV-1 incident", "update", "trigger", "resolve"
    # Never in a repr: Slack's webhook URL is the secret, PagerDuty's body holds routing_key.
    url: str = field(repr=False)
    body: dict[str, Any] = field(repr=False)
    timeout_s: float
    retries: int
    status: str = "queued"  # queued | sent | failed | not sent
    attempts: int = 0
    http_status: int | None = None
    error: str | None = None
    accepted: Any = field(default=None, repr=False)

    def record(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "what": self.what,
            "status": self.status,
            "attempts": self.attempts,
            "http_status": self.http_status,
            "error": self.error,
        }


class Outbox:
    def __init__(self, redactor: Redactor, stream: TextIO) -> None:
        # deferred: httpx loads only when a request is made, not at a gate run's start
        import httpx

        self.redactor = redactor
        self.stream = stream
        self.deliveries: list[Delivery] = []
        self._queue: queue.Queue[Delivery | None] = queue.Queue()
        self._client = httpx.Client(follow_redirects=False)
        self._thread = threading.Thread(target=self._run, name="fixgate-notify", daemon=True)
        self._thread.start()

    def send(self, delivery: Delivery) -> None:
        self.deliveries.append(delivery)
        self._queue.put(delivery)

    def close(self, wait_s: float = 30.0) -> None:
        """Wait up to ``wait_s`` for the queue; what is left is reported "not sent"."""
        self._queue.put(None)
        self._thread.join(timeout=wait_s)
        for d in self.deliveries:
            if d.status == "queued":
                d.status = "not sent"
                d.error = f"still queued when the watch ended (waited {wait_s:g} s)"
                self._loud(d)
        if not self._thread.is_alive():
            self._client.close()

    def _run(self) -> None:
        while True:
            delivery = self._queue.get()
            if delivery is None:
                return
            try:
                self._deliver(delivery)
            except Exception as exc:  # never let the worker die: report and go on
                delivery.status = "failed"
                delivery.error = self.redactor.text(f"{type(exc).__name__}: {exc}")[:300]
            if delivery.status != "sent":
                self._loud(delivery)

    def _deliver(self, d: Delivery) -> None:
        # deferred: httpx loads only when a request is made, not at a gate run's start
        import httpx

        for attempt in range(1 + d.retries):
            if attempt:
                timing.sleep(_BACKOFF_S * 2 ** (attempt - 1))
            d.attempts = attempt + 1
            try:
                response = self._client.post(d.url, json=d.body, timeout=d.timeout_s)
            except httpx.TimeoutException:
                d.http_status, d.error = None, f"no answer within {d.timeout_s:g} s"
                continue
            except httpx.HTTPError as exc:
                # The URL may be the secret (a Slack webhook): only the error's kind.
                d.http_status, d.error = None, f"{type(exc).__name__} (not reachable)"
                continue
            d.http_status = response.status_code
            if 200 <= response.status_code < 300:
                d.status, d.error = "sent", None
                d.accepted = response.text[:200]
                return
            d.error = self.redactor.text(f"HTTP {response.status_code}: {response.text[:200]}")
            if response.status_code < 500 and response.status_code != 429:
                break  # a 4xx: the request is wrong; the same again would be too
        d.status = "failed"

    def _loud(self, d: Delivery) -> None:
        line = (
            f"fixgate: NOTIFY FAILED: {d.service} {d.what} {d.status} after "
            f"{d.attempts} attempt(s): {d.error}; the decision stands, tell people by hand\n"
        )
        try:
            self.stream.write(self.redactor.text(line))
            self.stream.flush()
        except (OSError, ValueError):
            pass
