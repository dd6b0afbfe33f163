"""`fixgate tag`, `attach` and `show` in throwaway git repositories, on a real verdict.

One real gate run (the reference service) makes the verdict; the refusals use
variants of it, re-checksummed so that only the property under test differs.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from gaterun import run_gate, staging_config
from releasekit import clone, iso, make_template, sh_git, variant, write

from pytest_fixgate.cli import main

SECRET = "tok-" + "5f1d9c0e7ab34" + "planted"


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory, reference: Any) -> dict[str, Any]:
    """A template repository and a real PROMOTE verdict (with its HTML) for its commit."""
    base = tmp_path_factory.mktemp("release")
    commit = make_template(base / "template")
    config = staging_config(reference.base_url, token_env="T_HEALTH_TOKEN", timeout="2s")
    run = run_gate(
        base / "gate",
        config,
        environ={"FIXGATE_COMMIT": commit, "T_HEALTH_TOKEN": SECRET},
    )
    assert run.exit_code == 0, run.output
    verdict = run.verdict
    assert verdict["decision"] == "PROMOTE" and verdict["commit"] == commit
    return {
        "template": base / "template",
        "commit": commit,
        "verdict": verdict,
        "json": run.files["json"],
        "html": run.files["html"],
    }


@pytest.fixture
def repo(tmp_path: Path, released: dict[str, Any]) -> Path:
    return clone(released["template"], tmp_path / "repo")


def fixgate(*args: str) -> int:
    return main(list(args))


def tags(repo: Path) -> list[str]:
    return sh_git(repo, "tag", "--list").split()


def refused(
    capsys: pytest.CaptureFixture[str], repo: Path, report: Path, expect: str, *extra: str
) -> None:
    assert fixgate("tag", "v1.0.0", "--report", str(report), "-C", str(repo), *extra) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("fixgate: refused: not tagging v1.0.0:") and expect in err, err
    assert tags(repo) == []


def test_tag_refused_on_hold(repo, released, tmp_path, capsys):
    verdict = released["verdict"]
    gates = [dict(g) for g in verdict["gates"]]
    gates[0]["outcome"] = "FAIL"
    hold = variant(
        verdict,
        decision="HOLD",
        reason=f"1 of {len(gates)} required gates not passed: {gates[0]['id']} FAIL",
        gates=gates,
    )
    refused(capsys, repo, write(tmp_path / "hold.json", hold), "is not a PROMOTE: HOLD")


def test_tag_refused_for_another_commit(repo, released, capsys):
    (repo / "app.txt").write_text("a later change, never gated\n")
    sh_git(repo, "commit", "-qam", "later")
    refused(
        capsys, repo, released["json"], f"gated commit {released['commit'][:12]}, not", "-m", "x"
    )


def test_tag_refused_on_a_modified_report(repo, released, tmp_path, capsys):
    edited = variant(released["verdict"], resign=False, target="http://elsewhere.invalid")
    refused(capsys, repo, write(tmp_path / "edited.json", edited), "sha256 does not verify")


def test_tag_refused_on_promote_contradicted_by_its_gates(repo, released, tmp_path, capsys):
    gates = [dict(g) for g in released["verdict"]["gates"]]
    gates[-1]["outcome"] = "ERROR"
    forged = variant(released["verdict"], gates=gates)
    refused(capsys, repo, write(tmp_path / "forged.json", forged), "its gates disagree")


def test_tag_refused_on_advisory_run(repo, released, tmp_path, capsys):
    advisory = variant(released["verdict"], advisory=True)
    refused(capsys, repo, write(tmp_path / "adv.json", advisory), "advisory run")


def test_tag_refused_on_a_watch_verdict(repo, released, tmp_path, capsys):
    # A gate run says so; a post-promotion watch's PROMOTE confirms, it never promotes
    # (else `pytest --gate=staging --watch=1s` would make a taggable verdict).
    assert released["verdict"]["mode"] == "gate"
    watch = variant(released["verdict"], mode="watch")
    refused(capsys, repo, write(tmp_path / "watch.json", watch), "post-promotion watch")


def test_tag_refused_when_stale_and_max_age_is_honoured(repo, released, tmp_path, capsys):
    old = _dt.datetime.now(_dt.UTC) - _dt.timedelta(hours=25)
    stale = write(tmp_path / "old.json", variant(released["verdict"], finished=iso(old)))
    refused(capsys, repo, stale, "is stale")
    # "2x" is no duration: argparse says so (exit 2) before anything runs.
    with pytest.raises(SystemExit) as exited:
        fixgate("tag", "v1.0.0", "--report", str(stale), "--max-age", "2x", "-C", str(repo))
    assert exited.value.code == 2 and tags(repo) == []
    capsys.readouterr()
    assert (
        fixgate("tag", "v1.0.0", "--report", str(stale), "--max-age", "26h", "-C", str(repo)) == 0
    )
    assert tags(repo) == ["v1.0.0"]


@pytest.mark.parametrize(
    ("content", "expect"),
    [
        (None, "cannot read report"),
        ("{not json", "is not JSON"),
        ('{"schema": "something/else@1"}', "is not a pytest-fixgate verdict"),
    ],
)
def test_unreadable_report_is_exit_4(repo, tmp_path, capsys, content, expect):
    report = tmp_path / "r.json"
    if content is not None:
        report.write_text(content)
    assert fixgate("tag", "v1.0.0", "--report", str(report), "-C", str(repo)) == 4
    assert expect in capsys.readouterr().err
    assert tags(repo) == []


def test_tag_allowed_on_fresh_promote(repo, released, capsys):
    verdict = released["verdict"]
    assert fixgate("tag", "v1.0.0", "--report", str(released["json"]), "-C", str(repo)) == 0
    out = capsys.readouterr().out
    assert f"tagged v1.0.0 on {released['commit'][:12]}" in out
    assert sh_git(repo, "cat-file", "-t", "v1.0.0") == "tag"  # annotated
    assert sh_git(repo, "rev-parse", "v1.0.0^{commit}") == released["commit"]
    message = sh_git(repo, "tag", "-l", "--format=%(contents)", "v1.0.0")
    assert message.splitlines()[0] == "Promote staging to prod"
    n = len(verdict["gates"])
    assert f"fixgate: PROMOTE (all {n} required gates passed)" in message
    assert f"gates: {n} PASS, 0 WARN, 0 INCONCLUSIVE, 0 FAIL, 0 ERROR" in message
    assert f"env: staging ({verdict['target']})" in message
    assert f"report-sha256: {verdict['sha256']}" in message
    # A release tag is never moved.
    assert fixgate("tag", "v1.0.0", "--report", str(released["json"]), "-C", str(repo)) == 1
    assert "already exists" in capsys.readouterr().err


def test_tag_attach_and_push_to_a_remote(repo, released, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(_bin_without_gh(tmp_path)))
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    sh_git(repo, "remote", "add", "gated", str(remote))
    code = fixgate(
        "tag", "v1.0.0", "--report", str(released["json"]), "-m", "Ship it",
        "--attach", "--push", "gated", "-C", str(repo),
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "pushed refs/tags/v1.0.0 and refs/notes/fixgate to gated" in out
    assert "skipped the GitHub release upload: gh is not on PATH" in out
    assert sh_git(remote, "rev-parse", "v1.0.0^{commit}") == released["commit"]
    # A fresh clone fetches the notes and reads the same verified record.
    other = clone(remote, tmp_path / "other")
    sh_git(other, "fetch", "-q", "origin", "refs/notes/fixgate:refs/notes/fixgate")
    assert fixgate("show", "v1.0.0", "-C", str(other)) == 0
    assert "decision: PROMOTE" in capsys.readouterr().out


def test_notes_round_trip(repo, released, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(_bin_without_gh(tmp_path)))
    assert fixgate("tag", "v1.0.0", "--report", str(released["json"]), "-C", str(repo)) == 0
    capsys.readouterr()
    # The HTML the verdict names is found beside it; an explicit one would do as well.
    assert fixgate("attach", "v1.0.0", str(released["json"]), "-C", str(repo)) == 0
    out = capsys.readouterr().out
    assert "attached the PROMOTE verdict and HTML report to v1.0.0" in out
    assert "git push origin refs/notes/fixgate" in out
    assert "gh is not on PATH" in out
    html_out = tmp_path / "back.html"
    assert fixgate("show", "v1.0.0", "-C", str(repo), "--html", str(html_out)) == 0
    shown = capsys.readouterr().out
    verdict = released["verdict"]
    assert f"decision: PROMOTE ({verdict['reason']})" in shown
    assert f"report sha256: {verdict['sha256']} (verified)" in shown
    assert all(g["id"] in shown for g in verdict["gates"])
    assert html_out.read_bytes() == released["html"].read_bytes()
    assert fixgate("show", "v1.0.0", "--json", "-C", str(repo)) == 0
    assert json.loads(capsys.readouterr().out) == verdict
    # No secret reaches the note, the tag or the terminal.
    note = sh_git(repo, "notes", "--ref=fixgate", "show", "v1.0.0")
    message = sh_git(repo, "cat-file", "tag", "v1.0.0")
    assert len(note) > 1000
    for text in (note, message, out, shown, html_out.read_text()):
        assert SECRET not in text


def _tag_and_attach(repo: Path, released: dict[str, Any], tag: str = "v1.0.0") -> None:
    assert fixgate("tag", tag, "--report", str(released["json"]), "--attach", "-C", str(repo)) == 0


def _replace_note(repo: Path, tag: str, edit: Any) -> None:
    note = json.loads(sh_git(repo, "notes", "--ref=fixgate", "show", tag))
    edit(note)
    sh_git(repo, "notes", "--ref=fixgate", "add", "-f", "-F", "-", tag, stdin=json.dumps(note))


def _show_fails(capsys: pytest.CaptureFixture[str], repo: Path, tag: str, expect: str) -> None:
    capsys.readouterr()
    assert fixgate("show", tag, "-C", str(repo)) == 1
    captured = capsys.readouterr()
    assert expect in captured.err, captured.err
    assert "decision:" not in captured.out


def _flip_decision(note: dict[str, Any]) -> None:
    note["verdict"]["decision"] = "HOLD"


def _green_html(note: dict[str, Any]) -> None:
    note["html"]["text"] = "<p>all green</p>"


def _resign(note: dict[str, Any]) -> None:
    note["verdict"] = variant(note["verdict"], reason="re-signed by hand")


TAMPERING = {
    "verdict": (_flip_decision, "verdict in the note for v1.0.0 was tampered"),
    "html": (_green_html, "HTML report in the note for v1.0.0 was tampered"),
    "resigned": (_resign, "was tagged for report"),
    "garbage": (dict.clear, "not a fixgate release record"),
}


@pytest.mark.parametrize(("edit", "expect"), TAMPERING.values(), ids=TAMPERING.keys())
def test_show_detects_tampering(repo, released, capsys, monkeypatch, tmp_path, edit, expect):
    monkeypatch.setenv("PATH", str(_bin_without_gh(tmp_path)))
    _tag_and_attach(repo, released)
    _replace_note(repo, "v1.0.0", edit)
    _show_fails(capsys, repo, "v1.0.0", expect)


def test_show_missing_note_and_note_for_another_commit(
    repo, released, capsys, monkeypatch, tmp_path
):
    monkeypatch.setenv("PATH", str(_bin_without_gh(tmp_path)))
    _tag_and_attach(repo, released)
    (repo / "app.txt").write_text("next release\n")
    sh_git(repo, "commit", "-qam", "next")
    sh_git(repo, "tag", "-a", "v1.1.0", "-m", "hand-made tag")
    _show_fails(capsys, repo, "v1.1.0", "no fixgate note for v1.1.0")
    # Copying the record of v1.0.0 onto v1.1.0 does not make v1.1.0 promoted.
    sh_git(repo, "notes", "--ref=fixgate", "copy", "v1.0.0", "v1.1.0")
    _show_fails(capsys, repo, "v1.1.0", "recorded for tag 'v1.0.0'")
    _replace_note(repo, "v1.1.0", lambda n: n.update(tag="v1.1.0"))
    _show_fails(capsys, repo, "v1.1.0", "is for commit")
    # And attach refuses the old verdict for the new tag outright.
    assert fixgate("attach", "v1.1.0", str(released["json"]), "-C", str(repo)) == 1
    assert "it gated commit" in capsys.readouterr().err
    _show_fails(capsys, repo, "v9.9.9", "no tag v9.9.9")  # fmt: skip


def _bin_without_gh(tmp_path: Path) -> Path:
    folder = tmp_path / "bin-no-gh"
    folder.mkdir(exist_ok=True)
    git = shutil.which("git")
    assert git
    link = folder / "git"
    if not link.exists():
        link.symlink_to(git)
    return folder


FAKE_GH = """#!/bin/sh
# A stand-in for the GitHub CLI: records its arguments and the uploaded files.
printf '%s\\n' "$*" >> "$GH_LOG"
case "$1 $2" in
  "auth status") exit "${GH_AUTH_EXIT:-0}" ;;
  "release upload")
    for f in "$@"; do [ -f "$f" ] && cp "$f" "$GH_UPLOADS/"; done
    [ -n "$GH_FAIL" ] && { echo "HTTP 404: release not found ($3)" >&2; exit 1; }
    exit 0 ;;
