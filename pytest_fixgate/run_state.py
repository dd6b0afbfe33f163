"""What every fixgate plugin (the main one, the kinds', the watch's) shares without
importing the others: the session's :class:`GateRun` in ``config.stash`` and the
command line's option group."""

from __future__ import annotations

import pytest

from pytest_fixgate.gate_run import GateRun

__all__ = ["RUN_KEY", "current_gate_run", "option_group"]

RUN_KEY = pytest.StashKey[GateRun]()


def current_gate_run(config: pytest.Config) -> GateRun | None:
    """The gate run of this pytest session (``--gate=ENV``), or ``None`` in a plain run.
    The public way for the gate suite and plugins to reach the run's state."""
    return config.stash.get(RUN_KEY, None)


def option_group(parser: pytest.Parser) -> pytest.OptionGroup:
    """The ``--help`` group every fixgate option joins, whichever plugin adds it first."""
    return parser.getgroup("fixgate", "release gate (pytest-fixgate)")
