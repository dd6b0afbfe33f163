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

__all__ = ["PrometheusSource", "parse_query_answer"]


def parse_query_answer(body: Any, url: str) -> float | None:
    """The value of an instant query's answer; ``None`` when it holds no sample."""
    if not isinstance(body, dict) or body.get("status") != "success":
        error = body.get("error") if isinstance(body, dict) else None
        raise ProbeBadResponse(
            clip(f"{url}: Prometheus answered an error: {error!r}", 300), target=url
        )
    data = body.get("data") or {}
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
        import httpx

        watch = cfg.prometheus
        if watch is None:
            raise ProbeError(f"env.{env.name}: the prometheus source needs [watch.prometheus]")
        headers = {}
        if watch.token_env:
            token = read_secret(watch.token_env, f"env.{env.name}.watch.prometheus.token_env")
            headers["Authorization"] = f"Bearer {token}"
        timeout_s = min(env.timeout_s, cfg.interval_s)
        client = httpx.Client(verify=shared_ssl_context(), timeout=timeout_s)
        queries = "; ".join(f"{m} = {q}" for m, (q, _) in watch.queries.items())
        method = f"GET {watch.url}/api/v1/query ({queries})"
        return cls("prometheus", method, watch, client, headers, timeout_s, redactor)

    def sample(self) -> Mapping[str, Reading]:
        url = f"{self.watch.url}/api/v1/query"
        out: dict[str, Reading] = {}
        errors: list[str] = []
        for metric, (query, _) in self.watch.queries.items():
            try:
                with translate_errors(url, self.timeout_s, self.redactor):
                    response = self.client.get(url, params={"query": query}, headers=self.headers)
                try:
                    body = response.json()
                except ValueError:
                    raise ProbeBadResponse(
                        f"{url}: HTTP {response.status_code}, not JSON", target=url
                    ) from None
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
