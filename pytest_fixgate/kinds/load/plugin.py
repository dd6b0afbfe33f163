"""The load kind's pytest glue: ``--gate-load-workers``, the session's one Locust run
(the ``gate_load`` fixture) and its live progress line."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pytest_fixgate.kinds.load import pytest_fixgate_gate_kinds
from pytest_fixgate.kinds.load.progress import ProgressLine
from pytest_fixgate.kinds.load.session import SessionLoad
from pytest_fixgate.run_state import current_gate_run, option_group

__all__ = ["gate_load", "pytest_fixgate_gate_kinds"]


def _non_negative_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a non-negative integer")
    return number


def pytest_addoption(parser: pytest.Parser) -> None:
    option_group(parser).addoption(
        "--gate-load-workers",
        metavar="N",
        type=_non_negative_int,
        default=None,
        help="run Locust distributed: one master and N local worker processes",
    )


@pytest.hookimpl(trylast=True)  # after the main plugin built the gate run
def pytest_configure(config: pytest.Config) -> None:
    run = current_gate_run(config)
    if run is None or config.getoption("gate_load_workers") is None:
        return
    if getattr(run.env.section("load"), "remote", None):
        # Two answers to "where does the load come from": say so, never pick one silently.
        raise pytest.UsageError(
            f"fixgate: --gate-load-workers and env.{run.env.name}.load.remote_workers both "
            "say where the Locust workers run; use one"
        )


@pytest.fixture(scope="session")
def gate_load(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> SessionLoad:
    """The session's one Locust run (``[env.X.load]``), made when a load gate first asks."""
    config = request.config
    run = current_gate_run(config)
    if run is None or run.env.section("load") is None:
        pytest.skip("no [load] configured for this environment")
    base = tmp_path_factory.getbasetemp()
    # Under xdist every worker has its own basetemp; their parent is the session's.
    shared = base.parent if hasattr(config, "workerinput") else base
    return SessionLoad(
        run.env,
        shared / "fixgate-load",
        config.getoption("gate_load_workers"),
        lambda: _progress_line(config),
    )


@contextlib.contextmanager
def _progress_line(config: pytest.Config) -> Iterator[Callable[[Any], None]]:
    """A live progress line on the real terminal, past pytest's output capture."""
    capman = config.pluginmanager.get_plugin("capturemanager")
    with capman.global_and_fixture_disabled() if capman else contextlib.nullcontext():
        line = ProgressLine(sys.stderr)
        try:
            yield line
        finally:
            line.close()
