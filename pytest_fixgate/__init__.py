"""pytest-fixgate: a release gate as a pytest suite.

The public API is re-exported here from private modules; the pytest glue
lives in :mod:`pytest_fixgate.plugin`.
"""

from __future__ import annotations

from pytest_fixgate.decision import Decision, DecisionKind, decide
from pytest_fixgate.errors import (
    ConfigError,
    FixgateError,
    ProbeBadResponse,
    ProbeConnectError,
    ProbeError,
    ProbeTimeout,
    ThresholdSyntaxError,
)
from pytest_fixgate.outcomes.model import Evidence, GateInfo, GateResult, Outcome

__all__ = [
    "ConfigError",
    "Decision",
    "DecisionKind",
    "Evidence",
    "FixgateError",
    "GateInfo",
    "GateResult",
    "Outcome",
    "ProbeBadResponse",
    "ProbeConnectError",
    "ProbeError",
    "ProbeTimeout",
    "ThresholdSyntaxError",
    "decide",
]
