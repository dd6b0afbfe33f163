"""Runbook, "Staging Promotion Flow", step 2: `pnpm run bundle:budget:report`,
"fail if budgets exceeded"."""

from __future__ import annotations

import pytest

from pytest_fixgate import timing
from pytest_fixgate.kinds.bundle.judge import judge_bundle
from pytest_fixgate.kinds.bundle.measurement import measure_chunks, read_budget_report


@pytest.mark.gate(
    id="bundle.budget",
    title="Every bundle chunk within its budget",
    severity="major",
    needs="bundle",
)
def test_bundle_budget(gate, bundle_config):
    gate.measuring(
        f"bundle sizes from the {bundle_config.source}",
        threshold="every chunk within its budget",
    )
    if bundle_config.report is not None:
        entry = read_budget_report(bundle_config.report)
    else:
        entry = measure_chunks(
            bundle_config.chunks, bundle_config.budgets_kb, timeout_s=bundle_config.timeout_s
        )
    gate.record(judge_bundle(bundle_config, entry, now=timing.utcnow()))
