"""Planted secrets never reach a report, the JUnit XML, the step summary or the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from gaterun import run_gate, staging_config

from pytest_fixgate.redaction import Redactor, mask_uri_password
from pytest_fixgate.reference import free_port

TOKEN = "tok-Zq81xPlanted"
PASSWORD = "pw-Hy7Planted%21"  # percent-encoded "!" in the URI


def test_redactor_masks_values_and_uri_passwords() -> None:
    uri = f"mongodb://gate:{PASSWORD}@db.example:27017/x"
    redactor = Redactor([TOKEN, uri])
    text = f"{uri} | {TOKEN} | pw-Hy7Planted! | {PASSWORD} | gate"
    assert redactor.text(text) == "*** | *** | *** | *** | gate"
    assert redactor.data({"a": [TOKEN, {"b": uri}]}) == {"a": ["***", {"b": "***"}]}
    assert mask_uri_password(uri) == "mongodb://gate:***@db.example:27017/x"


def test_redactor_masks_secrets_as_html_escapes_them() -> None:
    import html

    secret = 'p&ss<w>rd"q'
    redactor = Redactor([secret])
    fragment = f"<td>{html.escape(secret)}</td><td>{html.escape(secret, quote=False)}</td>"
    assert redactor.text(fragment) == "<td>***</td><td>***</td>"


def _all_artifacts(run: Any, summary: Path) -> dict[str, str]:
    texts = {"terminal": run.output, "summary": summary.read_text()}
    for path in run.report_dir.rglob("*"):
        if path.is_file():
            texts[str(path)] = path.read_text(errors="replace")
    return texts


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_planted_secrets_appear_nowhere(tmp_path: Path, reference: Any, workers: list[str]) -> None:
    summary = tmp_path / "summary.md"
    dead = free_port()
    # The Mongo URI carries a password and points nowhere: its error path is exercised too.
    # So does the Redis URL: both drivers' connection errors pass through redaction.
    environ = {
        "T_TOKEN": TOKEN,
        "T_MONGO_URI": f"mongodb://gate:{PASSWORD}@127.0.0.1:{dead}/fixzit?authSource=admin",
        "T_REDIS_URL": f"redis://gate:{PASSWORD}@127.0.0.1:{dead}/0",
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    config = staging_config(
        reference.base_url,
        token_env="T_TOKEN",
        mongodb_uri_env="T_MONGO_URI",
        redis_url_env="T_REDIS_URL",
        timeout="1s",
    )
    # -rA and -vv print every report section; -l would print locals of a crash.
    run = run_gate(tmp_path, config, "-rA", "-vv", "-l", *workers, environ=environ)
    assert run.exit_code == 1, run.output
    assert run.outcomes()["mongo.ping"] == "ERROR"
    assert run.outcomes()["redis.ping"] == "ERROR"
    assert "***" in run.gate("mongo.ping")["evidence"]["method"]
    for name, text in _all_artifacts(run, summary).items():
        for secret in (TOKEN, PASSWORD, "pw-Hy7Planted!"):
            assert secret not in text, f"{secret!r} leaked into {name}"
    assert len(_all_artifacts(run, summary)) >= 6  # terminal, summary, html, json, xml, latest
