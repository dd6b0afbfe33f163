"""Shared by the audit tests: an audit spec from a config table, run and judged for real."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

from pytest_fixgate.config.audit import AuditSpec, parse_audits
from pytest_fixgate.config.table import ConfigTable
from pytest_fixgate.kinds import KindContext
from pytest_fixgate.measurements.audit.run import run_audit
from pytest_fixgate.outcomes.audit import judge_audit
from pytest_fixgate.outcomes.model import Finding
from pytest_fixgate.redaction import Redactor

TODAY = _dt.date(2026, 11, 29)


def audit_spec(base_dir: Path, **table: Any) -> AuditSpec:
    ctx = KindContext(env_name="staging", base_dir=base_dir, timeout_s=5, file="fixgate.toml")
    (spec,) = parse_audits([ConfigTable({"id": "t", **table}, "fixgate.toml", "a")], ctx)
    return spec


def audit(spec: AuditSpec, report_dir: Path, today: _dt.date = TODAY) -> Finding:
    """Run the real tool and judge; a ProbeError (the gate's ERROR) propagates."""
    report = run_audit(spec, report_dir=report_dir, log="logs/audit.log", redactor=Redactor())
    return judge_audit(spec, report, today=today, logs=["logs/audit.log"])
