"""Config: finding, parsing and validating ``fixgate.toml``; the runbook defaults."""

from __future__ import annotations

from pytest_fixgate.config.health import HealthCheck
from pytest_fixgate.config.load import LoadConfig
from pytest_fixgate.config.loader import find_config, load_config, select_env
from pytest_fixgate.config.schema import EnvConfig, FixgateConfig, GateOverride
from pytest_fixgate.config.sentry import SentryConfig
from pytest_fixgate.config.thresholds import Threshold, compile_threshold

__all__ = [
    "EnvConfig",
    "FixgateConfig",
    "GateOverride",
    "HealthCheck",
    "LoadConfig",
    "SentryConfig",
    "Threshold",
    "compile_threshold",
    "find_config",
    "load_config",
    "select_env",
]
