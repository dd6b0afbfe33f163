"""The outcome model: what a gate concluded, and the evidence for it.

Pure data, no pytest: the plugin moves these between processes as dicts
(``as_dict`` / ``from_dict``), the report writers read them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from pytest_fixgate.severity import SEVERITIES

__all__ = ["SEVERITIES", "Evidence", "Finding", "GateInfo", "GateResult", "Outcome"]


class Outcome(enum.Enum):
    """How one gate ended (DESIGN.md, "Gate semantics")."""

    PASS = "PASS"  # measured, within its threshold
    WARN = "WARN"  # measured, outside the warning band but inside the limit
    INCONCLUSIVE = "INCONCLUSIVE"  # measured, but not enough to decide
    FAIL = "FAIL"  # measured, outside its limit
    ERROR = "ERROR"  # could not measure

    @property
    def passing(self) -> bool:
        """Whether this outcome lets a required gate through."""
        return self in (Outcome.PASS, Outcome.WARN)

    @property
    def rank(self) -> int:
        """Worse outcomes rank higher; used to pick the worst of several checks."""
        return _RANK[self]


_RANK = {
    Outcome.PASS: 0,
    Outcome.WARN: 1,
    Outcome.INCONCLUSIVE: 2,
    Outcome.FAIL: 3,
    Outcome.ERROR: 4,
}


@dataclass(frozen=True)
class GateInfo:
    """What a gate is, from its ``@pytest.mark.gate`` marker and the config."""

    id: str
    title: str
    severity: str = "critical"
    required: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "severity": self.severity,
            "required": self.required,
        }


@dataclass(frozen=True)
class Evidence:
    """What was measured and how: enough to re-check the outcome by hand at 3 a.m.

    ``measured`` and ``threshold`` are display strings ("1432.1 ms",
    "p(95) < 1500ms"); ``method`` says how the value was taken (a request, a
    query, a command; secrets already redacted); ``details`` holds the rest
    (status code, body excerpt, per-endpoint figures).
    """

    reason: str
    measured: str | None = None
    threshold: str | None = None
    samples: int = 0
    method: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "measured": self.measured,
            "threshold": self.threshold,
            "samples": self.samples,
            "method": self.method,
            "details": self.details,
        }


@dataclass(frozen=True)
class Finding:
    """A judge's conclusion about one measurement: an outcome and its evidence."""

    outcome: Outcome
    evidence: Evidence

    def with_details(self, **more: Any) -> Finding:
        """The same finding with more evidence details."""
        ev = self.evidence
        return Finding(
            self.outcome,
            Evidence(
                reason=ev.reason,
                measured=ev.measured,
                threshold=ev.threshold,
                samples=ev.samples,
                method=ev.method,
                details={**ev.details, **more},
            ),
        )

    @classmethod
    def error(
        cls, reason: str, *, method: str = "", threshold: str | None = None, **details: Any
    ) -> Finding:
        return cls(
            Outcome.ERROR,
            Evidence(reason=reason, method=method, threshold=threshold, details=details),
        )

    @classmethod
    def inconclusive(
        cls, reason: str, *, method: str = "", threshold: str | None = None, **details: Any
    ) -> Finding:
        return cls(
            Outcome.INCONCLUSIVE,
            Evidence(reason=reason, method=method, threshold=threshold, details=details),
        )


@dataclass(frozen=True)
class GateResult:
    """A gate's final result: the gate, its outcome and the evidence."""

    info: GateInfo
    outcome: Outcome
    evidence: Evidence
    nodeid: str = ""
    duration_s: float = 0.0

    @classmethod
    def from_finding(
        cls, info: GateInfo, finding: Finding, *, nodeid: str = "", duration_s: float = 0.0
    ) -> GateResult:
        return cls(info, finding.outcome, finding.evidence, nodeid, duration_s)

    def as_dict(self) -> dict[str, Any]:
        """The JSON verdict's gate entry (schema in the README)."""
        ev = self.evidence
        return {
            **self.info.as_dict(),
            "outcome": self.outcome.value,
            "measured": ev.measured,
            "threshold": ev.threshold,
            "samples": ev.samples,
            "reason": ev.reason,
            "evidence": {"method": ev.method, **ev.details},
            "nodeid": self.nodeid,
            "duration_s": round(self.duration_s, 3),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GateResult:
        evidence = dict(data.get("evidence") or {})
        method = evidence.pop("method", "")
        return cls(
            info=GateInfo(
                id=data["id"],
                title=data["title"],
                severity=data["severity"],
                required=data["required"],
            ),
            outcome=Outcome(data["outcome"]),
            evidence=Evidence(
                reason=data["reason"],
                measured=data.get("measured"),
                threshold=data.get("threshold"),
                samples=data.get("samples", 0),
                method=method,
                details=evidence,
            ),
            nodeid=data.get("nodeid", ""),
            duration_s=data.get("duration_s", 0.0),
        )
