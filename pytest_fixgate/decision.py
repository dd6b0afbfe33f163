"""The decision rule: many gate results in, one PROMOTE / HOLD / ROLLBACK out.

PROMOTE only when at least one required gate ran and every required gate is
PASS or WARN. Any other outcome of a required gate is a HOLD naming it. In a
watch, a fired SEV-1 or SEV-2 alert is a ROLLBACK. Nothing else can make a
PROMOTE: no gates, or only optional ones, is a HOLD.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pytest_fixgate.outcomes.model import GateResult, Outcome

__all__ = ["EXIT_CODES", "Decision", "DecisionKind", "decide"]


class DecisionKind(enum.Enum):
    PROMOTE = "PROMOTE"
    HOLD = "HOLD"
    ROLLBACK = "ROLLBACK"


#: Process exit status for each decision; 2-4 keep pytest's meaning.
EXIT_CODES = {DecisionKind.PROMOTE: 0, DecisionKind.HOLD: 1, DecisionKind.ROLLBACK: 10}


@dataclass(frozen=True)
class Decision:
    kind: DecisionKind
    reason: str
    blocking: tuple[str, ...] = ()  # ids of the gates that stopped a PROMOTE

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.kind]


def decide(results: Iterable[GateResult], *, rollback_alerts: Sequence[str] = ()) -> Decision:
    """Apply the decision rule to ``results`` (and, in a watch, the fired alerts)."""
    results = list(results)
    if rollback_alerts:
        return Decision(
            DecisionKind.ROLLBACK,
            f"rollback alert fired: {', '.join(rollback_alerts)}",
            tuple(rollback_alerts),
        )
    required = [r for r in results if r.info.required]
    if not required:
        what = "no gate ran" if not results else "no required gate ran"
        return Decision(DecisionKind.HOLD, f"{what}: nothing shows this release is safe")
    blocking = [r for r in required if not r.outcome.passing]
    if blocking:
        named = ", ".join(f"{r.info.id} {r.outcome.value}" for r in blocking)
        return Decision(
            DecisionKind.HOLD,
            f"{len(blocking)} of {len(required)} required gates not passed: {named}",
            tuple(r.info.id for r in blocking),
        )
    warned = [r for r in required if r.outcome is Outcome.WARN]
    note = f", {len(warned)} with warnings" if warned else ""
    return Decision(DecisionKind.PROMOTE, f"all {len(required)} required gates passed{note}")
