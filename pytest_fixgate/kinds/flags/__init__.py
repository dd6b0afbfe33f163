"""The feature-flag gate kind: ``[env.X.flags]``, the live flags plus the environment's.

Modules: ``config``, ``judge``, ``measurement``. Its gate tests:
``gates/test_flags.py``.
"""

from __future__ import annotations

from pytest_fixgate.kinds import GateKind
from pytest_fixgate.kinds.flags.config import KIND

__all__ = ["KIND", "pytest_fixgate_gate_kinds"]


def pytest_fixgate_gate_kinds() -> list[GateKind]:
    """The kind joins the run through the hook a third-party kind implements."""
    return [KIND]
