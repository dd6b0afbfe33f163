"""A stand-in for Prometheus's HTTP API on 127.0.0.1: instant queries (``/api/v1/query``).

The watch's Prometheus source is tested end to end against a real Prometheus
(tests/test_prometheus_real.py); this stand-in, speaking the documented
format (https://prometheus.io/docs/prometheus/latest/querying/api/), stays
for the faults a real Prometheus does not produce on demand (a 500, several
series of one query, a query answered with an error):

- ``GET|POST /api/v1/query?query=<PromQL>[&time=...]`` ->
  ``{"status": "success", "data": {"resultType": "vector", "result":
  [{"metric": {...}, "value": [<unix time>, "<value as a string>"]}]}}``
- a query it does not know: HTTP 400 ``{"status": "error", "errorType":
  "bad_data", "error": "..."}``, as Prometheus answers a query that does not parse;
- a missing ``query`` parameter: 400 ``bad_data``.

Answers are set while it runs: ``standin.set("query text", 0.42)`` (one
series), ``standin.set(q, [0.2, 0.9])`` (several series), ``standin.set(q, [])``
(an empty vector: no data), ``standin.fault = "500"`` (every answer a 500,
``{"status": "error", "errorType": "internal"}``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["PrometheusStandin", "prometheus_standin"]


class PrometheusStandin:
    def __init__(self, server: _Server) -> None:
        self._server = server
        host, port = server.server_address[:2]
        self.base_url = f"http://{host}:{port}"

    def set(self, query: str, values: float | list[float]) -> None:
        with self._server.lock:
            self._server.answers[query] = values if isinstance(values, list) else [values]

    @property
    def fault(self) -> str | None:
        return self._server.fault

    @fault.setter
    def fault(self, value: str | None) -> None:
        self._server.fault = value

    @property
    def queries(self) -> list[tuple[str, str]]:
        """(method, query) of every request answered, in order."""
        with self._server.lock:
            return list(self._server.seen)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.answers: dict[str, list[float]] = {}
        self.fault: str | None = None
        self.seen: list[tuple[str, str]] = []


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._answer(parse_qs(urlsplit(self.path).query))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._answer(parse_qs(self.rfile.read(length).decode()))

    def _answer(self, params: dict[str, list[str]]) -> None:
        if urlsplit(self.path).path != "/api/v1/query":
            self._send(404, {"status": "error", "errorType": "not_found", "error": "not found"})
            return
        query = (params.get("query") or [""])[0]
        with self.server.lock:
            self.server.seen.append((self.command, query))
            values = self.server.answers.get(query)
            fault = self.server.fault
        if fault == "500":
            self._send(500, {"status": "error", "errorType": "internal", "error": "boom"})
        elif not query:
            self._send(
                400,
                {
                    "status": "error",
                    "errorType": "bad_data",
                    "error": 'invalid parameter "query": unknown position',
                },
            )
        elif values is None:
            self._send(
                400,
                {
                    "status": "error",
                    "errorType": "bad_data",
                    "error": f'invalid parameter "query": parse error in {query!r}',
                },
            )
        else:
            now = time.time()
            result = [
                {"metric": {"instance": f"node-{i}"}, "value": [now, repr(float(v))]}
                for i, v in enumerate(values)
            ]
            self._send(
                200, {"status": "success", "data": {"resultType": "vector", "result": result}}
            )

    def _send(self, status: int, body: Any) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


@contextmanager
def prometheus_standin() -> Iterator[PrometheusStandin]:
    server = _Server()
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield PrometheusStandin(server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
