"""What a dependency ping measured, whichever driver took it."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Ping"]


@dataclass(frozen=True)
class Ping:
    """A server's answer to a ping: how long it took, and whether it said ok."""

    elapsed_ms: float
    ok: bool
