"""The built-in gate kinds, registered through the same hook a third-party plugin uses."""

from __future__ import annotations

import importlib

import pytest

from pytest_fixgate.kinds import GateKind

__all__ = ["BUILTIN_KIND_MODULES", "builtin_kinds", "pytest_fixgate_gate_kinds"]

#: Each module defines ``KIND``: its config section, parser, gate ids and fixtures.
BUILTIN_KIND_MODULES: tuple[str, ...] = (
    "pytest_fixgate.config.health",
    "pytest_fixgate.config.dependencies",
    "pytest_fixgate.config.load",
    "pytest_fixgate.config.baseline",
    "pytest_fixgate.config.sentry",
    "pytest_fixgate.config.commands",
    "pytest_fixgate.config.audit",
    "pytest_fixgate.config.bundle",
    "pytest_fixgate.config.secrets_parity",
    "pytest_fixgate.config.flags",
    "pytest_fixgate.config.backup",
    "pytest_fixgate.config.migrations",
    "pytest_fixgate.config.indexes",
    "pytest_fixgate.config.queues",
    "pytest_fixgate.watch.rules",
)


def builtin_kinds() -> list[GateKind]:
    return [importlib.import_module(name).KIND for name in BUILTIN_KIND_MODULES]


@pytest.hookimpl
def pytest_fixgate_gate_kinds() -> list[GateKind]:
    return builtin_kinds()
