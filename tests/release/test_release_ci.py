"""The CI examples in examples/ci/: the shell script run for real against the reference
service (stubbed deploy steps, a bare repository as the remote), the GitHub Actions
workflow parsed and checked against the documented exit codes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from gaterun import QUIET_PLUGINS, REPO
from releasekit import clone, make_template, sh_git

from pytest_fixgate.decision import EXIT_CODES

CI = REPO / "examples" / "ci"
SECRET = "ci-secret-" + "7e57" * 6

BAD_DEPLOY = """
import json, sys, urllib.request
# A production deploy that breaks the service: every request answers 500.
req = urllib.request.Request(sys.argv[1] + "/__fixgate/faults", method="PUT",
                             data=json.dumps({"error_ratio": 1.0}).encode())
urllib.request.urlopen(req, timeout=5).read()
"""


def _config(base_url: str) -> str:
    return f"""
[env.staging]
base_url = "{base_url}"
token_env = "CI_HEALTH_TOKEN"
timeout = "2s"

[env.production]
base_url = "{base_url}"
token_env = "CI_HEALTH_TOKEN"

[env.production.watch]
interval = "1s"
probe_timeout = "800ms"

[[env.production.watch.rules]]
id = "errors"
severity = "SEV-1"
when = "error_rate > 5%"
window = "2s"
"""


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ci") / "template"
    make_template(folder)
    return folder


@pytest.fixture
def workspace(tmp_path: Path, template: Path, reference: Any) -> dict[str, Path]:
    repo = clone(template, tmp_path / "repo")
    (repo / "fixgate.toml").write_text(_config(reference.base_url))
    remote = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    sh_git(repo, "remote", "set-url", "origin", str(remote))
    (tmp_path / "bad_deploy.py").write_text(BAD_DEPLOY)
    return {"repo": repo, "remote": remote, "log": tmp_path / "deploy.log", "tmp": tmp_path}


def run_script(
    ws: dict[str, Path], watch: str, **settings: str
) -> subprocess.CompletedProcess[str]:
    log = ws["log"]
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTEST_XDIST_WORKER", "PYTEST_ADDOPTS", "FIXGATE_COMMIT", "GITHUB_SHA")
    }
    env.update(
        FIXGATE_VERSION="v1.0.0",
        FIXGATE_DEPLOY_STAGING=f"echo staging >> {log}",
        FIXGATE_DEPLOY_PRODUCTION=f"echo production >> {log}",
        FIXGATE_ROLLBACK=f"echo rollback >> {log}",
        FIXGATE_WATCH=watch,
        FIXGATE_PYTEST=f"{sys.executable} -m pytest",
        FIXGATE_CLI=f"{sys.executable} -m pytest_fixgate.cli",
        FIXGATE_GATE_ARGS=" ".join(QUIET_PLUGINS),
        CI_HEALTH_TOKEN=SECRET,
        PATH=os.environ["PATH"],
    )
    env.update(settings)
    return subprocess.run(
        ["sh", str(CI / "release.sh")],
        cwd=ws["repo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def deployed(ws: dict[str, Path]) -> list[str]:
    return ws["log"].read_text().split() if ws["log"].exists() else []


def remote_tags(ws: dict[str, Path]) -> list[str]:
    return sh_git(ws["remote"], "tag", "--list").split()


def no_secret(ws: dict[str, Path], done: subprocess.CompletedProcess[str]) -> None:
    assert SECRET not in done.stdout + done.stderr
    for path in (ws["repo"] / "reports").rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text(errors="replace"), path


def test_script_promote_tags_attaches_deploys_and_watches(workspace: dict[str, Path]) -> None:
    done = run_script(workspace, "3s")
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert deployed(workspace) == ["staging", "production"]
    assert remote_tags(workspace) == ["v1.0.0"]
    assert "release: production watch: PROMOTE - v1.0.0 stays" in out
    # The notes went along: a fresh clone shows the verified verdict.
    other = clone(workspace["remote"], workspace["tmp"] / "other")
    sh_git(other, "fetch", "-q", "origin", "refs/notes/fixgate:refs/notes/fixgate")
    shown = subprocess.run(
        [sys.executable, "-m", "pytest_fixgate.cli", "show", "v1.0.0", "-C", str(other)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert "decision: PROMOTE" in shown.stdout and "(verified)" in shown.stdout
    no_secret(workspace, done)


def test_script_hold_stops_before_tag_and_deploy(workspace: dict[str, Path], reference) -> None:
    reference.set_faults(mongo_down=True)
    done = run_script(workspace, "3s")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "release: staging gate: HOLD - not tagging, not deploying" in done.stdout
    assert deployed(workspace) == ["staging"]
    assert remote_tags(workspace) == [] and sh_git(workspace["repo"], "tag") == ""


def test_script_rolls_back_on_exit_10(workspace: dict[str, Path], reference) -> None:
    bad = f"{sys.executable} {workspace['tmp'] / 'bad_deploy.py'} {reference.base_url}"
    done = run_script(
        workspace, "30s", FIXGATE_DEPLOY_PRODUCTION=f"echo production >> {workspace['log']}; {bad}"
    )
    out = done.stdout + done.stderr
    assert done.returncode == 10, out
    assert "release: production watch: ROLLBACK" in out and "release: rolled back" in out
    assert deployed(workspace) == ["staging", "production", "rollback"]
    assert remote_tags(workspace) == ["v1.0.0"]  # the tag stays: it records what was promoted
    no_secret(workspace, done)


def test_script_is_posix_sh_and_set_e_safe() -> None:
    text = (CI / "release.sh").read_text()
    assert subprocess.run(["sh", "-n", str(CI / "release.sh")], check=False).returncode == 0
    assert "set -eu" in text
    # Every gate run keeps its exit code instead of tripping set -e.
    gate_lines = [ln for ln in text.splitlines() if "--gate=" in ln and "pytest_cmd" in ln]
    assert len(gate_lines) == 2 and all(ln.rstrip().endswith("|| code=$?") for ln in gate_lines)


def _workflow() -> dict[str, Any]:
    return yaml.safe_load((CI / "github-release.yml").read_text())


def test_workflow_parses_and_uses_the_documented_exit_codes() -> None:
    flow = _workflow()
    steps = flow["jobs"]["release"]["steps"]
    runs = {s.get("name", s.get("uses", "")): s for s in steps}
    assert "pytest --gate=staging || code=$?" in runs["Staging gate"]["run"]
    assert (
        "pytest --gate=production --watch=30m || code=$?"
        in runs["Production watch (30 minutes)"]["run"]
    )
    assert "fixgate tag" in runs["Tag and attach the reports"]["run"]
    assert "fixgate attach" in runs["Tag and attach the reports"]["run"]
    assert runs["Upload the gate reports"]["if"] == "always()"
    assert runs["Roll back (exit 10)"]["if"] == "steps.watch.outputs.exit_code == '10'"
    assert runs["Stop unless PROMOTE"]["if"] == "steps.staging.outputs.exit_code != '0'"
    # Every exit code the workflow compares with is one the README documents.
    text = (CI / "github-release.yml").read_text()
    compared = {int(c) for c in re.findall(r"exit_code [!=]= '(\d+)'", text)}
    assert compared and compared <= set(EXIT_CODES.values())
    names = [s["name"] for s in steps if "name" in s]
    order = [
        "Staging gate",
        "Stop unless PROMOTE",
        "Tag and attach the reports",
        "Deploy to production",
        "Production watch (30 minutes)",
        "Roll back (exit 10)",
    ]
    assert [names.index(n) for n in order] == sorted(names.index(n) for n in order)


def test_workflow_shell_steps_parse() -> None:
    for step in _workflow()["jobs"]["release"]["steps"]:
        if "run" not in step:
            continue
        script = re.sub(r"\$\{\{[^}]*\}\}", "X", step["run"])  # Actions expressions
        done = subprocess.run(
            ["bash", "-n", "-c", script], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, (step.get("name"), done.stderr)
