"""Loading fixgate.toml: defaults, overrides, and one clear line for every mistake."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pytest_fixgate.config import find_config, load_config, select_env
from pytest_fixgate.errors import ConfigError
from pytest_fixgate.suite import BUILTIN_LOCUSTFILES


def write(tmp_path: Path, text: str, name: str = "fixgate.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_runbook_defaults_apply(tmp_path: Path) -> None:
    env = select_env(
        load_config(write(tmp_path, '[env.staging]\nbase_url = "http://x/"\n')), "staging"
    )
    assert env.base_url == "http://x"
    assert [h.path for h in env.section("health")] == [
        "/api/health",
        "/api/health/db",
        "/api/health/redis",
        "/api/health/ready",
    ]
    assert env.section("health")[3].expect_json == {"ready": True}
    assert env.section("load") is None and env.mongodb_uri_env is None


def test_own_health_entries_replace_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[env.prod]
base_url = "https://fixzit.example"
[[env.prod.health]]
path = "/api/health/ready"
expect_json = { ready = true, checks = { mongodb = "ok" } }
timeout = "1500ms"
[env.prod.load]
duration = "30s"
thresholds = ["p(95) < 1500ms", "p(99) < 2.5s"]
[env.prod.gates."health./api/health/ready"]
required = false
""",
    )
    env = select_env(load_config(path), "prod")
    assert [h.path for h in env.section("health")] == ["/api/health/ready"]
    assert env.section("health")[0].expect_json == {"ready": True, "checks": {"mongodb": "ok"}}
    assert env.section("health")[0].timeout_s == 1.5
    assert env.section("load") is not None and env.section("load").duration_s == 30
    # The runbook's error_rate < 1% joins latency limits that would hide failures.
    assert [t.key for t in env.section("load").thresholds] == ["p(95)", "p(99)", "error_rate"]
    assert env.section("load").locustfile == BUILTIN_LOCUSTFILES / "ready.py"
    assert env.gates["health./api/health/ready"].required is False


def test_pyproject_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, '[tool.fixgate.env.staging]\nbase_url = "http://x"\n', "pyproject.toml")
    path = find_config(None, tmp_path)
    assert path.name == "pyproject.toml"
    assert select_env(load_config(path), "staging").base_url == "http://x"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[env.staging]\nbase_url = "http://x"\n[env.staging.load]\nthresholds = ["p(95) <"]\n',
            "fixgate.toml: env.staging.load.thresholds[0]: expected a value, found end of "
            "expression at column 8 in 'p(95) <'",
        ),
        (
            '[env.staging]\nbase_ulr = "http://x"\n',
            "fixgate.toml: env.staging.base_url: missing required key",
        ),
        (
            '[env.staging]\nbase_url = "http://x"\ntimout = "5s"\n',
            "fixgate.toml: env.staging.timout: unknown key",
        ),
        (
            '[env.staging]\nbase_url = "ftp://x"\n',
            "fixgate.toml: env.staging.base_url: got 'ftp://x', expected an http(s) URL",
        ),
        (
            '[env.staging]\nbase_url = "http://x"\n[[env.staging.health]]\npath = "/h"\n'
            'expect_status = "200"\n',
            "fixgate.toml: env.staging.health[0].expect_status: got '200', "
            "expected an HTTP status code",
        ),
        (
            '[env.staging]\nbase_url = "http://x"\n[env.staging.load]\nduration = "5 minutes"\n',
            "fixgate.toml: env.staging.load.duration: got '5 minutes', expected a duration",
        ),
        (
            '[env.staging]\nbase_url = "http://x"\n[env.staging.load]\nusers = true\n',
            "fixgate.toml: env.staging.load.users: got True, expected a positive number",
        ),
        ("[env.staging\n", "fixgate.toml: not valid TOML"),
        ("[other]\n", "fixgate.toml: env: missing table"),
    ],
)
def test_errors_name_file_key_value_and_expectation(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    text_of_error = str(info.value).replace(str(tmp_path) + "/", "")
    assert text_of_error.startswith(message), text_of_error
    assert "\n" not in text_of_error


def test_typo_gets_a_suggestion(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="did you mean 'timeout'"):
        load_config(write(tmp_path, '[env.s]\nbase_url = "http://x"\ntimout = "5s"\n'))


def test_unknown_env_lists_the_defined_ones(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[env.staging]\nbase_url = "http://x"\n'))
    with pytest.raises(
        ConfigError,
        match=r"env.prod: no such environment \(--gate=prod; "
        r"defined: staging\)",
    ):
        select_env(config, "prod")


def test_secret_pasted_into_an_env_key_is_not_echoed(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[env.s]\nbase_url = "http://x"\nmongodb_uri_env = "mongodb://admin:hunter2-secret@db/x"\n',
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "mongodb_uri_env" in str(info.value)
    assert "hunter2" not in str(info.value)


def test_credentials_in_base_url_are_refused_unechoed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, '[env.s]\nbase_url = "https://u:pa55word@x"\n'))
    assert "pa55word" not in str(info.value)


def test_missing_config_file_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="pass --gate-config PATH"):
        find_config(None, tmp_path)


