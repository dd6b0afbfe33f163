"""Judging a command gate: exit 0 is PASS, any other exit FAIL, no exit at all ERROR."""

from __future__ import annotations

from pytest_fixgate.kinds.commands.measurement import CommandRun
from pytest_fixgate.outcomes.model import Evidence, Finding, Outcome

__all__ = ["judge_command"]


def judge_command(run: CommandRun) -> Finding:
    """PASS on exit 0; FAIL on another exit code (with the output's tail); ERROR when the
    program is missing, cannot start, times out or is interrupted."""
    result, spec = run.result, run.spec
    details = {
        "command": spec.command_line,
        "cwd": str(spec.cwd),
        "exit_code": result.exit_code,
        "duration_s": round(result.duration_s, 3),
        "timeout_s": spec.timeout_s,
        "logs": [run.log],
        "output_tail": result.tail,
    }
    if result.start_error is not None:
        outcome, reason = Outcome.ERROR, f"the command could not start: {result.start_error}"
    elif result.timed_out:
        outcome = Outcome.ERROR
        reason = (
            f"the command did not finish within its timeout of {spec.timeout_s:g} s; "
            "its whole process group was killed"
        )
    elif result.interrupted or result.exit_code is None:
        outcome, reason = Outcome.ERROR, "the command was interrupted before it exited"
    elif result.exit_code == 0:
        outcome, reason = Outcome.PASS, f"exited 0 after {result.duration_s:.1f} s"
    else:
        last = next((ln for ln in reversed(result.tail.splitlines()) if ln.strip()), "")
        outcome = Outcome.FAIL
        reason = f"exited {result.exit_code} after {result.duration_s:.1f} s"
        if last:
            reason += f": {last.strip()[:200]}"
    return Finding(
        outcome,
        Evidence(
            reason=reason,
            measured=result.describe(),
            threshold="exit code 0",
            samples=1,
            method=f"{spec.command_line} (in {spec.cwd})",
            details=details,
        ),
    )
