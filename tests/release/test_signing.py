"""Verdict signatures (HMAC-SHA256, key in FIXGATE_SIGNING_KEY): a real gate run signs its
verdict; `fixgate tag`, `attach` (also on a lightweight tag) and `show` refuse a verdict
that was edited and re-hashed, unsigned, or signed with another key, once a key is
configured. The sha256 alone proves no more than "no accident": tested too."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from gaterun import run_gate, staging_config
from releasekit import clone, make_template, sh_git, variant, write

from pytest_fixgate.cli import main

KEY = "k3y-" + "9c1f0e2d7b6a5c4e3f2a1b0c9d8e7f6a"
OTHER_KEY = "0therk3y-" + "a" * 40
TOKEN = "tok-" + "Sg7Planted" + "health"


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory, reference: Any) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("signed")
    commit = make_template(base / "template")
    config = staging_config(reference.base_url, token_env="T_HEALTH_TOKEN", timeout="2s")
    run = run_gate(
        base / "gate",
        config,
        "-n",
        "2",
        environ={"FIXGATE_COMMIT": commit, "T_HEALTH_TOKEN": TOKEN, "FIXGATE_SIGNING_KEY": KEY},
    )
    assert run.exit_code == 0, run.output
    for path in [*run.files.values()]:
        assert KEY not in path.read_text(), path
    assert KEY not in run.output
    return {"template": base / "template", "verdict": run.verdict, "json": run.files["json"]}


@pytest.fixture
def repo(tmp_path: Path, signed: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "bin-no-gh"  # no GitHub CLI: attach keeps the note only
    folder.mkdir()
    git = shutil.which("git")
    assert git
    (folder / "git").symlink_to(git)
    monkeypatch.setenv("PATH", str(folder))
    monkeypatch.setenv("FIXGATE_SIGNING_KEY", KEY)
    return clone(signed["template"], tmp_path / "repo")


def _fixgate(*args: str) -> int:
    return main(list(args))


def _edited(signed: dict[str, Any], tmp_path: Path) -> Path:
    """The signed PROMOTE with its reason edited and its sha256 recomputed by hand."""
    return write(tmp_path / "edited.json", variant(signed["verdict"], reason="edited by hand"))


def test_the_gate_run_signs_its_verdict(signed: dict[str, Any]) -> None:
    sig = signed["verdict"]["signature"]
    assert sig["alg"] == "HMAC-SHA256" and len(sig["value"]) == 64 and len(sig["key_id"]) == 16


def test_a_signed_verdict_is_tagged_attached_and_shown(
    repo: Path,
    signed: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert _fixgate("tag", "v1", "--report", str(signed["json"]), "--attach", "-C", str(repo)) == 0
    capsys.readouterr()
    assert _fixgate("show", "v1", "-C", str(repo)) == 0
    out = capsys.readouterr().out
    assert "signature: HMAC-SHA256 verified with FIXGATE_SIGNING_KEY" in out
    monkeypatch.delenv("FIXGATE_SIGNING_KEY")
    assert _fixgate("show", "v1", "-C", str(repo)) == 0
    assert "the sha256 detects accidents, not forgery" in capsys.readouterr().out


@pytest.mark.parametrize("shape", ["edited", "unsigned", "other-key"])
def test_tag_refuses_a_forged_verdict(
    repo: Path,
    signed: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    shape: str,
) -> None:
    report = _edited(signed, tmp_path)
    expect = "signature does not verify"
    if shape == "unsigned":
        data = dict(signed["verdict"])
        data.pop("signature")
        report = write(tmp_path / "unsigned.json", variant(data))
        expect = "it is not signed"
    if shape == "other-key":
        report = signed["json"]
        monkeypatch.setenv("FIXGATE_SIGNING_KEY", OTHER_KEY)
        expect = "signed with another key"
    assert _fixgate("tag", "v1", "--report", str(report), "-C", str(repo)) == 1
    err = capsys.readouterr().err
    assert expect in err and err.startswith("fixgate: refused: not tagging v1:"), err
    assert sh_git(repo, "tag", "--list") == ""


def test_attach_on_a_lightweight_tag_refuses_a_re_hashed_edit(
    repo: Path, signed: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sh_git(repo, "tag", "v1-light")  # no message: no report digest to compare with
    assert _fixgate("attach", "v1-light", str(_edited(signed, tmp_path)), "-C", str(repo)) == 1
    assert "signature does not verify" in capsys.readouterr().err
    assert sh_git(repo, "notes", "--ref=fixgate", "list") == ""


def test_show_refuses_a_re_hashed_note_on_a_lightweight_tag(
    repo: Path, signed: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    sh_git(repo, "tag", "v1-light")
    assert _fixgate("attach", "v1-light", str(signed["json"]), "-C", str(repo)) == 0
    note = json.loads(sh_git(repo, "notes", "--ref=fixgate", "show", "v1-light"))
    note["verdict"] = variant(note["verdict"], reason="edited by hand")
    sh_git(
        repo, "notes", "--ref=fixgate", "add", "-f", "-F", "-", "v1-light", stdin=json.dumps(note)
    )
    capsys.readouterr()
    assert _fixgate("show", "v1-light", "-C", str(repo)) == 1
    captured = capsys.readouterr()
    assert "signature does not verify" in captured.err and "decision:" not in captured.out


def test_a_short_or_missing_key_is_a_usage_error(
    tmp_path: Path, repo: Path, signed: dict[str, Any], capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    config = staging_config("http://127.0.0.1:9")
    run = run_gate(tmp_path / "short", config, environ={"FIXGATE_SIGNING_KEY": "short-key"})
    assert run.exit_code == 4 and "shorter than 32 characters" in run.output, run.output
    assert "short-key" not in run.output and not run.files
    run = run_gate(tmp_path / "unset", config, "--gate-sign-key-env=NO_SUCH_KEY_VAR")
    assert run.exit_code == 4 and "NO_SUCH_KEY_VAR is not set" in run.output, run.output
    monkeypatch.setenv("FIXGATE_SIGNING_KEY", "short-key")
    assert _fixgate("tag", "v1", "--report", str(signed["json"]), "-C", str(repo)) == 4
    assert "short-key" not in capsys.readouterr().err
