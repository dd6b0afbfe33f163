"""One finding model for every audit tool, and the severity scale.

A finding is one advisory against one installed package version, whichever
tool reported it (pip-audit, npm, pnpm). Its severity may be unknown
(``None``): pip-audit reports none, and OSV may have none either; the judge
then counts it as at or above the floor (fail closed).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["LEVELS", "AuditFinding", "AuditReport", "Severity"]


class Severity(enum.IntEnum):
    """npm's and GitHub's scale; ``audit_level`` names one of these."""

    LOW = 1
    MODERATE = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, text: str) -> Severity | None:
        """``"HIGH"``, ``"moderate"``, ``"medium"`` -> a level; anything else ``None``."""
        name = text.strip().upper()
        if name == "MEDIUM":
            name = "MODERATE"
        return cls.__members__.get(name)

    @property
    def label(self) -> str:
        return self.name.lower()


LEVELS = tuple(s.label for s in Severity)


@dataclass(frozen=True)
class AuditFinding:
    """One advisory against one installed package version."""

    package: str
    version: str
    id: str  # the tool's id for the advisory (PYSEC-..., GHSA-...)
    aliases: tuple[str, ...] = ()
    severity: Severity | None = None  # None: unknown, counted as at or above the floor
    cvss_score: float | None = None
    severity_source: str = ""  # how the severity was decided, for the evidence
    fixed_versions: tuple[str, ...] = ()
    summary: str = ""
    direct: bool | None = None  # None: the tool does not say
    url: str = ""  # the tool's link to the advisory (the HTML table links the id)

    @property
    def ids(self) -> frozenset[str]:
        """The advisory id and every alias, upper-cased for matching."""
        return frozenset(i.upper() for i in (self.id, *self.aliases))

    def with_severity(
        self, severity: Severity | None, score: float | None, source: str
    ) -> AuditFinding:
        return replace(self, severity=severity, cvss_score=score, severity_source=source)

    def as_dict(self) -> dict[str, Any]:
        return {
            "package": self.package,
            "version": self.version,
            "id": self.id,
            "aliases": list(self.aliases),
            "severity": self.severity.label if self.severity else "unknown",
            "cvss_score": self.cvss_score,
            "severity_source": self.severity_source,
            "fixed_versions": list(self.fixed_versions),
            "summary": self.summary,
            "direct": self.direct,
        }


@dataclass(frozen=True)
class AuditReport:
    """What one tool run reported, parsed."""

    tool: str
    tool_version: str
    command: str
    findings: tuple[AuditFinding, ...]
    dependencies: int | None = None  # how many packages were audited, when the tool says
    skipped: tuple[tuple[str, str], ...] = ()  # (package, why) the tool could not audit
    tool_seconds: float = 0.0  # the tool's own wall time
    extra: dict[str, Any] = field(default_factory=dict)
