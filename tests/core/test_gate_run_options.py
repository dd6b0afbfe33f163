"""A gate run runs the gates and decides, or it is a usage error (exit 4): options that
run no gate (--fixtures, --collect-only, --help, ...), also given by PYTEST_ADDOPTS, and
a disabled internal plugin of fixgate (-p no:fixgate-reporter) never exit 0 or 1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from gaterun import GATES, REPO, run_gate, staging_config

from pytest_fixgate.plugin import INTERNAL_PLUGINS
from pytest_fixgate.reference import free_port


def _config() -> str:
    # The target is down: a real run is a HOLD (exit 1).
    return staging_config(f"http://127.0.0.1:{free_port()}", token_env="T_TOKEN")


@pytest.mark.parametrize(
    "option",
    [
        "--fixtures",
        "--fixtures-per-test",
        "--collect-only",
        "--setup-only",
        "--setup-plan",
        "--markers",
        "--help",
    ],
)
def test_an_option_that_runs_no_gate_is_a_usage_error(tmp_path: Path, option: str) -> None:
    run = run_gate(tmp_path, _config(), option, environ={"T_TOKEN": "tok-1234"})
    assert run.exit_code == 4, run.output
    assert f"fixgate: {option} runs no gate" in run.output
    assert not run.files  # no verdict written


def test_pytest_addopts_fixtures_is_a_usage_error_too(tmp_path: Path) -> None:
    (tmp_path / "fixgate.toml").write_text(_config(), encoding="utf-8")
    env = {**os.environ, "PYTEST_ADDOPTS": "--fixtures", "T_TOKEN": "tok-1234"}
    env.pop("PYTEST_XDIST_WORKER", None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(GATES), "--gate=staging", f"--rootdir={REPO}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 4, done.stdout + done.stderr
    assert not (tmp_path / "reports").exists()


@pytest.mark.parametrize("plugin", INTERNAL_PLUGINS)
def test_disabling_an_internal_plugin_is_a_usage_error(tmp_path: Path, plugin: str) -> None:
    run = run_gate(tmp_path, _config(), "-p", f"no:{plugin}", environ={"T_TOKEN": "tok-1234"})
    assert run.exit_code == 4, run.output
    lines = [line for line in run.output.splitlines() if "fixgate:" in line]
    assert lines == [
        f"ERROR: fixgate: -p no:{plugin} disables a part of fixgate; a gate run needs all of it"
    ], run.output
    assert not run.files
