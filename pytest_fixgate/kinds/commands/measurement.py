"""Running a configured command (lint, typecheck, end-to-end tests) to its exit code.

Through :func:`~pytest_fixgate.measurements.process.run_process`: its own
process group (a timeout kills everything it started), output interleaved and
streamed, redacted, to a log file under the report directory.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from pytest_fixgate import timing
from pytest_fixgate.errors import ProbeError
from pytest_fixgate.kinds.commands.config import CommandSpec
from pytest_fixgate.measurements.process import ProcessResult, run_process
from pytest_fixgate.redaction import Redactor

__all__ = ["CommandRun", "log_relpath", "run_command"]

TAIL_LINES = 40


@dataclass(frozen=True)
class CommandRun:
    """A finished command and where its whole output is, relative to the report folder."""

    spec: CommandSpec
    result: ProcessResult
    log: str  # e.g. "logs/command.lint-20261129T031500Z.log"


def log_relpath(gate_id: str) -> str:
    """A log file name unique to this gate and moment, relative to the report folder."""
    stamp = timing.utcnow().strftime("%Y%m%dT%H%M%S%fZ")
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", gate_id)
    return f"logs/{safe}-{stamp}.log"


def run_command(spec: CommandSpec, *, report_dir: Path, redactor: Redactor) -> CommandRun:
    """Run ``spec`` with its extra environment; never raises for a command that fails.
    A working folder that does not exist raises ProbeError (the gate's ERROR): the OS
    would report it as the program missing."""
    if not spec.cwd.is_dir():
        raise ProbeError(f"the command's working folder {spec.cwd} does not exist (cwd)")
    rel = log_relpath(spec.gate_id)
    result = run_process(
        spec.argv,
        cwd=spec.cwd,
        env={**os.environ, **spec.env},
        timeout_s=spec.timeout_s,
        log_path=report_dir / rel,
        redactor=redactor,
        tail_lines=TAIL_LINES,
    )
    return CommandRun(spec=spec, result=result, log=rel)
