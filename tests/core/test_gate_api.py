"""Every way a gate test can end maps to an outcome; none that cannot measure is a PASS."""

from __future__ import annotations

from pathlib import Path

from gaterun import run_gate, staging_config

SUITE = '''
import pytest
from pytest_fixgate.errors import ProbeTimeout
from pytest_fixgate.outcomes.model import Evidence, Finding, Outcome


@pytest.mark.gate(id="g.crash", title="crashes")
def test_crash(gate):
    gate.measuring("GET /x", threshold="HTTP 200")
    raise KeyError("boom")


@pytest.mark.gate(id="g.assert", title="asserts")
def test_assert(gate):
    assert 1 + 1 == 3, "arithmetic is broken"


@pytest.mark.gate(id="g.silent", title="records nothing")
def test_silent(gate):
    pass


@pytest.mark.gate(id="g.skip", title="skips")
def test_skip(gate):
    pytest.skip("no data")


@pytest.mark.gate(id="g.probe", title="times out")
def test_probe(gate):
    gate.measuring("GET /slow", threshold="HTTP 200")
    raise ProbeTimeout("GET /slow: no answer within 1 s")


@pytest.fixture
def broken_fixture():
    raise RuntimeError("fixture broke")


@pytest.mark.gate(id="g.setup", title="setup fails")
def test_setup(gate, broken_fixture):
    gate.record(Finding(Outcome.PASS, Evidence(reason="never reached")))


@pytest.mark.gate(id="g.worse", title="records PASS then FAIL")
def test_worse(gate):
    gate.record(Finding(Outcome.PASS, Evidence(reason="first")))
    gate.record(Finding(Outcome.FAIL, Evidence(reason="second")))


@pytest.mark.gate(id="g.warn", title="warns", required=True)
def test_warn(gate):
    gate.record(Finding(Outcome.WARN, Evidence(reason="close to the limit")))


@pytest.mark.gate(id="g.optional", title="optional fail", required=False)
def test_optional(gate):
    gate.record(Finding(Outcome.FAIL, Evidence(reason="optional")))


def test_unmarked():
    """A test in the gate suite without a marker still counts."""
    assert False, "unmarked failure"
'''


def test_every_ending_maps_to_an_outcome(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_endings.py").write_text(SUITE)
    run = run_gate(tmp_path, staging_config("http://127.0.0.1:9"), suite=suite)
    assert run.exit_code == 1, run.output
    outcomes = run.outcomes()
    unmarked = next(k for k in outcomes if k.endswith("test_unmarked"))
    # The runbook's health gates the config implies are not in this suite: did not run.
    health = {k for k in outcomes if k.startswith("health.")}
    assert len(health) == 4 and {outcomes.pop(k) for k in health} == {"ERROR"}
    assert outcomes == {
        "g.crash": "ERROR",
        "g.assert": "FAIL",
        "g.silent": "INCONCLUSIVE",
        "g.skip": "INCONCLUSIVE",
        "g.probe": "ERROR",
        "g.setup": "ERROR",
        "g.worse": "FAIL",
        "g.warn": "WARN",
        "g.optional": "FAIL",
        unmarked: "FAIL",
    }
    crash = run.gate("g.crash")
    assert crash["reason"].startswith("gate crashed: KeyError")
    assert crash["threshold"] == "HTTP 200" and crash["evidence"]["method"] == "GET /x"
    assert run.gate("g.assert")["reason"] == "arithmetic is broken"
    assert "recorded no outcome" in run.gate("g.silent")["reason"]
    assert run.gate("g.skip")["reason"] == "gate skipped: no data"
    assert run.gate("g.probe")["evidence"]["error"] == "ProbeTimeout"
    assert "fixture broke" in run.gate("g.setup")["reason"]
    assert run.gate("g.worse")["reason"] == "second"
    blocking = set(run.verdict["blocking"])
    assert "g.optional" not in blocking and "g.warn" not in blocking
    assert {"g.crash", "g.silent", "g.skip", "g.setup", unmarked} <= blocking
    # pytest's own view agrees: the terminal shows failures for non-passing gates.
    assert "FAILED" in run.output and "INCONCLUSIVE: gate skipped: no data" in run.output


def test_bad_marker_is_a_usage_error(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_bad.py").write_text(
        "import pytest\n@pytest.mark.gate(id='x', severity='huge')\ndef test_x(gate):\n    pass\n"
    )
    run = run_gate(tmp_path, staging_config("http://127.0.0.1:9"), suite=suite)
    assert run.exit_code == 4, run.output
    assert "gate severity 'huge' is not one of critical, major, minor" in run.output


PASSING = """
import pytest
from pytest_fixgate.outcomes.model import Evidence, Finding, Outcome


@pytest.mark.gate(id="g.ok", title="passes")
def test_ok(gate):
    gate.record(Finding(Outcome.PASS, Evidence(reason="fine")))
"""


def _suite(tmp_path: Path, **files: str) -> Path:
    suite = tmp_path / "suite"
    suite.mkdir()
    for name, text in files.items():
        (suite / f"{name}.py").write_text(text)
    return suite


def test_collection_error_holds(tmp_path: Path) -> None:
    suite = _suite(tmp_path, test_ok=PASSING, test_broken="def broken(:\n")
    run = run_gate(tmp_path, staging_config("http://127.0.0.1:9"), suite=suite)
    assert run.exit_code == 2, run.output  # pytest's "interrupted: collection errors"
    assert run.verdict["decision"] == "HOLD"
    assert "could not be collected" in run.verdict["reason"]


def test_interrupted_run_holds_even_if_what_ran_passed(tmp_path: Path) -> None:
    stop = (
        PASSING
        + """

@pytest.mark.gate(id="g.zstop", title="stops the run")
def test_zstop(gate):
    pytest.exit("operator pressed stop", returncode=2)
"""
    )
    run = run_gate(
        tmp_path, staging_config("http://127.0.0.1:9"), suite=_suite(tmp_path, test_stop=stop)
    )
    assert run.exit_code == 2, run.output
    assert run.verdict["decision"] == "HOLD"
    assert run.verdict["reason"].startswith("the gate run did not finish")


def test_crashed_xdist_worker_is_an_error_not_a_pass(tmp_path: Path) -> None:
    crash = (
        PASSING
        + """

@pytest.mark.gate(id="g.crash", title="kills its worker")
def test_crash(gate):
    import os
    os._exit(1)
"""
    )
    run = run_gate(
        tmp_path,
        staging_config("http://127.0.0.1:9"),
        "-n",
        "2",
        suite=_suite(tmp_path, test_crash=crash),
    )
    assert run.exit_code == 1, run.output
    assert run.verdict["decision"] == "HOLD"
    crashed = [g for g in run.verdict["gates"] if g["nodeid"].endswith("test_crash")]
    assert crashed and crashed[0]["outcome"] == "ERROR", run.verdict["gates"]
