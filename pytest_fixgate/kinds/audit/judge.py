"""Judging a dependency audit: findings against the floor, waivers applied.

- A finding at or above ``audit_level``, or of unknown severity (fail
  closed), that no live waiver covers: FAIL.
- Otherwise, dependencies the tool could not audit: INCONCLUSIVE (unaudited is
  not clean).
- Otherwise, findings below the floor, a waiver that matches nothing (stale
  waivers rot), or an expired one: WARN.
- Otherwise PASS. A tool that could not audit never gets here: ERROR.
"""

from __future__ import annotations

import datetime as _dt
import html
from collections import Counter
from typing import Any
from urllib.parse import quote

from pytest_fixgate.kinds.audit.config import AuditSpec
from pytest_fixgate.kinds.audit.findings import AuditFinding, AuditReport, Severity
from pytest_fixgate.kinds.audit.waivers import match_waivers
from pytest_fixgate.outcomes.model import Evidence, Finding, Outcome

__all__ = ["findings_table_html", "judge_audit"]


def _rank(finding: AuditFinding) -> int:
    # Unknown severity sorts with the worst: it is treated as at or above the floor.
    return 5 if finding.severity is None else int(finding.severity)


def _label(finding: AuditFinding) -> str:
    return finding.severity.label if finding.severity else "severity unknown"


def _short(finding: AuditFinding) -> str:
    aliases = f" ({', '.join(finding.aliases)})" if finding.aliases else ""
    return f"{finding.package} {finding.version} {finding.id}{aliases} {_label(finding)}"


def judge_audit(
    spec: AuditSpec, report: AuditReport, *, today: _dt.date, logs: list[str]
) -> Finding:
    floor = spec.audit_level
    ordered = sorted(report.findings, key=lambda f: (-_rank(f), f.package, f.id))
    match = match_waivers(ordered, spec.waivers, today)
    rows: list[dict[str, Any]] = []
    blocking: list[AuditFinding] = []
    below: list[AuditFinding] = []
    for i, f in enumerate(ordered):
        row = f.as_dict()
        waiver = match.waived.get(i)
        at_floor = f.severity is None or f.severity >= floor
        if waiver is not None:
            row["status"] = "waived"
            row["waiver"] = waiver.as_dict()
        elif at_floor:
            row["status"] = "fails"
            blocking.append(f)
        else:
            row["status"] = "below floor"
            below.append(f)
        if i in match.expired:
            row["expired_waiver"] = match.expired[i].as_dict()
        rows.append(row)
    counts = Counter(_label(f) for f in ordered)
    per_severity = {s.label: counts.get(s.label, 0) for s in reversed(Severity)}
    if counts.get("severity unknown"):
        per_severity["unknown"] = counts["severity unknown"]
    details: dict[str, Any] = {
        "tool": report.tool,
        "tool_version": report.tool_version,
        "command": report.command,
        "audit_level": floor.label,
        "counts": per_severity,
        "findings": rows,
        "waived": len(match.waived),
        "expired_waivers": [w.as_dict() for w in match.expired.values()]
        + [w.as_dict() for w in match.expired_unused],
        "stale_waivers": [w.as_dict() for w in match.stale],
        "skipped": [{"package": p, "reason": r} for p, r in report.skipped],
        "dependencies": report.dependencies,
        "tool_seconds": round(report.tool_seconds, 3),
        **report.extra,  # severity look-ups: how many, how long
        "logs": logs,
    }
    summary = ", ".join(f"{n} {k}" for k, n in per_severity.items() if n) or "none"
    measured = f"{len(ordered)} finding{'s' if len(ordered) != 1 else ''} ({summary})"
    if match.waived:
        measured += f", {len(match.waived)} waived"
    notes = _notes(match.expired, match.expired_unused, match.stale)
    if blocking:
        outcome = Outcome.FAIL
        shown = "; ".join(_short(f) for f in blocking[:5])
        more = f"; and {len(blocking) - 5} more" if len(blocking) > 5 else ""
        reason = (
            f"{len(blocking)} finding{'s' if len(blocking) != 1 else ''} at or above "
            f"{floor.label}, not waived: {shown}{more}"
        )
    elif report.skipped:
        outcome = Outcome.INCONCLUSIVE
        names = ", ".join(f"{p} ({r})" for p, r in report.skipped[:5])
        reason = f"{report.tool} could not audit {len(report.skipped)} dependencies: {names}"
    elif below or notes:
        outcome = Outcome.WARN
        parts = []
        if below:
            parts.append(
                f"{len(below)} finding{'s' if len(below) != 1 else ''} below {floor.label}: "
                + "; ".join(_short(f) for f in below[:5])
            )
        reason = "; ".join(parts + notes)
    else:
        outcome = Outcome.PASS
        waived = f" ({len(match.waived)} waived)" if match.waived else ""
        reason = f"no finding at or above {floor.label}{waived}"
    if notes and outcome is not Outcome.WARN:
        reason += "; " + "; ".join(notes)
    return Finding(
        outcome,
        Evidence(
            reason=reason,
            measured=measured,
            threshold=f"no finding at or above {floor.label} unless waived",
            samples=report.dependencies or 0,
            method=report.command,
            details=details,
        ),
    )


