"""Judging bundle sizes against their budgets.

FAIL when any chunk is over its budget (each violation a line: file, size,
budget, delta); WARN when a chunk is within ``warn_within`` under its budget;
PASS otherwise. A report entry older than ``max_age``, or stamped more than
five minutes in the future, is not evidence for this build: ERROR. (A
missing or malformed report, or a build directory without chunks, never
reaches the judge: the measurement raises, ERROR.)
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from pytest_fixgate.kinds.bundle.config import BundleConfig
from pytest_fixgate.kinds.bundle.measurement import BudgetEntry, ChunkSize
from pytest_fixgate.outcomes.model import Evidence, Finding, Outcome

__all__ = ["judge_bundle"]

_LISTED = 50  # chunks listed in the evidence at most (largest first)
_FUTURE_SLACK_S = 300.0  # clock skew tolerated between the build machine and this one


def _line(chunk: ChunkSize) -> str:
    sign = "+" if chunk.delta_kb >= 0 else ""
    return (
        f"{chunk.file}: {chunk.size_kb:.2f} KB, budget {chunk.budget_kb:g} KB "
        f"({sign}{chunk.delta_kb:.2f} KB)"
    )


def _span(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.0f} s"


def judge_bundle(config: BundleConfig, entry: BudgetEntry, *, now: _dt.datetime) -> Finding:
    # A listed chunk over its budget is a violation even if the report's list omits it.
    over_listed = [c for c in entry.chunks if c.over]
    near = [
        c
        for c in entry.chunks
        if not c.over and c.size_kb >= c.budget_kb * (1 - config.warn_within)
    ]
    details: dict[str, Any] = {
        "source": entry.source,
        "path": str(config.report or config.chunks),
        "timestamp": entry.timestamp.isoformat() if entry.timestamp else None,
        "branch": entry.branch,
        "total_kb": round(entry.total_kb, 2),
        "bundle_count": entry.bundle_count,
        "violations": [c.as_dict() for c in entry.violations],
        "within_warn_band": [c.as_dict() for c in near],
        "chunks": [c.as_dict() for c in entry.chunks[:_LISTED]],
        "all_chunks_listed": entry.all_chunks,
        "warn_within": f"{config.warn_within * 100:g}%",
    }
    if entry.budgets is not None:
        details["budgets"] = entry.budgets.as_dict()
    if entry.gzip:
        details["gzip"] = entry.gzip
    measured = (
        f"{entry.bundle_count} chunks, {entry.total_kb:.2f} KB gzipped, "
        f"{max(entry.over_budget_count, len(entry.violations), len(over_listed))} over budget"
    )
    threshold = f"every chunk within its budget (WARN within {config.warn_within * 100:g}% under)"
    method = (
        f"last entry of {config.report}"
        if entry.source == "report"
        else (
            f"{entry.gzip or 'node'} zlib.gzipSync of every .js under {config.chunks}, "
            "classified by file name, as scripts/checkBundleBudget.mjs does"
        )
    )
    if entry.budgets is not None and entry.budgets.overrides:
        method += "; budgets from " + ", ".join(
            f"{name}={entry.budgets.kb[c]:g}" for c, name in entry.budgets.overrides.items()
        )

    def finding(outcome: Outcome, reason: str) -> Finding:
        return Finding(
            outcome,
            Evidence(
                reason=reason,
                measured=measured,
                threshold=threshold,
                samples=entry.bundle_count,
                method=method,
                details=details,
            ),
        )

    if entry.timestamp is not None:
        age = (now - entry.timestamp).total_seconds()
        details["age_s"] = round(age, 1)
        if age > config.max_age_s:
            return finding(
                Outcome.ERROR,
                f"the report's last entry ({entry.timestamp.isoformat()}) is "
                f"{_span(age)} old, older than max_age {_span(config.max_age_s)}: "
                "not evidence for this build",
            )
        if age < -_FUTURE_SLACK_S:
            # A skewed clock's stamp would read as fresh forever: its age cannot be known.
            return finding(
                Outcome.ERROR,
                f"the report's last entry ({entry.timestamp.isoformat()}) is stamped "
                f"{_span(-age)} in the future: its age cannot be judged",
            )
    if entry.violations or entry.over_budget_count or over_listed:
        lines = "; ".join(_line(c) for c in entry.violations[:10])
        if not lines and entry.over_budget_count:
            lines = f"the report counts {entry.over_budget_count} over budget but lists none"
        lines = lines or "; ".join(_line(c) for c in over_listed[:10])
        n = max(entry.over_budget_count, len(entry.violations), len(over_listed))
        return finding(Outcome.FAIL, f"{n} chunk{'s' if n != 1 else ''} over budget: {lines}")
    if near:
        lines = "; ".join(_line(c) for c in near[:10])
        return finding(
            Outcome.WARN,
            f"{len(near)} chunk{'s' if len(near) != 1 else ''} within "
            f"{config.warn_within * 100:g}% under budget: {lines}",
        )
    scope = "" if entry.all_chunks else " (the report lists its five largest chunks)"
    return finding(Outcome.PASS, f"every chunk within budget{scope}")
