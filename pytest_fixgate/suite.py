"""Where the shipped gate suite and Locust scenarios are.

Their source lives at the checkout's top level (``gates/``, ``locustfiles/``); the
wheel carries them inside the package (``setup.py`` maps them there), so an
installed ``pytest_fixgate`` finds them beside itself and a checkout or an editable
install finds them one level up.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["BUILTIN_LOCUSTFILES", "BUILTIN_SUITE", "shipped_folder"]

_PACKAGE = Path(__file__).resolve().parent


def shipped_folder(name: str) -> Path:
    """``name`` inside the installed package, else at the checkout's top level."""
    inside = _PACKAGE / name
    return inside if inside.is_dir() else _PACKAGE.parent / name


#: The runbook's gates (the gate suite).
BUILTIN_SUITE = shipped_folder("gates")
#: The Locust scenarios (the readiness one is the default load).
BUILTIN_LOCUSTFILES = shipped_folder("locustfiles")
