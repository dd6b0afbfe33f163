"""Runbook, "Staging Promotion Flow", step 2: `pnpm lint && pnpm typecheck`,
`pnpm test:e2e`. Each configured command is a gate that passes on exit 0.
The one gate kind that executes the user's own code."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_fixgate.kinds.commands.judge import judge_command
from pytest_fixgate.kinds.commands.measurement import run_command


@pytest.mark.gate(
    id="command.{command_spec.id}",
    title="Build command exits 0",
    severity="critical",
    needs="commands",
)
def test_command(gate, gate_redactor, command_spec, request):
    where = f"in {command_spec.cwd}, timeout {command_spec.timeout_s:g} s"
    gate.measuring(f"{command_spec.command_line} ({where})", threshold="exit code 0")
    report_dir = Path(request.config.invocation_params.dir) / request.config.getoption(
        "gate_report_dir"
    )
    gate.record(
        judge_command(run_command(command_spec, report_dir=report_dir, redactor=gate_redactor))
    )
