"""Runbook, "Promotion checklist": secrets parity verified (``guard:prod-env``,
``check:env``). Environments are compared by variable name and by salted
fingerprints of values, never by the values; one gate per check of
[env.X.secrets]."""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest

from pytest_fixgate.kinds.secrets_parity.judge import CHECK_RULES, judge_secrets_check
from pytest_fixgate.kinds.secrets_parity.measurement import SecretsReading, read_secrets


@pytest.fixture(scope="module")
def secrets_reading(gate_env, gate_redactor) -> Callable[[], SecretsReading]:
    """Every source read once for all the checks (one salt for the run's comparisons);
    a failed read is not cached: it raises again in each gate, so each ends in ERROR."""
    return functools.cache(lambda: read_secrets(gate_env.section("secrets"), gate_redactor))


@pytest.mark.gate(
    id="secrets.{secrets_check}",
    title="Secrets parity across environments",
    severity="critical",
    needs="secrets",
)
def test_secrets_check(gate, gate_env, secrets_reading, secrets_check):
    config = gate_env.section("secrets")
    sources = ", ".join(f"{env} from {spec}" for env, spec in config.sources.items())
    gate.measuring(f"names read from {sources}", threshold=CHECK_RULES[secrets_check])
    gate.record(judge_secrets_check(secrets_check, secrets_reading()))
