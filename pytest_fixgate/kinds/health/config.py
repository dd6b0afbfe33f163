"""The health gate kind: ``[[env.X.health]]`` endpoints and what each must answer.

Absent, the runbook's four endpoints are checked. Every entry asserts a body
(``expect_json``) unless it says ``status_only = true``: the runbook's
endpoints all answer JSON, so a missing body check is more often a mistake
than a wish.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pytest_fixgate.config.table import ConfigTable
from pytest_fixgate.errors import ConfigError
from pytest_fixgate.kinds import GateKind, KindContext

__all__ = ["KIND", "HealthCheck"]

DEFAULT_HEALTH: tuple[dict[str, Any], ...] = (
    {"path": "/api/health", "expect_status": 200, "expect_json": {"status": "ok"}},
    {"path": "/api/health/db", "expect_status": 200, "expect_json": {"mongodb": "connected"}},
    {"path": "/api/health/redis", "expect_status": 200, "expect_json": {"redis": "connected"}},
    {"path": "/api/health/ready", "expect_status": 200, "expect_json": {"ready": True}},
)


@dataclass(frozen=True)
class HealthCheck:
    """One health endpoint and what it must answer."""

    path: str
    expect_status: int = 200
    # A nested subset: a table matches an object, keys not named are ignored.
    expect_json: Mapping[str, Any] | None = None
    timeout_s: float = 5.0
    send_token: bool = True

    @property
    def gate_id(self) -> str:
        return f"health.{self.path}"


def parse_health(tables: list[ConfigTable], ctx: KindContext) -> tuple[HealthCheck, ...]:
    if not tables:
        raise ConfigError(
            "an empty list removes every health check",
            file=ctx.file,
            key=f"env.{ctx.env_name}.health",
            expected="at least one [[health]] entry, or no health key for the runbook's four",
        )
    checks = tuple(_parse_entry(table, ctx.timeout_s) for table in tables)
    ids = [c.gate_id for c in checks]
    for i, gate_id in enumerate(ids):
        if gate_id in ids[:i]:
            raise tables[i].error("path", checks[i].path, "each path at most once")
    return checks


def _parse_entry(table: ConfigTable, default_timeout_s: float) -> HealthCheck:
    path = table.get("path", str, expected="a URL path starting with '/'")
    if not path.startswith("/"):
        raise table.error("path", path, "a URL path starting with '/'")
    status = table.get("expect_status", int, 200, expected="an HTTP status code (100-599)")
    if not 100 <= status <= 599:
        raise table.error("expect_status", status, "an HTTP status code (100-599)")
    expect_json = table.get("expect_json", dict, None, expected="a table of expected JSON values")
    status_only = table.get("status_only", bool, False, expected="true or false")
    if expect_json is not None and not expect_json:
        raise table.error(
            "expect_json", expect_json, "at least one expected key (an empty table checks nothing)"
        )
    if expect_json is None and not status_only:
        raise ConfigError(
            "no expect_json: say what the body must hold, or write status_only = true "
            "to check the status code alone",
            file=table.file,
            key=table.path("expect_json"),
        )
    if expect_json is not None and status_only:
        raise table.error(
            "status_only", status_only, "false (or leave it out) when expect_json is given"
        )
    check = HealthCheck(
        path=path,
        expect_status=status,
        expect_json=expect_json,
        timeout_s=table.duration("timeout", default_timeout_s),
        send_token=table.get("send_token", bool, True, expected="true or false"),
    )
    table.finish()
    return check


def _runbook_health(ctx: KindContext) -> tuple[HealthCheck, ...]:
    return tuple(HealthCheck(timeout_s=ctx.timeout_s, **entry) for entry in DEFAULT_HEALTH)


KIND = GateKind(
    section="health",
    array=True,
    parse=parse_health,
    default=_runbook_health,
    gate_ids=lambda checks, env: [c.gate_id for c in checks],
    params={"health_check": lambda checks, env: [(c.path, c) for c in checks]},
    title="Health endpoints",
)
