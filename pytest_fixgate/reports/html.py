"""The HTML report: pytest-html 4, self-contained, with the decision on top.

pytest-html writes the file; this module adds the decision banner and the
gate table (``pytest_html_results_summary``), gate columns in its results
table, and each gate's evidence as report extras.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from html import escape
from typing import TYPE_CHECKING, Any

from pytest_fixgate.run import RESULT_PROPERTY

if TYPE_CHECKING:
    import pytest

    from pytest_fixgate.outcomes.model import GateResult
    from pytest_fixgate.run import GateRun

__all__ = ["HtmlHooks", "attach_evidence"]

_CELL = " style='border:1px solid #d0d7de;padding:3px 8px;text-align:left'"
_COLOURS = {
    "PASS": "#1a7f37",
    "WARN": "#9a6700",
    "INCONCLUSIVE": "#8250df",
    "FAIL": "#cf222e",
    "ERROR": "#a40e26",
    "PROMOTE": "#1a7f37",
    "HOLD": "#bc4c00",
    "ROLLBACK": "#a40e26",
}


def attach_evidence(
    report: pytest.TestReport, result: GateResult, html_extras: Iterable[tuple[str, str]] = ()
) -> None:
    """Add the gate's evidence (and any charts) to the report as pytest-html extras."""
    try:
        from pytest_html import extras
    except ImportError:  # pytest-html absent: the JSON verdict still has everything
        return
    ev = result.evidence
    rows = "".join(
        f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>"
        for k, v in (
            ("outcome", result.outcome.value),
            ("measured", ev.measured),
            ("threshold", ev.threshold),
            ("samples", ev.samples),
            ("method", ev.method),
            ("reason", ev.reason),
        )
        if v not in (None, "")
    )
    details = escape(json.dumps(ev.details, indent=2, default=str)) if ev.details else ""
    content = f"<div class='fixgate-evidence'><table>{rows}</table>"
    if details:
        content += f"<details><summary>details</summary><pre>{details}</pre></details>"
    content += "</div>"
    items = [extras.html(content)]
    items += [
        extras.html(f"<div class='fixgate-extra'><h4>{escape(n)}</h4>{h}</div>")
        for n, h in html_extras
    ]
    report.extras = [*getattr(report, "extras", []), *items]


def _result_of(report: pytest.TestReport) -> dict[str, Any] | None:
    for name, value in getattr(report, "user_properties", ()):
        if name == RESULT_PROPERTY:
            return json.loads(value)
    return None


def _badge(word: str) -> str:
    colour = _COLOURS.get(word, "#57606a")
    return (
        f"<span style='background:{colour};color:#fff;padding:1px 6px;"
        f"border-radius:4px;font-weight:600'>{escape(word)}</span>"
    )


class HtmlHooks:
    """pytest-html hook implementations; registered only when pytest-html is active."""

    PLUGIN_NAME = "fixgate-html"

    def __init__(self, run: GateRun) -> None:
        self.run = run
        self._report: Any = None

    def pytest_html_report_title(self, report: Any) -> None:
        # Called at session start; the decision goes into the title once it is known.
        self._report = report
        report.title = f"fixgate: {self.run.env.name} gate report"

    def pytest_html_results_summary(
        self, prefix: list[str], summary: list[str], postfix: list[str], session: Any
    ) -> None:
        run = self.run
        decision = run.decision
        if decision is None:
            return
        colour = _COLOURS[decision.kind.value]
        if self._report is not None:
            self._report.title = f"fixgate {decision.kind.value}: {run.env.name} gate report"
        prefix.append(
            f"<div id='fixgate-decision' style='border:3px solid {colour};padding:12px;"
            f"margin:8px 0;border-radius:6px'>"
            f"<h2 style='margin:0;color:{colour}'>{escape(decision.kind.value)}</h2>"
            f"<p style='margin:4px 0'>{escape(decision.reason)}</p>"
            f"<p style='margin:4px 0;color:#57606a'>env <b>{escape(run.env.name)}</b> · "
            f"target {escape(run.env.base_url)} · commit {escape(run.commit or 'unknown')} · "
            f"started {escape(run.started.isoformat(timespec='seconds'))}"
            f"{' · advisory (dry run)' if run.advisory else ''}</p></div>"
        )
        rows = []
        for r in run.ordered_results():
            ev = r.evidence
            rows.append(
                "<tr>"
                + "".join(
                    f"<td>{c}</td>"
                    for c in (
                        escape(r.info.id) + ("" if r.info.required else " <i>(optional)</i>"),
                        _badge(r.outcome.value),
                        escape(ev.measured or ""),
                        escape(ev.threshold or ""),
                        str(ev.samples),
                        escape(ev.reason),
                    )
                )
                + "</tr>"
            )
        for n in run.not_configured.values():
            rows.append(
                f"<tr><td{_CELL}>{escape(n.info.id)}</td><td{_CELL}>not configured</td>"
                f"<td{_CELL}></td><td{_CELL}></td><td{_CELL}></td>"
                f"<td{_CELL}>{escape(n.missing)} is not set for this environment</td></tr>"
            )
        prefix.append(
            "<table id='fixgate-gates' style='border-collapse:collapse;margin-bottom:12px'>"
            "<thead><tr>"
            + "".join(
                f"<th{_CELL}>{h}</th>"
                for h in ("gate", "outcome", "measured", "threshold", "samples", "reason")
            )
            + "</tr></thead><tbody>"
            + "".join(rows)
            + "</tbody></table>"
        )

    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        cells.insert(2, "<th class='sortable' data-column-type='gate'>Gate outcome</th>")
        cells.insert(3, "<th>Measured</th>")
        cells.insert(4, "<th>Threshold</th>")

    def pytest_html_results_table_row(self, report: pytest.TestReport, cells: list[str]) -> None:
        result = _result_of(report)
        outcome = result["outcome"] if result else ""
        cells.insert(2, f"<td class='col-gate'>{_badge(outcome) if outcome else ''}</td>")
        cells.insert(3, f"<td>{escape(str((result or {}).get('measured') or ''))}</td>")
        cells.insert(4, f"<td>{escape(str((result or {}).get('threshold') or ''))}</td>")
