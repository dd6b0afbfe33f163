"""The migrations gate kind: ``[env.X.migrations]``, pending migrations and their dry
runs.

Modules: ``clone``, ``config``, ``fingerprint``, ``judge``, ``measurement``, ``reaper``.
Its gate tests: ``gates/test_migrations.py``.
"""

from __future__ import annotations

from pytest_fixgate.kinds import GateKind
from pytest_fixgate.kinds.migrations.config import KIND

__all__ = ["KIND", "pytest_fixgate_gate_kinds"]


def pytest_fixgate_gate_kinds() -> list[GateKind]:
    """The kind joins the run through the hook a third-party kind implements."""
    return [KIND]
