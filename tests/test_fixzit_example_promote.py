"""The whole example, load included, PROMOTEs the healthy replica.

tests/test_fixzit_example.py proves every other gate, healthy and faulted, and leaves
the load table out because its five minutes cannot be shortened honestly: one user
under the application's 120 requests/min per route needs them to collect
``min_samples = 400``. This module pays those five minutes once: examples/fixzit.toml,
copied unchanged to the replica's root with only its base_url line and environment
variables set, runs every gate of the suite against a healthy staging deployment of
its own and must end PROMOTE (exit 0), its load gates PASS on at least 400 requests,
and staging's data unchanged. Its own xdist group, so the five minutes overlap the
rest of the suite on the other worker.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fixzit_replica import build_replica, fingerprint
from gaterun import run_gate
from npm_registry_standin import npm_registry_standin
from test_fixzit_example import HEALTHY, LOAD_GATES, environ, example_in, staging_deployment

pytestmark = [
    pytest.mark.skipif(shutil.which("pnpm") is None, reason="pnpm is not installed"),
    pytest.mark.xdist_group("fixzit-full"),
]


def test_the_whole_example_promotes_the_healthy_replica(tmp_path: Path) -> None:
    with staging_deployment() as staging, npm_registry_standin() as registry:
        build_replica(tmp_path, staging.uri)
        before = fingerprint(staging.uri)
        result = run_gate(
            tmp_path,
            example_in(tmp_path, staging.service.base_url),
            environ=environ(staging, registry),
            timeout=600,
        )
        after = fingerprint(staging.uri)
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
    assert before == after, "the gate run changed staging's data"
