"""The alerts source: alerts already firing in Prometheus (``GET /api/v1/alerts``).

Prometheus's documented answer: ``{"status": "success", "data": {"alerts":
[{"labels": {...}, "annotations": {...}, "state": "firing" | "pending",
"activeAt": "...", "value": "..."}]}}``. Each tick counts the *firing* alerts
whose labels carry every ``match`` pair, by the SEV-N their ``label``
(default ``severity``) maps to: metrics ``sev1``..``sev4`` and ``firing``
(all mapped). A pending alert is not firing yet (its ``for:`` still runs); an
alert whose label value is not mapped is not ours to judge. An error answer
or an unreachable server is a gap, never "no alert".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_fixgate.errors import ProbeBadResponse, ProbeError
from pytest_fixgate.redaction import Redactor
from pytest_fixgate.watch.engine import Count, Reading
from pytest_fixgate.watch.rules import AlertsWatch
from pytest_fixgate.watch.sources.prometheus import api_data, api_get, open_api_client

if TYPE_CHECKING:
    import httpx

    from pytest_fixgate.config.schema import EnvConfig
    from pytest_fixgate.watch.rules import WatchConfig

__all__ = ["AlertsSource", "firing_by_severity"]


def firing_by_severity(body: Any, watch: AlertsWatch, url: str) -> dict[str, list[str]]:
    """SEV-N -> names (``alertname``) of our firing alerts, from an /api/v1/alerts answer."""
    alerts = api_data(body, url).get("alerts")
    if not isinstance(alerts, list):
        raise ProbeBadResponse(f"{url}: no data.alerts list in the answer", target=url)
    out: dict[str, list[str]] = {}
    for alert in alerts:
        labels = alert.get("labels") if isinstance(alert, dict) else None
        if not isinstance(labels, dict):
            raise ProbeBadResponse(f"{url}: an alert without labels", target=url)
        if alert.get("state") != "firing":
            continue
        if any(labels.get(k) != v for k, v in watch.match.items()):
            continue
        severity = watch.severities.get(str(labels.get(watch.label)))
        if severity is not None:
            out.setdefault(severity, []).append(str(labels.get("alertname", "?")))
    return out


@dataclass
class AlertsSource:
    name: str
    method: str
    watch: AlertsWatch
    client: httpx.Client
    headers: dict[str, str]
    timeout_s: float
    redactor: Redactor

    @classmethod
    def open(cls, cfg: WatchConfig, env: EnvConfig, redactor: Redactor) -> AlertsSource:
        watch = cfg.alerts
        if watch is None:
            raise ProbeError(f"env.{env.name}: the alerts source needs [watch.alerts]")
        where = f"env.{env.name}.watch.alerts.token_env"
        client, headers, timeout_s = open_api_client(watch.token_env, where, cfg, env)
        mapping = ", ".join(f"{v}={s}" for v, s in watch.severities.items())
        match = ", ".join(f'{k}="{v}"' for k, v in watch.match.items())
        method = f"GET {watch.url}/api/v1/alerts: firing alerts by {watch.label} ({mapping})"
        if match:
            method += f" with {match}"
        return cls("alerts", method, watch, client, headers, timeout_s, redactor)

    def sample(self) -> Mapping[str, Reading]:
        url = f"{self.watch.url}/api/v1/alerts"
        body = api_get(self.client, url, self.headers, self.timeout_s, self.redactor)
        firing = firing_by_severity(body, self.watch, url)
        out: dict[str, Reading] = {
            f"sev{n}": Count(len(firing.get(f"SEV-{n}", []))) for n in range(1, 5)
        }
        out["firing"] = Count(sum(len(names) for names in firing.values()))
        return out

    def close(self) -> None:
        self.client.close()
