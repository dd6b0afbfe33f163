"""Launchers for the real processes a gate run talks to: MongoDB-wire, Redis, the reference service.

Each launcher is a context manager that starts one process on a free port of
127.0.0.1, waits until it answers (not merely until the port is open), yields
a small handle and stops the process on exit, also when the body raises::

    with mongo_server() as mongo, redis_server() as red:
        with reference_service(mongo.uri, red.url, Faults(latency_ms=5)) as ref:
            httpx.get(ref.base_url + "/api/health/ready")
            ref.set_faults(error_ratio=0.1)

        # The real application's contract needs MongoDB only.
        with reference_service(mongo.uri, None, contract="fixzit") as fixzit:
            httpx.get(fixzit.base_url + "/api/health/live")

A process that exits or stays silent raises :class:`ProcessStartError`, whose
message ends with the tail of the process's output. Secrets go to the
reference service through environment variables only, never argv.

Used by ``fixgate demo`` and by the tests; it imports nothing from pytest.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_fixgate import timing
from pytest_fixgate.measurements.process import ManagedProcess
from pytest_fixgate.reference.faults import Faults

__all__ = [
    "MongoServer",
    "ProcessStartError",
    "RedisServer",
    "ReferenceService",
    "free_port",
    "mongo_server",
    "redis_server",
    "reference_service",
]

HOST = "127.0.0.1"
STOP_GRACE_S = 5.0
# free_port() can race with another process taking the port before our child binds it.
_PORT_ATTEMPTS = 3
_TAIL_LINES = 20

# The variables the reference service reads its secrets from (the runbook's names).
MONGODB_URI_ENV = "MONGODB_URI"
REDIS_URL_ENV = "REDIS_URL"
ADMIN_TOKEN_ENV = "ADMIN_TOKEN"
HEALTH_TOKEN_ENV = "HEALTH_CHECK_TOKEN"


class ProcessStartError(RuntimeError):
    """A launched process exited, or did not answer in time; the message ends with its output."""

    def __init__(self, what: str, problem: str, output_tail: str) -> None:
        self.what = what
        self.problem = problem
        self.output_tail = output_tail
        tail = output_tail.rstrip() or "(no output)"
        super().__init__(f"{what} {problem}; last output:\n{tail}")


def free_port(host: str = HOST) -> int:
    """A TCP port nobody listens on right now (the kernel's pick)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


# --- handles ----------------------------------------------------------------


@dataclass(frozen=True)
class MongoServer:
    """A running SecantusDB server."""

    uri: str
    port: int
    proc: subprocess.Popen[bytes]


@dataclass(frozen=True)
class RedisServer:
    """A running redis-server."""

    url: str
    port: int
    proc: subprocess.Popen[bytes]


@dataclass(frozen=True)
class ReferenceService:
    """A running reference service; its faults can be switched while it runs."""

    base_url: str
    port: int
    proc: subprocess.Popen[bytes]

    def set_faults(self, **fields: Any) -> Faults:
        """Replace the service's faults (omitted fields go back to their default).

        The fields are checked here first, so a bad value raises
        :class:`~pytest_fixgate.reference.faults.FaultError` in the caller.
        """
        faults = Faults.from_mapping(fields)
        return Faults.from_mapping(self._call("PUT", faults.as_dict()))

    def get_faults(self) -> Faults:
        """The faults the service applies now."""
        return Faults.from_mapping(self._call("GET", None))

    def _call(self, method: str, body: dict[str, Any] | None) -> dict[str, Any]:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=5)
        try:
            payload = None if body is None else json.dumps(body)
            conn.request(method, "/__fixgate/faults", body=payload)
            response = conn.getresponse()
            data = json.loads(response.read())
        finally:
            conn.close()
        if response.status != 200:
            raise RuntimeError(f"{method} /__fixgate/faults: HTTP {response.status} {data}")
        return data  # type: ignore[no-any-return]


# --- launchers --------------------------------------------------------------


@contextlib.contextmanager
def mongo_server(*, startup_timeout: float = 20.0) -> Iterator[MongoServer]:
    """A SecantusDB server (``python -m secantus``) with in-memory storage."""

    def argv(port: int, workdir: Path) -> list[str]:
        # An empty --config turns off secantus's discovery of ./, ~/ and /etc config files.
        config = workdir / "secantusd.toml"
        config.touch()
        return [
            *(sys.executable, "-m", "secantus", "--config", str(config)),
            *("--host", HOST, "--port", str(port), "--storage-path", ":memory:"),
        ]

    with _running("SecantusDB", argv, _mongo_answers, timeout=startup_timeout) as (port, proc):
        yield MongoServer(uri=f"mongodb://{HOST}:{port}/", port=port, proc=proc)


