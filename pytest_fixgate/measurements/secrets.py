"""Reading a secret from the environment variable the config names."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pytest_fixgate.errors import ProbeError

__all__ = ["MissingSecret", "read_secret"]


class MissingSecret(ProbeError):
    """The config names an environment variable that is not set: the gate cannot measure."""


def read_secret(name: str, key: str, environ: Mapping[str, str] | None = None) -> str:
    """The value of env var ``name`` (named by config key ``key``), never echoed."""
    value = (os.environ if environ is None else environ).get(name, "")
    if not value:
        raise MissingSecret(f"environment variable {name} (named by {key}) is not set or empty")
    return value
