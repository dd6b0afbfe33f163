"""Judging direct dependency probes (MongoDB ping, Redis PING)."""

from __future__ import annotations

from pytest_fixgate.measurements.ping import Ping
from pytest_fixgate.outcomes.model import Evidence, Finding, Outcome

__all__ = ["judge_ping"]


def judge_ping(what: str, ping: Ping) -> Finding:
    """PASS when the server answered its ping with ok; FAIL when it answered otherwise."""
    elapsed_ms = ping.elapsed_ms
    if not ping.ok:
        return Finding(
            Outcome.FAIL,
            Evidence(
                reason=f"{what} answered the ping without ok",
                measured="not ok",
                threshold="ok",
                samples=1,
                details={"elapsed_ms": round(elapsed_ms, 1)},
            ),
        )
    return Finding(
        Outcome.PASS,
        Evidence(
            reason=f"{what} answered the ping in {elapsed_ms:.1f} ms",
            measured=f"ok in {elapsed_ms:.1f} ms",
            threshold="ok",
            samples=1,
            details={"elapsed_ms": round(elapsed_ms, 1)},
        ),
    )
