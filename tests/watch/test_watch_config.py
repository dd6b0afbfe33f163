"""``[env.X.watch]`` and ``[[env.X.watch.rules]]``: keys, runbook defaults, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_fixgate.config.loader import load_config
from pytest_fixgate.errors import ConfigError
from pytest_fixgate.watch.engine import Mode

HEAD = '[env.production]\nbase_url = "https://fixzit.example.com"\n'


def _watch(tmp_path: Path, text: str, head: str = HEAD):
    path = tmp_path / "fixgate.toml"
    path.write_text(head + text)
    return load_config(path).envs["production"].section("watch")


def test_issue_example_parses(tmp_path: Path) -> None:
    cfg = _watch(
        tmp_path,
        """
[env.production.watch]
duration = "30m"
interval = "15s"
rollback_command = "vercel rollback https://fixzit.example.com"
probes = [
  { path = "/api/health/ready", expect_status = 200, expect_json = { ready = true } },
]

[[env.production.watch.rules]]
id = "error-rate-sev1"
severity = "SEV-1"
when = "error_rate > 5%"
window = "2m"
source = "probe"
min_samples = 1
on_no_data = "inconclusive"
""",
    )
    assert (cfg.duration_s, cfg.interval_s) == (1800, 15)
    assert cfg.rollback_command == ("vercel", "rollback", "https://fixzit.example.com")
    assert [p.path for p in cfg.probes] == ["/api/health/ready"]
    (rule,) = cfg.rules
    assert (rule.id, rule.severity, rule.mode, rule.window_s) == (
        "error-rate-sev1",
        "SEV-1",
        Mode.WINDOW,
        120,
    )
    assert rule.when.value == 0.05 and cfg.not_configured == ()


def test_runbook_defaults_and_not_configured(tmp_path: Path) -> None:
    cfg = _watch(tmp_path, "[env.production.watch]\n")
    ids = {r.id: r for r in cfg.rules}
    assert set(ids) == {
        "error-rate-sev1",
        "error-rate-sev2",
        "latency-p95",
        "latency-p99",
        "ready-fails",
    }
    assert (ids["error-rate-sev1"].for_s, ids["error-rate-sev1"].severity) == (120, "SEV-1")
    assert (ids["ready-fails"].count, ids["ready-fails"].within_s) == (2, 180)
    idle = {r.id: why for r, why in cfg.not_configured}
    assert idle["mongo-connection"] == "source mongo is not configured"
    assert idle["cpu"] == "source prometheus is not configured"
    assert "payment-failure-rate" in idle and "queue-depth" in idle
    with_mongo = _watch(
        tmp_path,
        "[env.production.watch.mongo.payments]\n",
        HEAD + 'mongodb_uri_env = "MONGODB_URI"\n[env.production.watch]\n',
    )
    ids = {r.id for r in with_mongo.rules}
    assert {"mongo-connection", "payment-failure-rate", "payment-consecutive-failures"} <= ids


@pytest.mark.parametrize(
    ("rule", "fragment"),
    [
        ('window = "1m"\nfor = "1m"', "exactly one of window"),
        ("count = 2", "exactly one of window"),
        ('window = "1m"\nwithin = "1m"', "exactly one of window"),
        ('window = "1m"\nseverity2 = "x"', "unknown key"),
        ('window = "1m"\non_no_data = "maybe"', "inconclusive | ok | fire"),
        ('window = "soon"', "duration"),
        ('count = 0\nwithin = "1m"', "positive number of ticks"),
        ('window = "1m"\nsource = "mongo"', "mongodb_uri_env is not set"),
        ('window = "1m"\nsource = "graphite"', "one of probe, mongo"),
    ],
)
def test_bad_rules_are_one_line_config_errors(tmp_path: Path, rule: str, fragment: str) -> None:
    text = (
        '[env.production.watch]\n[[env.production.watch.rules]]\nid = "r"\nseverity = "SEV-1"\n'
        f'when = "error_rate > 5%"\n{rule}\n'
    )
    with pytest.raises(ConfigError) as info:
        _watch(tmp_path, text)
    message = str(info.value)
    assert fragment in message and "\n" not in message
    assert "fixgate.toml" in message and "env.production.watch.rules[0]" in message


def test_bad_condition_names_the_column_and_the_source_metrics(tmp_path: Path) -> None:
    text = (
        '[env.production.watch]\n[[env.production.watch.rules]]\nid = "r"\nseverity = "SEV-5"\n'
        'when = "error_rate > 5%"\nfor = "1m"\n'
    )
    with pytest.raises(ConfigError, match=r"SEV-1 \| SEV-2"):
        _watch(tmp_path, text)
    text = text.replace("SEV-5", "SEV-2").replace("error_rate > 5%", "cpu > 80%")
    with pytest.raises(ConfigError, match=r"unknown metric 'cpu'.*column 1"):
        _watch(tmp_path, text)


def test_interval_longer_than_duration(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="at most the duration"):
        _watch(tmp_path, '[env.production.watch]\nduration = "10s"\ninterval = "1m"\n')


def test_secret_looking_env_names_are_not_echoed(tmp_path: Path) -> None:
    text = (
        "[env.production.watch]\n[env.production.watch.prometheus]\n"
        'url = "http://p:9090"\ntoken_env = "s3cr3t-value!"\n'
    )
    with pytest.raises(ConfigError) as info:
        _watch(tmp_path, text)
    assert "s3cr3t-value!" not in str(info.value)
    assert "token_env" in str(info.value)


def test_prometheus_url_with_credentials_is_refused_unechoed(tmp_path: Path) -> None:
    text = (
        "[env.production.watch]\n[env.production.watch.prometheus]\n"
        'url = "http://admin:hunter2-pw@prom:9090"\n'
    )
    with pytest.raises(ConfigError, match="must not carry credentials") as info:
        _watch(tmp_path, text)
    assert "hunter2" not in str(info.value)
