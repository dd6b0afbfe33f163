"""The feature-flag gates: the answer shapes, the override mapping, and `pytest --gate`
end to end against the reference service in both contracts (the runbook's
``/api/admin/features`` and the real application's ``/api/admin/feature-flags``),
proving the gate only ever sent GETs."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from gaterun import GATES, GateRunResult, run_gate, staging_config

from pytest_fixgate.errors import ProbeBadResponse
from pytest_fixgate.kinds.flags.config import FlagsConfig
from pytest_fixgate.kinds.flags.measurement import parse_flags_body, read_overrides
from pytest_fixgate.redaction import Redactor
from pytest_fixgate.reference import (
    MongoServer,
    ReferenceService,
    free_port,
    reference_service,
)
from pytest_fixgate.reference.app import FIXZIT_ADMIN_ROLE_SESSION

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
    text = (Path(__file__).resolve().parents[3] / "examples" / "fixzit.toml").read_text()
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
    environ = {"FIXZIT_ADMIN_SESSION": FIXZIT_ADMIN}
    result = run_gate(tmp_path, config, suite=SUITE, environ=environ)
    # Only the flag gates ran (the runbook's health gates would not fit this contract).
    assert _flag_outcomes(result) == {"flags.rollout": "PASS", "flags.overrides": "FAIL"}, (
        result.output
    )
    assert (
        "FEATURE_UI_NEW_DASHBOARD -> ui.new.dashboard" in result.gate("flags.overrides")["reason"]
    )
    assert result.gate("flags.rollout")["evidence"]["shape"] == "flags: [{id, enabled}]"
    assert _admin_requests(fixzit_flags) == {"GET": 1}
    assert FIXZIT_ADMIN not in _all_artifacts(result)


def _all_artifacts(result: GateRunResult) -> str:
    texts = [result.output]
    texts += [f.read_text(errors="replace") for f in result.report_dir.rglob("*") if f.is_file()]
    return "\n".join(texts)


# The six FEATURE_* variables the application reads directly, as a staging pull has them.
DIRECT_SIX = (
    'FEATURE_ESCROW_ENABLED="true"\n'
    'FEATURE_SMS_NOTIFICATIONS="true"\n'
    'FEATURE_MULTI_LANGUAGE="true"\n'
    'FEATURE_EMAIL_NOTIFICATIONS="true"\n'
    'FEATURE_MFA_REQUIRED="false"\n'
    'FEATURE_INTEGRATIONS_GRAPHQL_API="false"\n'
)


def _example_run(
    tmp_path: Path, service: ReferenceService, env_file: str, session: str = FIXZIT_ADMIN
) -> GateRunResult:
    (tmp_path / "envs").mkdir(parents=True, exist_ok=True)
    (tmp_path / "envs" / "staging.env").write_text(env_file, encoding="utf-8")
    config = staging_config(service.base_url, _example_flags_table())
    return run_gate(tmp_path, config, suite=SUITE, environ={"FIXZIT_ADMIN_SESSION": session})


def test_the_directly_read_variables_are_declared_in_the_example(
    tmp_path: Path, fixzit_flags: ReferenceService
) -> None:
    result = _example_run(tmp_path, fixzit_flags, DIRECT_SIX)
    assert _flag_outcomes(result) == {"flags.rollout": "PASS", "flags.overrides": "PASS"}, (
        result.output
    )
    rows = {
        r["variable"]: r["result"] for r in result.gate("flags.overrides")["evidence"]["overrides"]
    }
    assert rows["FEATURE_SMS_NOTIFICATIONS"] == "declared: read directly for core.sms_notifications"
    assert rows["FEATURE_ESCROW_ENABLED"].startswith("declared ignored: the Souq/Aqar escrow")
    assert len(rows) == 6


def test_a_directly_read_variable_against_the_rollout_holds(
    tmp_path: Path, fixzit_flags: ReferenceService
) -> None:
    # lib/config/tenant.ts turns SMS off for "false" while the rollout wants it on; and an
    # undeclared variable naming no flag still FAILs.
    env_file = DIRECT_SIX.replace(
        'FEATURE_SMS_NOTIFICATIONS="true"', 'FEATURE_SMS_NOTIFICATIONS="false"'
    )
    result = _example_run(tmp_path, fixzit_flags, env_file + 'FEATURE_BETA_THING="true"\n')
    assert _flag_outcomes(result) == {"flags.rollout": "FAIL", "flags.overrides": "FAIL"}
    assert result.gate("flags.rollout")["reason"] == (
        "core.sms_notifications: intended on, FEATURE_SMS_NOTIFICATIONS (envs/staging.env, "
        'read directly by lib/config/tenant.ts (on unless "false")) turns it off'
    )
    reason = result.gate("flags.overrides")["reason"]
    assert "FEATURE_BETA_THING -> beta.thing" in reason
    assert "FEATURE_SMS" not in reason and "FEATURE_ESCROW" not in reason


@pytest.mark.parametrize(
    ("session", "status"),
    [("fixzit-someone-else-Kd3", "HTTP 401"), (FIXZIT_ADMIN_ROLE_SESSION, "HTTP 403")],
    ids=["no-session", "not-super-admin"],
)
def test_a_session_that_is_not_a_super_admin_is_an_error(
    tmp_path: Path, fixzit_flags: ReferenceService, session: str, status: str
) -> None:
    result = _example_run(tmp_path, fixzit_flags, "", session=session)
    assert _flag_outcomes(result) == {"flags.rollout": "ERROR", "flags.overrides": "ERROR"}
    reason = result.gate("flags.rollout")["reason"]
    assert "$FIXZIT_ADMIN_SESSION" in reason and status in reason, reason
    assert session not in _all_artifacts(result)


def test_a_header_credential(
    tmp_path: Path, reference: ReferenceService, reference_admin_token: str
) -> None:
    table = (
        'auth = "header"\nheader_name = "Authorization"\nheader_env = "T_HEADER"\n'
        'override_separator = "_"\nintended = { work_order_export = true }\n'
    )
    config = staging_config(reference.base_url, "[env.staging.flags]\n" + table)
    value = f"Bearer {reference_admin_token}"
    result = run_gate(tmp_path, config, suite=SUITE, environ={"T_HEADER": value})
    assert _flag_outcomes(result) == {"flags.rollout": "PASS"}, result.output
    method = result.gate("flags.rollout")["evidence"]["method"]
    assert "Authorization: *** ($T_HEADER)" in method
    assert reference_admin_token not in _all_artifacts(result)


# --- a flags service of any shape, and redirects: a small HTTP server of the test's ------


class _Recorder(http.server.ThreadingHTTPServer):
    answer: tuple[int, dict[str, str], bytes] = (200, {}, b"{}")
    seen: list[dict[str, str]]


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Recorder

    def do_GET(self) -> None:
        self.server.seen.append({k.lower(): v for k, v in self.headers.items()})
        status, headers, body = self.server.answer
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def servers() -> Iterator[tuple[_Recorder, _Recorder]]:
    """Two servers on two ports of 127.0.0.1 (two origins), each recording what it got."""
    started = []
    for _ in range(2):
        server = _Recorder(("127.0.0.1", 0), _Handler)
        server.seen = []
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
    yield started[0], started[1]
    for server in started:
        server.shutdown()
        server.server_close()


def _url(server: _Recorder) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


SESSION = "planted-session-Vb7q2"
COOKIE_TABLE = (
    'endpoint = "/api/admin/feature-flags"\nauth = "cookie"\n'
    'cookie_name = "next-auth.session-token"\ncookie_env = "T_SESSION"\n'
)


def _cookie_run(tmp_path: Path, server: _Recorder, table: str) -> GateRunResult:
    config = staging_config(_url(server), "[env.staging.flags]\n" + COOKIE_TABLE + table)
    return run_gate(tmp_path, config, suite=SUITE, environ={"T_SESSION": SESSION})


@pytest.mark.parametrize("where", ["another origin", "the same origin"])
def test_a_redirect_is_never_followed_with_the_credential(
    tmp_path: Path, servers: tuple[_Recorder, _Recorder], where: str
) -> None:
    first, second = servers
    target = _url(second if where == "another origin" else first) + "/elsewhere"
    first.answer = (302, {"Location": target}, b"")
    second.answer = (200, {}, json.dumps({"flags": [{"id": "a", "enabled": True}]}).encode())
    result = _cookie_run(tmp_path, first, "intended = { a = true }\n")
    assert _flag_outcomes(result) == {"flags.rollout": "ERROR"}, result.output
    reason = result.gate("flags.rollout")["reason"]
    assert f"HTTP 302, a redirect to {where}" in reason, reason
    assert "follows no redirect" in reason
    assert [h.get("cookie") for h in first.seen] == [f"next-auth.session-token={SESSION}"]
    assert second.seen == []  # the other origin never heard of the gate
    assert SESSION not in _all_artifacts(result)


@pytest.mark.parametrize(
    ("table", "body", "shape"),
    [
        (
            'flags_path = "data.items"\nid_key = "key"\nenabled_key = "on"\n',
            {"data": {"items": [{"key": "a", "on": True}, {"key": "b", "on": False}]}},
            "data.items: [{key, on}]",
        ),
        ("", {"features": {"a": True, "b": False}}, "{features: {flag: enabled}}"),
        (
            'flags_path = "features"\nenabled_key = "state"\n',
            {"features": {"a": {"state": True}, "b": {"state": False}}},
            "features: {id: state}",
        ),
    ],
    ids=["list-at-a-path", "features-map", "map-of-objects"],
)
def test_any_answer_shape_can_be_described(
    tmp_path: Path, servers: tuple[_Recorder, _Recorder], table: str, body: Any, shape: str
) -> None:
    server = servers[0]
    server.answer = (200, {}, json.dumps(body).encode())
    result = _cookie_run(tmp_path, server, table + "intended = { a = true, b = true }\n")
    assert _flag_outcomes(result) == {"flags.rollout": "FAIL"}, result.output
    rollout = result.gate("flags.rollout")
    assert rollout["evidence"]["shape"] == shape
    assert rollout["reason"] == "b: intended on, live off, no override"


@pytest.mark.parametrize(
    "body",
    [
        b'{"flags": [{"id": "a", "enabled": true}, {"id": "a", "enabled": false}]}',
        b'{"a": true, "a": false}',
    ],
    ids=["list", "object-keys"],
)
def test_a_flag_named_twice_with_different_states_is_an_error(
    tmp_path: Path, servers: tuple[_Recorder, _Recorder], body: bytes
) -> None:
    servers[0].answer = (200, {}, body)
    result = _cookie_run(tmp_path, servers[0], "intended = { a = true }\n")
    assert result.exit_code == 1, result.output
    assert _flag_outcomes(result) == {"flags.rollout": "ERROR"}
    assert "twice with different" in result.gate("flags.rollout")["reason"]


def test_the_same_state_twice_is_no_ambiguity() -> None:
    body = {"flags": [{"id": "a", "enabled": True}, {"id": "a", "enabled": True}]}
    assert parse_flags_body(body, "http://x/f")[1] == {"a": True}


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('auth = "cookie"\ncookie_env = "X"', "env.staging.flags.cookie_name: missing required"),
        ('auth = "cookie"\ncookie_name = "a b"\ncookie_env = "X"', "expected a cookie name"),
        ('auth = "cookie"\ncookie_name = "c"\ncookie_env = "X"\ntoken_env = "Y"', "token_env"),
        ('auth = "header"\nheader_name = "Host"\nheader_env = "X"', "expected a header name"),
        ('id_key = "key"', "flags_path"),
        ('direct.FEATURE_A = { flag = "a" }', "env_sources too"),
        (
            'env_sources = ["process:"]\ndirect.FEATURE_A = { flag = "a", ignore = "b" }',
            "exactly one of flag or ignore",
        ),
    ],
    ids=[
        "no-cookie-name",
        "bad-cookie-name",
        "two-credentials",
        "host",
        "id-alone",
        "direct-no-sources",
        "flag-and-ignore",
    ],
)
def test_bad_auth_shape_or_direct_config_is_a_usage_error(
    tmp_path: Path, reference: ReferenceService, table: str, message: str
) -> None:
    result = _flags_run(tmp_path, reference, table + "\nintended = { a = true }\n", "", None)
    assert result.exit_code == 4, result.output
    assert message in result.output, result.output


def test_a_session_value_that_would_add_cookies_is_refused_unsent(
    tmp_path: Path, servers: tuple[_Recorder, _Recorder]
) -> None:
    server = servers[0]
    config = staging_config(
        _url(server), "[env.staging.flags]\n" + COOKIE_TABLE + "intended = { a = true }\n"
    )
    planted = "Zq9-session; role=SUPER_ADMIN"
    result = run_gate(tmp_path, config, suite=SUITE, environ={"T_SESSION": planted})
    assert _flag_outcomes(result) == {"flags.rollout": "ERROR"}, result.output
    assert "$T_SESSION" in result.gate("flags.rollout")["reason"]
    assert "not a cookie value" in result.gate("flags.rollout")["reason"]
    assert server.seen == []
    assert "Zq9-session" not in _all_artifacts(result)
