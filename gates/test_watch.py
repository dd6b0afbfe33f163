"""Runbook, "Staging Promotion Flow" step 6: "Watch alerts for 30 minutes (see
thresholds below); if SEV-1/2 triggered, rollback to previous deployment and
open incident". Runs only with ``pytest --gate=production --watch=30m``."""

from __future__ import annotations

import pytest


@pytest.mark.gate(
    id="watch",
    title="Post-promotion watch: no SEV-1/SEV-2 alert fired",
    severity="critical",
)
def test_watch(gate, gate_watch):
    cfg = gate_watch.cfg
    gate.measuring(
        f"{len(cfg.rules)} rules every {cfg.interval_s:g} s for {cfg.duration_s:g} s",
        threshold="no SEV-1/SEV-2 alert for the whole watch",
    )
    report = gate_watch.run_watch()
    gate.attach_html("watch", report.html)
    gate.record(report.finding)