esac
exit 3
"""


@pytest.fixture
def fake_gh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    folder = _bin_without_gh(tmp_path)
    gh = folder / "gh"
    gh.write_text(FAKE_GH)
    gh.chmod(gh.stat().st_mode | stat.S_IXUSR)
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    log = tmp_path / "gh.log"
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}/bin{os.pathsep}/usr/bin")
    monkeypatch.setenv("GH_LOG", str(log))
    monkeypatch.setenv("GH_UPLOADS", str(uploads))
    return {"log": log, "uploads": uploads}


def test_attach_uploads_with_gh(repo, released, fake_gh, capsys):
    _tag_and_attach(repo, released)
    out = capsys.readouterr().out
    calls = fake_gh["log"].read_text().splitlines()
    assert calls[0] == "auth status"
    upload = calls[1].split()
    assert upload[:3] == ["release", "upload", "v1.0.0"] and upload[-1] == "--clobber"
    names = sorted(Path(p).name for p in upload[3:-1])
    assert names == ["fixgate-staging-v1.0.0.html", "fixgate-staging-v1.0.0.json"]
    assert "uploaded fixgate-staging-v1.0.0.json, fixgate-staging-v1.0.0.html" in out
    sent = json.loads((fake_gh["uploads"] / "fixgate-staging-v1.0.0.json").read_text())
    assert sent == released["verdict"]
    html = (fake_gh["uploads"] / "fixgate-staging-v1.0.0.html").read_bytes()
    assert html == released["html"].read_bytes()


def test_gh_not_logged_in_is_skipped_and_said(repo, released, fake_gh, capsys, monkeypatch):
    monkeypatch.setenv("GH_AUTH_EXIT", "1")
    _tag_and_attach(repo, released)
    assert "skipped the GitHub release upload: gh is not logged in" in capsys.readouterr().out
    assert fake_gh["log"].read_text().splitlines() == ["auth status"]


def test_gh_failing_is_an_error(repo, released, fake_gh, capsys, monkeypatch):
    monkeypatch.setenv("GH_FAIL", "1")
    assert fixgate("tag", "v1.0.0", "--report", str(released["json"]), "-C", str(repo)) == 0
    capsys.readouterr()
    assert fixgate("attach", "v1.0.0", str(released["json"]), "-C", str(repo)) == 1
    err = capsys.readouterr().err
    assert "gh release upload v1.0.0 failed (exit 1): HTTP 404: release not found" in err


def test_a_push_url_with_credentials_never_reaches_the_output(repo, released, tmp_path, capsys):
    url = f"http://x-access-token:{SECRET}@127.0.0.1:9/app.git"
    code = fixgate(
        "tag", "v1.0.0", "--report", str(released["json"]), "--push", url, "-C", str(repo)
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 1, captured
    assert "fixgate: error: git push http://***@127.0.0.1:9/app.git failed:" in captured.err
    assert SECRET not in captured.out + captured.err
