"""Gate severities: shared vocabulary of config (overrides) and outcomes (results)."""

from __future__ import annotations

__all__ = ["SEVERITIES"]

SEVERITIES = ("critical", "major", "minor")
