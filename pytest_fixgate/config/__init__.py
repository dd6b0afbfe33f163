"""Config: finding, parsing and validating ``fixgate.toml``. Each gate kind parses its own
section (:mod:`pytest_fixgate.kinds`); nothing here knows a kind by name."""

from __future__ import annotations

from pytest_fixgate.config.loader import find_config, load_config, select_env
from pytest_fixgate.config.schema import EnvConfig, FixgateConfig, GateOverride
from pytest_fixgate.config.thresholds import Threshold, compile_threshold

__all__ = [
    "EnvConfig",
    "FixgateConfig",
    "GateOverride",
    "Threshold",
    "compile_threshold",
    "find_config",
    "load_config",
    "select_env",
]
