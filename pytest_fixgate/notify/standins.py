"""Local stand-ins for Slack's incoming webhooks and PagerDuty's Events API v2, on 127.0.0.1.

Used by the tests and by ``fixgate watch --demo`` (which must not reach the
internet). Each speaks its service's documented format:

- Slack (api.slack.com/messaging/webhooks): ``POST /services/T.../B.../<secret>``
  with a JSON body carrying ``text``; ``200 ok``; a body without ``text``:
  ``400 no_text``; another path: ``404 no_service``.
- PagerDuty (developer.pagerduty.com, Events API v2): ``POST /v2/enqueue`` with
  ``routing_key`` (32 characters), ``event_action`` (trigger | acknowledge |
  resolve), ``dedup_key``; a trigger needs ``payload.summary``, ``.source`` and
  ``.severity`` (critical | error | warning | info). ``202 {"status":
  "success", "message": "Event processed", "dedup_key": ...}``; otherwise
  ``400 {"status": "invalid event", "message": "Event object is invalid",
  "errors": [...]}``.

``fail_next(n, status)`` answers the next ``n`` requests with ``status``;
``hang_s`` delays every answer (a timeout). ``received`` holds the accepted
bodies, in order.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Standin", "pagerduty_standin", "slack_standin"]

PD_ACTIONS = ("trigger", "acknowledge", "resolve")
PD_SEVERITIES = ("critical", "error", "warning", "info")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, kind: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.kind = kind
        self.lock = threading.Lock()
        self.received: list[dict[str, Any]] = []
        self.requests = 0
        self.failures: list[int] = []
        self.hang_s = 0.0
        team, bot = secrets.token_hex(4).upper(), secrets.token_hex(4).upper()
        self.hook_path = f"/services/T{team}/B{bot}/{secrets.token_hex(12)}"


class Standin:
    def __init__(self, server: _Server) -> None:
        self._server = server
        host, port = server.server_address[:2]
        self.base_url = f"http://{host}:{port}"

    @property
    def webhook_url(self) -> str:
        """Slack: the whole incoming-webhook URL (a secret, as Slack's are)."""
        return self.base_url + self._server.hook_path

    @property
    def received(self) -> list[dict[str, Any]]:
        with self._server.lock:
            return list(self._server.received)

    @property
    def requests(self) -> int:
        with self._server.lock:
            return self._server.requests

    def fail_next(self, n: int, status: int = 503) -> None:
        with self._server.lock:
            self._server.failures = [status] * n

    @property
    def hang_s(self) -> float:
        return self._server.hang_s

    @hang_s.setter
    def hang_s(self, seconds: float) -> None:
        self._server.hang_s = seconds


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        with self.server.lock:
            self.server.requests += 1
            failure = self.server.failures.pop(0) if self.server.failures else None
        if self.server.hang_s:
            time.sleep(self.server.hang_s)
        if failure is not None:
            self._send(failure, "text/plain", b"service unavailable")
            return
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if self.server.kind == "slack":
            self._slack(body)
        else:
            self._pagerduty(body)

    def _slack(self, body: Any) -> None:
        if self.path != self.server.hook_path:
            self._send(404, "text/plain", b"no_service")
        elif not isinstance(body, dict):
            self._send(400, "text/plain", b"invalid_payload")
        elif not isinstance(body.get("text"), str) or not body["text"]:
            self._send(400, "text/plain", b"no_text")
        else:
            self._accept(body)
            self._send(200, "text/plain", b"ok")

    def _pagerduty(self, body: Any) -> None:
        if self.path != "/v2/enqueue":
            self._send(404, "application/json", b'{"status": "not found"}')
            return
        errors = _pd_errors(body)
        if errors:
            answer = {"status": "invalid event", "message": "Event object is invalid"}
            answer["errors"] = errors  # type: ignore[assignment]
            self._send(400, "application/json", json.dumps(answer).encode())
            return
        self._accept(body)
        answer = {"status": "success", "message": "Event processed", "dedup_key": body["dedup_key"]}
        self._send(202, "application/json", json.dumps(answer).encode())

    def _accept(self, body: dict[str, Any]) -> None:
        with self.server.lock:
            self.server.received.append(body)

    def _send(self, status: int, kind: str, raw: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


def _pd_errors(body: Any) -> list[str]:
    if not isinstance(body, dict):
        return ["Event object is not JSON"]
    errors = []
    key = body.get("routing_key")
    if not isinstance(key, str) or len(key) != 32:
        errors.append("'routing_key' must be a 32-character integration key")
    if body.get("event_action") not in PD_ACTIONS:
        errors.append("'event_action' is invalid (must be trigger, acknowledge or resolve)")
    if body.get("event_action") != "trigger" and not body.get("dedup_key"):
        errors.append("'dedup_key' is required for acknowledge and resolve")
    if body.get("event_action") == "trigger":
        payload = body.get("payload")
        if not isinstance(payload, dict):
            errors.append("'payload' is missing")
        else:
            for name in ("summary", "source"):
                if not isinstance(payload.get(name), str) or not payload[name]:
                    errors.append(f"'payload.{name}' is missing or blank")
            if payload.get("severity") not in PD_SEVERITIES:
                errors.append("'payload.severity' must be critical, error, warning or info")
    return errors


@contextmanager
def _standin(kind: str) -> Iterator[Standin]:
    server = _Server(kind)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield Standin(server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def slack_standin() -> Any:
    return _standin("slack")


def pagerduty_standin() -> Any:
    return _standin("pagerduty")
