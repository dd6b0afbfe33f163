"""The probe source: synthetic requests to the environment every tick.

Metrics: ``error_rate`` (probes answering a wrong status, a wrong body, or
timing out, over the probes that got an answer; a 429 is counted apart in
``rate_limited`` and never as a success), ``latency`` (each answered probe's
time, ms: ``p(N)`` merges them, ``latency`` is the slowest), ``ready`` (every
answered probe passed). A probe whose connection is refused measures nothing
about the release: when no probe of a tick got through, the tick is a gap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_fixgate.errors import ProbeConnectError, ProbeError, ProbeTimeout
from pytest_fixgate.kinds.health.config import HealthCheck
from pytest_fixgate.kinds.health.judge import json_mismatches
from pytest_fixgate.kinds.health.measurement import HealthRequest, health_request
from pytest_fixgate.measurements.http_probe import http_get, shared_ssl_context
from pytest_fixgate.watch.engine import Dist, Level, Rate, Reading

if TYPE_CHECKING:
    import httpx

    from pytest_fixgate.config.schema import EnvConfig
    from pytest_fixgate.redaction import Redactor
    from pytest_fixgate.watch.rules import WatchConfig

__all__ = ["ProbeSource", "readiness_check"]

READY_PATH = "/api/health/ready"


def readiness_check(env: EnvConfig) -> HealthCheck:
    """The env's readiness health check, else the runbook's (``{"ready": true}``)."""
    for check in env.section("health") or ():
        if check.path == READY_PATH:
            return check
    return HealthCheck(READY_PATH, 200, {"ready": True}, env.timeout_s)


@dataclass
class ProbeSource:
    name: str
    method: str
    checks: tuple[HealthCheck, ...]
    requests: tuple[HealthRequest, ...]
    timeout_s: float
    redactor: Redactor
    client: httpx.Client

    @classmethod
    def open(cls, cfg: WatchConfig, env: EnvConfig, redactor: Redactor) -> ProbeSource:
        # deferred: httpx loads only when a request is made, not at a gate run's start
        import httpx

        checks = cfg.probes or (readiness_check(env),)
        requests = tuple(health_request(env, c) for c in checks)
        # A tick's probes must finish before the next tick is due.
        timeout_s = min(cfg.probe_timeout_s or max(c.timeout_s for c in checks), cfg.interval_s)
        method = "; ".join(r.description.split(", timeout")[0] for r in requests)
        client = httpx.Client(verify=shared_ssl_context(), timeout=timeout_s)
        return cls(
            "probe",
            f"{method}, timeout {timeout_s:g} s",
            checks,
            requests,
            timeout_s,
            redactor,
            client,
        )

    def sample(self) -> Mapping[str, Reading]:
        bad = total = limited = 0
        latencies: list[float] = []
        unreachable: list[str] = []
        for check, request in zip(self.checks, self.requests, strict=True):
            try:
                response = http_get(
                    request.url,
                    headers=request.headers,
                    timeout_s=self.timeout_s,
                    redactor=self.redactor,
                    client=self.client,
                )
            except ProbeTimeout:
                total += 1
                bad += 1
                continue
            except ProbeConnectError as exc:
                unreachable.append(str(exc))
                continue
            latencies.append(response.elapsed_ms)
            if response.status == 429:
                limited += 1
                continue
            total += 1
            if not _passes(check, response.status, response):
                bad += 1
        if unreachable and not (total or limited):
            raise ProbeConnectError(unreachable[0])
        out: dict[str, Reading] = {"rate_limited": Rate(limited, total + limited)}
        if latencies:
            out["latency"] = Dist(tuple(latencies))
        if total:
            out["error_rate"] = Rate(bad, total)
            out["ready"] = Level(bad == 0)
        return out

    def close(self) -> None:
        self.client.close()


def _passes(check: HealthCheck, status: int, response: Any) -> bool:
    if status != check.expect_status:
        return False
    if check.expect_json is None:
        return True
    try:
        body = response.json()
    except ProbeError:
        return False
    return not json_mismatches(check.expect_json, body)
