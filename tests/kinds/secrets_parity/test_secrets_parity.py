"""The secrets-parity gates: the dotenv reader, the checks, and `pytest --gate` end to end
(the whole suite against the reference service), with planted values searched for in
every artifact, serially and under ``-n 2``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from gaterun import GATES, GateRunResult, run_gate, staging_config
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_fixgate.kinds.secrets_parity.measurement import is_local_uri, placeholder_kind
from pytest_fixgate.measurements.dotenv import DotenvError, SourceMissing, parse_dotenv, read_source

# Planted values. "staging.env" is also a substring of other text (the source's own path,
# shown in every gate's evidence): it must be masked there too.
SHARED = "shared-Kq7vN2planted"
STAGING_URI_PW = "pw-Staging-Rt5"
PROD_SECRET = "prod-Secret-Mz3Lq"
SUBSTRING = "staging.env"
PLANTED = (SHARED, STAGING_URI_PW, PROD_SECRET, SUBSTRING)

# These gates and the runbook's health gates (implied by every config), against the
# reference service: the decision is a real one, and other kinds' gate files stay out.
SUITE = GATES / "test_secrets_parity.py"
HEALTH = str(GATES / "test_health.py")

CHECKS = ("missing", "extra", "empty", "placeholder", "must_differ", "forbidden", "localhost")


# --- the dotenv reader ---------------------------------------------------------------


def test_dotenv_reads_what_vercel_env_pull_writes() -> None:
    text = (
        "\ufeff# Created by Vercel CLI\n"
        'NEXTAUTH_SECRET="a\\"b\\nc"\n'
        "export PLAIN=value with spaces   # a comment\n"
        "EMPTY=\n"
        "SINGLE='lit\\eral'\n"
        'MULTI="line one\n'
        'line two"\n'
        "\n"
        "HASH=abc#def\n"
        "PLAIN=last wins\n"
    )
    assert parse_dotenv(text, label="x.env") == {
        "NEXTAUTH_SECRET": 'a"b\nc',
        "PLAIN": "last wins",
        "EMPTY": "",
        "SINGLE": "lit\\eral",
        "MULTI": "line one\nline two",
        "HASH": "abc",
    }


# How the application's dotenv library (npm ``dotenv``, loaded by Next.js through
# ``@next/env``) reads each line, from its documented rules ("# marks the beginning of
# a comment (unless when the value is wrapped in quotes)", "empty values become empty
# strings", "whitespace is removed from both ends of unquoted values", backticks).
# The last column: whether python-dotenv reads the line the same way.
DOTENV_RULES = [
    # python-dotenv 1.2.2 reads these two as "# TODO" (measured); dotenv and bash: empty.
    ("NAME= # TODO", "", False),
    ("NAME=   # TODO: set me", "", False),
    ("NAME=", "", True),
    ("NAME=#TODO", "", False),  # python-dotenv: "#TODO" (a comment needs a space before it)
    ("A=abc#def", "abc", False),  # python-dotenv: "abc#def"
    ("A=abc #def", "abc", True),
    ("A=  some value  ", "some value", True),
    ('A="abc#def"', "abc#def", True),
    ("A='abc # def'", "abc # def", True),
    ('A="  keep  " # comment', "  keep  ", True),
    ("A=`has 'single' and \"double\"`", "has 'single' and \"double\"", False),
    ('JSON={"foo": "bar"}', '{"foo": "bar"}', True),
    ("export A=exported", "exported", True),
    ('A="new\\nline"', "new\nline", True),
]


@pytest.mark.parametrize(("line", "value", "python_dotenv_agrees"), DOTENV_RULES)
def test_dotenv_lines_read_as_the_applications_dotenv_reads_them(
    line: str, value: str, python_dotenv_agrees: bool
) -> None:
    import io

    from dotenv import dotenv_values

    name = line.removeprefix("export ").partition("=")[0]
    assert parse_dotenv(line + "\n", label="x.env") == {name: value}
    theirs = dotenv_values(stream=io.StringIO(line + "\n"))[name]
    assert (theirs == value) is python_dotenv_agrees, theirs


def test_bash_reads_an_assignment_with_only_a_comment_as_empty(tmp_path: Path) -> None:
    (tmp_path / "a.env").write_text("NAME= # TODO\nB=abc #def\n", encoding="utf-8")
    shown = subprocess.run(
        ["bash", "-c", 'set -a; . ./a.env; printf "%s|%s" "$NAME" "$B"'],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert shown == "|abc"
    assert parse_dotenv((tmp_path / "a.env").read_text(), label="a.env") == {"NAME": "", "B": "abc"}


@pytest.mark.parametrize(
    ("text", "line", "why"),
    [
        ("A=1\nthis-line-holds-Sx9secret\n", 2, "expected NAME=value"),
        ("A=1\n\n9BAD=Sx9secret\n", 3, "not a variable name"),
        ('A="Sx9secret\nB=2\n', 1, "unterminated"),
        ('A="x" Sx9secret\n', 1, "text after the closing quote"),
    ],
)
def test_a_bad_line_names_file_and_line_never_its_content(text: str, line: int, why: str) -> None:
    with pytest.raises(DotenvError) as caught:
        parse_dotenv(text, label="envs/staging.env")
    message = str(caught.value)
    assert message.startswith(f"envs/staging.env: line {line}: cannot parse")
    assert why in message
    assert "Sx9secret" not in message


def test_sources_are_files_or_this_process(tmp_path: Path) -> None:
    with pytest.raises(SourceMissing, match=r"nowhere\.env: no such file"):
        read_source("nowhere.env", tmp_path)
    process = read_source("process:", tmp_path, {"A": "val-Hx4"})
    assert dict(process.values) == {"A": "val-Hx4"}
    assert "val-Hx4" not in repr(process)  # values stay out of tracebacks


def test_placeholders_and_local_uris() -> None:
    listed = ("change-me", "<...>")
    assert placeholder_kind(" CHANGE-ME ", listed) == "a listed placeholder"
    assert placeholder_kind("<your secret here>", listed) == "<...>-shaped"
    assert placeholder_kind("<your secret here>", ("change-me",)) is None
    assert placeholder_kind("change-me-not", listed) is None
    assert is_local_uri("mongodb://u:p@localhost:27017/db") == "localhost"
    assert is_local_uri("mongodb://db1:27017,127.0.0.1:27018/db?replicaSet=x") == "127.0.0.1"
    assert is_local_uri("mongodb://[::1]:27017/db") == "::1"
    assert is_local_uri("mongodb://[::]:27017/db") == "::"
    assert is_local_uri("mongodb://u:p@[::ffff:127.0.0.1]:27017/db") == "::ffff:127.0.0.1"
    assert is_local_uri("mongodb://[0:0:0:0:0:0:0:1]/db") == "0:0:0:0:0:0:0:1"
    assert is_local_uri("mongodb://[2001:db8::1]:27017/db") is None
    assert placeholder_kind("a-SuperSecret-b", ("supersecret",), "substring") == (
        "contains a listed placeholder"
    )
    assert placeholder_kind("a-SuperSecret-b", ("supersecret",)) is None
    assert is_local_uri("mongodb+srv://u:p@cluster0.abcd.mongodb.net/db") is None
    assert is_local_uri("not a uri") is None


def test_sources_that_define_no_name_prove_nothing(tmp_path: Path) -> None:
    # Empty dotenv files (a failed `vercel env pull`) and no manifest: the checks on names
    # compared nothing, which is not a PASS.
    from pytest_fixgate.kinds.secrets_parity.config import SecretsConfig
    from pytest_fixgate.kinds.secrets_parity.judge import judge_secrets_check
    from pytest_fixgate.kinds.secrets_parity.measurement import read_secrets
    from pytest_fixgate.outcomes.model import Outcome
    from pytest_fixgate.redaction import Redactor

    (tmp_path / "staging.env").write_text("# Created by Vercel CLI\n", encoding="utf-8")
    (tmp_path / "production.env").write_text("", encoding="utf-8")
    config = SecretsConfig(
        sources={"staging": "staging.env", "production": "production.env"},
        base_dir=tmp_path,
        forbidden={"production": ("SKIP_ENV_VALIDATION",)},
    )
    reading = read_secrets(config, Redactor())
    for check in ("missing", "empty", "placeholder"):
        finding = judge_secrets_check(check, reading)
        assert finding.outcome is Outcome.INCONCLUSIVE, check
        assert "no variable name to check" in finding.evidence.reason
    assert judge_secrets_check("forbidden", reading).outcome is Outcome.PASS
    (tmp_path / "production.env").write_text("A=1\n", encoding="utf-8")
    (tmp_path / "staging.env").write_text("A=2\n", encoding="utf-8")
    reading = read_secrets(config, Redactor())
    assert judge_secrets_check("missing", reading).outcome is Outcome.PASS


def test_a_multi_line_value_is_masked_line_by_line() -> None:
    # Process logs are redacted one line at a time: a PEM key from a dotenv file must be
    # masked there too, not only where it appears whole.
    from pytest_fixgate.kinds.secrets_parity.measurement import redactable_values
    from pytest_fixgate.redaction import Redactor

    key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nq1w2e3r4t5y6\n-----END KEY-----\n"
    redactor = Redactor(redactable_values([key, "true", "ab"], (), ()))
    assert "MIIEvQ" not in redactor.text("line: MIIEvQIBADANBgkqhkiG9w0BAQEFAASC")
    assert "q1w2e3" not in redactor.text("q1w2e3r4t5y6")
    assert redactor.text(key.strip()) == "***"
    assert redactor.text("true ab") == "true ab"


# --- end to end ----------------------------------------------------------------------

MANIFEST = "NEXTAUTH_SECRET=\nAUTH_SECRET=\nMONGODB_URI=\nSENTRY_DSN=\nNODE_ENV=\nSESSION_LABEL=\n"
HEALTHY = {
    "staging": (
        "# Created by Vercel CLI\n"
        f'NEXTAUTH_SECRET="{SHARED}"\n'
        'AUTH_SECRET="stg-auth-Pp1"\n'
        f'MONGODB_URI="mongodb://app:{STAGING_URI_PW}@db.staging.internal:27017/fixzit"\n'
        f'SESSION_LABEL="{SUBSTRING}"\n'
        'NODE_ENV="production"\n'
    ),
    "production": (
        f'NEXTAUTH_SECRET="{PROD_SECRET}"\n'
        'AUTH_SECRET="prd-auth-Pp2"\n'
        'MONGODB_URI="mongodb+srv://app:prd-Pw9@cluster0.mongodb.net/fixzit"\n'
        'SESSION_LABEL="x"\n'
        'NODE_ENV="production"\n'
    ),
}
TABLE = """[env.staging.secrets]
manifest = "app.env.example"
sources = { staging = "envs/staging.env", production = "envs/production.env" }
must_differ = ["NEXTAUTH_SECRET", "AUTH_SECRET", "MONGODB_URI"]
forbidden = { production = ["NEXTAUTH_BYPASS_OTP_ALL", "SKIP_ENV_VALIDATION"] }
optional = ["SENTRY_DSN", "SESSION_LABEL"]
"""


def _write(tmp_path: Path, files: dict[str, str], manifest: str | None = MANIFEST) -> None:
    (tmp_path / "envs").mkdir(parents=True, exist_ok=True)
    for env, text in files.items():
        (tmp_path / "envs" / f"{env}.env").write_text(text, encoding="utf-8")
    if manifest is not None:
        (tmp_path / "app.env.example").write_text(manifest, encoding="utf-8")


def _secrets_run(
    tmp_path: Path, base_url: str, files: dict[str, str], *args: str, table: str = TABLE, **kw: Any
) -> GateRunResult:
    _write(tmp_path, files, **kw)
    return run_gate(tmp_path, staging_config(base_url, table), HEALTH, *args, suite=SUITE)


def _secret_outcomes(result: GateRunResult) -> dict[str, str]:
    return {k: v for k, v in result.outcomes().items() if k.startswith("secrets.")}


def _artifacts(result: GateRunResult) -> dict[str, str]:
    texts = {"terminal": result.output}
    for path in result.report_dir.rglob("*"):
        if path.is_file():
            texts[str(path)] = path.read_text(errors="replace")
    return texts


def test_healthy_environments_promote(tmp_path: Path, reference: Any) -> None:
    result = _secrets_run(tmp_path, reference.base_url, HEALTHY)
    assert result.exit_code == 0, result.output
    outcomes = _secret_outcomes(result)
    assert outcomes == {f"secrets.{c}": "PASS" for c in CHECKS}, outcomes
    assert result.verdict["decision"] == "PROMOTE"


def test_a_value_that_is_only_a_comment_is_empty_end_to_end(tmp_path: Path, reference: Any) -> None:
    # `vercel env pull` never writes this, a hand-kept file does: the value is empty.
    files = {**HEALTHY, "production": HEALTHY["production"] + "AUTH_SECRET= # TODO\n"}
    result = _secrets_run(tmp_path, reference.base_url, files)
    assert result.exit_code == 1, result.output
    assert _secret_outcomes(result)["secrets.empty"] == "FAIL"
    rows = result.gate("secrets.empty")["evidence"]["findings"]
    assert [(r["name"], r["environment"]) for r in rows] == [("AUTH_SECRET", "production")]


BROKEN = {
    "staging": HEALTHY["staging"].replace('AUTH_SECRET="stg-auth-Pp1"', 'AUTH_SECRET=""')
    + "EXTRA_THING=1\n",
    "production": (
        f'NEXTAUTH_SECRET="{SHARED}"\n'  # the same value as staging
        'AUTH_SECRET="<paste the secret here>"\n'
        f'MONGODB_URI="mongodb://app:{PROD_SECRET}@localhost:27017/fixzit"\n'
        "NEXTAUTH_BYPASS_OTP_ALL=\n"  # present at all is enough
        'SESSION_LABEL="Change-Me"\n'
    ),
}


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_every_check_fails_with_a_table_and_no_value_leaks(
    tmp_path: Path, reference: Any, workers: list[str]
) -> None:
    result = _secrets_run(tmp_path, reference.base_url, BROKEN, "-rA", "-vv", "-l", *workers)
    assert result.exit_code == 1, result.output
    assert _secret_outcomes(result) == {
        "secrets.missing": "FAIL",  # NODE_ENV in production
        "secrets.extra": "WARN",
        "secrets.empty": "FAIL",
        "secrets.placeholder": "FAIL",
        "secrets.must_differ": "FAIL",
        "secrets.forbidden": "FAIL",
        "secrets.localhost": "FAIL",
    }
    table = {
        c: [(r["name"], r.get("environment") or r["environments"], r["problem"]) for r in rows]
        for c in CHECKS
        if (rows := result.gate(f"secrets.{c}")["evidence"]["findings"])
    }
    assert table == {
        "missing": [("NODE_ENV", "production", "not defined")],
        "extra": [("EXTRA_THING", "staging", "not in the manifest")],
        "empty": [("AUTH_SECRET", "staging", "empty value")],
        "placeholder": [
            ("AUTH_SECRET", "production", "<...>-shaped"),
            ("SESSION_LABEL", "production", "a listed placeholder"),
        ],
        "must_differ": [
            ("NEXTAUTH_SECRET", "staging, production", "same value"),
            # empty in staging: no proof that it differs (the gate FAILs on the other anyway)
            (
                "AUTH_SECRET",
                "production",
                "not compared: set (non-empty) in fewer than two environments",
            ),
        ],
        "forbidden": [("NEXTAUTH_BYPASS_OTP_ALL", "production", "present (empty)")],
        "localhost": [("MONGODB_URI", "production", "points at localhost")],
    }
    decision = result.verdict["decision"]
    assert decision == "HOLD"
    for name, text in _artifacts(result).items():
        for value in PLANTED:
            assert value not in text, f"{value!r} leaked into {name}"
    # The source path contains a planted value: masked there as well, never shown.
    assert "envs/***" in result.gate("secrets.missing")["evidence"]["method"]


def test_missing_source_file_is_an_error(tmp_path: Path, reference: Any) -> None:
    result = _secrets_run(tmp_path, reference.base_url, {"staging": HEALTHY["staging"]})
    assert result.exit_code == 1, result.output
    assert set(_secret_outcomes(result).values()) == {"ERROR"}
    assert "envs/production.env: no such file" in result.gate("secrets.missing")["reason"]


def test_corrupt_dotenv_line_is_an_error_naming_file_and_line(
    tmp_path: Path, reference: Any
) -> None:
    files = {**HEALTHY, "production": HEALTHY["production"] + "oops Corrupt-Vx2 line\n"}
    result = _secrets_run(tmp_path, reference.base_url, files)
    assert result.exit_code == 1, result.output
    assert set(_secret_outcomes(result).values()) == {"ERROR"}
    reason = result.gate("secrets.placeholder")["reason"]
    assert "envs/production.env: line 6: cannot parse" in reason
    for text in _artifacts(result).values():
        assert "Corrupt-Vx2" not in text


def test_missing_manifest_is_an_error(tmp_path: Path, reference: Any) -> None:
    result = _secrets_run(tmp_path, reference.base_url, HEALTHY, manifest=None)
    assert set(_secret_outcomes(result).values()) == {"ERROR"}
    assert "app.env.example: no such file" in result.gate("secrets.missing")["reason"]


def test_process_source_reads_this_jobs_environment(tmp_path: Path, reference: Any) -> None:
    table = TABLE.replace('staging = "envs/staging.env"', 'staging = "process:"')
    _write(tmp_path, {"production": HEALTHY["production"]})
    environ = {
        "NEXTAUTH_SECRET": PROD_SECRET,  # equal to production's: must_differ FAILs
        "AUTH_SECRET": "job-auth-Jb1",
        "MONGODB_URI": "mongodb://db.staging.internal/fixzit",
        "NODE_ENV": "production",
    }
    config = staging_config(reference.base_url, table)
    result = run_gate(tmp_path, config, HEALTH, suite=SUITE, environ=environ)
    outcomes = _secret_outcomes(result)
    assert outcomes["secrets.must_differ"] == "FAIL", outcomes
    assert outcomes["secrets.missing"] == "PASS"
    assert outcomes["secrets.extra"] == "PASS"  # the job's PATH, HOME, ... are not extras
    assert outcomes["secrets.localhost"] == "PASS"
    assert PROD_SECRET not in result.output


@pytest.mark.parametrize(
    ("replace", "message"),
    [
        (
            ("must_differ = [", 'placeholders = ["${...}"]\nmust_differ = ['),
            "env.staging.secrets.placeholders[0]: got '${...}', expected a literal value, "
            "or the shape '<...>' (no other shape)",
        ),
        (
            ("forbidden = { production", "forbidden = { prod"),
            "env.staging.secrets.forbidden.prod: got 'prod', expected an environment of sources",
        ),
        (
            (', production = "envs/production.env" }', " }"),
            "env.staging.secrets.must_differ",
        ),
        (("optional =", "optinal ="), "did you mean 'optional'?"),
        (
            ("optional =", 'required = "some"\noptional ='),
            "env.staging.secrets.required: got 'some'",
        ),
        (
            ("optional =", 'forbidden_values = { production = ["true"] }\noptional ='),
            "env.staging.secrets.forbidden_values.production",
        ),
        (
            ("optional =", 'placeholder_match = "regex"\noptional ='),
            "env.staging.secrets.placeholder_match: got 'regex'",
        ),
        (("must_differ = [", "must_differ = [[], "), "env.staging.secrets.must_differ[0]"),
    ],
    ids=[
        "unknown-placeholder-shape",
        "unknown-env",
        "one-source",
        "typo",
        "required-mode",
        "forbidden-values-shape",
        "placeholder-match",
        "empty-group",
    ],
)
def test_bad_config_is_one_line_and_exit_4(
    tmp_path: Path, reference: Any, replace: tuple[str, str], message: str
) -> None:
    table = TABLE.replace(*replace)
    result = _secrets_run(tmp_path, reference.base_url, HEALTHY, table=table)
    assert result.exit_code == 4, result.output
    assert message in result.output
    assert "Traceback" not in result.output


# --- the real application's guards, described by examples/fixzit.toml ----------------

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "fixzit.toml"
# Laid out as the application's .env.example is: banners and "=== X ===" sub-headers,
# names with an example value, and empty ones (optional integrations, docker-only ones).
FIXZIT_MANIFEST = """# =============================================================================
# FIXZIT ENVIRONMENT CONFIGURATION
# =============================================================================
# Copy this file to .env.local for development
# =============================================================================

