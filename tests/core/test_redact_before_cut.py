"""Redact, then cut: an excerpt cut before redaction shows a secret's prefix, which no
redactor recognises any more. A real HTTP server (Python's http.server on 127.0.0.1)
answers health checks with bodies that hold the environment's token across the health
mismatch's 57-character cut and the body excerpt's 300-character cut; no 8 characters
of the token appear in any artifact."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from gaterun import run_gate, staging_config

from pytest_fixgate.redaction import Redactor, clip
from pytest_fixgate.reference import free_port

TOKEN = "tokPlanted0123456789abcdefXYZ0987"  # 33 characters


@pytest.fixture
def static_server(tmp_path: Path) -> Iterator[str]:
    root = tmp_path / "site"
    root.mkdir()
    # The mismatch line quotes the value, cut at 57: the token starts at character 32.
    (root / "mismatch.json").write_text(json.dumps({"status": "x" * 30 + " " + TOKEN}))
    # The body excerpt is cut at 300: the token straddles it.
    body = '{"status": "down", "note": "' + "y" * 255 + " " + TOKEN + '"}'
    assert body.index(TOKEN) < 300 < body.index(TOKEN) + len(TOKEN)
    (root / "excerpt.json").write_text(body)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _pieces(secret: str, size: int = 8) -> list[str]:
    return [secret[i : i + size] for i in range(len(secret) - size + 1)]


def test_no_prefix_of_a_token_survives_a_cut(tmp_path: Path, static_server: str) -> None:
    health = (
        '[[env.staging.health]]\npath = "/mismatch.json"\nexpect_json = { status = "ok" }\n'
        '[[env.staging.health]]\npath = "/excerpt.json"\nexpect_json = { status = "ok" }\n'
    )
    config = staging_config(static_server, health, token_env="T_TOKEN")
    run = run_gate(tmp_path / "run", config, "-rA", environ={"T_TOKEN": TOKEN})
    assert run.exit_code == 1, run.output
    outcomes = run.outcomes()
    assert outcomes["health./mismatch.json"] == "FAIL", outcomes
    assert outcomes["health./excerpt.json"] == "FAIL", outcomes
    assert "status is " in run.gate("health./mismatch.json")["reason"]
    excerpt = run.gate("health./excerpt.json")["evidence"]["body_excerpt"]
    assert excerpt.startswith('{"status": "down"') and "***" in excerpt
    texts = {"terminal": run.output}
    for path in run.report_dir.rglob("*"):
        if path.is_file():
            texts[str(path)] = path.read_text(errors="replace")
    assert len(texts) >= 5
    for name, text in texts.items():
        for piece in _pieces(TOKEN):
            assert piece not in text, f"{piece!r} of the token leaked into {name}"


def test_clip_redacts_first_and_never_cuts_inside_a_word() -> None:
    redactor = Redactor([TOKEN])
    text = "a" * 20 + " " + TOKEN + " tail"
    assert clip(text, 30, redactor) == "a" * 20 + " *** tail"
    # An unknown token across the cut is dropped whole, not shown up to the cut.
    assert clip("key: " + "Q" * 40, 20) == "key: ..."
    assert clip("short", 20) == "short"
