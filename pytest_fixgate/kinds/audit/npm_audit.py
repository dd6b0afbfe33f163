"""Running ``npm audit --json`` / ``pnpm audit --json`` for real and reading what they say.

Both read the lockfile in ``directory`` (``package-lock.json``,
``pnpm-lock.yaml``) and post the installed versions to the registry's bulk
advisory endpoint (``--registry``). Both exit 1 for findings and for
failures; the JSON tells them apart: npm's report has ``auditReportVersion:
2`` and ``vulnerabilities``, pnpm's ``advisories``; a failure is ``{"error":
...}``, or no JSON at all.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

from pytest_fixgate.errors import ProbeBadResponse, ProbeError
from pytest_fixgate.kinds.audit.config import AuditSpec
from pytest_fixgate.kinds.audit.findings import AuditFinding, AuditReport, Severity
from pytest_fixgate.kinds.audit.toolrun import last_line, stdout_json
from pytest_fixgate.measurements.files import FileReadError, read_bytes
from pytest_fixgate.measurements.process import ProcessResult, run_process
from pytest_fixgate.redaction import Redactor

__all__ = [
    "PNPM_NO_VERSION_SWITCH",
    "audit_environ",
    "npm_audit_argv",
    "parse_npm_report",
    "parse_pnpm_report",
    "run_node_audit",
]

_GHSA = re.compile(r"GHSA(-[23456789cfghjmpqrvwx]{4}){3}", re.IGNORECASE)


def npm_audit_argv(spec: AuditSpec) -> list[str]:
    argv = [spec.tool, "audit", "--json"]
    if spec.production_only:
        argv.append("--omit=dev" if spec.tool == "npm" else "--prod")
    if spec.registry:
        argv += ["--registry", spec.registry]
    if spec.tool == "npm" and spec.fetch_retries is not None:
        argv.append(f"--fetch-retries={spec.fetch_retries}")
    return argv


#: pnpm runs as installed: a ``packageManager: pnpm@9.15.0`` pin in package.json must not
#: make it fetch and switch to that version (a registry without pnpm, or no network,
#: fails the audit; ERR_PNPM_BAD_CONFIG_DEP was seen). pnpm 9 and 10 read
#: manage-package-manager-versions, pnpm 11 and later pm-on-fail ("ignore").
PNPM_NO_VERSION_SWITCH = {
    "npm_config_manage_package_manager_versions": "false",
    "pnpm_config_pm_on_fail": "ignore",
}


def audit_environ(spec: AuditSpec) -> dict[str, str]:
    """The tool's environment: the inherited one, fixgate's settings, then the entry's
    ``env`` (which may turn pnpm's version switch back on)."""
    env = {**os.environ, "npm_config_update_notifier": "false", "npm_config_fund": "false"}
    if spec.tool == "pnpm":
        env.update(PNPM_NO_VERSION_SWITCH)
        if spec.fetch_retries is not None:
            # pnpm takes settings from PNPM_CONFIG_<KEY>, not from a flag.
            env["PNPM_CONFIG_FETCH_RETRIES"] = str(spec.fetch_retries)
    return {**env, **spec.env}


def package_manager_pin(directory: Path | None) -> str | None:
    """package.json's ``packageManager`` (``pnpm@9.15.0``), for the evidence."""
    try:
        meta = json.loads(read_bytes(directory / "package.json"))  # type: ignore[operator]
    except (OSError, ValueError, TypeError, FileReadError):
        return None
    pin = meta.get("packageManager") if isinstance(meta, dict) else None
    return pin if isinstance(pin, str) else None


def run_node_audit(spec: AuditSpec, *, log_path: Path | None, redactor: Redactor) -> AuditReport:
    """Run npm or pnpm audit in ``spec.directory``; raise ProbeError when it could not audit."""
    argv = npm_audit_argv(spec)
    result = run_process(
        argv,
        cwd=spec.directory,
        env=audit_environ(spec),
        timeout_s=spec.timeout_s,
        log_path=log_path,
        redactor=redactor,
        separate_stdout=True,
    )
    command = shlex.join(argv)
    version = tool_version(spec.tool) if result.start_error is None else "not installed"
    if spec.tool == "npm":
        report = parse_npm_report(
            result,
            command=command,
            version=version,
            lock=spec.directory,
            production_only=spec.production_only,
        )
    else:
        report = parse_pnpm_report(result, command=command, version=version)
    pin = package_manager_pin(spec.directory)
    if pin is not None and spec.tool == "pnpm":
        env = audit_environ(spec)
        off = all(env.get(k) == v for k, v in PNPM_NO_VERSION_SWITCH.items())
        extra = {
            "package_manager_pin": pin,
            "version_switch": "off: the installed pnpm ran"
            if off
            else "as the entry's env sets it",
        }
        report = replace(report, extra={**report.extra, **extra})
    return report


def tool_version(tool: str) -> str:
    """The installed tool's version: from its package.json beside the program (no second
    process: node's start-up would cost more than the audit's parsing), else ``--version``."""
    program = shutil.which(tool)
    if program is None:
        return "not installed"
    folder = Path(program).resolve().parent
    for candidate in (folder, folder.parent, folder.parent.parent):
        try:
            meta = json.loads((candidate / "package.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(meta, dict) and meta.get("name") == tool and meta.get("version"):
            return str(meta["version"])
    done = run_process([tool, "--version"], timeout_s=15, separate_stdout=True)
    lines = done.stdout.strip().splitlines()
    return lines[0] if done.exit_code == 0 and lines else "unknown"


def _load(result: ProcessResult, tool: str) -> dict[str, Any]:
    data = stdout_json(result, f"{tool} audit")
    if isinstance(data, dict) and "error" in data:
        error = data["error"]
        text = ""
        if isinstance(error, dict):
            text = " ".join(str(error.get(k) or "") for k in ("code", "summary", "message"))
        text = text.strip() or str(data.get("message") or "") or last_line(result)
        raise ProbeError(f"{tool} audit failed ({result.describe()}): {text.strip()}")
    if not isinstance(data, dict) or result.exit_code not in (0, 1):
        raise ProbeBadResponse(
            f"{tool} audit could not audit ({result.describe()}): {last_line(result)}"
        )
    return data


def _severity(text: object) -> Severity | None:
    if text == "info":
        return Severity.LOW
    return Severity.parse(text) if isinstance(text, str) else None


def _advisory_id(url: object, fallback: object) -> str:
    match = _GHSA.search(str(url or ""))
    return match.group(0) if match else f"npm-{fallback}"


def _fixed_from_range(range_text: str) -> tuple[str, ...]:
    match = re.fullmatch(r"\s*<\s*(\S+)\s*", range_text or "")
    return (match.group(1),) if match else ()


def _lock_versions(directory: Path | None) -> dict[str, str]:
    try:
        lock = json.loads(read_bytes(directory / "package-lock.json"))  # type: ignore[operator]
    except (OSError, ValueError, TypeError, FileReadError):
        return {}
    packages = lock.get("packages") if isinstance(lock, dict) else None
    if not isinstance(packages, dict):
        return {}
    return {k: str(v.get("version", "")) for k, v in packages.items() if isinstance(v, dict)}


def _audited(tool: str, count: object) -> int:
    """How many packages the tool audited; none (or not said) is no evidence of a clean
    tree, as pip-audit's empty run is not."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ProbeBadResponse(f"{tool} audit did not say how many packages it audited")
    if count == 0:
        raise ProbeBadResponse(
            f"{tool} audit audited no package (a lockfile with no dependency, or none left "
            "by production_only)"
        )
    return count


def parse_npm_report(
    result: ProcessResult,
    *,
    command: str,
    version: str,
    lock: Path | None,
    production_only: bool = False,
) -> AuditReport:
    data = _load(result, "npm")
    vulns = data.get("vulnerabilities")
    if data.get("auditReportVersion") != 2 or not isinstance(vulns, dict):
        raise ProbeBadResponse(
            "npm audit printed JSON of another shape (expected auditReportVersion 2)"
        )
    installed = _lock_versions(lock)
    findings: dict[tuple[str, str, str], AuditFinding] = {}
    for name, entry in vulns.items():
        if not isinstance(entry, dict):
            raise ProbeBadResponse(f"npm audit: vulnerabilities.{name} is not an object")
        versions = sorted({installed.get(n, "") for n in entry.get("nodes") or []} - {""})
        for via in entry.get("via") or []:
            if not isinstance(via, dict):
                continue  # a package name: the advisory is listed under that package
            package = str(via.get("name") or name)
            cvss = via.get("cvss") if isinstance(via.get("cvss"), dict) else {}
            score = cvss.get("score") if isinstance(cvss.get("score"), int | float) else None
            severity = _severity(via.get("severity"))
            finding = AuditFinding(
                package=package,
                version=", ".join(versions),
                id=_advisory_id(via.get("url"), via.get("source")),
                aliases=(f"npm-{via.get('source')}",) if via.get("source") else (),
                severity=severity,
                cvss_score=float(score) if score else None,
                severity_source=f"npm: {via.get('severity')}"
                + (f" (CVSS {score:.1f})" if score else ""),
                fixed_versions=_fixed_from_range(str(via.get("range") or "")),
                summary=str(via.get("title") or ""),
                direct=bool(entry.get("isDirect")) if "isDirect" in entry else None,
                url=str(via.get("url") or ""),
            )
            findings.setdefault((finding.package, finding.version, finding.id), finding)
    if vulns and not findings:
        # npm lists each vulnerable package; a name in ``via`` points at another entry, so
        # some entry carries the advisory itself. None parsed: the format moved, not clean.
        raise ProbeBadResponse("npm audit listed vulnerable packages but no advisory object")
    meta = data.get("metadata")
    deps = meta.get("dependencies") if isinstance(meta, dict) else None
    total = deps.get("total") if isinstance(deps, dict) else None
    dev = deps.get("dev", 0) if isinstance(deps, dict) else None
    # npm counts every package of the lockfile (the root excluded) whatever it omits:
    # with --omit=dev the audited ones are those that are not dev.
    if production_only and isinstance(total, int) and isinstance(dev, int):
        total -= dev
    return AuditReport(
        tool="npm",
        tool_version=version,
        command=command,
        findings=tuple(findings.values()),
        dependencies=_audited("npm", total),
        tool_seconds=result.duration_s,
    )


def parse_pnpm_report(result: ProcessResult, *, command: str, version: str) -> AuditReport:
    data = _load(result, "pnpm")
    advisories = data.get("advisories")
    if not isinstance(advisories, dict):
        raise ProbeBadResponse("pnpm audit printed JSON of another shape (expected advisories)")
    findings: list[AuditFinding] = []
    for key, adv in advisories.items():
        if not isinstance(adv, dict):
            raise ProbeBadResponse(f"pnpm audit: advisories.{key} is not an object")
        cves = adv.get("cves") if isinstance(adv.get("cves"), list) else []
        cvss = adv.get("cvss") if isinstance(adv.get("cvss"), dict) else {}
        score = cvss.get("score") if isinstance(cvss.get("score"), int | float) else None
        ghsa = adv.get("github_advisory_id") or _advisory_id(adv.get("url"), key)
        patched = str(adv.get("patched_versions") or "")
        by_version: dict[str, bool] = {}
        found_list = adv.get("findings")
        if not isinstance(found_list, list) or not found_list:
            # An advisory against no installed version: the format moved; dropping it passes.
            raise ProbeBadResponse(f"pnpm audit: advisories.{key} lists no findings")
        for found in found_list:
            if not isinstance(found, dict):
                raise ProbeBadResponse(f"pnpm audit: advisories.{key}.findings holds a non-object")
            paths = found.get("paths") or []
            direct = any(p.count(">") == 1 for p in paths)
            v = str(found.get("version", ""))
            by_version[v] = by_version.get(v, False) or direct
        for v, direct in by_version.items():
            findings.append(
                AuditFinding(
                    package=str(adv.get("module_name") or ""),
                    version=v,
                    id=str(ghsa),
                    aliases=(*tuple(str(c) for c in cves), f"npm-{adv.get('id', key)}"),
                    severity=_severity(adv.get("severity")),
                    cvss_score=float(score) if score else None,
                    severity_source=f"pnpm: {adv.get('severity')}"
                    + (f" (CVSS {score:.1f})" if score else ""),
                    fixed_versions=(patched.lstrip(">= "),) if patched.startswith(">=") else (),
                    summary=str(adv.get("title") or ""),
                    direct=direct,
                    url=str(adv.get("url") or ""),
                )
            )
    meta = data.get("metadata")
    total = meta.get("totalDependencies") if isinstance(meta, dict) else None
    return AuditReport(
        tool="pnpm",
        tool_version=version,
        command=command,
        findings=tuple(findings),
        dependencies=_audited("pnpm", total),  # with --prod: production packages only
        tool_seconds=result.duration_s,
    )
