"""The feature-flag gates: the answer shapes, the override mapping, and `pytest --gate`
end to end against the reference service in both contracts (the runbook's
``/api/admin/features`` and the real application's ``/api/admin/feature-flags``),
proving the gate only ever sent GETs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from gaterun import GATES, GateRunResult, run_gate, staging_config

from pytest_fixgate.config.flags import FlagsConfig
from pytest_fixgate.errors import ProbeBadResponse
from pytest_fixgate.measurements.flags import parse_flags_body, read_overrides
from pytest_fixgate.redaction import Redactor
from pytest_fixgate.reference import (
    MongoServer,
    ReferenceService,
    free_port,
    reference_service,
)

SUITE = GATES / "test_flags.py"
FIXZIT_ADMIN = "fixzit-flags-admin-Wq4"


# --- the pieces ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "shape"),
    [
        ({"flags": [{"id": "ui.a", "enabled": True, "name": "A"}], "evaluatedAt": "x"}, "flags"),
        ({"features": [{"feature": "a", "enabled": True}]}, "features"),
        ([{"feature": "a", "enabled": True}], "[{feature"),
        ({"a": True}, "{flag: enabled}"),
    ],
)
def test_every_known_answer_shape_is_read(body: Any, shape: str) -> None:
    found, flags = parse_flags_body(body, "http://x/f")
    assert shape in found
    assert list(flags.values()) == [True]
    assert next(iter(flags)) in ("ui.a", "a")


@pytest.mark.parametrize(
    "body",
    [{}, {"flags": [{"id": "a", "enabled": "yes"}]}, {"a": "on"}, [1], "flags", {"flags": "x"}],
)
def test_other_answers_are_bad_responses(body: Any) -> None:
    with pytest.raises(ProbeBadResponse):
        parse_flags_body(body, "http://x/f")


def test_overrides_map_like_the_application(tmp_path: Path) -> None:
    (tmp_path / "a.env").write_text(
        "FEATURE_UI_NEW_DASHBOARD=TRUE\nFEATURE_CORE_X=disabled\nOTHER_SECRET=kept-Out-9\n"
    )
    (tmp_path / "b.env").write_text('FEATURE_CORE_X="True"\n')
    config = FlagsConfig(intended={"a": True}, base_dir=tmp_path, env_sources=("a.env", "b.env"))
    redactor = Redactor()
    overrides = read_overrides(config, redactor)
    assert [(o.variable, o.flag, o.enabled, o.source) for o in overrides] == [
        ("FEATURE_CORE_X", "core.x", True, "b.env"),  # the later source wins
        ("FEATURE_UI_NEW_DASHBOARD", "ui.new.dashboard", True, "a.env"),
    ]
    # Every value of a dotenv source joins the redaction, but for switches.
    assert redactor.text("kept-Out-9 TRUE disabled") == "*** TRUE disabled"
    underscore = FlagsConfig(intended={"a": True}, base_dir=tmp_path, override_separator="_")
    assert underscore.flag_id("FEATURE_NEW_DASHBOARD") == "new_dashboard"


# --- end to end against the runbook contract ----------------------------------------


def _admin_requests(service: ReferenceService) -> dict[str, int]:
    return httpx.get(f"{service.base_url}/__fixgate/requests", timeout=5).json()["admin_flags"]


def _flag_outcomes(result: GateRunResult) -> dict[str, str]:
    return {k: v for k, v in result.outcomes().items() if k.startswith("flags.")}


def _flags_run(
    tmp_path: Path,
    service: ReferenceService,
    table: str,
    overrides: str,
    token: str | None,
    *args: str,
) -> GateRunResult:
    (tmp_path / "envs").mkdir(parents=True, exist_ok=True)
    (tmp_path / "envs" / "staging.env").write_text(overrides, encoding="utf-8")
    config = staging_config(service.base_url, "[env.staging.flags]\n" + table)
    environ = {"T_ADMIN": token} if token is not None else {}
    # With the runbook's health gates (implied by every config; they pass on this service).
    health = str(GATES / "test_health.py")
    return run_gate(tmp_path, config, health, *args, suite=SUITE, environ=environ)


RUNBOOK_TABLE = """token_env = "T_ADMIN"
env_sources = ["envs/staging.env"]
override_separator = "_"
"""


def test_flags_as_intended_promote_with_only_gets(
    tmp_path: Path, reference: ReferenceService, reference_admin_token: str
) -> None:
    before = _admin_requests(reference)
    table = RUNBOOK_TABLE + "intended = { new_dashboard = false, work_order_export = true }\n"
    result = _flags_run(
        tmp_path, reference, table, "FEATURE_WORK_ORDER_EXPORT=true\n", reference_admin_token
    )
    assert result.exit_code == 0, result.output
    assert _flag_outcomes(result) == {"flags.rollout": "PASS", "flags.overrides": "PASS"}
    rows = result.gate("flags.rollout")["evidence"]["flags"]
    assert [(r["flag"], r["live"], r["effective"]) for r in rows] == [
        ("new_dashboard", "off", "off"),
        ("work_order_export", "on", "on"),
    ]
    assert rows[1]["override"] == "FEATURE_WORK_ORDER_EXPORT (envs/staging.env)"
    after = _admin_requests(reference)
    sent = {m: after.get(m, 0) - before.get(m, 0) for m in after}
    assert sent == {"GET": 1}, sent  # one read, no PATCH, no PUT
    assert reference_admin_token not in result.output


@pytest.mark.parametrize(
    ("shape", "seen"), [("list", "[{feature, enabled}]"), ("object", "{flag: enabled}")]
)
def test_the_runbook_service_answering_in_other_shapes_is_read(
    tmp_path: Path,
    reference: ReferenceService,
    reference_admin_token: str,
    shape: str,
    seen: str,
) -> None:
    reference.set_faults(flags_shape=shape)
    raw = httpx.get(
        f"{reference.base_url}/api/admin/features",
        headers={"Authorization": f"Bearer {reference_admin_token}"},
        timeout=5,
    ).json()
    assert isinstance(raw, list if shape == "list" else dict)
    table = RUNBOOK_TABLE + "intended = { new_dashboard = true, sms_otp_login = true }\n"
    result = _flags_run(tmp_path, reference, table, "", reference_admin_token)
    assert _flag_outcomes(result) == {"flags.rollout": "FAIL", "flags.overrides": "PASS"}
    assert result.gate("flags.rollout")["evidence"]["shape"] == seen
    assert (
        result.gate("flags.rollout")["reason"]
        == "new_dashboard: intended on, live off, no override"
    )


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_drift_unknown_flags_and_dead_overrides_hold(
    tmp_path: Path, reference: ReferenceService, reference_admin_token: str, workers: list[str]
) -> None:
    before = _admin_requests(reference)
    table = RUNBOOK_TABLE + (
        "intended = { new_dashboard = true, sms_otp_login = true, payments_v2 = false, "
        "work_order_export = true }\n"
    )
    overrides = (
        "FEATURE_SMS_OTP_LOGIN=disabled\n"  # the runbook's `vercel env add ... disabled`: off
        "FEATURE_UI_NEW_DASHBOARD=true\n"  # maps to ui_new_dashboard: no such flag
    )
    result = _flags_run(tmp_path, reference, table, overrides, reference_admin_token, *workers)
    assert result.exit_code == 1, result.output
    assert _flag_outcomes(result) == {"flags.rollout": "FAIL", "flags.overrides": "FAIL"}
    rollout = result.gate("flags.rollout")
    assert rollout["reason"] == (
        "new_dashboard: intended on, live off, no override; "
        "sms_otp_login: intended on, live on, FEATURE_SMS_OTP_LOGIN (envs/staging.env) "
        "turns it off; payments_v2: intended off, unknown to the service"
    )
    assert rollout["measured"] == "3 of 4 intended flags off target"
    dead = result.gate("flags.overrides")
    assert "FEATURE_UI_NEW_DASHBOARD -> ui_new_dashboard" in dead["reason"]
    assert result.verdict["decision"] == "HOLD"
    after = _admin_requests(reference)
    sent = {m for m in after if after[m] != before.get(m, 0)}
    assert sent == {"GET"}, after  # one GET per xdist worker at most; never PATCH or PUT


def test_a_refused_token_is_an_error_naming_its_variable(
    tmp_path: Path, reference: ReferenceService
) -> None:
    table = RUNBOOK_TABLE + "intended = { new_dashboard = false }\n"
    result = _flags_run(tmp_path, reference, table, "", "not-the-admin-token-Zx8")
    assert result.exit_code == 1, result.output
    assert _flag_outcomes(result) == {"flags.rollout": "ERROR", "flags.overrides": "ERROR"}
    reason = result.gate("flags.rollout")["reason"]
    assert "$T_ADMIN" in reason and "HTTP 401" in reason
    assert "not-the-admin-token-Zx8" not in result.output
    unset = _flags_run(tmp_path / "unset", reference, table, "", None)
    assert _flag_outcomes(unset)["flags.rollout"] == "ERROR"
    assert "T_ADMIN" in unset.gate("flags.rollout")["reason"]


def test_overrides_from_this_jobs_environment(
    tmp_path: Path, reference: ReferenceService, reference_admin_token: str
) -> None:
    table = RUNBOOK_TABLE.replace('"envs/staging.env"', '"process:"')
    table += "intended = { new_dashboard = false }\n"
    (tmp_path / "envs").mkdir(parents=True)
    config = staging_config(reference.base_url, "[env.staging.flags]\n" + table)
    environ = {"T_ADMIN": reference_admin_token, "FEATURE_NEW_DASHBOARD": "TRUE"}
    result = run_gate(tmp_path, config, str(GATES / "test_health.py"), suite=SUITE, environ=environ)
    assert _flag_outcomes(result) == {"flags.rollout": "FAIL", "flags.overrides": "PASS"}
    assert result.gate("flags.rollout")["reason"] == (
        "new_dashboard: intended off, live off, FEATURE_NEW_DASHBOARD (process:) turns it on"
    )


def test_an_unreachable_service_is_an_error(tmp_path: Path, reference: ReferenceService) -> None:
    table = RUNBOOK_TABLE + "intended = { new_dashboard = false }\n"
    table += f'base_url = "http://127.0.0.1:{free_port()}"\n'  # nobody listens there
    result = _flags_run(tmp_path, reference, table, "", "any-token-Kp2")
    assert _flag_outcomes(result) == {"flags.rollout": "ERROR", "flags.overrides": "ERROR"}
    assert "cannot connect" in result.gate("flags.rollout")["reason"]


def test_rate_limited_is_inconclusive(
    tmp_path: Path, reference: ReferenceService, reference_admin_token: str
) -> None:
    reference.set_faults(rate_limit_per_min=1)
    # Spend the one request of this minute: the gate's own GET then meets HTTP 429.
    httpx.get(f"{reference.base_url}/api/admin/features", timeout=5)
    table = RUNBOOK_TABLE + "intended = { new_dashboard = false }\n"
    result = _flags_run(tmp_path, reference, table, "", reference_admin_token)
    assert result.exit_code == 1, result.output
    assert _flag_outcomes(result) == {
        "flags.rollout": "INCONCLUSIVE",
        "flags.overrides": "INCONCLUSIVE",
    }
    assert "HTTP 429" in result.gate("flags.rollout")["reason"]


def test_missing_override_source_is_an_error(
    tmp_path: Path, reference: ReferenceService, reference_admin_token: str
) -> None:
    table = 'token_env = "T_ADMIN"\nenv_sources = ["envs/nowhere.env"]\nintended = { a = true }\n'
    result = _flags_run(tmp_path, reference, table, "", reference_admin_token)
    assert _flag_outcomes(result) == {"flags.rollout": "ERROR", "flags.overrides": "ERROR"}
    assert "envs/nowhere.env: no such file" in result.gate("flags.rollout")["reason"]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('intended = { a = "yes" }', "env.staging.flags.intended.\"a\": got 'yes', expected true"),
        ("intended = { ui.new_dashboard = true }", 'quote an id with dots: "a.b" = true'),
        (
            'intended = { a = true }\noverride_case = "title"',
            "env.staging.flags.override_case: got 'title', expected one of lower, upper, keep",
        ),
    ],
    ids=["not-bool", "dotted-key", "bad-case"],
)
def test_bad_flags_config_is_a_usage_error(
    tmp_path: Path, reference: ReferenceService, table: str, message: str
) -> None:
    result = _flags_run(tmp_path, reference, table + "\n", "", None)
    assert result.exit_code == 4, result.output
    assert message in result.output
    assert "Traceback" not in result.output


# --- the real application's contract, described by examples/fixzit.toml --------------


@pytest.fixture(scope="module")
def fixzit_flags(mongo: MongoServer) -> Iterator[ReferenceService]:
    with reference_service(
        mongo.uri + "fixzit_flags",
        None,
        admin_token=FIXZIT_ADMIN,
        seed=True,
        contract="fixzit",
    ) as service:
        yield service


def _example_flags_table() -> str:
    """The [env.staging.flags] table of examples/fixzit.toml, as written there."""
    text = (Path(__file__).resolve().parent.parent / "examples" / "fixzit.toml").read_text()
    start = text.index("[env.staging.flags]\n")
    end = text.find("\n[", start + 1)
    return text[start : end if end != -1 else None]


def test_the_example_describes_the_real_application(
    tmp_path: Path, fixzit_flags: ReferenceService
) -> None:
    (tmp_path / "envs").mkdir()
    # The application's own mapping: FEATURE_UI_NEW_DASHBOARD -> ui.new.dashboard, no flag.
    (tmp_path / "envs" / "staging.env").write_text('FEATURE_UI_NEW_DASHBOARD="true"\n')
    config = staging_config(fixzit_flags.base_url, _example_flags_table())
    result = run_gate(tmp_path, config, suite=SUITE, environ={"ADMIN_TOKEN": FIXZIT_ADMIN})
    # Only the flag gates ran (the runbook's health gates would not fit this contract).
    assert _flag_outcomes(result) == {"flags.rollout": "PASS", "flags.overrides": "FAIL"}, (
        result.output
    )
    assert (
        "FEATURE_UI_NEW_DASHBOARD -> ui.new.dashboard" in result.gate("flags.overrides")["reason"]
    )
    assert result.gate("flags.rollout")["evidence"]["shape"] == "{flags: [...]}"
    assert _admin_requests(fixzit_flags) == {"GET": 1}
