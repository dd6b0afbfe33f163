"""``fixgate tag``: an annotated tag on HEAD, only for a fresh PROMOTE of HEAD."""

from __future__ import annotations

from pathlib import Path

from pytest_fixgate.release.git import GitError, git, head_commit, tag_object
from pytest_fixgate.release.verdicts import Verdict

__all__ = ["DEFAULT_MESSAGE", "create_tag", "tag_message", "tag_name_problem"]

#: The runbook's words: git tag -a vX.Y.Z -m "Promote staging to prod".
DEFAULT_MESSAGE = "Promote staging to prod"


def tag_message(verdict: Verdict, message: str | None) -> str:
    """The tag message: the user's line, then the verdict in a form ``fixgate show`` reads."""
    data = verdict.data
    return (
        f"{message or DEFAULT_MESSAGE}\n\n"
        f"fixgate: {verdict.decision} ({verdict.reason})\n"
        f"env: {verdict.env} ({data.get('target', '')})\n"
        f"gates: {verdict.counts_line()}\n"
        f"commit: {verdict.commit}\n"
        f"finished: {data['finished']}\n"
        f"report-sha256: {verdict.sha256}\n"
    )


def tag_name_problem(repo: Path, tag: str) -> str | None:
    try:
        git(repo, "check-ref-format", f"refs/tags/{tag}")
    except GitError:
        return f"{tag!r} is not a valid tag name"
    existing = tag_object(repo, tag)
    if existing is not None:
        commit = git(repo, "rev-parse", f"refs/tags/{tag}^{{commit}}")
        return f"tag {tag} already exists (on commit {commit[:12]}): a release tag is never moved"
    return None


def create_tag(repo: Path, tag: str, verdict: Verdict, message: str | None) -> str:
    """Create the annotated tag on HEAD; returns the commit tagged."""
    commit = head_commit(repo)
    git(repo, "tag", "-a", tag, "-F", "-", commit, stdin=tag_message(verdict, message))
    return commit
