"""Uploading a release's reports to its GitHub release with the GitHub CLI, when it can.

``gh`` absent or not logged in: skipped, and said so. ``gh`` present and
logged in but failing: an error (:class:`GhFailed`), never silence.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pytest_fixgate.errors import FixgateError

__all__ = ["GhFailed", "GhUpload", "upload_assets"]

_AUTH_TIMEOUT_S = 30.0
_UPLOAD_TIMEOUT_S = 300.0


class GhFailed(FixgateError):
    """``gh`` was there and logged in, and the upload failed."""


@dataclass(frozen=True)
class GhUpload:
    uploaded: bool
    message: str


def _run(argv: list[str], cwd: Path, timeout_s: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
        env={**os.environ, "GH_PROMPT_DISABLED": "1"},
    )


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def upload_assets(repo: Path, tag: str, files: list[Path]) -> GhUpload:
    gh = shutil.which("gh")
    if gh is None:
        return GhUpload(False, "skipped the GitHub release upload: gh is not on PATH")
    try:
        auth = _run([gh, "auth", "status"], repo, _AUTH_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise GhFailed(f"gh auth status did not answer in {_AUTH_TIMEOUT_S:g} s") from None
    if auth.returncode != 0:
        return GhUpload(
            False,
            "skipped the GitHub release upload: gh is not logged in "
            "(gh auth status failed; set GH_TOKEN in CI)",
        )
    argv = [gh, "release", "upload", tag, *map(str, files), "--clobber"]
    try:
        done = _run(argv, repo, _UPLOAD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise GhFailed(f"gh release upload did not finish in {_UPLOAD_TIMEOUT_S:g} s") from None
    if done.returncode != 0:
        why = _last_line(done.stderr) or _last_line(done.stdout) or f"exit {done.returncode}"
        raise GhFailed(f"gh release upload {tag} failed (exit {done.returncode}): {why}")
    names = ", ".join(f.name for f in files)
    return GhUpload(True, f"uploaded {names} to the GitHub release {tag}")
