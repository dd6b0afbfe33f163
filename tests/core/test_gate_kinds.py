"""Gate kinds as plugins: a third-party kind joins through the same hook as the built-in
ones (config section and its errors, implied gate ids, parametrization, secrets)."""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from gaterun import QUIET_PLUGINS, REPO, staging_config

from pytest_fixgate.config import load_config, select_env
from pytest_fixgate.errors import ConfigError
from pytest_fixgate.kinds import GateKind
from pytest_fixgate.kinds.builtin import BUILTIN_KIND_PLUGINS, builtin_kinds
from pytest_fixgate.reference import free_port

# A plugin kind in its smallest form (the conftest.py of the team's gates/ folder),
# with a secret variable, and the gate test that uses it. The README's example kind,
# a package, runs in test_the_readme_example_kind_runs_end_to_end.
KIND_PLUGIN = """
from pytest_fixgate.kinds import GateKind

def parse_ping(table, ctx):
    hosts = table.get("hosts", list, expected="a list of host names")
    table.finish()
    return tuple(hosts)

def pytest_fixgate_gate_kinds():
    return [GateKind(
        section="ping",
        parse=parse_ping,
        gate_ids=lambda hosts, env: [f"ping.{h}" for h in hosts],
        params={"ping_host": lambda hosts, env: [(h, h) for h in hosts]},
        secret_envs=lambda hosts: ["PING_TOKEN"],
    )]
"""

KIND_GATE = """
import os
import pytest
from pytest_fixgate.outcomes.model import Evidence, Finding, Outcome

@pytest.mark.gate(id="ping.{ping_host}", title="host answers", needs="ping")
def test_ping(gate, ping_host):
    ok = ping_host == "127.0.0.1"
    gate.record(Finding(Outcome.PASS if ok else Outcome.FAIL,
                        Evidence(reason=f"{ping_host} token {os.environ['PING_TOKEN']}")))
"""


def _gate_run(folder: Path, *args: str, **environ: str) -> tuple[int, str, dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--gate=staging", *QUIET_PLUGINS, *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, **environ},
    )
    latest = folder / "reports" / "staging-latest.json"
    verdict = json.loads(latest.read_text()) if latest.is_file() else {}
    return done.returncode, done.stdout + done.stderr, verdict


@pytest.fixture
def team_folder(tmp_path: Path, reference: Any) -> Path:
    (tmp_path / "fixgate.toml").write_text(
        staging_config(reference.base_url, '[env.staging.ping]\nhosts = ["127.0.0.1"]\n')
    )
    gates = tmp_path / "gates"
    gates.mkdir()
    (gates / "conftest.py").write_text(KIND_PLUGIN)
    (gates / "test_ping.py").write_text(KIND_GATE)
    return tmp_path


def test_a_plugin_kind_runs_its_gates_and_redacts_its_secrets(team_folder: Path) -> None:
    token = "ping-" + os.urandom(8).hex()
    code, output, verdict = _gate_run(team_folder, PING_TOKEN=token)
    assert code == 0, output
    gate = next(g for g in verdict["gates"] if g["id"] == "ping.127.0.0.1")
    assert gate["outcome"] == "PASS"
    assert gate["reason"] == "127.0.0.1 token ***"
    for path in (team_folder / "reports").iterdir():
        assert token not in path.read_text(), path
    assert token not in output


def test_a_plugin_kind_is_held_to_its_implied_gates(team_folder: Path) -> None:
    (team_folder / "gates" / "test_ping.py").unlink()
    code, output, verdict = _gate_run(team_folder, PING_TOKEN="x")
    assert code == 1, output
    gate = next(g for g in verdict["gates"] if g["id"] == "ping.127.0.0.1")
    assert (gate["outcome"], gate["reason"][:11]) == ("ERROR", "did not run")