def test_shipped_configs_load() -> None:
    repo = Path(__file__).resolve().parents[2]
    for path in [repo / "fixgate.toml", *sorted((repo / "examples").glob("*.toml"))]:
        config = load_config(path)
        assert config.envs, path


def test_fixzit_example_describes_the_real_application() -> None:
    repo = Path(__file__).resolve().parents[2]
    env = select_env(load_config(repo / "examples" / "fixzit.toml"), "staging")
    assert [h.path for h in env.section("health")] == [
        "/api/health",
        "/api/health/ready",
        "/api/health/live",
        "/api/health/database",
    ]
    assert env.section("health")[0].expect_json == {"status": "healthy", "database": "connected"}
    assert env.redis_url_env is None


def test_warmup_must_be_shorter_than_the_run(tmp_path: Path) -> None:
    path = write(
        tmp_path, '[env.s]\nbase_url = "http://x"\n[env.s.load]\nduration = "10s"\nwarmup = "10s"\n'
    )
    with pytest.raises(
        ConfigError,
        match=r"env.s.load.warmup: got 10.0, expected less than "
        r"the duration \(10 s\)",
    ):
        load_config(path)


@pytest.mark.parametrize(
    ("thresholds", "message"),
    [
        ('["error_rate == 1%"]', "expected a limit with <, <=, > or >="),
        ('["p(95) < 1s", "p(95) < 2s"]', "expected one threshold per metric (p(95))"),
        ('["value == 1"]', "expected a metric among"),
    ],
)
def test_load_thresholds_are_limits_one_per_metric(
    tmp_path: Path, thresholds: str, message: str
) -> None:
    path = write(
        tmp_path, f'[env.s]\nbase_url = "http://x"\n[env.s.load]\nthresholds = {thresholds}\n'
    )
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(path)


# -- config that would silently remove checks is an error -----------------------------


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("health = []", "env.s.health: an empty list removes every health check"),
        (
            '[[env.s.health]]\npath = "/x"\nexpect_json = {}',
            "env.s.health[0].expect_json: got {}, expected at least one expected key",
        ),
        ('[[env.s.health]]\npath = "/x"', "no expect_json: say what the body must hold"),
        (
            '[[env.s.health]]\npath = "/x"\nexpect_json = { a = 1 }\nstatus_only = true',
            "status_only",
        ),
        ("timeout = nan", "env.s.timeout: got nan, expected a positive, finite duration"),
        ("timeout = inf", "env.s.timeout: got inf, expected a positive, finite duration"),
        ("[env.s.load]\nthresholds = []", "env.s.load.thresholds: got [], expected at least one"),
        ("[env.s.load]\nduration = inf", "expected a positive, finite duration"),
        ("[env.s.sentry]\nthresholds = []", "env.s.sentry.thresholds: got [], expected at least"),
    ],
    ids=[
        "health-empty",
        "expect_json-empty",
        "no-body-check",
        "status_only-with-body",
        "nan",
        "inf",
        "load-no-thresholds",
        "inf-duration",
        "sentry-no-thresholds",
    ],
)
def test_config_that_removes_checks_is_an_error(tmp_path: Path, body: str, words: str) -> None:
    head, _, rest = body.partition("\n")
    text = '[env.s]\nbase_url = "http://127.0.0.1:9"\n'
    text += f"{body}\n" if head.startswith("[") else f"{head}\n{rest}\n"
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert words in str(info.value)
    assert "\n" not in str(info.value)


def test_status_only_health_check_is_allowed(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[env.s]\nbase_url = "http://127.0.0.1:9"\n'
        '[[env.s.health]]\npath = "/live"\nstatus_only = true\nexpect_status = 204\n',
    )
    check = select_env(load_config(path), "s").section("health")[0]
    assert (check.path, check.expect_status, check.expect_json) == ("/live", 204, None)


def test_nothing_measured_never_holds() -> None:
    from pytest_fixgate.config.thresholds import compile_threshold

    for text in ("p(95) < 1500ms", "error_rate >= 1%", "count > 0", 'value == "x"', "rps != 3"):
        assert compile_threshold(text).holds(None) is False, text
