"""The reports fit the tools that read them: the JUnit file is valid against the schema
pytest validates its own JUnit output with (junit-10.xsd), and the JSON verdict against
its published JSON Schema (pytest_fixgate/reports/verdict.schema.json).

Every gate run the suite starts is checked the same way after its test
(tests/conftest.py); here the schemas themselves are shown to reject what they must,
and one run per decision path (PROMOTE, HOLD, ERROR, not configured) is checked
explicitly.
"""

from __future__ import annotations

import copy
import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from gaterun import run_gate, staging_config
from report_schemas import check_report_file, junit_errors, verdict_errors
from test_html_report import _gate, _verdict

from pytest_fixgate.reports.junit import render_junit
from pytest_fixgate.reports.verdict import SCHEMA_PATH


def _every_outcome() -> dict[str, Any]:
    verdict = _verdict(
        [
            _gate("a", "PASS"),
            _gate("b", "FAIL", measured="HTTP 503", threshold="HTTP 200"),
            _gate("c", "ERROR"),
            _gate("d", "INCONCLUSIVE"),
            _gate("e", "WARN", required=False),
        ]
    )
    return {**verdict, "mode": "gate", "baseline": None, "reports": {}, "sha256": "0" * 64}


def test_the_junit_of_every_outcome_is_valid_against_junit_10_xsd() -> None:
    text = render_junit(_every_outcome())
    assert junit_errors(text) == []
    suite = ET.fromstring(text).find("testsuite")
    assert suite is not None
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    # What CI systems show is kept: failures, errors, skips and their messages.
    assert cases["b"].find("failure").get("message", "").startswith("FAIL: reason of b")  # type: ignore[union-attr]
    assert "measured: HTTP 503" in (cases["b"].find("failure").text or "")  # type: ignore[union-attr]
    assert cases["c"].find("error").get("message", "").startswith("ERROR: ")  # type: ignore[union-attr]
    assert cases["redis.ping"].find("skipped") is not None


def test_the_junit_schema_rejects_properties_inside_a_testcase() -> None:
    # The shape fixgate wrote before: the schema must be able to fail.
    root = ET.fromstring(render_junit(_every_outcome()))
    case = next(root.iter("testcase"))
    ET.SubElement(ET.SubElement(case, "properties"), "property", name="x", value="y")
    errors = junit_errors(ET.tostring(root, encoding="unicode"))
    assert errors and any("properties" in e for e in errors), errors


def test_the_verdict_schema_is_strict_on_the_core_and_open_on_evidence() -> None:
    good = _every_outcome()
    assert verdict_errors(good) == []
    # Open: a gate kind's own evidence keys, a top-level field a later writer adds.
    opened = copy.deepcopy(good)
    opened["gates"][0]["evidence"]["per_endpoint"] = [{"url": "x", "ms": 3.5}]
    opened["signature"] = {"alg": "ed25519", "value": "..."}
    assert verdict_errors(opened) == []
    # Strict: the outcome and decision vocabularies, the core fields, their types.
    for change, where in (
        (lambda v: v["gates"][1].update(outcome="SKIPPED"), "gates/1/outcome"),
        (lambda v: v.update(decision="SHIP"), "decision"),
        (lambda v: v.pop("decision"), "(top)"),
        (lambda v: v["gates"][0].pop("reason"), "gates/0"),
        (lambda v: v["gates"][0].update(samples=-1), "gates/0/samples"),
        (lambda v: v["gates"][0].update(required="yes"), "gates/0/required"),
        (lambda v: v["gates"][0]["evidence"].pop("method"), "gates/0/evidence"),
        (lambda v: v["counts"].pop("ERROR"), "counts"),
        (lambda v: v.update(schema="pytest-fixgate/verdict@2"), "schema"),
        (lambda v: v.update(sha256="not-a-digest"), "sha256"),
        (lambda v: v["not_configured"][0].pop("missing"), "not_configured/0"),
        (lambda v: v.update(mode="dry"), "mode"),
    ):
        bad = copy.deepcopy(good)
        change(bad)
        errors = verdict_errors(bad)
        assert any(e.startswith(where + ":") for e in errors), (where, errors)


def test_the_schema_ships_in_the_package() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["$id"] == "pytest-fixgate/verdict@1"
    assert (
        SCHEMA_PATH.parent.name == "reports" and SCHEMA_PATH.parent.parent.name == "pytest_fixgate"
    )


@pytest.fixture
def healthy(reference: Any, mongo: Any, redis_srv: Any) -> tuple[str, dict[str, str]]:
    config = staging_config(
        reference.base_url, mongodb_uri_env="T_MONGO_URI", redis_url_env="T_REDIS_URL"
    )
    return config, {"T_MONGO_URI": mongo.uri, "T_REDIS_URL": redis_srv.url}


def _check_run_files(run: Any) -> None:
    for kind in ("json", "latest", "junit"):
        check_report_file(run.files[kind])


def test_promote_hold_error_and_not_configured_runs_write_valid_reports(
    tmp_path: Path, reference: Any, healthy: tuple[str, dict[str, str]]
) -> None:
    config, environ = healthy
    promote = run_gate(tmp_path / "promote", config, environ=environ)
    assert promote.verdict["decision"] == "PROMOTE", promote.output
    _check_run_files(promote)

    reference.set_faults(mongo_down=True)  # readiness answers 503: FAIL
    hold = run_gate(tmp_path / "hold", config, environ=environ)
    reference.set_faults()
    assert hold.verdict["decision"] == "HOLD" and "FAIL" in hold.outcomes().values()
    _check_run_files(hold)

    # Nothing answers: every probe ERRORs; no Mongo/Redis keys: not configured.
    error = run_gate(tmp_path / "error", staging_config("http://127.0.0.1:9"))
    assert error.verdict["decision"] == "HOLD" and "ERROR" in error.outcomes().values()
    assert {"mongo.ping", "redis.ping"} <= {g["id"] for g in error.verdict["not_configured"]}
    _check_run_files(error)
    root = ET.parse(error.files["junit"]).getroot()
    assert list(root.iter("error")) and list(root.iter("skipped"))

    # The conftest's check saw these runs too: their snapshots wait for the teardown.
    snapshots = sorted(Path(os.environ["FIXGATE_REPORT_SNAPSHOTS"]).iterdir())
    assert len([p for p in snapshots if p.suffix == ".json"]) == 3
    assert len([p for p in snapshots if p.suffix == ".xml"]) == 3
