"""The Prometheus source: one instant PromQL query per metric per tick (``/api/v1/query``).

Prometheus's documented answer: ``{"status": "success", "data": {"resultType":
"vector", "result": [{"metric": {...}, "value": [<unix time>, "<value>"]}]}}``
(or a ``scalar``: ``"result": [<time>, "<value>"]``). A vector of several
series reads as its largest value (the worst node); an empty vector, an
error answer, NaN or an unreachable server is a gap for that metric.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_fixgate.errors import ProbeBadResponse, ProbeError
from pytest_fixgate.measurements.http_probe import shared_ssl_context, translate_errors
from pytest_fixgate.measurements.secrets import read_secret
from pytest_fixgate.redaction import Redactor, clip
from pytest_fixgate.watch.engine import Level, Reading
from pytest_fixgate.watch.rules import PrometheusWatch

if TYPE_CHECKING:
    import httpx

    from pytest_fixgate.config.schema import EnvConfig
    from pytest_fixgate.watch.rules import WatchConfig

__all__ = ["PrometheusSource", "api_data", "api_get", "open_api_client", "parse_query_answer"]


def open_api_client(
    token_env: str | None, where: str, cfg: WatchConfig, env: EnvConfig
) -> tuple[httpx.Client, dict[str, str], float]:
    """A client for Prometheus's HTTP API (both Prometheus sources): the client, the
    bearer header when ``token_env`` names one, and the per-request timeout."""
    import httpx  # deferred: a watch without a Prometheus source never imports it

    headers = {}
    if token_env:
        headers["Authorization"] = f"Bearer {read_secret(token_env, where)}"
    timeout_s = min(env.timeout_s, cfg.interval_s)
    return httpx.Client(verify=shared_ssl_context(), timeout=timeout_s), headers, timeout_s


def api_get(
    client: httpx.Client,
    url: str,
    headers: Mapping[str, str],
    timeout_s: float,
    redactor: Redactor,
    params: Mapping[str, str] | None = None,
) -> Any:
    """GET a Prometheus API URL: its JSON body (an unreachable server, a timeout or a
    body that is not JSON is a ProbeError)."""
    with translate_errors(url, timeout_s, redactor):
        response = client.get(url, params=params, headers=headers)
    try:
        return response.json()
    except ValueError:
        raise ProbeBadResponse(
            f"{url}: HTTP {response.status_code}, not JSON", target=url
        ) from None


def api_data(body: Any, url: str) -> dict[str, Any]:
    """The ``data`` of a ``status: success`` answer; an error answer is a ProbeError."""
    if not isinstance(body, dict) or body.get("status") != "success":
        error = body.get("error") if isinstance(body, dict) else None
        raise ProbeBadResponse(
            clip(f"{url}: Prometheus answered an error: {error!r}", 300), target=url
        )
    return body.get("data") or {}


def parse_query_answer(body: Any, url: str) -> float | None:
    """The value of an instant query's answer; ``None`` when it holds no sample."""
    data = api_data(body, url)
    kind, result = data.get("resultType"), data.get("result")
    try:
        if kind == "scalar":
            values = [float(result[1])]
        elif kind == "vector":
            values = [float(series["value"][1]) for series in result]
        else:
            raise ProbeBadResponse(f"{url}: resultType {kind!r}, expected vector or scalar")
    except (TypeError, KeyError, IndexError, ValueError):
        raise ProbeBadResponse(f"{url}: not an instant-query answer", target=url) from None
    values = [v for v in values if not math.isnan(v)]
    return max(values) if values else None


@dataclass
class PrometheusSource:
    name: str
    method: str
    watch: PrometheusWatch
    client: httpx.Client
    headers: dict[str, str]
    timeout_s: float
    redactor: Redactor

    @classmethod
    def open(cls, cfg: WatchConfig, env: EnvConfig, redactor: Redactor) -> PrometheusSource:
        watch = cfg.prometheus
        if watch is None:
            raise ProbeError(f"env.{env.name}: the prometheus source needs [watch.prometheus]")
        where = f"env.{env.name}.watch.prometheus.token_env"
        client, headers, timeout_s = open_api_client(watch.token_env, where, cfg, env)
        queries = "; ".join(f"{m} = {q}" for m, (q, _) in watch.queries.items())
        method = f"GET {watch.url}/api/v1/query ({queries})"
        return cls("prometheus", method, watch, client, headers, timeout_s, redactor)

    def sample(self) -> Mapping[str, Reading]:
        url = f"{self.watch.url}/api/v1/query"
        out: dict[str, Reading] = {}
        errors: list[str] = []
        for metric, (query, _) in self.watch.queries.items():
            try:
                body = api_get(
                    self.client, url, self.headers, self.timeout_s, self.redactor, {"query": query}
                )
                value = parse_query_answer(body, url)
            except ProbeError as exc:
                errors.append(f"{metric}: {exc}")
                continue
            if value is not None:
                out[metric] = Level(value)
        if errors and not out:
            raise ProbeError(clip("; ".join(errors), 300))
        return out

    def close(self) -> None:
        self.client.close()
