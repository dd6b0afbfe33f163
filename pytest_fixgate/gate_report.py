"""Turning a finished gate test's pytest report into a gate result.

Each phase of a gate test (setup, call, teardown) ends here: secrets are
redacted from captured output, a gate whose config is missing is listed as
not configured, the test's ending becomes one :class:`GateResult` (attached to
the report, so it reaches the xdist controller), and pytest's own view
(terminal, JUnit) is made to agree with the gate's outcome.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from pytest_fixgate.gate_api import GateRecorder, finding_from_call
from pytest_fixgate.gate_run import NOT_CONFIGURED_PROPERTY, RESULT_PROPERTY, NotConfigured
from pytest_fixgate.outcomes.model import GateInfo, GateResult
from pytest_fixgate.redaction import Redactor
from pytest_fixgate.reports.html import attach_evidence

__all__ = ["annotate_report"]


def annotate_report(
    report: pytest.TestReport,
    call: pytest.CallInfo[None],
    info: GateInfo,
    *,
    recorder: GateRecorder | None,
    missing: str | None,
    redactor: Redactor,
) -> None:
    """Attach the gate's result (or its not-configured entry) to ``report``, in place."""
    _redact_sections(report, redactor)
    if call.when == "setup" and missing is not None:
        _attach(report, NOT_CONFIGURED_PROPERTY, NotConfigured(info, missing).as_dict())
        return
    if call.when == "setup" and report.passed:
        return
    if call.when == "teardown" and not report.failed:
        return
    finding = finding_from_call(recorder, call, redactor)
    if call.when == "teardown":
        finding = type(finding).error(f"teardown failed: {finding.evidence.reason}")
    result = GateResult.from_finding(
        info, finding, nodeid=report.nodeid, duration_s=report.duration
    )
    result = GateResult.from_dict(redactor.data(result.as_dict()))
    _attach(report, RESULT_PROPERTY, result.as_dict())
    _set_test_outcome(report, result, redactor)
    _attach_html(report, result, recorder.html_extras if recorder else ())


def _attach_html(
    report: pytest.TestReport, result: GateResult, extras: Sequence[tuple[str, str]]
) -> None:
    attach_evidence(report, result, extras)


def _attach(report: pytest.TestReport, name: str, payload: dict[str, Any]) -> None:
    # A new list: report.user_properties is the item's own list, shared by every phase.
    report.user_properties = [*report.user_properties, (name, json.dumps(payload))]


def _set_test_outcome(report: pytest.TestReport, result: GateResult, redactor: Redactor) -> None:
    """Make pytest's own view (terminal, JUnit) agree with the gate's outcome."""
    if result.outcome.passing:
        report.outcome = "passed"
        report.longrepr = None
        return
    detail = ""
    if report.failed and result.evidence.reason.startswith(("gate crashed", "teardown")):
        detail = "\n\n" + redactor.text(str(report.longrepr))
    report.outcome = "failed"
    report.longrepr = f"{result.outcome.value}: {result.evidence.reason}{detail}"


def _redact_sections(report: pytest.TestReport, redactor: Redactor) -> None:
    if redactor and report.sections:
        report.sections = [(title, redactor.text(body)) for title, body in report.sections]
