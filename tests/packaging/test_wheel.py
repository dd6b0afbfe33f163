"""The installed package carries its gate suite: a wheel built from this repository,
installed into a fresh venv outside the checkout, runs the built-in gates from a folder
that holds only fixgate.toml (and the team's own gates/), and runs ``fixgate demo``."""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

import pytest
from gaterun import REPO, staging_config


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("wheel")
    dist = base / "dist"
    # A copy of the tracked tree, so the build leaves nothing in the checkout.
    src = base / "src"
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, files):
        path = REPO / name.decode()
        if path.is_file():
            target = src / name.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(dist),
            str(src),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next(dist.glob("pytest_fixgate-*.whl"))
    env_dir = base / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(env_dir / "bin" / "python"),
            "install",
            "--no-deps",
            "--ignore-installed",  # a copy on PYTHONPATH or in the running env is no install
            "-q",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
        env=_clean_env(),
    )
    # The dependencies come from the site-packages of the interpreter running these
    # tests; the package itself only from the wheel (a venv's own site-packages come
    # first on sys.path, the added ones after it). Not system_site_packages=True: that
    # sees the base interpreter's, which lacks the dependencies when the tests run in
    # a venv themselves. Added after the install: pip would otherwise see the running
    # interpreter's copy of the package and install nothing.
    (_site_packages(env_dir) / "_fixgate_test_deps.pth").write_text(
        "".join(f"import site; site.addsitedir({d!r})\n" for d in _running_site_dirs())
    )
    return env_dir


def _running_site_dirs() -> list[str]:
    dirs = list(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    return [d for d in dirs if Path(d).is_dir()]


def _site_packages(env_dir: Path) -> Path:
    found = subprocess.run(
        [
            str(env_dir / "bin" / "python"),
            "-c",
            "import sysconfig; print(sysconfig.get_path('purelib'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return Path(found)


def _clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHONPATH"))}
    return {**env, **(extra or {})}


def test_the_wheel_ships_the_suite_outside_the_checkout(
    wheel_venv: Path, tmp_path: Path, reference: Any, mongo: Any
) -> None:
    py = wheel_venv / "bin" / "python"
    where = subprocess.run(
        [str(py), "-c", "import pytest_fixgate, sys; print(pytest_fixgate.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        env=_clean_env(),
    ).stdout.strip()
    assert where.startswith(str(wheel_venv)), where
    assert (Path(where).parent / "gates" / "test_health.py").is_file()
    (tmp_path / "fixgate.toml").write_text(
        staging_config(reference.base_url, "", mongodb_uri_env="WHEEL_MONGO_URI")
    )
    own = tmp_path / "gates"
    own.mkdir()
    (own / "test_own.py").write_text(
        "import pytest\n\n"
        "@pytest.mark.gate(id='own.smoke', title='the team\\'s own gate')\n"
        "def test_own(gate):\n"
        "    from pytest_fixgate.outcomes.model import Evidence, Finding, Outcome\n"
        "    gate.record(Finding(Outcome.PASS, Evidence(reason='ran from gates/')))\n"
    )
    # What the gate run imported: the demo's server stack must not be among it.
    (tmp_path / "conftest.py").write_text(
        "import sys\n\n"
        "def pytest_unconfigure(config):\n"
        "    open('modules.txt', 'w').write('\\n'.join(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [str(py), "-m", "pytest", "--gate=staging", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        env=_clean_env({"WHEEL_MONGO_URI": mongo.uri}),
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    verdict = json.loads((tmp_path / "reports" / "staging-latest.json").read_text())
    ids = {g["id"]: g["outcome"] for g in verdict["gates"]}
    assert ids["own.smoke"] == "PASS"
    assert ids["health./api/health/ready"] == "PASS"
    assert ids["mongo.ping"] == "PASS"
    assert verdict["decision"] == "PROMOTE"
    modules = set((tmp_path / "modules.txt").read_text().split())
    assert "pytest_fixgate.plugin" in modules
    assert not {"starlette", "uvicorn", "secantus", "pytest_fixgate.reference"} & modules


@pytest.mark.xdist_group("load")
def test_fixgate_demo_runs_from_the_wheel(wheel_venv: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [str(wheel_venv / "bin" / "fixgate"), "demo", "--gate-report-dir", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=_clean_env(),
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "fixgate: PROMOTE" in done.stdout
