"""`fixgate demo`'s build gates: the demo app, the local advisory server and the config the
demo adds, run through `pytest --gate` (the demo's own stack is not needed for these gates)."""

from __future__ import annotations

import datetime as _dt
import json
import shutil
import tomllib
from pathlib import Path

import pytest
from gaterun import run_gate, staging_config

from pytest_fixgate.demo_build import demo_build_stack, prepare_demo_app
from pytest_fixgate.reference import free_port

needs_npm = pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")


def test_the_demo_app_is_copied_with_a_fresh_last_budget_entry(tmp_path: Path) -> None:
    app = prepare_demo_app(tmp_path / "app")
    history = json.loads((app / "reports" / "bundle-budget-history.json").read_text())
    assert len(history) == 2 and history[0]["violations"]  # an older, failing entry
    assert history[-1]["timestamp"].startswith(_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d"))
    assert "lodash-4.17.21.tgz" in (app / "package-lock.json").read_text()
    bad = prepare_demo_app(tmp_path / "bad", "vulnerable")
    assert "requests==2.19.1" in (bad / "requirements.txt").read_text()
    assert '"version": "4.17.11"' in (bad / "package-lock.json").read_text()


def run_build_gates(tmp_path: Path, kind: str):
    with demo_build_stack(tmp_path, "staging", kind) as build:
        tomllib.loads(staging_config("http://127.0.0.1:1") + build)  # it parses as TOML
        # The whole suite: gates whose sections are absent are not configured.
        return run_gate(tmp_path, staging_config(f"http://127.0.0.1:{free_port()}", build))


@needs_npm
def test_the_demo_build_gates_pass_offline(tmp_path: Path) -> None:
    result = run_build_gates(tmp_path, "healthy")
    outcomes = {k: v for k, v in result.outcomes().items() if not k.startswith("health.")}
    assert outcomes == {
        "command.lint": "PASS",
        "bundle.budget": "PASS",
        "audit.python": "PASS",
        "audit.node": "PASS",
    }


@needs_npm
def test_the_vulnerable_demo_app_fails_both_audits(tmp_path: Path) -> None:
    result = run_build_gates(tmp_path, "vulnerable")
    assert result.gate("audit.python")["outcome"] == "FAIL"
    assert "PYSEC-2018-28" in result.gate("audit.python")["reason"]
    assert result.gate("audit.node")["outcome"] == "FAIL"
    assert "GHSA-jf85-cpcp-j695" in result.gate("audit.node")["reason"]
    assert result.exit_code == 1
