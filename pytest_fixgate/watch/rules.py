"""The watch's config: ``[env.X.watch]``, its sources and ``[[env.X.watch.rules]]``.

A gate kind module (:data:`KIND`): the section is parsed when the config is
loaded, so a bad rule is one ``ConfigError`` line (exit 4) before anything
is sampled. Without ``rules`` the runbook's alert thresholds apply
(:func:`runbook_rules`); a rule whose source is not configured is listed as
*not configured*, never silently dropped.
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_fixgate.config.table import ConfigTable
from pytest_fixgate.config.thresholds import MetricKind, MetricSpec, compile_threshold
from pytest_fixgate.errors import ConfigError, ThresholdSyntaxError
from pytest_fixgate.kinds import GateKind, KindContext
from pytest_fixgate.kinds.health.config import HealthCheck, parse_health
from pytest_fixgate.notify.config import PagerDutyNotify, SlackNotify, parse_pagerduty, parse_slack
from pytest_fixgate.watch.engine import SEVERITIES, Rule

__all__ = [
    "KIND",
    "AlertsWatch",
    "MongoWatch",
    "PaymentsWatch",
    "PrometheusWatch",
    "RedisWatch",
    "WatchConfig",
    "default_watch",
    "parse_watch",
    "runbook_rules",
    "source_metrics",
    "with_duration",
]

DEFAULT_DURATION_S = 1800.0
DEFAULT_INTERVAL_S = 15.0
ON_NO_DATA = ("inconclusive", "ok", "fire")
BUILTIN_SOURCES = ("probe", "mongo", "redis", "prometheus", "alerts", "sentry")

_DURATION = MetricSpec(MetricKind.DURATION)
_RATIO = MetricSpec(MetricKind.RATIO)
_COUNT = MetricSpec(MetricKind.COUNT)
PROBE_METRICS: Mapping[str, MetricSpec] = {
    "error_rate": _RATIO,
    "rate_limited": _RATIO,
    "p": MetricSpec(MetricKind.DURATION, takes_arg=True),
    "latency": _DURATION,
    "ready": MetricSpec(MetricKind.ANY),
}
SENTRY_METRICS: Mapping[str, MetricSpec] = {"error_rate": _RATIO, "count": _COUNT}
_RATIO_QUERIES = frozenset({"cpu", "memory", "disk"})


@dataclass(frozen=True)
class PaymentsWatch:
    """Payment failures over a collection (the runbook's PayTabs; Fixzit's Tap)."""

    collection: str = "finance_tap_transactions"
    status_field: str = "status"
    time_field: str = "updatedAt"
    failure_statuses: tuple[str, ...] = ("DECLINED", "CANCELLED", "FAILED")
    success_statuses: tuple[str, ...] = ("CAPTURED", "AUTHORIZED")
    window_s: float = 300.0  # transactions updated in the trailing window count


@dataclass(frozen=True)
class MongoWatch:
    database: str | None = None  # default: the URI's database
    # metric name -> (collection, filter): a document count per tick
    counts: Mapping[str, tuple[str, Mapping[str, Any]]] = field(default_factory=dict)
    payments: PaymentsWatch | None = None


@dataclass(frozen=True)
class RedisWatch:
    lists: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # metric -> list keys


@dataclass(frozen=True)
class PrometheusWatch:
    url: str
    queries: Mapping[str, tuple[str, MetricKind]] = field(default_factory=dict)
    token_env: str | None = None


#: The alerts source's metrics: firing alerts mapped to each severity, and all mapped.
ALERT_METRICS = ("sev1", "sev2", "sev3", "sev4", "firing")
DEFAULT_ALERT_SEVERITIES: Mapping[str, str] = {
    "critical": "SEV-1",
    "error": "SEV-2",
    "warning": "SEV-3",
    "info": "SEV-4",
}


@dataclass(frozen=True)
class AlertsWatch:
    """``[env.X.watch.alerts]``: alerts already firing in Prometheus (``/api/v1/alerts``)."""

    url: str
    label: str = "severity"
    # label value -> SEV-1..4; an alert whose value is not here is not ours to judge
    severities: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_ALERT_SEVERITIES))
    match: Mapping[str, str] = field(default_factory=dict)  # only alerts with these labels
    token_env: str | None = None


@dataclass(frozen=True)
class WatchConfig:
    """``[env.X.watch]``, validated; ``rules`` already compiled."""

    duration_s: float = DEFAULT_DURATION_S
    interval_s: float = DEFAULT_INTERVAL_S
    rollback_command: tuple[str, ...] = ()
    rollback_timeout_s: float = 300.0
    probes: tuple[HealthCheck, ...] | None = None  # None: the env's readiness check
    probe_timeout_s: float | None = None
    min_coverage: float = 0.9
    rules: tuple[Rule, ...] = ()
    # Rules whose source or metric is not configured, with why: listed, never evaluated.
    not_configured: tuple[tuple[Rule, str], ...] = ()
    mongo: MongoWatch | None = None
    redis: RedisWatch | None = None
    prometheus: PrometheusWatch | None = None
    alerts: AlertsWatch | None = None
    slack: SlackNotify | None = None
    pagerduty: PagerDutyNotify | None = None
    sentry: bool = False  # the env's [sentry] table is configured
    mongo_uri: bool = False  # the env names mongodb_uri_env
    redis_url: bool = False
    custom_rules: bool = False
    # plugin sources' tables under [env.X.watch.sources.<name>], raw
    plugin_tables: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def source_metrics(cfg: WatchConfig, source: str) -> Mapping[str, MetricSpec] | None:
    """The metrics a configured source gives; ``None`` when the source is not configured."""
    if source == "probe":
        return PROBE_METRICS
    if source == "mongo" and cfg.mongo_uri:
        mongo = cfg.mongo or MongoWatch()
        out: dict[str, MetricSpec] = {"connection_failures": _COUNT}
        out.update({name: _COUNT for name in mongo.counts})
        if mongo.payments is not None:
            out["payment_failure_rate"] = _RATIO
            out["payment_consecutive_failures"] = _COUNT
        return out
    if source == "redis" and cfg.redis_url and cfg.redis is not None:
        return {name: _COUNT for name in cfg.redis.lists} | {"connection_failures": _COUNT}
    if source == "prometheus" and cfg.prometheus is not None:
        return {name: MetricSpec(kind) for name, (_, kind) in cfg.prometheus.queries.items()}
    if source == "alerts" and cfg.alerts is not None:
        return {name: _COUNT for name in ALERT_METRICS}
    if source == "sentry" and cfg.sentry:
        return SENTRY_METRICS
    return None


def _rule(
    rid: str,
    sev: str,
    when: str,
    source: str = "probe",
    metrics: Mapping[str, MetricSpec] = PROBE_METRICS,
    **mode: Any,
) -> Rule:
    return Rule(rid, sev, compile_threshold(when, metrics), source=source, **mode)


def runbook_rules(cfg: WatchConfig) -> tuple[list[Rule], list[tuple[Rule, str]]]:
    """The runbook's "Alert Thresholds (production)" as rules, and those whose source is
    not configured. Severities the runbook leaves out are ours (README, runbook table)."""
    any_metric: Mapping[str, MetricSpec] = {
        "queue_depth": _COUNT,
        "cpu": _RATIO,
        "memory": _RATIO,
        "disk": _RATIO,
        "connection_failures": _COUNT,
        "payment_failure_rate": _RATIO,
        "payment_consecutive_failures": _COUNT,
    }
    alert_metrics = {name: _COUNT for name in ALERT_METRICS}
    interval = cfg.interval_s
    queue_source = "mongo"
    if cfg.redis is not None and "queue_depth" in cfg.redis.lists:
        queue_source = "redis"
    candidates = [
        _rule("error-rate-sev1", "SEV-1", "error_rate > 5%", for_s=120),
        _rule("error-rate-sev2", "SEV-2", "error_rate > 2%", for_s=300),
        _rule("latency-p95", "SEV-2", "p(95) > 1500ms", for_s=300),
        _rule("latency-p99", "SEV-2", "p(99) > 2500ms", for_s=120),
        _rule("ready-fails", "SEV-1", "ready == false", count=2, within_s=180),
        _rule(
            "mongo-connection",
            "SEV-1",
            "connection_failures > 0",
            "mongo",
            any_metric,
            window_s=60,
        ),
        _rule("queue-depth", "SEV-3", "queue_depth > 1000", queue_source, any_metric, for_s=600),
        _rule("cpu", "SEV-3", "cpu > 80%", "prometheus", any_metric, for_s=600),
        _rule("memory", "SEV-3", "memory > 85%", "prometheus", any_metric, for_s=600),
        _rule("disk", "SEV-3", "disk > 90%", "prometheus", any_metric, count=1, within_s=interval),
        _rule(
            "payment-failure-rate",
            "SEV-2",
            "payment_failure_rate > 3%",
            "mongo",
            any_metric,
            count=1,
            within_s=interval,
        ),
        _rule(
            "payment-consecutive-failures",
            "SEV-2",
            "payment_consecutive_failures >= 10",
            "mongo",
            any_metric,
            count=1,
            within_s=interval,
        ),
    ]
    if cfg.alerts is not None:
        # Not the runbook's: with [watch.alerts], "ROLLBACK if any of our own critical
        # alerts fires", judged at the first tick they are seen firing.
        candidates += [
            _rule(
                f"prometheus-alerts-sev{n}",
                f"SEV-{n}",
                f"sev{n} > 0",
                "alerts",
                alert_metrics,
                count=1,
                within_s=interval,
            )
            for n in (1, 2)
        ]
    active: list[Rule] = []
    idle: list[tuple[Rule, str]] = []
    for rule in candidates:
        metrics = source_metrics(cfg, rule.source)
        if metrics is None:
            idle.append((rule, f"source {rule.source} is not configured"))
        elif rule.when.metric not in metrics:
            idle.append((rule, f"source {rule.source} has no metric {rule.when.metric}"))
        else:
            active.append(rule)
    return active, idle


def parse_watch(table: ConfigTable, ctx: KindContext) -> WatchConfig:
    raw_env = ctx.all_envs.get(ctx.env_name, {})
    duration_s = table.duration("duration", DEFAULT_DURATION_S)
    interval_s = table.duration("interval", DEFAULT_INTERVAL_S)
    if interval_s > duration_s:
        raise table.error("interval", interval_s, f"at most the duration ({duration_s:g} s)")
    command = table.get(
        "rollback_command", (str, list), None, expected="a command line (string or list)"
    )
    if isinstance(command, str):
        argv = tuple(shlex.split(command))
    else:
        argv = tuple(command or ())
        if not all(isinstance(a, str) for a in argv):
            raise table.error("rollback_command", command, "a list of strings")
    if command is not None and not argv:
        raise table.error("rollback_command", command, "a non-empty command line")
    probes = None
    if table.has("probes"):
        probes = parse_health(table.array("probes", expected="an array of probe tables"), ctx)
    min_coverage = table.get(
        "min_coverage", (int, float), 0.9, expected="a fraction of ticks in (0, 1]"
    )
    if not 0 < min_coverage <= 1:
        raise table.error("min_coverage", min_coverage, "a fraction of ticks in (0, 1]")
    cfg = WatchConfig(
        duration_s=duration_s,
        interval_s=interval_s,
        rollback_command=argv,
        rollback_timeout_s=table.duration("rollback_timeout", 300.0),
        probes=probes,
        probe_timeout_s=table.duration("probe_timeout") if table.has("probe_timeout") else None,
        min_coverage=float(min_coverage),
        mongo=_parse_mongo(table.table("mongo")) if table.has("mongo") else None,
        redis=_parse_redis(table.table("redis")) if table.has("redis") else None,
        prometheus=(
            _parse_prometheus(table.table("prometheus")) if table.has("prometheus") else None
        ),
        alerts=_parse_alerts(table.table("alerts"), table) if table.has("alerts") else None,
        slack=parse_slack(table.table("slack")) if table.has("slack") else None,
        pagerduty=parse_pagerduty(table.table("pagerduty")) if table.has("pagerduty") else None,
        sentry="sentry" in raw_env,
        mongo_uri=bool(raw_env.get("mongodb_uri_env")),
        redis_url=bool(raw_env.get("redis_url_env")),
        plugin_tables=dict(table.get("sources", dict, {}, expected="a table of source tables")),
    )
    if table.has("rules"):
        tables = table.array("rules", expected="an array of [[rules]] tables")
        if not tables:
            raise table.error(
                "rules", [], "at least one [[rules]] entry, or no rules key for the runbook's"
            )
        rules = _parse_rules(tables, cfg)
        cfg = _replace(cfg, rules=tuple(rules), custom_rules=True)
    else:
        active, idle = runbook_rules(cfg)
        cfg = _replace(cfg, rules=tuple(active), not_configured=tuple(idle))
    table.finish()
    return cfg


def _replace(cfg: WatchConfig, **changes: Any) -> WatchConfig:
    return dataclasses.replace(cfg, **changes)


def with_duration(cfg: WatchConfig, duration_s: float) -> WatchConfig:
    """``--watch=DURATION`` overrides ``duration``."""
    return _replace(cfg, duration_s=duration_s)


def _parse_rules(tables: list[ConfigTable], cfg: WatchConfig) -> list[Rule]:
    rules: list[Rule] = []
    for t in tables:
        rid = t.get("id", str, expected="a rule id such as error-rate-sev1")
        if any(r.id == rid for r in rules):
            raise t.error("id", rid, "each rule id at most once")
        severity = t.get("severity", str, expected=" | ".join(SEVERITIES))
        if severity not in SEVERITIES:
            raise t.error("severity", severity, " | ".join(SEVERITIES))
        source = t.get("source", str, "probe", expected="a source name")
        metrics = source_metrics(cfg, source)
        if source not in BUILTIN_SOURCES and source not in cfg.plugin_tables:
            raise t.error(
                "source",
                source,
                f"one of {', '.join(BUILTIN_SOURCES)} (or a plugin source with "
                "[env.X.watch.sources.<name>])",
            )
        when_text = t.get("when", str, expected='a condition such as "error_rate > 5%"')
        if metrics is None:
            if source in BUILTIN_SOURCES:
                what = {
                    "mongo": "mongodb_uri_env",
                    "redis": "redis_url_env and [watch.redis]",
                    "prometheus": "[watch.prometheus]",
                    "alerts": "[watch.alerts]",
                    "sentry": "[sentry]",
                }[source]
                raise t.error("source", source, f"a configured source ({what} is not set)")
            metrics = {}  # a plugin source: its metrics are checked when it starts
        try:
            when = compile_threshold(when_text, metrics) if metrics else None
        except ThresholdSyntaxError as exc:
            raise ConfigError(str(exc), file=t.file, key=t.path("when")) from None
        if when is None:
            when = compile_threshold(when_text, _any_metric(when_text))
        modes = [name for name in ("window", "for", "count") if t.has(name)]
        if len(modes) != 1 or t.has("within") != (modes == ["count"]):
            raise t.error(
                "window",
                modes or None,
                "exactly one of window = N | for = N | count = K with within = N",
            )
        mode: dict[str, Any] = {}
        if modes == ["window"]:
            mode["window_s"] = t.duration("window")
        elif modes == ["for"]:
            mode["for_s"] = t.duration("for")
        else:
            count = t.get("count", int, expected="a positive number of ticks")
            if count < 1:
                raise t.error("count", count, "a positive number of ticks")
            mode["count"] = count
            mode["within_s"] = t.duration("within")
        min_samples = t.get("min_samples", int, 1, expected="a positive integer")
        if min_samples < 1:
            raise t.error("min_samples", min_samples, "a positive integer")
        on_no_data = t.get("on_no_data", str, "inconclusive", expected=" | ".join(ON_NO_DATA))
        if on_no_data not in ON_NO_DATA:
            raise t.error("on_no_data", on_no_data, " | ".join(ON_NO_DATA))
        rules.append(
            Rule(
                rid,
                severity,
                when,
                source=source,
                min_samples=min_samples,
                on_no_data=on_no_data,
                **mode,
            )
        )
        t.finish()
    return rules


def _any_metric(text: str) -> Mapping[str, MetricSpec]:
    name = text.strip().split()[0].split("(")[0] if text.strip() else "value"
    return {name: MetricSpec(MetricKind.ANY)}


def _names(t: ConfigTable, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    values = t.get(name, list, list(default), expected="a list of strings")
    if not all(isinstance(v, str) for v in values):
        raise t.error(name, values, "a list of strings")
    return tuple(values)


def _parse_mongo(t: ConfigTable) -> MongoWatch:
    counts: dict[str, tuple[str, Mapping[str, Any]]] = {}
    counts_table = t.table("counts")
    for name in list(counts_table.data):
        sub = counts_table.table(name)
        collection = sub.get("collection", str, expected="a collection name")
        query = sub.get("filter", dict, {}, expected="a filter document (a table)")
        counts[name] = (collection, query)
        sub.finish()
    payments = None
    if t.has("payments"):
        p = t.table("payments")
        d = PaymentsWatch()
        payments = PaymentsWatch(
            collection=p.get("collection", str, d.collection, expected="a collection name"),
            status_field=p.get("status_field", str, d.status_field, expected="a field name"),
            time_field=p.get("time_field", str, d.time_field, expected="a field name"),
            failure_statuses=_names(p, "failure_statuses", d.failure_statuses),
            success_statuses=_names(p, "success_statuses", d.success_statuses),
            window_s=p.duration("window", d.window_s),
        )
        p.finish()
    mongo = MongoWatch(
        database=t.get("database", str, None, expected="a database name"),
        counts=counts,
        payments=payments,
    )
    t.finish()
    return mongo


def _parse_redis(t: ConfigTable) -> RedisWatch:
    lists: dict[str, tuple[str, ...]] = {}
    raw = t.get("lists", dict, {}, expected="a table of metric = list key(s)")
    for name, keys in raw.items():
        keys = [keys] if isinstance(keys, str) else keys
        if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
            raise t.error(f"lists.{name}", keys, "a list key or a list of list keys")
        lists[name] = tuple(keys)
    t.finish()
    return RedisWatch(lists=lists)


def _parse_alerts(t: ConfigTable, watch: ConfigTable) -> AlertsWatch:
    # The url defaults to [watch.prometheus]'s: the same server evaluates the alerts.
    prom = watch.data.get("prometheus")
    default_url = prom.get("url") if isinstance(prom, dict) else None
    if default_url is None and not t.has("url"):
        raise t.error("url", None, "the Prometheus base URL (or a [watch.prometheus] url)")
    url = t.url("url", default_url, credentials_hint="name a token with token_env")
    label = t.get("label", str, "severity", expected="an alert label name")
    severities = t.get(
        "severities", dict, dict(DEFAULT_ALERT_SEVERITIES), expected="a table of value = SEV-N"
    )
    for value, sev in severities.items():
        if sev not in SEVERITIES:
            raise t.error(f"severities.{value}", sev, " | ".join(SEVERITIES))
    if not severities:
        raise t.error("severities", {}, "at least one label value = SEV-N")
    match = t.get("match", dict, {}, expected="a table of label = value")
    for name, value in match.items():
        if not isinstance(value, str):
            raise t.error(f"match.{name}", value, "a label value (a string)")
    token_env = t.env_name("token_env")
    if token_env is None and isinstance(prom, dict) and isinstance(prom.get("token_env"), str):
        token_env = prom["token_env"]
    alerts = AlertsWatch(
        url=url.rstrip("/"),
        label=label,
        severities=dict(severities),
        match=dict(match),
        token_env=token_env,
    )
    t.finish()
    return alerts


def _parse_prometheus(t: ConfigTable) -> PrometheusWatch:
    url = t.url("url", credentials_hint="name a token with token_env")
    queries: dict[str, tuple[str, MetricKind]] = {}
    raw = t.get("queries", dict, {}, expected="a table of metric = PromQL query")
    for name, spec in raw.items():
        default_kind = "ratio" if name in _RATIO_QUERIES else "count"
        if isinstance(spec, str):
            query, kind = spec, default_kind
        elif isinstance(spec, dict) and isinstance(spec.get("query"), str):
            query, kind = spec["query"], spec.get("kind", default_kind)
        else:
            raise t.error(f"queries.{name}", spec, 'a PromQL string or {query = "...", kind}')
        if kind not in ("ratio", "count", "duration"):
            raise t.error(f"queries.{name}.kind", kind, "ratio | count | duration")
        queries[name] = (query, MetricKind(kind))
    prom = PrometheusWatch(url=url.rstrip("/"), queries=queries, token_env=t.env_name("token_env"))
    t.finish()
    return prom


def default_watch(ctx_raw_env: Mapping[str, Any]) -> WatchConfig:
    """The watch of an environment without a ``[watch]`` table: runbook rules, defaults."""
    cfg = WatchConfig(
        sentry="sentry" in ctx_raw_env,
        mongo_uri=bool(ctx_raw_env.get("mongodb_uri_env")),
        redis_url=bool(ctx_raw_env.get("redis_url_env")),
    )
    active, idle = runbook_rules(cfg)
    return _replace(cfg, rules=tuple(active), not_configured=tuple(idle))


KIND = GateKind(
    section="watch",
    parse=parse_watch,
    # The watch runs only with --watch: a plain gate run of the environment does not
    # imply it (the plugin holds a --watch run to its "watch" gate itself).
    gate_ids=lambda cfg, env: (),
    secret_envs=lambda cfg: [
        name
        for name in (
            cfg.prometheus.token_env if cfg.prometheus is not None else None,
            cfg.alerts.token_env if cfg.alerts is not None else None,
            cfg.slack.webhook_url_env if cfg.slack is not None else None,
            cfg.pagerduty.routing_key_env if cfg.pagerduty is not None else None,
        )
        if name
    ],
    title="Post-promotion watch",
)
