"""pytest-fixgate: a release gate as a pytest suite.

The public API, what a gate suite or a plugin author needs, is re-exported here;
everything else is private and may move. The pytest glue lives in
:mod:`pytest_fixgate.plugin`; ``current_gate_run`` loads on first use, so importing
this package (and any pure module in it) does not import pytest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
from pytest_fixgate.kinds import GateKind, KindContext, SecretFile
from pytest_fixgate.outcomes.model import Evidence, Finding, GateInfo, GateResult, Outcome
from pytest_fixgate.watch.sources import Source, WatchSourceKind

if TYPE_CHECKING:
    from pytest_fixgate.run_state import current_gate_run

__all__ = [
    "ConfigError",
    "Decision",
    "DecisionKind",
    "Evidence",
    "Finding",
    "FixgateError",
    "GateInfo",
    "GateKind",
    "GateResult",
    "KindContext",
    "Outcome",
    "ProbeBadResponse",
    "ProbeConnectError",
    "ProbeError",
    "ProbeTimeout",
    "SecretFile",
    "Source",
    "ThresholdSyntaxError",
    "WatchSourceKind",
    "current_gate_run",
    "decide",
]


def __getattr__(name: str) -> Any:
    if name == "current_gate_run":
        # deferred: pytest loads only when a plugin asks for the run
        from pytest_fixgate.run_state import current_gate_run

        return current_gate_run
    raise AttributeError(f"module 'pytest_fixgate' has no attribute {name!r}")
