"""Runbook, "Staging Promotion Flow" step 3: `/api/health/ready` p95 < 1.5 s for
5 minutes, error rate < 1%; "Alert Thresholds": p99 < 2.5 s. One gate per
threshold in [env.X.load], all judged on one Locust run."""

from __future__ import annotations

import pytest

from pytest_fixgate.kinds.load.config import load_checks
from pytest_fixgate.kinds.load.evidence import attach_load_charts, load_run_summary
from pytest_fixgate.kinds.load.judge import endpoint_stats, judge_load_threshold
from pytest_fixgate.kinds.load.session import error_limit
from pytest_fixgate.outcomes.model import Finding


@pytest.mark.gate(
    id="load.{load_check.id}",
    title="Threshold holds under load",
    severity="critical",
    needs="load",
)
def test_load_threshold(gate, gate_env, gate_load, load_check):
    gate.measuring(gate_load.describe(), threshold=str(load_check.threshold))
    load_run = gate_load.load_run()
    if load_check.endpoint is None:
        stats = load_run.overall
    else:
        stats = endpoint_stats(load_check.endpoint, load_run)
        if isinstance(stats, Finding):
            gate.record(stats)
            attach_load_charts(gate, load_run, load_checks(gate_env.section("load")))
            return
    finding = judge_load_threshold(
        load_check.threshold,
        stats,
        load_run,
        min_samples=gate_env.section("load").min_samples,
        warn=load_check.warn,
        error_limit=error_limit(gate_env.section("load"), load_check.endpoint),
    )
    gate.record(finding.with_details(load_run=load_run_summary(load_run)))
    # One chart set per run, drawing every load gate's figure: the report shows it once.
    attach_load_charts(gate, load_run, load_checks(gate_env.section("load")))
