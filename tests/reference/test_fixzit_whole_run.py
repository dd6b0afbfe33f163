"""The fixzit example run whole: every gate file, its five minutes of rate-limited load
included, on a healthy replica against a healthy staging of its own (tests/fixzit_runs.py).

Marked ``slow``: it runs with ``--runslow`` (CI passes it), and is scheduled last. Under
``--runslow`` the worker that runs tests/reference/test_fixzit_example.py starts it
beside its own runs; these tests, on whichever worker, wait for it. Run alone
(``python -m pytest --runslow -m slow``) they make it themselves.
"""

from __future__ import annotations

import shutil

import pytest
from fixzit_runs import HEALTHY, LOAD_GATES, Run, assert_shows_no_secret, wait_for_whole_run

pytestmark = [
    pytest.mark.skipif(shutil.which("pnpm") is None, reason="pnpm is not installed"),
    pytest.mark.slow,
]


@pytest.fixture(scope="module")
def whole_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return wait_for_whole_run(tmp_path_factory)


def test_the_whole_example_promotes_the_healthy_replica(whole_run: Run) -> None:
    result = whole_run.result
    verdict = result.verdict
    assert verdict["decision"] == "PROMOTE", verdict["reason"]
    assert result.exit_code == 0, result.output[-3000:]
    assert set(result.outcomes()) == set(HEALTHY) | LOAD_GATES
    for gate_id in LOAD_GATES:
        gate = result.gate(gate_id)
        assert gate["outcome"] == "PASS", gate["reason"]
        assert gate["samples"] >= 400, gate
    for gate_id, outcome in HEALTHY.items():
        assert result.gate(gate_id)["outcome"] == outcome, result.gate(gate_id)["reason"]
    assert whole_run.unchanged, "the whole example's run changed staging's data"


def test_the_whole_run_shows_no_secret(whole_run: Run) -> None:
    # The one run whose Locust sends HEALTH_CHECK_TOKEN with every request.
    assert_shows_no_secret(whole_run)
