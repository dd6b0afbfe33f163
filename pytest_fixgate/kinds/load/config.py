"""The load gate kind: ``[env.X.load]``, one Locust run and the thresholds its figures meet.

One gate per threshold (``load.<metric>``, ``load.<endpoint>.<metric>``), all
judged on the same load run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_fixgate.config.table import ConfigTable
from pytest_fixgate.config.thresholds import Threshold, compile_threshold
from pytest_fixgate.kinds import GateKind, KindContext
from pytest_fixgate.kinds.load.remote_workers import RemoteWorkers, parse_remote_workers
from pytest_fixgate.suite import BUILTIN_LOCUSTFILES

if TYPE_CHECKING:
    from pytest_fixgate.config.schema import EnvConfig

__all__ = [
    "DEFAULT_LOAD",
    "KIND",
    "RUNBOOK_ERROR_RATE",
    "LoadCheck",
    "LoadConfig",
    "load_checks",
    "parse_load",
]

DEFAULT_LOAD: dict[str, Any] = {
    "locustfile": str(BUILTIN_LOCUSTFILES / "ready.py"),
    "users": 20,
    "spawn_rate": 5,
    "duration": "5m",
    "thresholds": ["p(95) < 1500ms", "error_rate < 1%"],
    "min_samples": 100,
}


# Added to a table that sets no error_rate threshold: latency limits alone would
# hide failures (percentiles are of the answers that came back).
RUNBOOK_ERROR_RATE = "error_rate < 1%"


@dataclass(frozen=True)
class LoadConfig:
    """A Locust load run and the thresholds its figures must meet."""

    locustfile: Path
    users: int = 20
    spawn_rate: float = 5.0
    duration_s: float = 300.0
    thresholds: tuple[Threshold, ...] = ()
    # Per endpoint (Locust's request name, e.g. "/api/health/ready").
    endpoint_thresholds: Mapping[str, tuple[Threshold, ...]] = field(default_factory=dict)
    warn: tuple[Threshold, ...] = ()
    window_s: float | None = None
    # Requests in the first seconds (connection set-up, the spawn burst) are not judged.
    warmup_s: float = 0.0
    min_samples: int = 100
    request_timeout_s: float = 10.0
    workers: int = 0
    # Locust user class weights, by class name (Locust's --config-users).
    weights: Mapping[str, int] = field(default_factory=dict)
    # More Locust command-line options, e.g. a locustfile's own ("--ready-wait-min-s=0.55").
    locust_args: tuple[str, ...] = ()
    # Locust workers started elsewhere (remote_workers.py); None: none.
    remote: RemoteWorkers | None = None
    # Stop the load as soon as a gate's FAIL is certain (k6's abortOnFail).
    abort_on_fail: bool = True


def parse_load(table: ConfigTable, ctx: KindContext) -> LoadConfig:
    d = DEFAULT_LOAD
    locustfile = Path(
        table.get("locustfile", str, d["locustfile"], expected="a path to a locustfile")
    )
    if not locustfile.is_absolute():
        locustfile = ctx.base_dir / locustfile
    users = table.get("users", int, d["users"], expected="a positive number of users")
    if users < 1:
        raise table.error("users", users, "a positive number of users")
    spawn_rate = float(
        table.get("spawn_rate", (int, float), d["spawn_rate"], expected="users per second")
    )
    if not 0 < spawn_rate < float("inf"):
        raise table.error("spawn_rate", spawn_rate, "a positive number of users per second")
    endpoints_table = table.table("endpoints")
    endpoint_thresholds: dict[str, tuple[Threshold, ...]] = {}
    for endpoint in list(endpoints_table.data):
        sub = endpoints_table.table(endpoint)
        endpoint_thresholds[endpoint] = sub.thresholds("thresholds")
        sub.finish()
    weights = table.get("weights", dict, {}, expected="a table of user class name = weight")
    for cls, weight in weights.items():
        if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
            raise table.error(f"weights.{cls}", weight, "a non-negative integer weight")
    locust_args = table.get("locust_args", list, [], expected="a list of Locust options")
    if not all(isinstance(a, str) for a in locust_args):
        raise table.error("locust_args", locust_args, "a list of strings")
    min_samples = table.get("min_samples", int, d["min_samples"], expected="a positive integer")
    if min_samples < 1:
        raise table.error("min_samples", min_samples, "a positive integer")
    workers = table.get("workers", int, 0, expected="0 (one process) or a number of Locust workers")
    if workers < 0:
        raise table.error("workers", workers, "0 or a positive number of workers")
    load = LoadConfig(
        locustfile=locustfile,
        users=users,
        spawn_rate=spawn_rate,
        duration_s=table.duration("duration", d["duration"]),
        thresholds=_with_error_rate(table.thresholds("thresholds", d["thresholds"])),
        endpoint_thresholds=endpoint_thresholds,
        warn=table.thresholds("warn", [], allow_empty=True),
        window_s=table.duration("window") if table.has("window") else None,
        warmup_s=table.duration("warmup") if table.has("warmup") else 0.0,
        min_samples=min_samples,
        request_timeout_s=table.duration("request_timeout", 10.0),
        workers=workers,
        weights=weights,
        locust_args=tuple(locust_args),
        remote=parse_remote_workers(table),
        abort_on_fail=table.get("abort_on_fail", bool, True, expected="true or false"),
    )
    if load.warmup_s >= load.duration_s:
        raise table.error(
            "warmup", load.warmup_s, f"less than the duration ({load.duration_s:g} s)"
        )
    table.finish()
    return load


def _with_error_rate(thresholds: Sequence[Threshold]) -> tuple[Threshold, ...]:
    if any(t.metric == "error_rate" for t in thresholds):
        return tuple(thresholds)
    return (*thresholds, compile_threshold(RUNBOOK_ERROR_RATE))


@dataclass(frozen=True)
class LoadCheck:
    """One load gate: a threshold on the whole run, or on one endpoint."""

    threshold: Threshold
    endpoint: str | None = None  # Locust's request name; None for the whole run
    warn: Threshold | None = None

    @property
    def id(self) -> str:
        key = self.threshold.key
        return f"{self.endpoint}.{key}" if self.endpoint else key


def load_checks(load: LoadConfig) -> list[LoadCheck]:
    """A gate per threshold: the overall ones, then each endpoint's."""

    def warn_for(key: str) -> Threshold | None:
        return next((w for w in load.warn if w.key == key), None)

    checks = [LoadCheck(t, None, warn_for(t.key)) for t in load.thresholds]
    for endpoint, thresholds in load.endpoint_thresholds.items():
        checks += [LoadCheck(t, endpoint, warn_for(t.key)) for t in thresholds]
    return checks


def _load_checks(load: LoadConfig, env: EnvConfig) -> Sequence[tuple[str, Any]]:
    return [(check.id, check) for check in load_checks(load)]


KIND = GateKind(
    section="load",
    parse=parse_load,
    gate_ids=lambda load, env: [f"load.{cid}" for cid, _ in _load_checks(load, env)],
    params={"load_check": _load_checks},
    title="Load (Locust)",
)
