"""The session's one redactor, end to end: fed at configure time (before any gate runs, on
the controller and on every xdist worker) from every secret the config can name, the
values of the dotenv files it reads included, a multi-line value masked line by line, and a
common word never masking the verdict's structure.

Every test plants values and searches every artifact: terminal, HTML, JSON, JUnit, logs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from gaterun import GateRunResult, run_gate, staging_config

from pytest_fixgate.redaction import Redactor
from pytest_fixgate.reference import free_port

PY = sys.executable
DOTENV_SECRET = "dotenv-Qv93PlantedSecret"
PROD_SECRET = "prod-Lk27PlantedSecret"
PEM = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n"
    "PlantedPemLineTwoMIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDHikastc8\n"
    "-----END PRIVATE KEY-----"
)
PEM_LINES = PEM.splitlines()[1:3]


def _artifacts(run: GateRunResult) -> dict[str, str]:
    texts = {"terminal": run.output}
    for path in run.report_dir.rglob("*"):
        if path.is_file():
            texts[str(path)] = path.read_text(errors="replace")
    return texts


def _assert_nowhere(run: GateRunResult, *secrets: str) -> None:
    texts = _artifacts(run)
    assert {"html", "json", "junit"} <= set(run.files), run.output
    for name, text in texts.items():
        for secret in secrets:
            assert secret not in text, f"{secret!r} leaked into {name}"


def _command(gate_id: str, code: str, more: str = "") -> str:
    run = f"['''{PY}''', '-c', '''{code}''']"
    return f'[[env.staging.commands]]\nid = "{gate_id}"\nrun = {run}\n{more}\n'


def _write_envs(tmp_path: Path, staging: str, production: str) -> None:
    (tmp_path / "envs").mkdir(parents=True, exist_ok=True)
    (tmp_path / "envs" / "staging.env").write_text(staging, encoding="utf-8")
    (tmp_path / "envs" / "production.env").write_text(production, encoding="utf-8")


SECRETS_TABLE = """[env.staging.secrets]
sources = { staging = "envs/staging.env", production = "envs/production.env" }
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_a_command_gate_printing_a_dotenv_value_before_the_secrets_gate_leaks_nothing(
    tmp_path: Path, workers: list[str]
) -> None:
    _write_envs(
        tmp_path,
        f"NEXTAUTH_SECRET={DOTENV_SECRET}\nAPP_NAME=fixzit\n",
        f"NEXTAUTH_SECRET={PROD_SECRET}\nAPP_NAME=fixzit\n",
    )
    # The command gates run before the secrets gates (and under -n 2 on another worker):
    # the value must be known from the start, everywhere.
    leak = (
        "import sys; print(open('envs/staging.env').read(), flush=True); "
        "print(open('envs/production.env').read(), file=sys.stderr, flush=True); sys.exit(1)"
    )
    config = staging_config(
        f"http://127.0.0.1:{free_port()}", _command("leaky", leak) + SECRETS_TABLE
    )
    run = run_gate(tmp_path, config, "-rA", "-vv", *workers)
    assert run.exit_code == 1, run.output
    assert run.outcomes()["command.leaky"] == "FAIL"
    assert "NEXTAUTH_SECRET=***" in run.gate("command.leaky")["evidence"]["output_tail"]
    _assert_nowhere(run, DOTENV_SECRET, PROD_SECRET)


def test_a_pem_value_of_secret_env_is_masked_line_by_line_in_process_output(
    tmp_path: Path,
) -> None:
    leak = "import os, sys; print(os.environ['SIGNING_KEY'], flush=True); sys.exit(1)"
    config = staging_config(
        f"http://127.0.0.1:{free_port()}",
        _command("pem", leak, 'secret_env = ["SIGNING_KEY"]'),
    )
    run = run_gate(tmp_path, config, "-rA", environ={"SIGNING_KEY": PEM})
    assert run.exit_code == 1, run.output
    assert run.outcomes()["command.pem"] == "FAIL"
    _assert_nowhere(run, *PEM_LINES)


def test_a_pem_token_env_is_masked_line_by_line() -> None:
    redactor = Redactor.from_env(["T"], {"T": PEM})
    masked = "\n".join(redactor.text(line) for line in PEM.splitlines())
    for line in PEM_LINES:
        assert line not in masked


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_a_dotenv_value_that_is_an_outcome_word_masks_no_result_and_crashes_nothing(
    tmp_path: Path, workers: list[str]
) -> None:
    _write_envs(
        tmp_path,
        f"LOG_LEVEL=WARN\nLOG_FLOOR=ERROR\nNEXTAUTH_SECRET={DOTENV_SECRET}\n",
        f"LOG_LEVEL=WARN\nLOG_FLOOR=ERROR\nNEXTAUTH_SECRET={PROD_SECRET}\n",
    )
    leak = (
        "import sys; print(open('envs/staging.env').read(), flush=True); "
        "print('ERROR WARN PASS FAIL', flush=True); sys.exit(1)"
    )
    config = staging_config(
        f"http://127.0.0.1:{free_port()}", _command("words", leak) + SECRETS_TABLE
    )
    run = run_gate(tmp_path, config, *workers)
    assert run.exit_code == 1, run.output
    assert "INTERNALERROR" not in run.output
    verdict = run.verdict
    words = {"PASS", "WARN", "INCONCLUSIVE", "FAIL", "ERROR"}
    assert all(g["outcome"] in words for g in verdict["gates"])
    assert set(verdict["counts"]) == words
    assert run.outcomes()["command.words"] == "FAIL"
    assert "ERROR WARN PASS FAIL" in run.gate("command.words")["reason"]
    # Said so, by variable name, never by value.
    assert "LOG_LEVEL" in run.output and "not masked" in run.output
    _assert_nowhere(run, DOTENV_SECRET)
    junit = run.files["junit"].read_text()
    for quote in ('"', "&quot;"):
        assert f"outcome{quote}: {quote}***" not in junit


def test_a_named_secret_equal_to_an_outcome_word_never_masks_the_verdicts_structure(
    tmp_path: Path,
) -> None:
    config = staging_config(
        f"http://127.0.0.1:{free_port()}",
        _command("fails", "import sys; sys.exit(1)", 'secret_env = ["WEAK"]'),
    )
    run = run_gate(tmp_path, config, environ={"WEAK": "FAIL"})
    assert run.exit_code == 1, run.output
    assert "INTERNALERROR" not in run.output
    assert run.outcomes()["command.fails"] == "FAIL"
    assert run.verdict["decision"] == "HOLD"
    assert json.loads(run.files["latest"].read_text())["counts"]["FAIL"] == 1


def test_a_dotenv_file_that_does_not_parse_is_still_masked(tmp_path: Path) -> None:
    # A bad line makes the secrets gate ERROR; a command gate printing the file before it
    # must still show none of its values.
    _write_envs(
        tmp_path,
        f"NEXTAUTH_SECRET={DOTENV_SECRET}\nthis line is not an assignment\n",
        f'NEXTAUTH_SECRET="{PROD_SECRET}\n',  # an unterminated quote
    )
    leak = (
        "import sys; print(open('envs/staging.env').read(), flush=True); "
        "print(open('envs/production.env').read(), flush=True); sys.exit(1)"
    )
    config = staging_config(
        f"http://127.0.0.1:{free_port()}", _command("leaky", leak) + SECRETS_TABLE
    )
    run = run_gate(tmp_path, config, "-rA")
    assert run.exit_code == 1, run.output
    assert run.outcomes()["secrets.missing"] == "ERROR"
    _assert_nowhere(run, DOTENV_SECRET, PROD_SECRET)
