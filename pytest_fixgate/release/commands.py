"""The ``fixgate tag``, ``attach`` and ``show`` commands: checks, then git, then one line each.

Exit codes: 0 done; 1 refused (not a fresh PROMOTE of this commit, a missing or
tampered note, ``gh`` failing, a git command failing); 4 a report that cannot
be read.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from pytest_fixgate import timing
from pytest_fixgate.release.gh import GhFailed, upload_assets
from pytest_fixgate.release.git import (
    GitError,
    git,
    head_commit,
    hide_url_credentials,
    peeled_commit,
    tag_object,
)
from pytest_fixgate.release.notes import (
    NOTES_REF,
    NoteProblem,
    build_note,
    read_record,
    verdict_mismatch,
    write_note,
)
from pytest_fixgate.release.signing import (
    SigningKey,
    SigningKeyError,
    signature_problem,
    signing_key,
)
from pytest_fixgate.release.tags import create_tag, tag_name_problem
from pytest_fixgate.release.verdicts import (
    Verdict,
    VerdictUnreadable,
    read_verdict,
    tag_refusal,
)
from pytest_fixgate.reports.verdict import write_json

__all__ = ["run_attach", "run_show", "run_tag"]

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_UNREADABLE = 4


def _say(line: str, out: TextIO | None = None) -> None:
    print(line, file=out or sys.stdout, flush=True)


def _refuse(line: str) -> int:
    _say(f"fixgate: refused: {line}", sys.stderr)
    return EXIT_REFUSED


def run_tag(
    repo: Path,
    tag: str,
    report: Path,
    *,
    message: str | None,
    push: str | None,
    max_age_s: float,
    attach: bool,
    key_env: str | None = None,
) -> int:
    try:
        key = signing_key(key_env)
    except SigningKeyError as exc:
        _say(f"fixgate: error: {exc}", sys.stderr)
        return EXIT_UNREADABLE
    try:
        verdict = read_verdict(report)
    except VerdictUnreadable as exc:
        _say(f"fixgate: error: {exc}", sys.stderr)
        return EXIT_UNREADABLE
    try:
        head = head_commit(repo)
        problem = tag_name_problem(repo, tag) or tag_refusal(
            verdict, commit=head, now=timing.utcnow(), max_age_s=max_age_s, key=key
        )
        if problem:
            return _refuse(f"not tagging {tag}: {problem}")
        commit = create_tag(repo, tag, verdict, message)
        _say(
            f"fixgate: tagged {tag} on {commit[:12]}: {verdict.decision} of {verdict.env}, "
            f"{verdict.counts_line()}, report sha256 {verdict.sha256[:12]}"
        )
        if attach:
            status = _attach(repo, tag, verdict, _html_beside(verdict, report, None), key)
            if status != EXIT_OK:
                return status
        if push:
            refs = [f"refs/tags/{tag}"] + ([NOTES_REF] if attach else [])
            git(repo, "push", push, *refs)
            _say(f"fixgate: pushed {' and '.join(refs)} to {hide_url_credentials(push)}")
    except GitError as exc:
        _say(f"fixgate: error: {exc}", sys.stderr)
        return EXIT_REFUSED
    return EXIT_OK


def run_attach(
    repo: Path,
    tag: str,
    reports: Sequence[Path],
    *,
    push: str | None,
    key_env: str | None = None,
) -> int:
    try:
        key = signing_key(key_env)
    except SigningKeyError as exc:
        _say(f"fixgate: error: {exc}", sys.stderr)
        return EXIT_UNREADABLE
    jsons = [p for p in reports if p.suffix == ".json"]
    htmls = [p for p in reports if p.suffix in (".html", ".htm")]
    others = [p for p in reports if p not in jsons and p not in htmls]
    if len(jsons) != 1 or len(htmls) > 1 or others:
        _say(
            "fixgate: error: attach takes one JSON verdict and at most one HTML report, "
            f"got: {', '.join(map(str, reports))}",
            sys.stderr,
        )
        return EXIT_UNREADABLE
    try:
        verdict = read_verdict(jsons[0])
    except VerdictUnreadable as exc:
        _say(f"fixgate: error: {exc}", sys.stderr)
        return EXIT_UNREADABLE
    html = _html_beside(verdict, jsons[0], htmls[0] if htmls else None)
    try:
        status = _attach(repo, tag, verdict, html, key)
        if status == EXIT_OK and push:
            git(repo, "push", push, NOTES_REF)
            _say(f"fixgate: pushed {NOTES_REF} to {hide_url_credentials(push)}")
    except GitError as exc:
        _say(f"fixgate: error: {exc}", sys.stderr)
        return EXIT_REFUSED
    return status


def _html_beside(verdict: Verdict, json_path: Path, given: Path | None) -> Path | None:
    """The HTML report: the one given, else the one the verdict names (relative to its file)."""
    if given is not None:
        return given
    named = verdict.html_path()
    if named is None:
        return None
    for candidate in (named, json_path.parent / named.name):
        if candidate.is_file():
            return candidate
    return None


def _attach(
    repo: Path, tag: str, verdict: Verdict, html: Path | None, key: SigningKey | None
) -> int:
    if tag_object(repo, tag) is None:
        return _refuse(f"no tag {tag} in this repository (create it with `fixgate tag {tag}`)")
    if not verdict.digest_ok:
        return _refuse(
            f"not attaching {verdict.source}: modified after the gate run wrote it "
            "(its sha256 does not verify)"
        )
    # A lightweight tag names no report digest: the signature is then the only proof
    # that this verdict is the gate run's.
    unsigned = signature_problem(verdict.data, key)
    if unsigned:
        return _refuse(f"not attaching {verdict.source}: {unsigned}")
    mismatch = verdict_mismatch(repo, tag, verdict)
    if mismatch:
        return _refuse(f"not attaching {verdict.source} to {tag}: {mismatch}")
    if html is not None and not html.is_file():
        _say(f"fixgate: error: cannot read HTML report {html}", sys.stderr)
        return EXIT_UNREADABLE
    replaced = write_note(repo, tag, build_note(tag, peeled_commit(repo, tag), verdict, html))
    what = "verdict and HTML report" if html else "verdict (no HTML report found)"
    _say(
        f"fixgate: attached the {verdict.decision} {what} to {tag} as a git note in "
        f"{NOTES_REF}{' (replacing the earlier one)' if replaced else ''}; publish it with "
        f"`git push origin {NOTES_REF}`"
    )
    with tempfile.TemporaryDirectory(prefix="fixgate-assets-") as tmp:
        # Stable asset names on the release page, whatever the files were called.
        assets = [Path(tmp) / f"fixgate-{verdict.env}-{tag}.json"]
        write_json(assets[0], verdict.data)
        if html is not None:
            assets.append(Path(tmp) / f"fixgate-{verdict.env}-{tag}.html")
            shutil.copyfile(html, assets[1])
        try:
            upload = upload_assets(repo, tag, assets)
        except GhFailed as exc:
            _say(f"fixgate: error: {exc}", sys.stderr)
            return EXIT_REFUSED
    _say(f"fixgate: {upload.message}")
    return EXIT_OK


def run_show(
    repo: Path, tag: str, *, html_out: Path | None, as_json: bool, key_env: str | None = None
) -> int:
    try:
        key = signing_key(key_env)
    except SigningKeyError as exc:
        _say(f"fixgate: error: {exc}", sys.stderr)
        return EXIT_UNREADABLE
    try:
        record = read_record(repo, tag, key)
    except (NoteProblem, GitError) as exc:
        _say(f"fixgate: {tag}: {exc}", sys.stderr)
        return EXIT_REFUSED
    verdict = record.verdict
    if as_json:
        _say(json.dumps(verdict.data, indent=2, ensure_ascii=False))
    else:
        data = verdict.data
        _say(f"{tag} -> commit {record.commit}")
        _say(f"decision: {verdict.decision} ({verdict.reason})")
        _say(f"env: {verdict.env} ({data.get('target', '')}), finished {data['finished']}")
        _say(f"report sha256: {verdict.sha256} (verified)")
        if key is not None:
            _say(f"signature: HMAC-SHA256 verified with {key.env_name}")
        else:
            _say(
                "signature: not checked (no signing key configured; the sha256 detects "
                "accidents, not forgery)"
            )
        _say(f"gates: {verdict.counts_line()}")
        for gate in verdict.gates:
            measured = f" measured {gate['measured']}" if gate.get("measured") else ""
            _say(f"  {gate['outcome']:<12} {gate['id']}{measured}: {gate.get('reason', '')}")
        html = f"{record.html_name} (sha256 verified)" if record.html_name else "none attached"
        _say(f"html report: {html}; attached {record.attached}")
    if html_out is not None:
        if record.html_text is None:
            _say(f"fixgate: {tag}: no HTML report was attached", sys.stderr)
            return EXIT_REFUSED
        html_out.write_text(record.html_text, encoding="utf-8")
        _say(f"fixgate: wrote the HTML report to {html_out}")
    return EXIT_OK
