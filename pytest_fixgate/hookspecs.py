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
    from pytest_fixgate.watch.engine import Alert
    from pytest_fixgate.watch.sources import WatchSourceKind

__all__ = [
    "pytest_fixgate_alert",
    "pytest_fixgate_decision",
    "pytest_fixgate_gate_kinds",
    "pytest_fixgate_gate_result",
    "pytest_fixgate_watch_sources",
]


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


@pytest.hookspec
def pytest_fixgate_alert(alert: Alert, config: pytest.Config) -> None:
    """Called the moment a watch rule fires (``pytest --gate=ENV --watch=30m``), in the
    process running the watch (under xdist, the worker that runs it).

    :param alert: the rule id, severity (SEV-1..SEV-4), the time into the watch
        (``t``, seconds), the measured value and the condition. ``alert.rollback``
        is true for SEV-1/SEV-2: the watch ends and the decision is ROLLBACK.
    :param config: the pytest config.
    """


@pytest.hookspec
def pytest_fixgate_watch_sources() -> list[WatchSourceKind]:
    """Return watch sample sources this plugin adds (see :mod:`pytest_fixgate.watch.sources`).

    A rule names one with ``source = "<name>"``; its table is
    ``[env.X.watch.sources.<name>]``. Results of all implementations are joined.
    """
