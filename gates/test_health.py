"""Runbook, "Monitoring & Alerts" -> Health Check Endpoints; "Staging Promotion
Flow" step 3: `/api/health/ready` returns {"ready": true}."""

from __future__ import annotations

import pytest

from pytest_fixgate.kinds.health.judge import expected_text, judge_health
from pytest_fixgate.kinds.health.measurement import health_request, probe_health


@pytest.mark.gate(
    id="health.{health_check.path}",
    title="Health endpoint answers as the runbook says",
    severity="critical",
    needs="health",
)
def test_health_endpoint(gate, gate_env, gate_redactor, health_check):
    request = health_request(gate_env, health_check)
    gate.measuring(request.description, threshold=expected_text(health_check))
    response = probe_health(request, gate_redactor)
    gate.record(judge_health(health_check, response))
