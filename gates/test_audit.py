"""Runbook, "Staging Promotion Flow", step 2: `pnpm audit --prod --audit-level=high`,
and its Python counterpart. No advisory at or above the floor may ship unless a
live waiver says why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_fixgate import timing
from pytest_fixgate.errors import ProbeError
from pytest_fixgate.kinds.audit.judge import findings_table_html, judge_audit
from pytest_fixgate.kinds.audit.run import audit_method, run_audit
from pytest_fixgate.kinds.commands.measurement import log_relpath
from pytest_fixgate.outcomes.model import Finding


@pytest.fixture(scope="session")
def osv_records() -> dict[tuple[str, str], Any]:
    """OSV records fetched by this session's audit gates: one fetch per advisory."""
    return {}


@pytest.mark.gate(
    id="audit.{audit_spec.id}",
    title="No dependency advisory at or above the floor",
    severity="critical",
    needs="audit",
)
def test_audit(gate, gate_redactor, audit_spec, osv_records, request):
    gate.measuring(
        audit_method(audit_spec), threshold=f"no finding at or above {audit_spec.audit_level.label}"
    )
    report_dir = Path(request.config.invocation_params.dir) / request.config.getoption(
        "gate_report_dir"
    )
    log = log_relpath(audit_spec.gate_id)
    try:
        report = run_audit(
            audit_spec,
            report_dir=report_dir,
            log=log,
            redactor=gate_redactor,
            osv_records=osv_records,
        )
    except ProbeError as exc:
        # The tool or OSV could not do its job: ERROR, with the tool's log for the reader.
        gate.record(Finding.error(gate_redactor.text(str(exc)), logs=[log]))
        return
    finding = judge_audit(audit_spec, report, today=timing.utcnow().date(), logs=[log])
    gate.attach_html(
        f"{audit_spec.gate_id} findings", findings_table_html(finding.evidence.details)
    )
    gate.record(finding)
