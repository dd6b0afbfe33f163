"""Probing a configured health endpoint: URL, token header, timeout."""

from __future__ import annotations

from dataclasses import dataclass

from pytest_fixgate.config.schema import EnvConfig
from pytest_fixgate.kinds.health.config import HealthCheck
from pytest_fixgate.measurements.http_probe import HttpResponse, http_get
from pytest_fixgate.measurements.secrets import read_secret
from pytest_fixgate.redaction import MASK, Redactor

__all__ = ["HealthRequest", "health_request", "probe_health"]


@dataclass(frozen=True)
class HealthRequest:
    url: str
    headers: dict[str, str]
    timeout_s: float

    @property
    def description(self) -> str:
        """How the gate measures, for evidence: the token is shown as ``***``."""
        shown = ", ".join(f"{k}: {MASK}" for k in self.headers)
        return (
            f"GET {self.url}"
            + (f" with header {shown}" if shown else "")
            + (f", timeout {self.timeout_s:g} s")
        )


def health_request(env: EnvConfig, check: HealthCheck) -> HealthRequest:
    headers: dict[str, str] = {}
    if env.token_env and check.send_token:
        headers[env.token_header] = read_secret(env.token_env, f"env.{env.name}.token_env")
    return HealthRequest(f"{env.base_url}{check.path}", headers, check.timeout_s)


def probe_health(request: HealthRequest, redactor: Redactor) -> HttpResponse:
    return http_get(
        request.url, headers=request.headers, timeout_s=request.timeout_s, redactor=redactor
    )
