"""Helpers for the release tests: throwaway git repositories and verdict variants."""

from __future__ import annotations

import copy
import datetime as _dt
import json
import os
import subprocess
from pathlib import Path
from typing import Any

from pytest_fixgate.reports.verdict import body_sha256

# Fixed identity and dates: every clone of the template has the same commit ids.
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Release Tester",
    "GIT_AUTHOR_EMAIL": "release@example.invalid",
    "GIT_COMMITTER_NAME": "Release Tester",
    "GIT_COMMITTER_EMAIL": "release@example.invalid",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def sh_git(repo: Path, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def make_template(folder: Path) -> str:
    """A repository with one commit; returns its commit id."""
    folder.mkdir(parents=True)
    sh_git(folder, "init", "-q", "-b", "main")
    (folder / "app.txt").write_text("release candidate\n", encoding="utf-8")
    sh_git(folder, "add", "app.txt")
    sh_git(folder, "commit", "-q", "-m", "release candidate")
    return sh_git(folder, "rev-parse", "HEAD")


def clone(template: Path, dest: Path) -> Path:
    subprocess.run(
        ["git", "clone", "-q", str(template), str(dest)], check=True, capture_output=True
    )
    sh_git(dest, "config", "user.name", GIT_ENV["GIT_AUTHOR_NAME"])
    sh_git(dest, "config", "user.email", GIT_ENV["GIT_AUTHOR_EMAIL"])
    return dest


def variant(verdict: dict[str, Any], *, resign: bool = True, **changes: Any) -> dict[str, Any]:
    """A copy of ``verdict`` with ``changes``; re-checksummed unless ``resign`` is False."""
    out = copy.deepcopy(verdict)
    out.update(changes)
    if resign:
        out["sha256"] = body_sha256(out)
    return out


def write(path: Path, verdict: dict[str, Any]) -> Path:
    path.write_text(json.dumps(verdict, indent=2), encoding="utf-8")
    return path


def iso(moment: _dt.datetime) -> str:
    return moment.isoformat(timespec="seconds")


def minimal_verdict() -> dict[str, Any]:
    """A signed one-gate PROMOTE verdict of staging."""
    return variant(
        {
            "schema": "pytest-fixgate/verdict@1",
            "env": "staging",
            "target": "http://127.0.0.1:1",
            "commit": "c" * 40,
            "started": "2026-01-01T00:00:00+00:00",
            "finished": "2026-01-01T00:00:10+00:00",
            "decision": "PROMOTE",
            "reason": "all 1 required gates passed",
            "advisory": False,
            "gates": [{"id": "load.p(95)", "outcome": "PASS", "required": True, "evidence": {}}],
        }
    )
