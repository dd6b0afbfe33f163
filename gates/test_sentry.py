"""Runbook, "Staging Promotion Flow": error rate < 1% across the staging Sentry
project. Nothing in the application reads error statistics back, so the gate
asks Sentry's API; one gate per threshold in [env.X.sentry]."""

from __future__ import annotations

import pytest

from pytest_fixgate.kinds.sentry.judge import judge_sentry_threshold
from pytest_fixgate.kinds.sentry.measurement import read_sentry_error_rate, sentry_query


@pytest.mark.gate(
    id="sentry.{sentry_threshold.key}",
    title="Error rate in Sentry within its limit",
    severity="critical",
    needs="sentry",
)
def test_sentry_threshold(gate, gate_env, sentry_threshold):
    query = sentry_query(gate_env)  # an unset org, project or token variable: ERROR naming it
    gate.measuring(query.describe(), threshold=str(sentry_threshold))
    reading = read_sentry_error_rate(query)  # HTTP 429 is a reading; other failures raise
    gate.record(
        judge_sentry_threshold(
            sentry_threshold, reading, min_samples=gate_env.section("sentry").min_samples
        )
    )