@contextlib.contextmanager
def redis_server(*, startup_timeout: float = 10.0) -> Iterator[RedisServer]:
    """A redis-server without persistence."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise ProcessStartError(
            "redis-server",
            "is not on PATH",
            "install it with: apt-get install -y redis-server",
        )

    def argv(port: int, workdir: Path) -> list[str]:
        return [
            *(binary, "--save", "", "--appendonly", "no"),
            *("--bind", HOST, "--port", str(port), "--dir", str(workdir)),
        ]

    with _running("redis-server", argv, _redis_answers, timeout=startup_timeout) as (port, proc):
        yield RedisServer(url=f"redis://{HOST}:{port}/0", port=port, proc=proc)


@contextlib.contextmanager
def reference_service(
    mongodb_uri: str,
    redis_url: str | None,
    faults: Faults = Faults(),  # noqa: B008 - frozen, so a shared default is safe
    env: Mapping[str, str] | None = None,
    health_token: str | None = None,
    admin_token: str | None = None,
    *,
    seed: bool = False,
    contract: str | None = None,
    health_rate_limit: int | None = None,
    startup_timeout: float = 20.0,
) -> Iterator[ReferenceService]:
    """The reference service (``python -m pytest_fixgate.reference``) over the given servers.

    ``env`` adds to (or overrides) the inherited environment, for example
    ``FIXGATE_REF_*`` fault variables. The URI, URL and tokens reach the
    child as ``MONGODB_URI``, ``REDIS_URL``, ``ADMIN_TOKEN`` and
    ``HEALTH_CHECK_TOKEN``; an inherited token (or URL) is removed when none
    is given, so ``admin_token=None`` really means "not configured". ``seed=True``
    creates the demo data before serving.

    ``contract`` is ``"runbook"`` or ``"fixzit"`` (``--contract``); ``None``
    leaves the choice to the service (``FIXGATE_REF_CONTRACT``, else runbook).
    The fixzit contract needs no Redis: pass ``redis_url=None``.
    ``health_rate_limit`` is ``--health-rate-limit`` (``None``: the
    contract's default, 120/min per IP on fixzit's health routes; 0: none).
    """
    child_env = {**os.environ, **(env or {})}
    child_env[MONGODB_URI_ENV] = mongodb_uri
    for name, value in (
        (REDIS_URL_ENV, redis_url),
        (ADMIN_TOKEN_ENV, admin_token),
        (HEALTH_TOKEN_ENV, health_token),
    ):
        if value is None:
            child_env.pop(name, None)
        else:
            child_env[name] = value
    # The child must run this very package, installed or not.
    package_root = str(Path(__file__).resolve().parents[2])
    child_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (package_root, child_env.get("PYTHONPATH", "")) if p
    )

    def argv(port: int, workdir: Path) -> list[str]:
        return [
            *(sys.executable, "-m", "pytest_fixgate.reference"),
            *("--host", HOST, "--port", str(port)),
            *("--mongodb-uri-env", MONGODB_URI_ENV, "--redis-url-env", REDIS_URL_ENV),
            *("--admin-token-env", ADMIN_TOKEN_ENV),
            *(("--health-token-env", HEALTH_TOKEN_ENV) if health_token is not None else ()),
            *(("--seed",) if seed else ()),
            *(("--contract", contract) if contract is not None else ()),
            *(
                ("--health-rate-limit", str(health_rate_limit))
                if health_rate_limit is not None
                else ()
            ),
            *faults.to_argv(),
        ]

    with _running(
        "reference service", argv, _reference_answers, env=child_env, timeout=startup_timeout
    ) as (port, proc):
        yield ReferenceService(base_url=f"http://{HOST}:{port}", port=port, proc=proc)


# --- machinery --------------------------------------------------------------


class _PortTaken(Exception):
    pass


@contextlib.contextmanager
def _running(
    what: str,
    argv: Callable[[int, Path], list[str]],
    answers: Callable[[int], bool],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    # Output goes to a file, not a pipe: nobody drains a pipe, and a full one blocks the child.
    with tempfile.TemporaryDirectory(prefix="fixgate-") as tmp:
        workdir = Path(tmp)
        log_path = workdir / "output.log"
        for _ in range(_PORT_ATTEMPTS):
            port = free_port()
            # Its own process group, output to a file (nobody drains a pipe): the one
            # process primitive every child of the gate run goes through.
            process = ManagedProcess(argv(port, workdir), log_path=log_path, cwd=workdir, env=env)
            try:
                _wait_until_answers(what, process.proc, port, answers, timeout, log_path)
                break
            except _PortTaken:
                process.stop(STOP_GRACE_S)
            except BaseException:
                process.stop(STOP_GRACE_S)
                raise
        else:
            raise ProcessStartError(
                what, f"found its port taken {_PORT_ATTEMPTS} times", _tail(log_path)
            )
        try:
            yield port, process.proc
        finally:
            process.stop(STOP_GRACE_S)


def _wait_until_answers(
    what: str,
    proc: subprocess.Popen[bytes],
    port: int,
    answers: Callable[[int], bool],
    timeout: float,
    log_path: Path,
) -> None:
    deadline = timing.monotonic() + timeout
    while True:
        code = proc.poll()
        if code is not None:
            tail = _tail(log_path)
            if "address already in use" in tail.lower():
                raise _PortTaken
            raise ProcessStartError(what, f"exited with code {code} before answering", tail)
        if answers(port):
            return
        if timing.monotonic() > deadline:
            raise ProcessStartError(
                what, f"did not answer on {HOST}:{port} within {timeout:g} s", _tail(log_path)
            )
        timing.sleep(0.05)


def _tail(log_path: Path) -> str:
    try:
        lines = log_path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-_TAIL_LINES:])


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.2):
            return True
    except OSError:
        return False


def _mongo_answers(port: int) -> bool:
    if not _port_open(port):
        return False
    # deferred: pymongo loads only when a MongoDB reader runs
    import pymongo  # here, not at the top: only this launcher needs it
    import pymongo.errors

    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
        HOST, port, serverSelectionTimeoutMS=1000, connect=False
    )
    try:
        client.admin.command("ping")
        return True
    except pymongo.errors.PyMongoError:
        return False
    finally:
        client.close()


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _reference_answers(port: int) -> bool:
    # The fault switch route: it answers whatever the faults and tokens are.
    conn = http.client.HTTPConnection(HOST, port, timeout=1)
    try:
        conn.request("GET", "/__fixgate/faults")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()
