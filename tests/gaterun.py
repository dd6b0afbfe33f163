"""Running ``pytest --gate=ENV`` as a user would: a subprocess, its exit code, its files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
GATES = REPO / "gates"
# Test-only plugins a gate run has no use for; they only cost start-up time.
QUIET_PLUGINS = (
    "-p",
    "no:cacheprovider",
    "-p",
    "no:hypothesispytest",
    "-p",
    "no:benchmark",
    "-p",
    "no:anyio",
)


@dataclass
class GateRunResult:
    exit_code: int
    output: str
    report_dir: Path
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def verdict(self) -> dict[str, Any]:
        return json.loads(self.files["json"].read_text(encoding="utf-8"))

    def outcomes(self) -> dict[str, str]:
        return {g["id"]: g["outcome"] for g in self.verdict["gates"]}

    def gate(self, gate_id: str) -> dict[str, Any]:
        return next(g for g in self.verdict["gates"] if g["id"] == gate_id)


def run_gate(
    workdir: Path,
    config: str,
    *args: str,
    env_name: str = "staging",
    environ: dict[str, str] | None = None,
    suite: Path = GATES,
    timeout: float = 120,
    prefix: tuple[str, ...] = (),
) -> GateRunResult:
    """Write ``config`` to ``workdir/fixgate.toml`` and run the gate suite against it
    (``prefix``: a program to run it under, e.g. ``/usr/bin/time``)."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "fixgate.toml").write_text(config, encoding="utf-8")
    report_dir = workdir / "reports"
    argv = [
        *prefix,
        sys.executable,
        "-m",
        "pytest",
        str(suite),
        f"--gate={env_name}",
        f"--gate-config={workdir / 'fixgate.toml'}",
        f"--gate-report-dir={report_dir}",
        f"--rootdir={REPO}",
        *QUIET_PLUGINS,
        *args,
    ]
    child_env = {**os.environ, **(environ or {})}
    if environ and "PYTHONPATH" in environ and os.environ.get("PYTHONPATH"):
        # A test's own path first; this session's after it (the report-snapshot plugin
        # that tests/conftest.py loads into every gate run is found on it).
        child_env["PYTHONPATH"] = environ["PYTHONPATH"] + os.pathsep + os.environ["PYTHONPATH"]
    child_env.pop("PYTEST_XDIST_WORKER", None)
    child_env.pop("PYTEST_ADDOPTS", None)
    done = subprocess.run(
        argv,
        cwd=workdir,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    result = GateRunResult(done.returncode, done.stdout + done.stderr, report_dir)
    if report_dir.is_dir():
        for path in report_dir.iterdir():
            if not path.name.startswith(f"{env_name}-"):
                continue  # not a report of this run (e.g. an app's own file in reports/)
            kind = {".html": "html", ".xml": "junit"}.get(path.suffix)
            if path.name.endswith("-latest.json"):
                kind = "latest"
            elif path.suffix == ".json":
                kind = "json"
            if kind:
                result.files[kind] = path
    return result


def staging_config(base_url: str, extra: str = "", **keys: str) -> str:
    lines = ["[env.staging]", f'base_url = "{base_url}"']
    lines += [f'{k} = "{v}"' for k, v in keys.items()]
    return "\n".join(lines) + "\n" + extra
