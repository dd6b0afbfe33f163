"""One audit gate's measurement: run the tool, then decide severities it left unknown."""

from __future__ import annotations

import shlex
from dataclasses import replace
from pathlib import Path
from typing import Any

from pytest_fixgate import timing
from pytest_fixgate.errors import ProbeError
from pytest_fixgate.kinds.audit.config import AuditSpec
from pytest_fixgate.kinds.audit.findings import AuditReport
from pytest_fixgate.kinds.audit.npm_audit import npm_audit_argv, run_node_audit
from pytest_fixgate.kinds.audit.osv import OsvLookup
from pytest_fixgate.kinds.audit.pip_audit import pip_audit_argv, run_pip_audit
from pytest_fixgate.measurements.files import FileReadError, check_regular
from pytest_fixgate.redaction import Redactor

__all__ = ["audit_method", "run_audit"]


def audit_method(spec: AuditSpec) -> str:
    """The command, as the evidence shows it, and where severities come from."""
    if spec.tool == "pip-audit":
        argv = pip_audit_argv(spec)
        return (
            f"{shlex.join(argv)}; severity from OSV "
            f"GET {spec.osv_url}/v1/vulns/{{id}} (the record and its aliases)"
        )
    where = f" (in {spec.directory})" if spec.directory else ""
    return f"{shlex.join(npm_audit_argv(spec))}{where}; severity as {spec.tool} reports it"


def run_audit(
    spec: AuditSpec,
    *,
    report_dir: Path,
    log: str,
    redactor: Redactor,
    osv_records: dict[tuple[str, str], dict[str, Any] | None] | None = None,
) -> AuditReport:
    """Run the audit; the tool's stderr goes to ``report_dir/log``. Raises ProbeError when
    the tool or the severity look-up could not do its job (the gate's ERROR).
    ``osv_records``: OSV records fetched by earlier audit gates of this session."""
    folder = spec.directory if spec.tool != "pip-audit" else spec.path
    if folder is not None and not folder.is_dir():
        key = "directory" if spec.tool != "pip-audit" else "path"
        raise ProbeError(f"{spec.tool}: no folder at {folder} ({key})")
    _refuse_non_regular_inputs(spec)
    log_path = report_dir / log
    if spec.tool == "pip-audit":
        report = run_pip_audit(spec, log_path=log_path, redactor=redactor)
    else:
        report = run_node_audit(spec, log_path=log_path, redactor=redactor)
    unknown = [f for f in report.findings if f.severity is None]
    unmatched = _waivers_without_a_direct_match(spec, report)
    if not unknown and not unmatched:
        return report
    started = timing.monotonic()
    lookup = OsvLookup(spec.osv_url, timeout_s=min(spec.timeout_s, 30.0), shared=osv_records)
    findings = report.findings
    extra = dict(report.extra)
    if unknown:
        rated = iter(lookup.rate(unknown))
        findings = tuple(next(rated) if f.severity is None else f for f in findings)
    if unmatched:
        # npm names an advisory by its GHSA id only; a waiver may name its CVE. OSV knows
        # the aliases. Without OSV the waiver simply does not match: the finding stays.
        try:
            findings = tuple(lookup.with_aliases(findings))
        except ProbeError as exc:
            extra["aliases_unavailable"] = str(exc)
    extra["osv_fetches"] = lookup.fetches
    extra["osv_seconds"] = round(timing.monotonic() - started, 3)
    return replace(report, findings=findings, extra=extra)


# The files each tool reads itself: a FIFO among them would hold the tool to its timeout.
_NODE_INPUTS = ("package.json", "package-lock.json", "npm-shrinkwrap.json", "pnpm-lock.yaml")


def _refuse_non_regular_inputs(spec: AuditSpec) -> None:
    """ProbeError naming the first requirement file or lockfile that exists but is not a
    regular file (files.check_regular); a missing one is left to the tool to report."""
    if spec.tool == "pip-audit":
        inputs = list(spec.requirements)
    else:
        inputs = [spec.directory / n for n in _NODE_INPUTS] if spec.directory else []
    for path in inputs:
        try:
            check_regular(path)
        except FileNotFoundError:
            continue
        except FileReadError as exc:
            raise ProbeError(f"{spec.tool}: {exc}") from None


def _waivers_without_a_direct_match(spec: AuditSpec, report: AuditReport) -> bool:
    """Whether some waiver names an id that no finding carries as its id or alias."""
    ids = {i for f in report.findings for i in f.ids}
    return bool(report.findings) and any(w.id.upper() not in ids for w in spec.waivers)
