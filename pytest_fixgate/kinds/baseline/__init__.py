"""The baseline kind: ``[env.X.baseline]``, how far a gate may drift from the last.

Modules: ``config``.
"""

from __future__ import annotations

from pytest_fixgate.kinds import GateKind
from pytest_fixgate.kinds.baseline.config import KIND

__all__ = ["KIND", "pytest_fixgate_gate_kinds"]


def pytest_fixgate_gate_kinds() -> list[GateKind]:
    """The kind joins the run through the hook a third-party kind implements."""
    return [KIND]
