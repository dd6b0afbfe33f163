"""Running ``pip-audit -f json`` for real and reading what it says.

Offline-capable: pinned requirement files are audited with ``--no-deps
--disable-pip`` (no resolver, no PyPI), an environment with ``--path``; the
vulnerability service is OSV at the configured URL. pip-audit exits 1 both
for "vulnerabilities found" and for "could not audit": the JSON on stdout
tells them apart (a failure prints none), never the exit code alone.
"""

from __future__ import annotations

import importlib.metadata
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from pytest_fixgate.errors import ProbeBadResponse
from pytest_fixgate.kinds.audit.config import AuditSpec
from pytest_fixgate.kinds.audit.findings import AuditFinding, AuditReport
from pytest_fixgate.kinds.audit.toolrun import last_line, stdout_json
from pytest_fixgate.measurements.process import ProcessResult, run_process
from pytest_fixgate.redaction import Redactor

__all__ = ["parse_pip_audit", "pip_audit_argv", "run_pip_audit"]


def _site_packages(path: Path) -> list[Path]:
    """A venv's site-packages folders, or ``path`` itself when it is one."""
    found = sorted(path.glob("lib/python*/site-packages")) + sorted(path.glob("Lib/site-packages"))
    return found or [path]


def pip_audit_argv(spec: AuditSpec) -> list[str]:
    # The same interpreter's pip-audit: it is a dependency of pytest-fixgate.
    argv = [sys.executable, "-m", "pip_audit", "-f", "json", "--progress-spinner", "off"]
    argv += ["-s", "osv", "--osv-url", f"{spec.osv_url}/v1/query"]
    argv += ["--timeout", str(max(1, int(min(spec.timeout_s, 60))))]
    if spec.requirements:
        argv += ["--no-deps", "--disable-pip"]
        for req in spec.requirements:
            argv += ["-r", str(req)]
    elif spec.path is not None:
        for folder in _site_packages(spec.path):
            argv += ["--path", str(folder)]
    return argv


def tool_version() -> str:
    try:
        return importlib.metadata.version("pip-audit")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def run_pip_audit(spec: AuditSpec, *, log_path: Path | None, redactor: Redactor) -> AuditReport:
    """Run pip-audit; raise ProbeError (the gate's ERROR) when it could not audit."""
    argv = pip_audit_argv(spec)
    result = run_process(
        argv,
        cwd=spec.requirements[0].parent if spec.requirements else None,
        env={**os.environ, "PYTHONWARNINGS": "ignore", **spec.env},
        timeout_s=spec.timeout_s,
        log_path=log_path,
        redactor=redactor,
        separate_stdout=True,
    )
    command = shlex.join(argv)  # exactly what ran: this interpreter's -m pip_audit
    direct = True if spec.requirements else None
    return parse_pip_audit(result, command=command, version=tool_version(), direct=direct)


def parse_pip_audit(
    result: ProcessResult, *, command: str, version: str, direct: bool | None = None
) -> AuditReport:
    """``direct``: whether every audited package was named directly (pinned files audited
    with ``--no-deps`` are exactly that); ``None`` for an environment."""
    data = stdout_json(result, "pip-audit")
    deps = data.get("dependencies") if isinstance(data, dict) else None
    if result.exit_code not in (0, 1) or not isinstance(deps, list):
        raise ProbeBadResponse(
            f"pip-audit could not audit ({result.describe()}): {last_line(result)}"
        )
    if not deps:
        # An empty pinned file, or a path holding no installed package: nothing audited is
        # no evidence of a clean tree.
        raise ProbeBadResponse(
            "pip-audit audited no package (an empty requirements file, or a path with none "
            "installed)"
        )
    findings: dict[tuple[str, str, str], AuditFinding] = {}
    skipped: list[tuple[str, str]] = []
    for dep in deps:
        if not isinstance(dep, dict) or not isinstance(dep.get("name"), str):
            raise ProbeBadResponse("pip-audit printed JSON of another shape (a dependency)")
        if "skip_reason" in dep:
            skipped.append((dep["name"], str(dep["skip_reason"])))
            continue
        vulns = dep.get("vulns")
        if not isinstance(vulns, list):
            # A renamed key must not read as "no vulnerabilities": that would pass unmeasured.
            raise ProbeBadResponse("pip-audit printed JSON of another shape (no vulns list)")
        for vuln in vulns:
            finding = _finding(dep, vuln, direct)
            findings.setdefault((finding.package, finding.version, finding.id), finding)
    return AuditReport(
        tool="pip-audit",
        tool_version=version,
        command=command,
        findings=tuple(findings.values()),
        dependencies=len(deps),
        skipped=tuple(skipped),
        tool_seconds=result.duration_s,
    )


def _finding(dep: dict[str, Any], vuln: Any, direct: bool | None) -> AuditFinding:
    if not isinstance(vuln, dict) or not isinstance(vuln.get("id"), str):
        raise ProbeBadResponse("pip-audit printed JSON of another shape (a vulnerability)")
    return AuditFinding(
        package=dep["name"],
        version=str(dep.get("version", "")),
        id=vuln["id"],
        aliases=tuple(a for a in vuln.get("aliases") or [] if isinstance(a, str)),
        fixed_versions=tuple(str(v) for v in vuln.get("fix_versions") or []),
        summary=str(vuln.get("description") or "")[:300],
        direct=direct,
    )
