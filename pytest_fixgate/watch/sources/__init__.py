"""Sample sources of the watch: one small module each, plus the seam for plugin sources.

A source is opened once per watch and sampled once per tick; ``sample()``
returns readings by metric name (see :mod:`..engine`) or raises. A source
that raises records a gap for that tick, never a good value: the rules'
``on_no_data`` decides what a gap means.

Plugins add sources with the ``pytest_fixgate_watch_sources`` hook::

    from pytest_fixgate.watch.sources import WatchSourceKind

    def pytest_fixgate_watch_sources():
        return [WatchSourceKind(name="queue", metrics={"depth": ...}, open=open_queue)]

where ``open_queue(table, env, redactor)`` gets ``[env.X.watch.sources.queue]``
as a raw dict and returns an object with ``sample()``, ``close()`` and
``method`` (how it measures, for the evidence; secrets redacted).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from pytest_fixgate.errors import ProbeError

if TYPE_CHECKING:
    from pytest_fixgate.config.schema import EnvConfig
    from pytest_fixgate.config.thresholds import MetricSpec
    from pytest_fixgate.redaction import Redactor
    from pytest_fixgate.watch.engine import Reading
    from pytest_fixgate.watch.rules import WatchConfig

__all__ = ["Source", "WatchSourceKind", "open_sources"]


class Source(Protocol):
    name: str
    method: str

    def sample(self) -> Mapping[str, Reading]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class WatchSourceKind:
    """A source added by a plugin: its name (a rule's ``source``), its metrics and how to
    open it from its table ``[env.X.watch.sources.<name>]``."""

    name: str
    metrics: Mapping[str, MetricSpec]
    open: Callable[[Mapping[str, Any], EnvConfig, Redactor], Source]


def open_sources(
    cfg: WatchConfig,
    env: EnvConfig,
    redactor: Redactor,
    plugins: Mapping[str, WatchSourceKind] | None = None,
) -> dict[str, Source]:
    """Open every source a rule reads. A source that cannot even be opened (a secret's
    variable unset) raises ProbeError: the watch cannot measure, so it is an ERROR."""
    needed = {rule.source for rule in cfg.rules}
    opened: dict[str, Source] = {}
    try:
        for name in sorted(needed):
            opened[name] = _open(name, cfg, env, redactor, plugins or {})
    except BaseException:
        for source in opened.values():
            source.close()
        raise
    return opened


def _open(
    name: str,
    cfg: WatchConfig,
    env: EnvConfig,
    redactor: Redactor,
    plugins: Mapping[str, WatchSourceKind],
) -> Source:
    if name == "probe":
        # deferred: a source's module loads only when a watch opens it
        from pytest_fixgate.watch.sources.probe import ProbeSource

        return ProbeSource.open(cfg, env, redactor)
    if name == "mongo":
        # deferred: a source's module loads only when a watch opens it
        from pytest_fixgate.watch.sources.mongo import MongoSource

        return MongoSource.open(cfg, env, redactor)
    if name == "redis":
        # deferred: a source's module loads only when a watch opens it
        from pytest_fixgate.watch.sources.redis import RedisSource

        return RedisSource.open(cfg, env, redactor)
    if name == "prometheus":
        # deferred: a source's module loads only when a watch opens it
        from pytest_fixgate.watch.sources.prometheus import PrometheusSource

        return PrometheusSource.open(cfg, env, redactor)
    if name == "alerts":
        # deferred: a source's module loads only when a watch opens it
        from pytest_fixgate.watch.sources.alerts import AlertsSource

        return AlertsSource.open(cfg, env, redactor)
    if name == "sentry":
        # deferred: a source's module loads only when a watch opens it
        from pytest_fixgate.watch.sources.sentry import SentrySource

        return SentrySource.open(cfg, env, redactor)
    kind = plugins.get(name)
    if kind is None:
        raise ProbeError(f"watch source {name!r}: no plugin provides it")
    unknown = sorted(
        {r.metric for r in cfg.rules if r.source == name} - set(kind.metrics) - {"latency"}
    )
    if unknown:
        raise ProbeError(
            f"watch source {name!r} has no metric {', '.join(unknown)} "
            f"(it has: {', '.join(sorted(kind.metrics))})"
        )
    return kind.open(cfg.plugin_tables.get(name, {}), env, redactor)
