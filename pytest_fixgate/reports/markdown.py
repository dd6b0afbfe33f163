"""The Markdown summary appended to ``$GITHUB_STEP_SUMMARY``."""

from __future__ import annotations

from typing import Any

from pytest_fixgate.reports.html import OUTCOME_ORDER, order_key, why_not_configured

__all__ = ["render_markdown"]

_ICON = {"PASS": "✅", "WARN": "⚠️", "INCONCLUSIVE": "❔", "FAIL": "❌", "ERROR": "💥"}
_DECISION_ICON = {"PROMOTE": "🟢", "HOLD": "🟠", "ROLLBACK": "🔴"}


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(verdict: dict[str, Any]) -> str:
    decision = verdict["decision"]
    lines = [
        f"## {_DECISION_ICON.get(decision, '')} fixgate: {decision} ({verdict['env']})",
        "",
        f"{_cell(verdict['reason'])}",
        "",
        f"Target `{verdict['target']}`, commit `{verdict['commit'] or 'unknown'}`, "
        f"{verdict['started']} to {verdict['finished']}.",
        "",
        " · ".join(f"{_ICON[o]} {o} {verdict['counts'].get(o, 0)}" for o in OUTCOME_ORDER),
        "",
        "| gate | outcome | measured | threshold | reason |",
        "|---|---|---|---|---|",
    ]
    for gate in sorted(verdict["gates"], key=order_key):  # failing gates first
        required = "" if gate["required"] else " (optional)"
        lines.append(
            f"| `{_cell(gate['id'])}`{required} | {_ICON.get(gate['outcome'], '')} "
            f"{gate['outcome']} | {_cell(gate['measured'])} | {_cell(gate['threshold'])} | "
            f"{_cell(gate['reason'])} |"
        )
    if verdict["not_configured"]:
        lines += [
            "",
            "Not configured: "
            + ", ".join(
                f"`{g['id']}` ({why_not_configured(g['missing'], verdict['env'])})"
                for g in verdict["not_configured"]
            ),
        ]
    return "\n".join(lines) + "\n"
