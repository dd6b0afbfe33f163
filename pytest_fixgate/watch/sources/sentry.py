"""The Sentry source: the environment's error rate from Sentry's API, every tick.

Reuses the Sentry gate's client (:mod:`pytest_fixgate.kinds.sentry.measurement`)
and its ``[env.X.sentry]`` table. Metrics: ``error_rate`` (failed over all
transactions in Sentry's trailing ``period``) and ``count``. Each reading
already covers a trailing period, so use ``for`` or ``count`` rules on it (a
``window`` would add overlapping periods). A 429 is a gap, never a good value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_fixgate.errors import ProbeError
from pytest_fixgate.kinds.sentry.measurement import (
    SentryQuery,
    SentryRateLimited,
    read_sentry_error_rate,
    sentry_query,
)
from pytest_fixgate.measurements.http_probe import shared_ssl_context
from pytest_fixgate.redaction import Redactor
from pytest_fixgate.watch.engine import Count, Rate, Reading

if TYPE_CHECKING:
    from pytest_fixgate.config.schema import EnvConfig
    from pytest_fixgate.watch.rules import WatchConfig

__all__ = ["SentrySource"]


@dataclass
class SentrySource:
    name: str
    method: str
    query: SentryQuery
    client: Any

    @classmethod
    def open(cls, cfg: WatchConfig, env: EnvConfig, redactor: Redactor) -> SentrySource:
        # deferred: httpx loads only when a request is made, not at a gate run's start
        import httpx

        if env.section("sentry") is None:
            raise ProbeError(f"env.{env.name}: the sentry source needs [env.{env.name}.sentry]")
        query = sentry_query(env)
        client = httpx.Client(follow_redirects=False, verify=shared_ssl_context())
        return cls("sentry", redactor.text(query.describe()), query, client)

    def sample(self) -> Mapping[str, Reading]:
        reading = read_sentry_error_rate(self.query, client=self.client)
        if isinstance(reading, SentryRateLimited):
            raise ProbeError(f"Sentry rate-limited the read (HTTP 429): {reading.url}")
        return {"error_rate": Rate(reading.failures, reading.count), "count": Count(reading.count)}

    def close(self) -> None:
        self.client.close()
