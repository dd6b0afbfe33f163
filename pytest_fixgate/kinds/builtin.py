"""The built-in gate kinds. Each is a plugin module implementing the same
``pytest_fixgate_gate_kinds`` hook a third-party kind implements; a new built-in kind
is one package under ``pytest_fixgate/kinds/`` and one line here."""

from __future__ import annotations

import importlib

from pytest_fixgate.kinds import GateKind

__all__ = ["BUILTIN_KIND_PLUGINS", "builtin_kinds"]

#: Registered by the pytest plugin in this order (the built-in kinds come first).
BUILTIN_KIND_PLUGINS: tuple[str, ...] = (
    "pytest_fixgate.kinds.health",
    "pytest_fixgate.kinds.dependencies",
    "pytest_fixgate.kinds.load.plugin",
    "pytest_fixgate.kinds.baseline.plugin",
    "pytest_fixgate.kinds.sentry",
    "pytest_fixgate.kinds.commands",
    "pytest_fixgate.kinds.audit",
    "pytest_fixgate.kinds.bundle",
    "pytest_fixgate.kinds.secrets_parity",
    "pytest_fixgate.kinds.flags",
    "pytest_fixgate.kinds.backup",
    "pytest_fixgate.kinds.migrations",
    "pytest_fixgate.kinds.indexes",
    "pytest_fixgate.kinds.queues",
    "pytest_fixgate.watch.plugin",
)


def builtin_kinds() -> list[GateKind]:
    """The built-in kinds outside a pytest run (the config loader's default), from the
    same hook the plugin manager calls."""
    found: list[GateKind] = []
    for name in BUILTIN_KIND_PLUGINS:
        found.extend(importlib.import_module(name).pytest_fixgate_gate_kinds())
    return found
