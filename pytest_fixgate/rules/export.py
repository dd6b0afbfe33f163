"""An environment's watch rules as Prometheus rule files (``fixgate rules export``).

Two files, so that a promtool unit test can feed the watch's readings directly:

- ``<env>.recording.yml``: one recording rule per probe metric, its twin over
  the reference service's metrics (:mod:`.promql`): ``fixgate:error_rate``
  (0-1), ``fixgate:latency_p95_ms`` / ``_p99_ms`` (milliseconds, the watch's
  unit), over a trailing ``4 x interval`` (rates need several scrapes).
- ``<env>.alerts.yml``: one alerting rule per watch rule over those series,
  with the engine's semantics: ``for = N`` is Prometheus's ``for: N``;
  ``window = N`` of a gauge is ``avg_over_time(...[N])`` (the same
  values as the engine's mean when the series has one sample a tick, as the
  watch's readings do); ``count = K within
  N`` is ``count_over_time((cond)[N-1ms:interval]) >= K`` (the engine's window
  excludes its left end, as the subquery range shortened by a millisecond
  does).

A rule whose metric has no Prometheus twin here (``ready``, Mongo, Redis,
Sentry, a plugin's) is not exported and is listed in a comment, never
silently dropped. Labels: ``severity`` (SEV-1..4), ``fixgate_rule``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from pytest_fixgate.rules import promql
from pytest_fixgate.rules.replay import expand_values, firing_at
from pytest_fixgate.rules.series import series_name
from pytest_fixgate.watch.engine import Mode, Rule

__all__ = [
    "ExportedRules",
    "Scenario",
    "alert_expr",
    "default_scenarios",
    "export_rules",
    "series_name",
    "unit_tests",
]

_PROM_OPS = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "==": "==", "!=": "!="}


def _recording(name: str, interval_s: float) -> str:
    span = max(4 * interval_s, 4.0)
    if name == "fixgate:error_rate":
        return promql.error_rate(span)
    q = 0.95 if name.endswith("p95_ms") else 0.99
    return f"{promql.latency_quantile(q, span)} * 1000"


def _number(value: object) -> str:
    return repr(float(value)) if not isinstance(value, bool) else str(int(value))  # type: ignore[arg-type]


def alert_expr(rule: Rule, series: str, interval_s: float) -> str:
    op = _PROM_OPS[rule.when.op]
    cond = f"{series} {op} {_number(rule.when.value)}"
    if rule.mode is Mode.WINDOW:
        return f"avg_over_time({series}[{rule.window_s:g}s]) {op} {_number(rule.when.value)}"
    if rule.mode is Mode.COUNT:
        within_ms = round(rule.within_s * 1000) - 1  # type: ignore[operator]
        return f"count_over_time(({cond})[{within_ms}ms:{interval_s:g}s]) >= {rule.count}"
    return cond


def _q(text: str) -> str:
    return json.dumps(text)  # a JSON string is a YAML string


@dataclass(frozen=True)
class ExportedRules:
    recording: str
    alerts: str
    exported: tuple[Rule, ...]
    skipped: tuple[tuple[Rule, str], ...]


def export_rules(rules: Sequence[Rule], env: str, interval_s: float) -> ExportedRules:
    exported: list[Rule] = []
    skipped: list[tuple[Rule, str]] = []
    names: list[str] = []
    lines = ["groups:", f"  - name: {_q(f'fixgate-{env}-watch')}", f"    interval: {interval_s:g}s"]
    lines.append("    rules:")
    for rule in rules:
        series = series_name(rule)
        if series is None:
            skipped.append((rule, f"{rule.source} {rule.when.key}: no Prometheus twin"))
            continue
        if rule.on_no_data == "fire":
            skipped.append((rule, "on_no_data = fire has no Prometheus equivalent"))
            continue
        exported.append(rule)
        if series not in names:
            names.append(series)
        lines += [
            f"      - alert: {_q(rule.id)}",
            f"        expr: {_q(alert_expr(rule, series, interval_s))}",
        ]
        if rule.mode is Mode.FOR:
            lines.append(f"        for: {rule.for_s:g}s")
        lines += [
            "        labels:",
            f"          severity: {_q(rule.severity)}",
            f"          fixgate_rule: {_q(rule.id)}",
            "        annotations:",
            f"          summary: {_q(rule.describe())}",
        ]
    if not exported:
        lines[-1] = "    rules: []"
    for rule, why in skipped:
        lines.append(f"# not exported: {rule.id} ({why})")
    recording = [
        "groups:",
        f"  - name: {_q(f'fixgate-{env}-readings')}",
        f"    interval: {interval_s:g}s",
        "    rules:" if names else "    rules: []",
    ]
    for name in names:
        recording += [
            f"      - record: {name}",
            f"        expr: {_q(_recording(name, interval_s))}",
        ]
    return ExportedRules(
        "\n".join(recording) + "\n", "\n".join(lines) + "\n", tuple(exported), tuple(skipped)
    )


@dataclass(frozen=True)
class Scenario:
    """One promtool test: series values (promtool notation) sampled every ``interval_s``."""

    name: str
    interval_s: float
    series: dict[str, str]
    end_s: float


def unit_tests(
    alerts_file: str,
    rules: Sequence[Rule],
    scenarios: Sequence[Scenario],
    *,
    evaluation_interval_s: float,
) -> str:
    """A promtool unit-test file whose expected alerts are the watch engine's: every
    ``interval_s`` of each scenario, each exported rule's FIRING state from a replay."""
    lines = [
        f"rule_files: [{_q(alerts_file)}]",
        f"evaluation_interval: {evaluation_interval_s:g}s",
        "tests:",
    ]
    for scenario in scenarios:
        steps = int(scenario.end_s // scenario.interval_s) + 1
        eval_times = [i * scenario.interval_s for i in range(steps)]
        firing = firing_at(
            rules,
            {name: expand_values(values) for name, values in scenario.series.items()},
            interval_s=scenario.interval_s,
            evaluation_interval_s=evaluation_interval_s,
            eval_times=eval_times,
        )
        lines += [f"  # {scenario.name}", f"  - interval: {scenario.interval_s:g}s"]
        lines.append("    input_series:")
        for name, values in scenario.series.items():
            lines += [f"      - series: {_q(name)}", f"        values: {_q(values)}"]
        lines.append("    alert_rule_test:")
        for t in eval_times:
            for rule in rules:
                lines += [f"      - eval_time: {t:g}s", f"        alertname: {_q(rule.id)}"]
                if rule.id not in firing[t]:
                    lines.append("        exp_alerts: []")
                    continue
                lines += [
                    "        exp_alerts:",
                    "          - exp_labels:",
                    f"              severity: {_q(rule.severity)}",
                    f"              fixgate_rule: {_q(rule.id)}",
                    "            exp_annotations:",
                    f"              summary: {_q(rule.describe())}",
                ]
    return "\n".join(lines) + "\n"


def _breach(rule: Rule, bad: bool) -> float:
    """A value that breaks the rule's threshold (``bad``) or clearly keeps it."""
    value = float(rule.when.value)  # type: ignore[arg-type]
    high = rule.when.op in (">", ">=")
    worse = value * 2 + 0.01 if high else value / 2
    better = value / 2 if high else value * 2 + 0.01
    return worse if bad else better


def default_scenarios(rules: Sequence[Rule], interval_s: float) -> list[Scenario]:
    """One scenario a rule: good for 3 intervals, then breaking it for its span plus 3
    intervals, one sample an interval (a watch's readings are one a tick: a window's
    ``avg_over_time`` then averages the same values as the engine)."""
    out: list[Scenario] = []
    for rule in rules:
        series = series_name(rule)
        if series is None:
            continue
        good_n = 3
        bad_n = int(rule.span_s / interval_s) + 3
        values = f"{_breach(rule, False):g}x{good_n - 1} {_breach(rule, True):g}x{bad_n}"
        end = (good_n + bad_n) * interval_s
        name = f"{rule.id} broken from {good_n * interval_s:g}s"
        out.append(Scenario(name, interval_s, {series: values}, end))
    return out
