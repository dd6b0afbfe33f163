"""The verdict and HTML report of a release, kept with its tag as a git note.

One note per tag under ``refs/notes/fixgate`` (publish with ``git push origin
refs/notes/fixgate``), attached to the tag object (to the commit for a
lightweight tag). The note is one JSON document, schema
``pytest-fixgate/release-note@1``::

    {"schema", "tag", "commit", "attached",
     "verdict": {...the JSON verdict, with its own sha256...},
     "html": {"name", "sha256", "text"} | null}

Reading it back verifies, in order: the note is there and is such a document;
the verdict's sha256; the HTML's sha256; the note's and the verdict's commit
are the tag's commit; and, for a tag ``fixgate tag`` made, the digest in the
tag message is the verdict's.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_fixgate import timing
from pytest_fixgate.errors import FixgateError
from pytest_fixgate.release.git import git, peeled_commit, tag_object
from pytest_fixgate.release.signing import SigningKey, signature_problem
from pytest_fixgate.release.verdicts import Verdict, VerdictUnreadable, verdict_from_data

__all__ = [
    "NOTES_REF",
    "NOTE_SCHEMA",
    "NoteProblem",
    "ReleaseRecord",
    "build_note",
    "note_target",
    "read_record",
    "sha256_text",
    "tag_digest",
    "verdict_mismatch",
    "write_note",
]

NOTES_REF = "refs/notes/fixgate"
NOTE_SCHEMA = "pytest-fixgate/release-note@1"
_DIGEST_LINE = re.compile(r"^report-sha256: ([0-9a-f]{64})$", re.MULTILINE)


class NoteProblem(FixgateError):
    """The tag has no trustworthy record: missing, tampered, or for another commit."""


@dataclass(frozen=True)
class ReleaseRecord:
    """A tag's verified note."""

    tag: str
    commit: str
    attached: str
    verdict: Verdict
    html_name: str | None
    html_text: str | None


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def build_note(tag: str, commit: str, verdict: Verdict, html: Path | None) -> str:
    html_entry: dict[str, Any] | None = None
    if html is not None:
        text = html.read_text(encoding="utf-8")
        html_entry = {"name": html.name, "sha256": sha256_text(text), "text": text}
    note = {
        "schema": NOTE_SCHEMA,
        "tag": tag,
        "commit": commit,
        "attached": timing.utcnow().isoformat(timespec="seconds"),
        "verdict": verdict.data,
        "html": html_entry,
    }
    return json.dumps(note, ensure_ascii=False, indent=1) + "\n"


def note_target(repo: Path, tag: str) -> str:
    obj = tag_object(repo, tag)
    if obj is None:
        raise NoteProblem(f"no tag {tag} in this repository")
    return obj


def write_note(repo: Path, tag: str, text: str) -> bool:
    """Store ``text`` as the tag's note; True when it replaced an earlier one."""
    target = note_target(repo, tag)
    existed = bool(git(repo, "notes", f"--ref={NOTES_REF}", "list", target, check=False))
    git(repo, "notes", f"--ref={NOTES_REF}", "add", "-f", "-F", "-", target, stdin=text)
    return existed


def tag_digest(repo: Path, tag: str) -> str | None:
    """The report digest written into an annotated tag's message by ``fixgate tag``."""
    if git(repo, "cat-file", "-t", f"refs/tags/{tag}") != "tag":
        return None
    body = git(repo, "cat-file", "tag", f"refs/tags/{tag}")
    match = _DIGEST_LINE.search(body)
    return match.group(1) if match else None


def verdict_mismatch(repo: Path, tag: str, verdict: Verdict) -> str | None:
    """Why ``verdict`` is not the verdict of ``tag``: another commit, or another report
    than the one the tag message names."""
    commit = peeled_commit(repo, tag)
    if verdict.commit != commit:
        return f"it gated commit {verdict.commit[:12] or '(none)'}, {tag} is commit {commit[:12]}"
    digest = tag_digest(repo, tag)
    if digest is not None and digest != verdict.sha256:
        return f"{tag} was tagged for report {digest[:12]}, this is report {verdict.sha256[:12]}"
    return None


def read_record(repo: Path, tag: str, key: SigningKey | None = None) -> ReleaseRecord:
    """The tag's note, verified (its signature too when ``key`` is configured);
    :class:`NoteProblem` says what is wrong."""
    target = note_target(repo, tag)
    commit = peeled_commit(repo, tag)
    text = git(repo, "notes", f"--ref={NOTES_REF}", "show", target, check=False)
    if not text:
        raise NoteProblem(
            f"no fixgate note for {tag} in {NOTES_REF} (attach one with `fixgate attach`; "
            f"a clone needs `git fetch origin {NOTES_REF}:{NOTES_REF}`)"
        )
    try:
        note = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NoteProblem(f"the note for {tag} is not JSON: it was edited by hand") from exc
    if not isinstance(note, dict) or note.get("schema") != NOTE_SCHEMA:
        raise NoteProblem(f"the note for {tag} is not a fixgate release record")
    try:
        verdict = verdict_from_data(note.get("verdict"), f"the verdict in the note for {tag}")
    except VerdictUnreadable as exc:
        raise NoteProblem(str(exc)) from exc
    if not verdict.digest_ok:
        raise NoteProblem(
            f"the verdict in the note for {tag} was tampered with: its sha256 does not verify"
        )
    unsigned = signature_problem(verdict.data, key)
    if unsigned:
        raise NoteProblem(f"the verdict in the note for {tag}: {unsigned}")
    html = note.get("html")
    if html is not None and (
        not isinstance(html, dict) or sha256_text(str(html.get("text", ""))) != html.get("sha256")
    ):
        raise NoteProblem(
            f"the HTML report in the note for {tag} was tampered with: its sha256 does not verify"
        )
    if note.get("tag") != tag:
        raise NoteProblem(f"the note on {tag} was recorded for tag {note.get('tag')!r}")
    if note.get("commit") != commit:
        raise NoteProblem(
            f"the note attached to {tag} is for commit {str(note.get('commit'))[:12]}, "
            f"but {tag} is commit {commit[:12]}"
        )
    mismatch = verdict_mismatch(repo, tag, verdict)
    if mismatch:
        raise NoteProblem(f"the verdict attached to {tag} does not belong to it: {mismatch}")
    return ReleaseRecord(
        tag=tag,
        commit=commit,
        attached=str(note.get("attached", "")),
        verdict=verdict,
        html_name=html.get("name") if html else None,
        html_text=html.get("text") if html else None,
    )
