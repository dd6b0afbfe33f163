"""The load table's verdict keys: the runbook's error-rate limit when none is written,
abort_on_fail, and the abort rules they give the load run."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_fixgate.config import load_config, select_env
from pytest_fixgate.errors import ConfigError
from pytest_fixgate.kinds.load.config import load_checks
from pytest_fixgate.kinds.load.session import error_limit, load_request


def load_env(tmp_path: Path, table: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "fixgate.toml"
    path.write_text(f'[env.s]\nbase_url = "http://x"\n[env.s.load]\n{table}', encoding="utf-8")
    return select_env(load_config(path), "s")


def test_a_latency_limit_alone_gets_the_runbooks_error_rate(tmp_path: Path) -> None:
    env = load_env(tmp_path, 'thresholds = ["p(95) < 1500ms"]\n')
    assert [str(t) for t in env.section("load").thresholds] == ["p(95) < 1500ms", "error_rate < 1%"]
    assert [c.id for c in load_checks(env.section("load"))] == ["p(95)", "error_rate"]
    limit = error_limit(env.section("load"), None)
    assert limit is not None and str(limit) == "error_rate < 1%"


def test_a_written_error_rate_is_kept_and_per_endpoint_limits_win(tmp_path: Path) -> None:
    env = load_env(
        tmp_path,
        'thresholds = ["p(95) < 1500ms", "error_rate < 5%"]\n'
        '[env.s.load.endpoints."/a"]\nthresholds = ["error_rate < 2%"]\n',
    )
    assert [str(t) for t in env.section("load").thresholds] == ["p(95) < 1500ms", "error_rate < 5%"]
    assert str(error_limit(env.section("load"), None)) == "error_rate < 5%"
    assert str(error_limit(env.section("load"), "/a")) == "error_rate < 2%"


def test_abort_on_fail_is_on_by_default_and_names_its_limits(tmp_path: Path) -> None:
    env = load_env(tmp_path, 'window = "1m"\nthresholds = ["p(95) < 1500ms", "rps > 5"]\n')
    assert env.section("load").abort_on_fail is True
    spec = load_request(env, tmp_path)
    assert spec.abort_error_rate == (("<", 0.01, "error_rate < 1%"),)
    assert spec.abort_window_p95_ms == (("<", 1500.0, "p(95) < 1500ms"),)
    off = load_env(tmp_path, "abort_on_fail = false\n")
    assert not load_request(off, tmp_path).abort_on_fail


def test_abort_on_fail_must_be_a_boolean(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"env.s.load.abort_on_fail: .*expected true or false"):
        load_env(tmp_path, 'abort_on_fail = "yes"\n')
