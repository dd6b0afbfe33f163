"""Which Prometheus series an exported watch rule reads: shared by the export (the
recording rules it writes) and the replay (the twin a rule is checked against)."""

from __future__ import annotations

from pytest_fixgate.watch.engine import Rule

__all__ = ["series_name"]


def series_name(rule: Rule) -> str | None:
    """The series the exported alert reads (a recording rule's name); None: no twin."""
    if rule.source not in ("probe", "prometheus"):
        return None
    if rule.when.metric == "error_rate":
        return "fixgate:error_rate"
    if rule.when.metric == "p" and rule.when.arg in (95.0, 99.0):
        return f"fixgate:latency_p{rule.when.arg:g}_ms"
    return None
