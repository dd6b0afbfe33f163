"""The dependency gate kind: MongoDB and Redis answer a ping, directly.

Modules: ``config``, ``judge``. Its gate tests: ``gates/test_dependencies.py``.
"""

from __future__ import annotations

from pytest_fixgate.kinds import GateKind
from pytest_fixgate.kinds.dependencies.config import KIND

__all__ = ["KIND", "pytest_fixgate_gate_kinds"]


def pytest_fixgate_gate_kinds() -> list[GateKind]:
    """The kind joins the run through the hook a third-party kind implements."""
    return [KIND]
