"""The health gate kind: ``[[env.X.health]]`` endpoints and what each must answer.

Modules: ``config``, ``judge``, ``measurement``. Its gate tests:
``gates/test_health.py``.
"""

from __future__ import annotations

from pytest_fixgate.kinds import GateKind
from pytest_fixgate.kinds.health.config import KIND

__all__ = ["KIND", "pytest_fixgate_gate_kinds"]


def pytest_fixgate_gate_kinds() -> list[GateKind]:
    """The kind joins the run through the hook a third-party kind implements."""
    return [KIND]