def test_a_plugin_kind_validates_its_section(team_folder: Path) -> None:
    config = team_folder / "fixgate.toml"
    config.write_text(config.read_text().replace("hosts = ", "hots = "))
    code, output, _ = _gate_run(team_folder)
    assert code == 4, output
    assert "env.staging.ping.hosts: missing required key" in output


def readme_example(folder: Path) -> None:
    """Write the README's example kind (its ``# gates/...`` code blocks) into ``folder``."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```python\n# (gates/\S+)\n(.*?)^```", readme, re.S | re.M)
    assert len(blocks) == 6, [name for name, _ in blocks]
    for name, code in blocks:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(code, encoding="utf-8")


def test_the_readme_example_kind_runs_end_to_end(tmp_path: Path, reference: Any) -> None:
    readme_example(tmp_path)
    port = urlsplit(reference.base_url).port
    closed = free_port()
    (tmp_path / "fixgate.toml").write_text(
        staging_config(
            reference.base_url, f'[env.staging.ping]\nhosts = ["127.0.0.1"]\nport = {port}\n'
        )
    )
    code, output, verdict = _gate_run(tmp_path)
    assert code == 0, output
    gate = next(g for g in verdict["gates"] if g["id"] == "ping.127.0.0.1")
    assert gate["outcome"] == "PASS" and f"127.0.0.1:{port} accepted in" in gate["reason"]
    # Nothing listening: the measurement cannot be taken, the gate is ERROR, the run HOLD.
    config = tmp_path / "fixgate.toml"
    config.write_text(config.read_text().replace(f"port = {port}", f"port = {closed}"))
    code, output, verdict = _gate_run(tmp_path)
    gate = next(g for g in verdict["gates"] if g["id"] == "ping.127.0.0.1")
    assert (code, gate["outcome"]) == (1, "ERROR"), output
    assert f"127.0.0.1:{closed}" in gate["reason"]
    # Its section is validated like a built-in one.
    config.write_text(config.read_text().replace("hosts = ", "hots = "))
    code, output, _ = _gate_run(tmp_path)
    assert code == 4 and "env.staging.ping.hosts: missing required key" in output, output


def test_unknown_table_suggests_every_kind(tmp_path: Path) -> None:
    path = tmp_path / "fixgate.toml"
    path.write_text('[env.staging]\nbase_url = "http://127.0.0.1:9"\n[env.staging.laod]\n')
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert "env.staging.laod" in message and "did you mean 'load'?" in message
    for kind in builtin_kinds():
        if kind.section:
            assert kind.section in message, kind.section


def test_every_builtin_kind_is_a_plugin_of_its_own(pytestconfig: pytest.Config) -> None:
    # Each built-in kind is a module registered with pytest under its own name,
    # implementing the hook a third-party kind implements.
    for name in BUILTIN_KIND_PLUGINS:
        module = importlib.import_module(name)
        assert pytestconfig.pluginmanager.get_plugin(name) is module, name
        assert all(isinstance(k, GateKind) for k in module.pytest_fixgate_gate_kinds()), name
    sections = [k.section for k in builtin_kinds()]
    assert {"health", "load", "sentry"} <= set(sections)
    assert len(sections) == len(set(sections))


def test_implied_gates_come_from_config(tmp_path: Path) -> None:
    path = tmp_path / "fixgate.toml"
    path.write_text(
        '[env.s]\nbase_url = "http://127.0.0.1:9"\nmongodb_uri_env = "M"\n'
        '[env.s.load]\nthresholds = ["p(99) < 2s"]\n'
    )
    env = select_env(load_config(path), "s")
    assert env.implied_gates[:4] == tuple(
        f"health.{p}"
        for p in ("/api/health", "/api/health/db", "/api/health/redis", "/api/health/ready")
    )
    assert "mongo.ping" in env.implied_gates and "redis.ping" not in env.implied_gates
    assert {"load.p(99)", "load.error_rate"} <= set(env.implied_gates)
