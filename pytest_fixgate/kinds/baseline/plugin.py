"""The baseline kind's pytest glue: ``--gate-baseline FILE``, a pinned release to
compare with (the reporter compares; see :mod:`pytest_fixgate.release.baseline`)."""

from __future__ import annotations

import pytest

from pytest_fixgate.kinds.baseline import pytest_fixgate_gate_kinds
from pytest_fixgate.release.baseline import baseline_file_arg
from pytest_fixgate.run_state import current_gate_run, option_group

__all__ = ["pytest_fixgate_gate_kinds"]


def pytest_addoption(parser: pytest.Parser) -> None:
    option_group(parser).addoption(
        "--gate-baseline",
        metavar="FILE",
        type=baseline_file_arg,
        default=None,
        help="compare with this PROMOTE verdict instead of the last promoted release "
        "found in the report folder or the release tags' notes",
    )


@pytest.hookimpl(trylast=True)  # after the main plugin built the gate run
def pytest_configure(config: pytest.Config) -> None:
    run = current_gate_run(config)
    if run is None or config.getoption("gate_baseline", None) is None:
        return
    if run.env.section("baseline") is None:
        # A baseline asked for on the command line must never be silently not compared.
        raise pytest.UsageError(
            f"fixgate: --gate-baseline needs an [env.{run.env.name}.baseline] table "
            "(its tolerances say what counts as a regression)"
        )
