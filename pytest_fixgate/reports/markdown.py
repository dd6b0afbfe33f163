"""The Markdown summary appended to ``$GITHUB_STEP_SUMMARY``."""

from __future__ import annotations

from typing import Any

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
        "| gate | outcome | measured | threshold | reason |",
        "|---|---|---|---|---|",
    ]
    for gate in verdict["gates"]:
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
            + ", ".join(f"`{g['id']}` ({g['missing']})" for g in verdict["not_configured"]),
        ]
    return "\n".join(lines) + "\n"
