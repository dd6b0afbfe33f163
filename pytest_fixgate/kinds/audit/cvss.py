"""The CVSS v3 base score, computed from its vector string.

The formulas and weights of the CVSS v3.1 specification, section 7
(https://www.first.org/cvss/v3.1/specification-document), including its
``Roundup`` (v3.0 vectors use the plain ceiling to one decimal, as v3.0 did).
Only the base metrics count; temporal and environmental ones are ignored.
"""

from __future__ import annotations

import math

__all__ = ["CvssError", "base_score", "severity_of_score"]

_AV = {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2}
_AC = {"L": 0.77, "H": 0.44}
_PR_UNCHANGED = {"N": 0.85, "L": 0.62, "H": 0.27}
_PR_CHANGED = {"N": 0.85, "L": 0.68, "H": 0.5}
_UI = {"N": 0.85, "R": 0.62}
_CIA = {"H": 0.56, "L": 0.22, "N": 0.0}
_BASE = ("AV", "AC", "PR", "UI", "S", "C", "I", "A")


class CvssError(ValueError):
    """A vector that is not a CVSS v3 base vector."""


def _roundup_31(value: float) -> float:
    # The spec's floating-point-safe round up to one decimal.
    whole = round(value * 100000)
    if whole % 10000 == 0:
        return whole / 100000.0
    return (math.floor(whole / 10000) + 1) / 10.0


def _roundup_30(value: float) -> float:
    return math.ceil(value * 10) / 10


def base_score(vector: str) -> float:
    """The base score of a ``CVSS:3.x/AV:../AC:../...`` vector; raises :class:`CvssError`."""
    parts = vector.strip().split("/")
    if not parts or parts[0] not in ("CVSS:3.0", "CVSS:3.1"):
        raise CvssError(f"not a CVSS v3 vector: {vector!r}")
    metrics: dict[str, str] = {}
    for part in parts[1:]:
        key, sep, value = part.partition(":")
        if not sep or key in metrics:
            raise CvssError(f"malformed CVSS v3 vector: {vector!r}")
        metrics[key] = value
    try:
        av, ac, ui = _AV[metrics["AV"]], _AC[metrics["AC"]], _UI[metrics["UI"]]
        scope = metrics["S"]
        if scope not in ("U", "C"):
            raise KeyError("S")
        pr = (_PR_CHANGED if scope == "C" else _PR_UNCHANGED)[metrics["PR"]]
        c, i, a = _CIA[metrics["C"]], _CIA[metrics["I"]], _CIA[metrics["A"]]
    except KeyError:
        raise CvssError(f"CVSS v3 vector lacks or misspells a base metric: {vector!r}") from None
    roundup = _roundup_31 if parts[0] == "CVSS:3.1" else _roundup_30
    iss = 1 - (1 - c) * (1 - i) * (1 - a)
    impact = 6.42 * iss if scope == "U" else 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15
    if impact <= 0:
        return 0.0
    exploitability = 8.22 * av * ac * pr * ui
    if scope == "U":
        return roundup(min(impact + exploitability, 10))
    return roundup(min(1.08 * (impact + exploitability), 10))


def severity_of_score(score: float) -> str:
    """The issue's scale (as GitHub's advisories): 9.0+ critical, 7.0+ high, 4.0+ moderate,
    else low."""
    if score >= 9.0:
        return "critical"
    if score >= 7.0:
        return "high"
    if score >= 4.0:
        return "moderate"
    return "low"