def _notes(
    expired: dict[int, Any], expired_unused: tuple[Any, ...], stale: tuple[Any, ...]
) -> list[str]:
    notes = []
    for w in [*expired.values(), *expired_unused]:
        notes.append(f"waiver {w.id} for {w.package} expired on {w.expires.isoformat()}")
    for w in stale:
        notes.append(f"waiver {w.id} for {w.package} matches no finding (stale)")
    return notes


def findings_table_html(details: dict[str, Any]) -> str:
    """The findings as an HTML table, highest severity first (the rows arrive sorted)."""
    head = (
        "<tr><th>severity</th><th>CVSS</th><th>package</th><th>installed</th>"
        "<th>advisory</th><th>aliases</th><th>fixed in</th><th>direct</th><th>status</th>"
        "<th>summary</th></tr>"
    )
    body = []
    for row in details.get("findings", []):
        status = row["status"]
        if status == "waived":
            w = row["waiver"]
            status = f"waived until {w['expires']}: {w['reason']}"
        elif row.get("expired_waiver"):
            status += f" (waiver expired {row['expired_waiver']['expires']})"
        direct = {True: "yes", False: "no", None: ""}[row.get("direct")]
        cells = [
            row["severity"],
            "" if row.get("cvss_score") is None else f"{row['cvss_score']:.1f}",
            row["package"],
            row["version"],
            row["id"],
            ", ".join(row.get("aliases", [])),
            ", ".join(row.get("fixed_versions", [])),
            direct,
            status,
            row.get("summary", ""),
        ]
        title = html.escape(row.get("severity_source", ""), quote=True)
        tds = "".join(f"<td>{html.escape(str(c))}</td>" for c in cells)
        # The advisory id links to its OSV page (OSV knows GHSA, PYSEC and CVE ids).
        ident = html.escape(row["id"])
        link = f"https://osv.dev/vulnerability/{quote(row['id'], safe='')}"
        tds = tds.replace(
            f"<td>{ident}</td>", f'<td><a href="{html.escape(link)}">{ident}</a></td>', 1
        )
        body.append(f'<tr title="{title}">{tds}</tr>')
    if not body:
        body.append('<tr><td colspan="10">no findings</td></tr>')
    counts = ", ".join(f"{k}: {v}" for k, v in details.get("counts", {}).items())
    return (
        f"<p>{html.escape(details.get('command', ''))} ({html.escape(details.get('tool', ''))} "
        f"{html.escape(details.get('tool_version', ''))}); {html.escape(counts)}</p>"
        f'<table class="fixgate-audit">{head}{"".join(body)}</table>'
    )
