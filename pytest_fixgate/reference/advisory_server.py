"""A local advisory server on 127.0.0.1: the OSV API and npm's bulk advisory API.

It serves the real records of :mod:`pytest_fixgate.reference.advisories` in
the documented wire formats, so ``pip-audit``, ``npm audit`` and the
severity look-ups run for real without the network (``fixgate demo``, tests):

- OSV (https://google.github.io/osv.dev/api/): ``POST /v1/query``
  (``{"package": {"name", "ecosystem"}, "version"}`` -> ``{"vulns": [...]}``,
  ``{}`` when none), ``POST /v1/querybatch`` (``{"queries": [...]}`` ->
  ``{"results": [{"vulns": [{"id", "modified"}]}]}``), ``GET /v1/vulns/{id}``
  (the record, or 404 ``{"code": 5, "message": "Bug not found."}``);
- npm: ``POST /-/npm/v1/security/advisories/bulk`` (a body, gzip or not, like
  ``{"lodash": ["4.17.11"]}`` -> ``{"lodash": [advisory, ...]}`` for the
  advisories whose ``vulnerable_versions`` match a listed version).

``routes`` limits what it answers (``"osv"``, ``"npm"``); anything else is 404.
``fault`` makes every answer fail: ``"500"`` (HTTP 500) or ``"garbage"`` (200,
an HTML page). ``requests`` logs ``(method, path)`` of every request.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from pytest_fixgate.reference.advisories import (
    NPM_ADVISORIES,
    OSV_RECORDS,
    affects,
    npm_vulnerable,
)

__all__ = ["AdvisoryServer", "advisory_server"]

BULK_PATH = "/-/npm/v1/security/advisories/bulk"


@dataclass
class AdvisoryServer:
    """A running server: its base URL, what it was asked, and a fault switch."""

    base_url: str
    routes: frozenset[str]
    fault: str | None = None
    records: dict[str, dict[str, Any]] = field(default_factory=lambda: dict(OSV_RECORDS))
    npm: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: dict(NPM_ADVISORIES))
    requests: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def registry_url(self) -> str:
        return f"{self.base_url}/"

    def reset(self) -> AdvisoryServer:
        """No fault, no requests logged: the state a test starts from."""
        self.fault = None
        with self.lock:
            self.requests.clear()
        return self

    def paths(self) -> list[str]:
        with self.lock:
            return [path for _, path in self.requests]


def _handler(server: AdvisoryServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: the tests read server.requests instead

        def _send(self, status: int, body: object, content_type: str = "application/json") -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> Any:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.headers.get("Content-Encoding") == "gzip" or raw[:2] == b"\x1f\x8b":
                raw = gzip.decompress(raw)
            return json.loads(raw or b"null")

        def _fault(self) -> bool:
            if server.fault == "500":
                self._send(500, {"code": 13, "message": "internal error"})
                return True
            if server.fault == "garbage":
                self._send(200, b"<html><body>Service Unavailable</body></html>", "text/html")
                return True
            return False

        def do_GET(self) -> None:
            with server.lock:
                server.requests.append(("GET", self.path))
            if self._fault():
                return
            if "osv" in server.routes and self.path.startswith("/v1/vulns/"):
                record = server.records.get(unquote(self.path[len("/v1/vulns/") :]))
                if record is None:
                    self._send(404, {"code": 5, "message": "Bug not found."})
                else:
                    self._send(200, record)
                return
            self._send(404, {"code": 5, "message": "Not found."})

        def do_POST(self) -> None:
            with server.lock:
                server.requests.append(("POST", self.path))
            try:
                body = self._body()
            except (ValueError, OSError):
                self._send(400, {"code": 3, "message": "Invalid JSON."})
                return
            if self._fault():
                return
            if "osv" in server.routes and self.path == "/v1/query":
                vulns = _query(server, body)
                self._send(200, {"vulns": vulns} if vulns else {})
            elif "osv" in server.routes and self.path == "/v1/querybatch":
                queries = body.get("queries", []) if isinstance(body, dict) else []
                results = [
                    {"vulns": [{"id": v["id"], "modified": v["modified"]} for v in vulns]}
                    if (vulns := _query(server, q))
                    else {}
                    for q in queries
                ]
                self._send(200, {"results": results})
            elif "npm" in server.routes and self.path.split("?")[0] == BULK_PATH:
                self._send(200, _bulk(server, body))
            else:
                self._send(404, {"code": 5, "message": "Not found."})

    return Handler


def _query(server: AdvisoryServer, query: Any) -> list[dict[str, Any]]:
    if not isinstance(query, dict):
        return []
    package = query.get("package") or {}
    name, ecosystem, version = package.get("name"), package.get("ecosystem"), query.get("version")
    if not (name and ecosystem and version):
        return []
    return [r for r in server.records.values() if affects(r, ecosystem, name, version)]


def _bulk(server: AdvisoryServer, body: Any) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for name, versions in (body or {}).items():
        found = [
            adv
            for adv in server.npm.get(name, [])
            if any(npm_vulnerable(adv["vulnerable_versions"], v) for v in versions)
        ]
        if found:
            out[name] = found
    return out


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that hangs up early (pnpm does) is not the server's error


@contextmanager
def advisory_server(routes: tuple[str, ...] = ("osv", "npm")) -> Iterator[AdvisoryServer]:
    """Start the server on a free port of 127.0.0.1; stop it on exit."""
    state = AdvisoryServer(base_url="", routes=frozenset(routes))
    httpd = _QuietServer(("127.0.0.1", 0), _handler(state))
    state.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, name="advisory-server", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
