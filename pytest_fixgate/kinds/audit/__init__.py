"""The dependency-audit gate kind: ``[[env.X.audit]]``, one gate per entry
(``audit.<id>``).

Dependency audits: the real tools (pip-audit, npm, pnpm), one finding model, the
severity of each advisory (from OSV when the tool gives none), and waivers.

Modules: ``config``, ``cvss``, ``findings``, ``judge``, ``npm_audit``, ``osv``,
``pip_audit``, ``run``, ``toolrun``, ``waivers``. Its gate tests:
``gates/test_audit.py``.
"""

from __future__ import annotations

from pytest_fixgate.kinds import GateKind
from pytest_fixgate.kinds.audit.config import KIND

__all__ = ["KIND", "pytest_fixgate_gate_kinds"]


def pytest_fixgate_gate_kinds() -> list[GateKind]:
    """The kind joins the run through the hook a third-party kind implements."""
    return [KIND]