# === NODE ENVIRONMENT ===
NODE_ENV=development

# =============================================================================
# CRITICAL: REQUIRED FOR PRODUCTION
# =============================================================================

# === DATABASE (MongoDB) ===
MONGODB_URI=mongodb://localhost:27017/fixzit
MONGO_INITDB_ROOT_PASSWORD=
COMPOSE_MONGODB_URI=

# === NEXTAUTH (OAuth Authentication) ===
NEXTAUTH_SECRET=
NEXTAUTH_URL=http://localhost:3000

# =============================================================================
# SOUQ MARKETPLACE CONFIGURATION
# =============================================================================
# === PAYMENT GATEWAYS ===
TAP_ENVIRONMENT=test
TAP_WEBHOOK_SECRET=
SENTRY_DSN= # TODO
WO_ENABLED=true              # Work Orders module
"""


def _example_secrets_table() -> str:
    text = EXAMPLE.read_text(encoding="utf-8")
    start = text.index("[env.staging.secrets]\n")
    end = text.find("\n[", start + 1)
    return text[start : end if end != -1 else None]


def _fixzit_env(uri: str, secret: str, auth: str | None, url: str, tap: str = "test") -> str:
    # What `vercel env pull` writes for an environment built from the manifest: the names
    # with an example value, the secrets, none of the empty optional ones. AUTH_SECRET is
    # not in the application's .env.example: where set, it is an extra (WARN).
    return (
        f'NODE_ENV="production"\nMONGODB_URI="{uri}"\nNEXTAUTH_SECRET="{secret}"\n'
        + (f'AUTH_SECRET="{auth}"\n' if auth is not None else "")
        + f'NEXTAUTH_URL="{url}"\nTAP_ENVIRONMENT="{tap}"\nWO_ENABLED="true"\n'
    )


@pytest.mark.parametrize("healthy", [True, False], ids=["healthy", "guards-broken"])
def test_the_example_holds_production_to_the_applications_guards(
    tmp_path: Path, reference: Any, healthy: bool
) -> None:
    # The example sits at the application's root: manifest = ".env.example" beside it.
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / ".env.example").write_text(FIXZIT_MANIFEST)
    staging = _fixzit_env(
        "mongodb+srv://fx:stg-Pw1x@stg.example.net/fixzit",
        "stg-nextauth-Q1",
        None,
        "https://staging.fixzit.example",
    )
    production = _fixzit_env(
        "mongodb+srv://fx:prd-Pw2x@prd.example.net/fixzit",
        "prd-nextauth-Q3",
        None,
        "https://fixzit.example",
        tap="live",
    )
    if not healthy:
        production = (
            _fixzit_env(
                "mongodb://127.0.0.1:27017/fixzit",
                "stg-nextauth-Q1",  # staging's
                "change-me",
                "https://fixzit.example",
            )
            + "ALLOW_TEST_USER_OTP_BYPASS=false\n"
        )  # present at all is a FAIL
    result = _secrets_run(
        tmp_path,
        reference.base_url,
        {"staging": staging, "production": production},
        table=_example_secrets_table(),
        manifest=None,
    )
    outcomes = _secret_outcomes(result)
    if healthy:
        assert result.exit_code == 0, result.output
        assert set(outcomes.values()) == {"PASS"}, outcomes
        return
    assert result.exit_code == 1, result.output
    failing = {gate for gate, outcome in outcomes.items() if outcome == "FAIL"}
    assert failing == {
        "secrets.placeholder",
        "secrets.must_differ",
        "secrets.forbidden",
        "secrets.localhost",
    }, outcomes
    assert "ALLOW_TEST_USER_OTP_BYPASS (production)" in result.gate("secrets.forbidden")["reason"]


def _example_rows(result: GateRunResult, check: str) -> list[tuple[str, str, str]]:
    rows = result.gate(f"secrets.{check}")["evidence"]["findings"]
    return [(r["name"], r.get("environment") or r["environments"], r["problem"]) for r in rows]


def test_the_example_applies_the_applications_own_rules(tmp_path: Path, reference: Any) -> None:
    (tmp_path / ".env.example").write_text(FIXZIT_MANIFEST)
    shared = "shared-auth-Tq8w"  # staging's AUTH_SECRET is production's NEXTAUTH_SECRET
    staging = (
        'NODE_ENV="production"\nMONGODB_URI="mongodb://[::]:27017/fixzit"\n'
        f'AUTH_SECRET="{shared}"\nNEXTAUTH_URL="https://staging.fixzit.example"\n'
        'TAP_ENVIRONMENT="test"\nWO_ENABLED="true"\nSKIP_ENV_VALIDATION="true"\n'
    )
    production = (
        'NODE_ENV="production"\nMONGODB_URI="mongodb://fx:Pw@[::1]:27017/fixzit"\n'
        f'NEXTAUTH_SECRET="{shared}"\nNEXTAUTH_URL="https://fixzit.example"\n'
        'TAP_ENVIRONMENT="live"\nWO_ENABLED="true"\nSKIP_ENV_VALIDATION="false"\n'
        'DISABLE_MONGODB_FOR_BUILD="True"\n'  # the app compares === "true": not forbidden
    )
    files = {"staging": staging, "production": production}
    result = _secrets_run(
        tmp_path, reference.base_url, files, table=_example_secrets_table(), manifest=None
    )
    outcomes = _secret_outcomes(result)
    # Only the names with an example value are required; TAP_ENVIRONMENT=test is Tap's
    # sandbox mode (a placeholder of the secrets only).
    assert outcomes["secrets.missing"] == "PASS", _example_rows(result, "missing")
    assert outcomes["secrets.placeholder"] == "PASS", _example_rows(result, "placeholder")
    assert _example_rows(result, "must_differ") == [
        ("NEXTAUTH_SECRET or AUTH_SECRET", "staging, production", "same value")
    ]
    assert _example_rows(result, "forbidden") == [
        ("SKIP_ENV_VALIDATION", "staging", "set to 'true', a forbidden value")
    ]
    assert _example_rows(result, "localhost") == [
        ("MONGODB_URI", "staging", "points at ::"),
        ("MONGODB_URI", "production", "points at ::1"),
    ]
    assert shared not in "\n".join(_artifacts(result).values())

    # The application's substring rule on the secrets, and an alternative missing.
    (tmp_path / "weak").mkdir()
    (tmp_path / "weak" / ".env.example").write_text(FIXZIT_MANIFEST)
    weak = production.replace(f'NEXTAUTH_SECRET="{shared}"', 'NEXTAUTH_SECRET="my-SuperSecret-9x"')
    again = _secrets_run(
        tmp_path / "weak",
        reference.base_url,
        {"staging": staging.replace(f'AUTH_SECRET="{shared}"\n', ""), "production": weak},
        table=_example_secrets_table(),
        manifest=None,
    )
    assert _example_rows(again, "placeholder") == [
        ("NEXTAUTH_SECRET", "production", "contains a listed placeholder")
    ]
    assert _example_rows(again, "must_differ") == [
        ("NEXTAUTH_SECRET or AUTH_SECRET", "staging", "none of the alternatives set (non-empty)")
    ]


@pytest.mark.parametrize(
    ("required", "missing"),
    [
        (
            'required = "all"',
            {
                "COMPOSE_MONGODB_URI",
                "MONGO_INITDB_ROOT_PASSWORD",
                "SENTRY_DSN",
                "TAP_WEBHOOK_SECRET",
            },
        ),
        ('required = "non-empty"', set()),
        ('required = ["TAP_WEBHOOK_SECRET", "NODE_ENV"]', {"TAP_WEBHOOK_SECRET"}),
        (
            'required_sections = ["CRITICAL: REQUIRED FOR PRODUCTION"]',
            {"COMPOSE_MONGODB_URI", "MONGO_INITDB_ROOT_PASSWORD"},
        ),
        (
            'required_sections = ["database (mongodb)"]',
            {"COMPOSE_MONGODB_URI", "MONGO_INITDB_ROOT_PASSWORD"},
        ),
        (
            'required = "non-empty"\nrequired_sections = ["PAYMENT GATEWAYS"]',
            {"SENTRY_DSN", "TAP_WEBHOOK_SECRET"},
        ),
    ],
    ids=["all", "non-empty", "list", "banner", "sub-header-any-case", "non-empty-and-section"],
)
def test_which_manifest_names_are_required(
    tmp_path: Path, reference: Any, required: str, missing: set[str]
) -> None:
    (tmp_path / ".env.example").write_text(FIXZIT_MANIFEST)
    env = _fixzit_env(
        "mongodb+srv://app:Pw-long-9@x.example.net/f", "s-Secret1", "a-Auth2", "https://x"
    )
    table = (
        '[env.staging.secrets]\nmanifest = ".env.example"\n'
        'sources = { staging = "envs/staging.env" }\n' + required + "\n"
    )
    result = _secrets_run(
        tmp_path, reference.base_url, {"staging": env}, table=table, manifest=None
    )
    rows = {name for name, _, _ in _example_rows(result, "missing")}
    assert rows == missing
    assert _secret_outcomes(result)["secrets.missing"] == ("FAIL" if missing else "PASS")


def test_a_section_the_manifest_does_not_have_is_an_error(tmp_path: Path, reference: Any) -> None:
    (tmp_path / ".env.example").write_text(FIXZIT_MANIFEST)
    table = (
        '[env.staging.secrets]\nmanifest = ".env.example"\n'
        'sources = { staging = "envs/staging.env" }\nrequired_sections = ["PAYMENTS"]\n'
    )
    result = _secrets_run(
        tmp_path, reference.base_url, {"staging": "A=1\n"}, table=table, manifest=None
    )
    assert _secret_outcomes(result)["secrets.missing"] == "ERROR"
    assert "'PAYMENTS' is no section of .env.example" in result.gate("secrets.missing")["reason"]


_NAMES = st.from_regex(r"[A-Z_][A-Z0-9_]{0,20}", fullmatch=True)
_VALUES = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)


def _vercel_quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return escaped.replace("\r", "\\r")


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_NAMES, _VALUES, max_size=8))
def test_what_vercel_writes_reads_back_exactly(env: dict[str, str]) -> None:
    text = "# Created by Vercel CLI\n" + "".join(
        f'{name}="{_vercel_quote(value)}"\n' for name, value in env.items()
    )
    assert parse_dotenv(text, label="x.env") == env


def test_the_checks_and_judges_import_no_pytest_and_no_http_client() -> None:
    modules = [
        "pytest_fixgate.kinds.secrets_parity.config",
        "pytest_fixgate.kinds.flags.config",
        "pytest_fixgate.measurements.dotenv",
        "pytest_fixgate.kinds.secrets_parity.measurement",
        "pytest_fixgate.kinds.flags.measurement",
        "pytest_fixgate.kinds.secrets_parity.judge",
        "pytest_fixgate.kinds.flags.judge",
    ]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "loaded = {'pytest', 'httpx'} & set(sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
