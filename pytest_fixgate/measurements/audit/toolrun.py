"""What every audit tool's run has in common: did it run, and what did it print."""

from __future__ import annotations

import json
from typing import Any

from pytest_fixgate.errors import ProbeError
from pytest_fixgate.measurements.process import ProcessResult

__all__ = ["last_line", "stdout_json"]


def last_line(result: ProcessResult) -> str:
    """The tool's own last line of diagnostics (stderr), for an ERROR's reason."""
    lines = [ln.strip() for ln in result.tail.splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith("npm error A complete log")]
    return lines[-1] if lines else "no output"


def stdout_json(result: ProcessResult, tool: str) -> Any:
    """The JSON the tool printed on stdout, or ``None``; raises ProbeError when the tool
    did not start or ran out of time."""
    if result.start_error is not None:
        raise ProbeError(f"{tool} could not start: {result.start_error}")
    if result.timed_out:
        raise ProbeError(f"{tool} {result.describe()}")
    try:
        return json.loads(result.stdout) if result.stdout.strip() else None
    except ValueError:
        return None
