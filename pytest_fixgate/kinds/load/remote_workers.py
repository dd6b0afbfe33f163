"""Remote Locust workers in ``[env.X.load]``: ``remote_workers``, ``master_bind``,
``worker_timeout``.

    [env.staging.load]
    remote_workers = 4                # the gate's Locust master waits for 4 workers
    master_bind = "0.0.0.0:5557"      # where it listens for them
    worker_timeout = "2m"             # fewer than 4 by then: the load gates are ERROR

Workers are started anywhere that reaches the master, with
``fixgate load-worker --master HOST:5557 -f locustfiles/ready.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from pytest_fixgate.config.table import ConfigTable

__all__ = ["DEFAULT_BIND", "RemoteWorkers", "parse_host_port", "parse_remote_workers"]

DEFAULT_BIND = "0.0.0.0:5557"
_EXPECTED_BIND = 'HOST:PORT, e.g. "0.0.0.0:5557"'


@dataclass(frozen=True)
class RemoteWorkers:
    """How many remote workers the master waits for, where, and for how long."""

    count: int
    bind_host: str = "0.0.0.0"
    bind_port: int = 5557
    timeout_s: float = 120.0

    @property
    def bind(self) -> str:
        return f"{self.bind_host}:{self.bind_port}"


def parse_host_port(text: str) -> tuple[str, int] | None:
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return host.strip("[]"), int(port)


def parse_remote_workers(table: ConfigTable) -> RemoteWorkers | None:
    """The remote-worker keys of a ``[load]`` table (None when ``remote_workers`` is absent)."""
    count = table.get("remote_workers", int, 0, expected="a positive number of workers")
    bind_text = table.get("master_bind", str, DEFAULT_BIND, expected=_EXPECTED_BIND)
    timeout_s = table.duration("worker_timeout", 120.0)
    if count < 0:
        raise table.error("remote_workers", count, "a positive number of workers")
    bind = parse_host_port(bind_text)
    if bind is None:
        raise table.error("master_bind", bind_text, _EXPECTED_BIND)
    if count == 0:
        for key in ("master_bind", "worker_timeout"):
            if table.has(key):
                raise table.error(key, table.data[key], "remote_workers = N beside it")
        return None
    if table.has("workers") and table.data["workers"]:
        raise table.error(
            "workers", table.data["workers"], "0 with remote_workers (local or remote, not both)"
        )
    return RemoteWorkers(count, bind[0], bind[1], timeout_s)
