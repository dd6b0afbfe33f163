"""The load gate kind: ``[env.X.load]``, one Locust run and the thresholds its figures
meet.

Modules: ``capture``, ``charts``, ``config``, ``evidence``, ``failures``, ``judge``,
``progress``, ``remote``, ``remote_capture``, ``remote_workers``, ``results``,
``runner``, ``session``, ``spec``. Its gate tests: ``gates/test_load.py``.
"""

from __future__ import annotations

from pytest_fixgate.kinds import GateKind
from pytest_fixgate.kinds.load.config import KIND

__all__ = ["KIND", "pytest_fixgate_gate_kinds"]


def pytest_fixgate_gate_kinds() -> list[GateKind]:
    """The kind joins the run through the hook a third-party kind implements."""
    return [KIND]
