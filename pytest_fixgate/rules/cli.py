"""``fixgate rules export --env ENV`` and ``fixgate rules test FILE``.

``export`` writes the environment's watch rules (``[env.X.watch]`` or the
runbook's defaults) as ``<env>.recording.yml`` + ``<env>.alerts.yml``
(:mod:`.export`) and ``<env>.test.yml``, a promtool unit test whose
expectations are the watch engine's; run ``promtool check rules`` and
``promtool test rules`` on them. ``test`` runs a promtool-format unit-test
file against the watch engine (:mod:`.replay`). Exit codes: 0 all passed,
1 a test failed, 4 a bad config or test file.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from pytest_fixgate.config.loader import find_config, load_config, select_env
from pytest_fixgate.errors import ConfigError
from pytest_fixgate.rules.export import default_scenarios, export_rules, unit_tests
from pytest_fixgate.rules.replay import expand_values, firing_at
from pytest_fixgate.watch.rules import default_watch

__all__ = ["COMMANDS", "add_commands", "run_command"]

COMMANDS = ("rules",)


def add_commands(sub: Any) -> None:
    rules = sub.add_parser(
        "rules",
        help="the watch rules as Prometheus alerting rules; promtool-format unit tests of them",
    )
    what = rules.add_subparsers(dest="rules_command", required=True)
    export = what.add_parser("export", help="write ENV's watch rules as Prometheus rule files")
    export.add_argument("--env", required=True, metavar="ENV")
    export.add_argument("--gate-config", type=Path, metavar="PATH")
    export.add_argument("--out", type=Path, default=Path("."), metavar="DIR")
    test = what.add_parser("test", help="run promtool-format unit tests against the watch engine")
    test.add_argument("file", type=Path, metavar="FILE")
    test.add_argument("--env", required=True, metavar="ENV")
    test.add_argument("--gate-config", type=Path, metavar="PATH")


def _watch_rules(args: argparse.Namespace) -> Any:

    env = select_env(load_config(find_config(args.gate_config, Path.cwd())), args.env)
    cfg = env.section("watch")
    if cfg is None:
        raw: dict[str, Any] = {
            "mongodb_uri_env": env.mongodb_uri_env,
            "redis_url_env": env.redis_url_env,
        }
        cfg = default_watch(raw)
    return cfg


def run_command(args: argparse.Namespace) -> int:
    try:
        cfg = _watch_rules(args)
    except ConfigError as exc:
        print(f"fixgate rules: {exc}", file=sys.stderr)
        return 4
    if args.rules_command == "export":
        return _export(args, cfg)
    return _test(args, cfg)


def _export(args: argparse.Namespace, cfg: Any) -> int:
    exported = export_rules(cfg.rules, args.env, cfg.interval_s)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    alerts = out / f"{args.env}.alerts.yml"
    recording = out / f"{args.env}.recording.yml"
    tests = out / f"{args.env}.test.yml"
    alerts.write_text(exported.alerts, encoding="utf-8")
    recording.write_text(exported.recording, encoding="utf-8")
    tests.write_text(
        unit_tests(
            alerts.name,
            exported.exported,
            default_scenarios(exported.exported, cfg.interval_s),
            evaluation_interval_s=cfg.interval_s,
        ),
        encoding="utf-8",
    )
    for path in (recording, alerts, tests):
        print(f"wrote {path}")
    for rule, why in exported.skipped:
        print(f"not exported: {rule.id} ({why})")
    return 0


_LABELS = re.compile(r"\{.*\}$")
_PROM_DURATION = re.compile(r"^(?:\d+(?:ms|s|m|h|d|w|y))+$")
_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def _time(value: object) -> float:
    """A promtool duration (``2m30s``, ``0``, ``90s``): seconds."""
    text = str(value).strip()
    if text == "0":
        return 0.0
    if not _PROM_DURATION.match(text):
        raise ValueError(f"{text!r} is not a duration such as 2m30s")
    return float(sum(int(n) * _UNIT_S[unit] for n, unit in _PART.findall(text)))


def _test(args: argparse.Namespace, cfg: Any) -> int:
    # deferred: PyYAML loads only for `fixgate rules test`
    import yaml

    where = str(args.file)
    try:
        doc = yaml.safe_load(args.file.read_text(encoding="utf-8"))
        eval_s = _time(doc.get("evaluation_interval", "1m"))
        tests = doc["tests"]
        if not isinstance(tests, list):
            raise TypeError("tests: a list")
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError) as exc:
        problem = " ".join(str(exc).split())  # one line: YAML errors span several
        print(
            f"fixgate rules test: {where}: not a promtool test file ({problem})"[:300],
            file=sys.stderr,
        )
        return 4
    rules = {r.id: r for r in cfg.rules}
    failures: list[str] = []
    checked = 0
    for n, test in enumerate(tests, 1):
        try:
            interval_s = _time(test.get("interval", "1m"))
            series = {
                _LABELS.sub("", s["series"]): expand_values(str(s["values"]))
                for s in test.get("input_series", [])
            }
            cases = [
                (_time(c["eval_time"]), c["alertname"], c.get("exp_alerts") or [])
                for c in test.get("alert_rule_test", [])
            ]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            problem = " ".join(str(exc).split())
            print(f"fixgate rules test: {where}: tests[{n - 1}]: {problem}"[:300], file=sys.stderr)
            return 4
        unknown = sorted({name for _, name, _ in cases} - set(rules))
        if unknown:
            print(
                f"fixgate rules test: {where}: tests[{n - 1}]: no watch rule "
                f"{', '.join(unknown)} in env {args.env} (rules: {', '.join(rules)})",
                file=sys.stderr,
            )
            return 4
        firing = firing_at(
            list(rules.values()),
            series,
            interval_s=interval_s,
            evaluation_interval_s=eval_s,
            eval_times=[t for t, _, _ in cases],
        )
        for t, name, expected in cases:
            checked += 1
            fired = name in firing[t]
            if fired != bool(expected):
                failures.append(
                    f"FAILED: tests[{n - 1}] {name} at {t:g}s: expected "
                    f"{'firing' if expected else 'no alert'}, the watch engine: "
                    f"{'firing' if fired else 'no alert'}"
                )
                continue
            for alert in expected:
                sev = (alert.get("exp_labels") or {}).get("severity")
                if fired and sev is not None and sev != rules[name].severity:
                    failures.append(
                        f"FAILED: tests[{n - 1}] {name} at {t:g}s: severity {sev} expected, "
                        f"the rule's is {rules[name].severity}"
                    )
    for line in failures:
        print(line)
    print(f"{checked - len(failures)}/{checked} alert checks passed ({where})")
    return 1 if failures else 0
