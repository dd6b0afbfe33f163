"""End to end: `pytest --gate=staging` against the real reference service, MongoDB and Redis."""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx
import pytest
from gaterun import GATES, REPO, run_gate, staging_config

from pytest_fixgate.reference import free_port

HEALTH = [
    "health./api/health",
    "health./api/health/db",
    "health./api/health/redis",
    "health./api/health/ready",
]
ALL_GATES = sorted([*HEALTH, "mongo.ping", "redis.ping"])


@pytest.fixture
def full_config(reference: Any, mongo: Any, redis_srv: Any) -> tuple[str, dict[str, str]]:
    config = staging_config(
        reference.base_url, mongodb_uri_env="T_MONGO_URI", redis_url_env="T_REDIS_URL", timeout="2s"
    )
    return config, {"T_MONGO_URI": mongo.uri, "T_REDIS_URL": redis_srv.url}


def test_healthy_service_promotes_with_four_consistent_reports(
    tmp_path: Path, full_config: Any
) -> None:
    config, environ = full_config
    run = run_gate(tmp_path, config, environ=environ)
    assert run.exit_code == 0, run.output
    assert set(run.files) == {"html", "json", "junit", "latest"}
    verdict = run.verdict
    assert verdict["decision"] == "PROMOTE"
    assert verdict["schema"] == "pytest-fixgate/verdict@1"
    assert sorted(run.outcomes()) == ALL_GATES
    assert set(run.outcomes().values()) == {"PASS"}
    for gate in verdict["gates"]:
        assert gate["samples"] == 1 and gate["reason"] and gate["evidence"]["method"]
    # The checksum covers the body as documented.
    body = {k: v for k, v in verdict.items() if k != "sha256"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert verdict["sha256"] == hashlib.sha256(canonical.encode()).hexdigest()
    assert json.loads(run.files["latest"].read_text()) == verdict
    # JUnit: one testcase per gate, the decision as a suite property.
    root = ET.parse(run.files["junit"]).getroot()
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["fixgate.decision"] == "PROMOTE"
    not_configured = [g["id"] for g in verdict["not_configured"]]
    # No [load] or [sentry] table (nor any other kind's): listed, skipped, not counted.
    assert {"load", "sentry"} <= set(not_configured)
    assert not set(not_configured) & set(ALL_GATES)
    assert len(list(root.iter("testcase"))) == len(ALL_GATES) + len(not_configured), [
        c.get("name") for c in root.iter("testcase")
    ]
    assert not list(root.iter("failure"))
    # HTML: self-contained, the decision on top, every gate in the table.
    html = run.files["html"].read_text()
    assert "id='fixgate-decision'" in html and ">PROMOTE</h2>" in html
    assert all(gate_id in html for gate_id in ALL_GATES)
    assert '<link rel="stylesheet"' not in html
    # The terminal ends with the decision line and the report paths.
    assert "fixgate: PROMOTE (all 6 required gates passed)" in run.output
    assert f"fixgate report (json): {run.files['json']}" in run.output


@pytest.mark.parametrize(
    ("faults", "expected"),
    [
        (
            {"mongo_down": True},
            {"health./api/health/db": "FAIL", "health./api/health/ready": "FAIL"},
        ),
        (
            {"redis_down": True},
            {"health./api/health/redis": "FAIL", "health./api/health/ready": "FAIL"},
        ),
        ({"wrong_json": True}, dict.fromkeys(HEALTH, "FAIL")),
        ({"error_ratio": 1.0}, dict.fromkeys(HEALTH, "FAIL")),
        ({"latency_ms": 2500}, dict.fromkeys(HEALTH, "ERROR")),
    ],
    ids=["mongo-down", "redis-down", "wrong-json", "http-500", "slow-past-timeout"],
)
def test_each_fault_holds_naming_the_gate(
    tmp_path: Path,
    reference: Any,
    full_config: Any,
    faults: dict[str, Any],
    expected: dict[str, str],
) -> None:
    reference.set_faults(**faults)
    config, environ = full_config
    run = run_gate(tmp_path, config, environ=environ)
    assert run.exit_code == 1, run.output
    assert run.verdict["decision"] == "HOLD"
    outcomes = run.outcomes()
    for gate_id, outcome in expected.items():
        assert outcomes[gate_id] == outcome, run.gate(gate_id)
        assert gate_id in run.verdict["reason"]
    others = {g: o for g, o in outcomes.items() if g not in expected}
    assert set(others.values()) <= {"PASS"}, others


def test_readiness_503_is_a_fail_with_the_status(
    tmp_path: Path, reference: Any, full_config: Any
) -> None:
    reference.set_faults(mongo_down=True)
    run = run_gate(tmp_path, full_config[0], environ=full_config[1])
    gate = run.gate("health./api/health/ready")
    assert gate["outcome"] == "FAIL"
    assert gate["measured"] == "HTTP 503"
    assert gate["reason"] == "answered HTTP 503, expected 200"


def test_rate_limited_is_inconclusive_never_pass(tmp_path: Path, reference: Any) -> None:
    reference.set_faults(rate_limit_per_min=1)
    httpx.get(reference.base_url + "/api/health/ready", timeout=5)
    config = staging_config(
        reference.base_url,
        """
[[env.staging.health]]
path = "/api/health/ready"
expect_json = { ready = true }
""",
    )
    run = run_gate(tmp_path, config)
    assert run.exit_code == 1
    gate = run.gate("health./api/health/ready")
    assert gate["outcome"] == "INCONCLUSIVE"
    assert "rate-limited (HTTP 429)" in gate["reason"]


def test_target_not_listening_is_error(tmp_path: Path) -> None:
    run = run_gate(tmp_path, staging_config(f"http://127.0.0.1:{free_port()}"))
    assert run.exit_code == 1
    assert set(run.outcomes().values()) == {"ERROR"}
    assert all("cannot connect" in g["reason"] for g in run.verdict["gates"])


def test_non_json_body_is_error(tmp_path: Path, reference: Any) -> None:
    # Starlette answers an unknown route with a plain-text 404.
    config = staging_config(
        reference.base_url,
        """
[[env.staging.health]]
path = "/no-such-route"
expect_status = 404
expect_json = { status = "ok" }
""",
    )
    run = run_gate(tmp_path, config)
    gate = run.gate("health./no-such-route")
    assert gate["outcome"] == "ERROR"
    assert "not JSON" in gate["reason"]


def test_dead_dependencies_are_errors(tmp_path: Path, reference: Any) -> None:
    dead = free_port()
    config = staging_config(
        reference.base_url, mongodb_uri_env="T_MONGO_URI", redis_url_env="T_REDIS_URL", timeout="1s"
    )
    run = run_gate(
        tmp_path,
        config,
        environ={
            "T_MONGO_URI": f"mongodb://127.0.0.1:{dead}/",
            "T_REDIS_URL": f"redis://127.0.0.1:{dead}/0",
        },
    )
    assert run.outcomes()["mongo.ping"] == "ERROR"
    assert run.outcomes()["redis.ping"] == "ERROR"
    assert run.gate("redis.ping")["duration_s"] < 2.5  # no 10-retry backoff


def test_unset_secret_env_var_is_error_not_skip(tmp_path: Path, reference: Any) -> None:
    config = staging_config(reference.base_url, mongodb_uri_env="T_UNSET_MONGO")
    run = run_gate(tmp_path, config, environ={"T_UNSET_MONGO": ""})
    gate = run.gate("mongo.ping")
    assert gate["outcome"] == "ERROR"
    assert "T_UNSET_MONGO" in gate["reason"]


def test_gate_without_config_is_listed_not_configured(tmp_path: Path, reference: Any) -> None:
    run = run_gate(tmp_path, staging_config(reference.base_url))
    assert run.exit_code == 0, run.output
    missing = {g["id"]: g["missing"] for g in run.verdict["not_configured"]}
    # Every kind without its table is listed (more kinds may join; these must be there).
    assert {
        "mongo.ping": "mongodb_uri_env",
        "redis.ping": "redis_url_env",
        "load": "load",
        "sentry": "sentry",
    }.items() <= missing.items()
    assert "mongo.ping" not in run.outcomes()


def test_no_gate_collected_is_a_hold_not_exit_5(tmp_path: Path, reference: Any) -> None:
    run = run_gate(
        tmp_path, staging_config(reference.base_url), "-k", "no_such_gate", "--gate-advisory"
    )
    assert run.exit_code == 0, run.output  # advisory: the decision is reported, exit 0
    assert run.verdict["decision"] == "HOLD"
    # Nothing ran: each gate the config implies is an ERROR "did not run".
    assert run.outcomes() == dict.fromkeys(HEALTH, "ERROR")
    assert all(g["reason"].startswith("did not run") for g in run.verdict["gates"])


def test_advisory_reports_hold_but_exits_0(tmp_path: Path) -> None:
    run = run_gate(tmp_path, staging_config(f"http://127.0.0.1:{free_port()}"), "--gate-advisory")
    assert run.exit_code == 0
    assert run.verdict["decision"] == "HOLD" and run.verdict["advisory"] is True
    assert "[advisory: exit 0]" in run.output


def test_optional_gate_failing_does_not_hold(tmp_path: Path, reference: Any) -> None:
    reference.set_faults(redis_down=True)
    config = staging_config(
        reference.base_url,
        """
[[env.staging.health]]
path = "/api/health/redis"
expect_json = { redis = "connected" }
[[env.staging.health]]
path = "/api/health"
expect_json = { status = "ok" }
[env.staging.gates."health./api/health/redis"]
required = false
""",
    )
    run = run_gate(tmp_path, config)
    assert run.exit_code == 0, run.output
    assert run.gate("health./api/health/redis")["outcome"] == "FAIL"
    assert run.gate("health./api/health/redis")["required"] is False


@pytest.mark.parametrize(
    ("config", "args", "line"),
    [
        (
            '[env.staging]\nbase_url = "http://x"\n',
            ("--gate=prod",),
            "env.prod: no such environment (--gate=prod; defined: staging)",
        ),
        ("[env.staging]\ntimeout = '5s'\n", (), "env.staging.base_url: missing required key"),
        (
            '[env.staging]\nbase_url = "http://x"\nredis_url = "REDIS"\n',
            (),
            "env.staging.redis_url: unknown key",
        ),
        (
            '[env.staging]\nbase_url = "http://x"\n'
            '[env.staging.load]\nthresholds = ["p(95) < 15OOms"]\n',
            (),
            "env.staging.load.thresholds[0]: unexpected 'OOms' after the value at column 11",
        ),
    ],
    ids=["unknown-env", "missing-base-url", "typo-key", "bad-threshold"],
)
def test_bad_config_is_a_usage_error_in_one_line(
    tmp_path: Path, config: str, args: tuple[str, ...], line: str
) -> None:
    run = run_gate(tmp_path, config, *args, env_name=args[0][7:] if args else "staging")
    assert run.exit_code == 4, run.output
    error_lines = [ln for ln in run.output.splitlines() if "fixgate" in ln and "ERROR" in ln]
    assert len(error_lines) == 1, run.output
    assert line in error_lines[0]
    assert "Traceback" not in run.output


def test_xdist_gives_the_same_decision_and_gates(
    tmp_path: Path, reference: Any, full_config: Any
) -> None:
    reference.set_faults(redis_down=True)
    config, environ = full_config
    serial = run_gate(tmp_path / "serial", config, environ=environ)
    parallel = run_gate(tmp_path / "parallel", config, "-n", "2", environ=environ)
    assert "created: 2/2 workers" in parallel.output
    assert (serial.exit_code, serial.verdict["decision"]) == (1, "HOLD")
    assert (parallel.exit_code, parallel.verdict["decision"]) == (1, "HOLD")
    strip = ("duration_s",)

    def gates(run: Any) -> list[dict[str, Any]]:
        return [
            {k: v for k, v in g.items() if k not in strip and k != "evidence"}
            for g in run.verdict["gates"]
        ]

    def stable(gs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # Response times differ run to run; everything else must not.
        return [
            {
                **g,
                "measured": (g["measured"] or "").split(" in ")[0],
                "reason": g["reason"].split(" in ")[0],
            }
            for g in gs
        ]

    assert stable(gates(serial)) == stable(gates(parallel))
    assert serial.verdict["reason"] == parallel.verdict["reason"]
    cases = len(list(ET.parse(parallel.files["junit"]).getroot().iter("testcase")))
    assert cases == len(parallel.verdict["gates"]) + len(parallel.verdict["not_configured"])


HOOKS_PLUGIN = """
import json, os
def pytest_fixgate_gate_result(result, config):
    with open(os.environ["HOOK_LOG"], "a") as fh:
        fh.write(json.dumps({"hook": "gate", "id": result.info.id,
                             "outcome": result.outcome.value}) + "\\n")
def pytest_fixgate_decision(decision, verdict, config):
    with open(os.environ["HOOK_LOG"], "a") as fh:
        fh.write(json.dumps({"hook": "decision", "kind": decision.kind.value,
                             "sha": verdict["sha256"]}) + "\\n")
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_hooks_called_once_per_gate_and_once_for_the_decision(
    tmp_path: Path, reference: Any, workers: list[str]
) -> None:
    (tmp_path / "myhooks.py").write_text(HOOKS_PLUGIN)
    log = tmp_path / "hooks.log"
    run = run_gate(
        tmp_path,
        staging_config(reference.base_url),
        "-p",
        "myhooks",
        *workers,
        environ={"PYTHONPATH": str(tmp_path), "HOOK_LOG": str(log)},
    )
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    gates = sorted(e["id"] for e in entries if e["hook"] == "gate")
    decisions = [e for e in entries if e["hook"] == "decision"]
    assert gates == sorted(HEALTH)
    assert decisions == [{"hook": "decision", "kind": "PROMOTE", "sha": run.verdict["sha256"]}]


def test_step_summary_gets_markdown(tmp_path: Path, reference: Any) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    run = run_gate(
        tmp_path, staging_config(reference.base_url), environ={"GITHUB_STEP_SUMMARY": str(summary)}
    )
    text = summary.read_text()
    assert text.startswith("earlier step\n")
    assert "fixgate: PROMOTE (staging)" in text
    assert "| `health./api/health/ready` | ✅ PASS |" in text
    assert run.exit_code == 0


def test_plain_pytest_runs_no_gate(tmp_path: Path) -> None:
    """Without --gate, the gate suite's tests are skipped, not run against anything."""
    import subprocess
    import sys

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(GATES),
            "-q",
            "-p",
            "no:cacheprovider",
            f"--rootdir={REPO}",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    # One item per gate function (no env: nothing to parametrize over), all skipped.
    functions = sum(
        text.count("\ndef test_") for text in (p.read_text() for p in GATES.glob("test_*.py"))
    )
    assert functions >= 5
    assert "skipped" in done.stdout, done.stdout
    assert "passed" not in done.stdout and "failed" not in done.stdout
