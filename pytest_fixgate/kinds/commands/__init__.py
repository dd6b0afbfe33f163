"""The command gate kind: ``[[env.X.commands]]``, one gate per command
(``command.<id>``).

Modules: ``config``, ``judge``, ``measurement``. Its gate tests:
``gates/test_commands.py``.
"""

from __future__ import annotations

from pytest_fixgate.kinds import GateKind
from pytest_fixgate.kinds.commands.config import KIND

__all__ = ["KIND", "pytest_fixgate_gate_kinds"]


def pytest_fixgate_gate_kinds() -> list[GateKind]:
    """The kind joins the run through the hook a third-party kind implements."""
    return [KIND]
