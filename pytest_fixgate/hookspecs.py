"""Hooks for users: act on gate results and the decision without forking the plugin.

Implement them in a ``conftest.py`` or a plugin::

    # conftest.py
    def pytest_fixgate_decision(decision, verdict, config):
        if decision.kind.value != "PROMOTE":
            post_to_slack(f"release held: {decision.reason}")

Hooks run on the xdist controller only (or in the single pytest process),
once each, after secrets are redacted from everything they receive.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_fixgate.decision import Decision
    from pytest_fixgate.kinds import GateKind
    from pytest_fixgate.outcomes.model import GateResult

__all__ = ["pytest_fixgate_decision", "pytest_fixgate_gate_kinds", "pytest_fixgate_gate_result"]


@pytest.hookspec
def pytest_fixgate_gate_kinds() -> list[GateKind]:
    """Return the gate kinds this plugin adds (see :mod:`pytest_fixgate.kinds`).

    Called once per gate run, before the config is read, in every process
    (controller and xdist workers). Results of all implementations are joined;
    a section claimed twice is a usage error.
    """


@pytest.hookspec
def pytest_fixgate_gate_result(result: GateResult, config: pytest.Config) -> None:
    """Called once for each gate that reached an outcome, as soon as it is known.

    :param result: the gate, its outcome and evidence (redacted).
    :param config: the pytest config.
    """


@pytest.hookspec
def pytest_fixgate_decision(
    decision: Decision, verdict: dict[str, Any], config: pytest.Config
) -> None:
    """Called once with the final decision, after the reports are written.

    :param decision: PROMOTE, HOLD or ROLLBACK, with the reason and the
        blocking gate ids.
    :param verdict: the JSON verdict, as written to ``<env>-<stamp>.json``.
    :param config: the pytest config.
    """
