"""What every audit tool's run has in common: did it run, and what did it print."""

from __future__ import annotations

import json
import re
from typing import Any

from pytest_fixgate.errors import ProbeError
from pytest_fixgate.measurements.process import ProcessResult

__all__ = ["last_line", "stdout_json"]


_ERROR_LINE = re.compile(r"ERR_PNPM_[A-Z0-9_]+|^Error\b|^npm error code\b|^ERROR\b")


def last_line(result: ProcessResult) -> str:
    """The tool's own error line (diagnostics on stderr), for an ERROR's reason: its first
    line naming an error (``ERR_PNPM_...``, ``Error: ...``) and its last line, when they
    differ (pnpm prints the error's cause on the lines after it)."""
    lines = [ln.strip() for ln in result.tail.splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith("npm error A complete log")]
    if not lines:
        return "no output"
    first = next((ln for ln in lines if _ERROR_LINE.search(ln)), None)
    if first is None or first == lines[-1]:
        return lines[-1]
    return f"{first} ... {lines[-1]}"


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
