"""The runbook's values that no gate kind owns; each kind keeps its own defaults
(the health endpoints in :mod:`pytest_fixgate.kinds.health.config`, the readiness
load in :mod:`pytest_fixgate.kinds.load.config`)."""

from __future__ import annotations

__all__ = ["DEFAULT_TIMEOUT_S"]

DEFAULT_TIMEOUT_S = 5.0
