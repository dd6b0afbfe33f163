"""The git commands release integration needs, run in one place with a deadline."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from pytest_fixgate.errors import FixgateError

__all__ = ["GitError", "git", "head_commit", "hide_url_credentials", "peeled_commit", "tag_object"]

# git answers these in milliseconds; a hung credential prompt must not hang a release job.
_TIMEOUT_S = 60.0


_URL_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s'\"]+@")


def hide_url_credentials(text: str) -> str:
    """``text`` with the user part of every URL masked: a push remote given as
    ``https://x-access-token:TOKEN@github.com/...`` must not reach a log."""
    return _URL_USERINFO.sub(r"\1***@", text)


class GitError(FixgateError):
    """A git command failed; the message is its last line of stderr."""


def git(repo: Path, *args: str, stdin: str | None = None, check: bool = True) -> str:
    """``git -C repo args...``; stdout stripped. Raise :class:`GitError` when ``check``."""
    argv = ["git", "-C", str(repo), *args]
    try:
        done = subprocess.run(
            argv,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=_TIMEOUT_S,
            check=False,
            # Never wait for a password on a terminal nobody watches.
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
        )
    except FileNotFoundError as exc:
        raise GitError("git is not installed (program not found: git)") from exc
    except subprocess.TimeoutExpired as exc:
        raise GitError(f"git {args[0]} did not finish in {_TIMEOUT_S:g} s") from exc
    if check and done.returncode != 0:
        lines = [ln for ln in done.stderr.strip().splitlines() if ln.strip()]
        last = lines[-1] if lines else f"exit {done.returncode}"
        raise GitError(hide_url_credentials(f"git {' '.join(args[:2])} failed: {last}"))
    return done.stdout.strip()


def head_commit(repo: Path) -> str:
    return git(repo, "rev-parse", "--verify", "HEAD^{commit}")


def tag_object(repo: Path, tag: str) -> str | None:
    """The object ``refs/tags/TAG`` names (the tag object when annotated), or None."""
    out = git(repo, "rev-parse", "--verify", "--quiet", f"refs/tags/{tag}", check=False)
    return out or None


def peeled_commit(repo: Path, tag: str) -> str:
    return git(repo, "rev-parse", "--verify", f"refs/tags/{tag}^{{commit}}")
