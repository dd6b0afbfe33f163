"""A gate run does not pay for the test-only pytest plugins installed beside it.

Hypothesis's, pytest-benchmark's, Locust's and anyio's pytest plugins are loaded by
every pytest start in an environment that has them (the project's own test extra, a
team's dev environment): about 1 s per interpreter here, again in every xdist worker.
A gate run uses none of them (Hypothesis and Locust are never imported by a gate
run; Locust runs in its own process). pluggy checks ``is_blocked`` before it imports
each entry point, so fixgate's plugin, when it is registered, blocks those it finds
not yet loaded. It does so only for a gate run (``--gate`` on the command line or in
``PYTEST_ADDOPTS``; an xdist worker gets the controller's arguments), only for a
plugin the run neither asks for (``-p NAME``) nor passes an option of (``--hypothesis-*``,
``--benchmark-*``, ``--locust*``), and not at all with ``FIXGATE_KEEP_TEST_PLUGINS=1``.

Entry points load in the order the environment lists its distributions, and a
plugin imported before fixgate's is paid for already: run ``pytest -p fixgate
--gate=ENV`` (``-p`` loads fixgate's entry point before every other) to be sure, or
pass ``-p no:hypothesispytest -p no:benchmark -p no:locust -p no:anyio``.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence

import pytest

__all__ = ["TEST_ONLY_PLUGINS", "block_test_only_plugins", "is_gate_run"]

#: Entry-point name -> the option prefixes that mean the run uses the plugin.
TEST_ONLY_PLUGINS: dict[str, tuple[str, ...]] = {
    "hypothesispytest": ("--hypothesis",),
    "benchmark": ("--benchmark",),
    "locust": ("--locust",),
    "anyio": (),
}


def is_gate_run(args: Sequence[str]) -> bool:
    return any(a == "--gate" or a.startswith("--gate=") for a in args)


def _asked_for(name: str, prefixes: tuple[str, ...], args: Sequence[str]) -> bool:
    for i, arg in enumerate(args):
        if prefixes and arg.startswith(prefixes):
            return True
        if arg == "-p" and i + 1 < len(args) and args[i + 1] == name:
            return True
        if arg == f"-p{name}":
            return True
    return False


def block_test_only_plugins(pluginmanager: pytest.PytestPluginManager) -> list[str]:
    """Block the test-only plugins not loaded yet, for a gate run; the names blocked."""
    if os.environ.get("FIXGATE_KEEP_TEST_PLUGINS") == "1":
        return []
    config = pluginmanager.get_plugin("pytestconfig")
    if config is None:
        return []
    args = [str(a) for a in config.invocation_params.args]
    args += shlex.split(os.environ.get("PYTEST_ADDOPTS", ""))
    if not is_gate_run(args):
        return []
    blocked = []
    for name, prefixes in TEST_ONLY_PLUGINS.items():
        if pluginmanager.has_plugin(name) or pluginmanager.is_blocked(name):
            continue
        if _asked_for(name, prefixes, args):
            continue
        pluginmanager.set_blocked(name)
        blocked.append(name)
    return blocked
