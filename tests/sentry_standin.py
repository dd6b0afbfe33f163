"""A stand-in for Sentry's API on 127.0.0.1: the two routes the Sentry gate uses.

Sentry is SaaS and cannot run here, so tests point the gate at this real HTTP
server (stdlib ``http.server`` in a thread) speaking Sentry's documented wire
format:

- ``GET /api/0/organizations/{org}/events/?field=failure_rate()&field=count()
  &project={id}&environment={env}&statsPeriod={period}&dataset=transactions``
  -> ``{"data": [{"failure_rate()": r, "count()": n}], "meta": {...}}``
- ``GET /api/0/projects/{org}/{slug}/`` -> ``{"id": "4505", "slug": ..., ...}``

It validates a request as Sentry does: a ``Bearer`` token (401 ``Invalid
token``), a known org and project slug (404), ``field`` columns it knows
(400), numeric ``project`` ids (400) of projects in the org (403, as Sentry
answers for a project the token cannot see), a ``statsPeriod`` such as
``5m`` (400), a known environment (404). Where Sentry would answer for every
project or for 14 days when ``project`` or ``statsPeriod`` is missing, the
stand-in answers 400: a gate that forgot them must not pass here.

Figures and faults are set while it runs (``standin.set(...)``). Faults:
``401``, ``403``, ``404``, ``429`` (with ``Retry-After``), ``500``,
``garbage`` (200, an HTML page), ``wrong_shape`` (200, JSON of another
shape), ``empty`` (200, ``{"data": []}``), ``slow`` (answers after
``slow_s``), and ``echo_token`` (401 whose detail repeats the token it got:
no real Sentry does that, it tests that the client masks what it repeats).
``fault_on`` limits a fault to one route (``"events"`` or ``"project"``);
``raw_events`` answers a valid events query with any JSON, to try other shapes.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["FAULTS", "SeenRequest", "SentryStandin", "StandinState", "sentry_standin"]

FAULTS = frozenset(
    {"401", "403", "404", "429", "500", "garbage", "wrong_shape", "empty", "slow", "echo_token"}
)
_EVENTS = re.compile(r"^/api/0/organizations/(?P<org>[^/]+)/events/$")
_PROJECT = re.compile(r"^/api/0/projects/(?P<org>[^/]+)/(?P<slug>[^/]+)/$")
_STATS_PERIOD = re.compile(r"^\d+[smhdw]?$")
_FIELDS = {"failure_rate()": "percentage", "count()": "integer"}
_NOT_FOUND = {"detail": "The requested resource does not exist"}
_FORBIDDEN = {"detail": "You do not have permission to perform this action."}


@dataclass(frozen=True)
class StandinState:
    """What the stand-in knows and answers; replaced whole by ``set``."""

    token: str = "sntrys_standin"
    # org slug -> {project slug: numeric id}
    orgs: dict[str, dict[str, int]] = field(
        default_factory=lambda: {"acme": {"backend": 4505, "frontend": 4506}}
    )
    environments: frozenset[str] = frozenset({"staging", "production"})
    failure_rate: float = 0.0
    count: int = 0
    fault: str | None = None
    fault_on: str | None = None  # "events", "project", or None for both routes
    slow_s: float = 5.0
    retry_after: str = "30"
    # When set, a valid events query is answered 200 with this JSON instead of the figures.
    raw_events: Any = None


@dataclass(frozen=True)
class SeenRequest:
    """A request the stand-in answered (the Authorization header reduced to whether it matched)."""

    path: str
    query: dict[str, list[str]]
    authorized: bool
    status: int


class SentryStandin:
    """The running stand-in: its ``base_url``, its state, the requests it answered."""

    def __init__(self, server: _Server) -> None:
        self._server = server
        host, port = server.server_address[:2]
        self.base_url = f"http://{host}:{port}"

    @property
    def state(self) -> StandinState:
        return self._server.state

    @property
    def requests(self) -> list[SeenRequest]:
        with self._server.lock:
            return list(self._server.seen)

    def set(self, **changes: Any) -> None:
        """Set figures or faults: ``set(failure_rate=0.03, count=5000)``, ``set(fault="500")``."""
        fault = changes.get("fault")
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; known: {sorted(FAULTS)}")
        with self._server.lock:
            self._server.state = replace(self._server.state, **changes)

    def reset(self, state: StandinState) -> None:
        """Back to ``state``, forgetting the requests seen."""
        with self._server.lock:
            self._server.state = state
            self._server.seen.clear()
            # A request still being answered (a "slow" one) belongs to the test before.
            self._server.generation += 1


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, state: StandinState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state
        self.lock = threading.Lock()
        self.seen: list[SeenRequest] = []
        self.generation = 0
        self.stopping = threading.Event()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        with self.server.lock:
            state = self.server.state
            generation = self.server.generation
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        auth = self.headers.get("Authorization", "")
        authorized = auth == f"Bearer {state.token}"
        status, body, headers = self._answer(state, path, query, auth, authorized)
        with self.server.lock:
            if generation == self.server.generation:
                self.server.seen.append(SeenRequest(path, query, authorized, status))
        self._send(status, body, headers)

    def _answer(
        self,
        state: StandinState,
        path: str,
        query: dict[str, list[str]],
        auth: str,
        authorized: bool,
    ) -> tuple[int, Any, dict[str, str]]:
        route = "events" if _EVENTS.match(path) else "project" if _PROJECT.match(path) else None
        fault = state.fault if state.fault_on in (None, route) else None
        if fault == "slow":
            self.server.stopping.wait(state.slow_s)
        elif fault is not None:
            answered = _fault(fault, state, auth)
            if answered is not None:
                return answered
        if not auth:
            return 401, {"detail": "Authentication credentials were not provided."}, {}
        if not authorized:
            return 401, {"detail": "Invalid token"}, {}
        if route == "project":
            match = _PROJECT.match(path)
            assert match is not None
            projects = state.orgs.get(match["org"])
            if projects is None or match["slug"] not in projects:
                return 404, _NOT_FOUND, {}
            pid = projects[match["slug"]]
            return 200, {"id": str(pid), "slug": match["slug"], "name": match["slug"]}, {}
        if route == "events":
            match = _EVENTS.match(path)
            assert match is not None
            projects = state.orgs.get(match["org"])
            if projects is None:
                return 404, _NOT_FOUND, {}
            return _events(state, projects, query)
        return 404, _NOT_FOUND, {}

    def _send(self, status: int, body: Any, headers: dict[str, str]) -> None:
        if isinstance(body, bytes):
            payload, ctype = body, headers.pop("Content-Type", "text/html; charset=utf-8")
        else:
            payload, ctype = json.dumps(body).encode(), "application/json"
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)


def _fault(fault: str, state: StandinState, auth: str) -> tuple[int, Any, dict[str, str]] | None:
    if fault == "401":
        return 401, {"detail": "Invalid token"}, {}
    if fault == "echo_token":
        return 401, {"detail": f"Invalid token: {auth.removeprefix('Bearer ')}"}, {}
    if fault == "403":
        return 403, _FORBIDDEN, {}
    if fault == "404":
        return 404, _NOT_FOUND, {}
    if fault == "429":
        detail = (
            "You are attempting to use this endpoint too frequently. "
            "Limit is 40 requests in 1 seconds"
        )
        return 429, {"detail": detail}, {"Retry-After": state.retry_after}
    if fault == "500":
        return 500, b"<h1>Server Error (500)</h1>", {}
    if fault == "garbage":
        return 200, b"<!DOCTYPE html><html><body>Sentry is down for maintenance</body></html>", {}
    if fault == "wrong_shape":
        return 200, {"data": [{"failure_rate()": "n/a", "count()": "lots"}]}, {}
    if fault == "empty":
        return 200, {"data": []}, {}
    return None


def _events(
    state: StandinState, projects: dict[str, int], query: dict[str, list[str]]
) -> tuple[int, Any, dict[str, str]]:
    fields = query.get("field", [])
    if not fields:
        return 400, {"detail": "No columns selected"}, {}
    unknown = [f for f in fields if f not in _FIELDS]
    if unknown:
        return 400, {"detail": f"Invalid query. Unknown function or field: {unknown[0]}"}, {}
    project_ids = query.get("project", [])
    if not project_ids:
        return 400, {"detail": "stand-in: no project parameter (Sentry would answer for all)"}, {}
    if not all(p.lstrip("-").isdigit() for p in project_ids):
        return 400, {"detail": "Invalid project parameter. Values must be numbers."}, {}
    if not {int(p) for p in project_ids} <= set(projects.values()):
        return 403, _FORBIDDEN, {}
    period = query.get("statsPeriod", [])
    if not period:
        return 400, {"detail": "stand-in: no statsPeriod (Sentry would use 14 days)"}, {}
    if not _STATS_PERIOD.match(period[0]):
        return 400, {"detail": f"Invalid statsPeriod: {period[0]!r}"}, {}
    if query.get("dataset", ["transactions"]) != ["transactions"]:
        return 400, {"detail": "stand-in: only the transactions dataset"}, {}
    for env in query.get("environment", []):
        if env not in state.environments:
            return 404, _NOT_FOUND, {}
    if state.raw_events is not None:
        return 200, state.raw_events, {}
    row = {f: (state.failure_rate if f == "failure_rate()" else state.count) for f in fields}
    meta = {
        "fields": {f: _FIELDS[f] for f in fields},
        "units": dict.fromkeys(fields),
        "isMetricsData": False,
        "tips": {},
    }
    return 200, {"data": [row], "meta": meta}, {}


@contextmanager
def sentry_standin(**state: Any) -> Iterator[SentryStandin]:
    """Run the stand-in on a free port of 127.0.0.1 until the block ends."""
    server = _Server(StandinState(**state))
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield SentryStandin(server)
    finally:
        server.stopping.set()  # wakes a "slow" answer
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
