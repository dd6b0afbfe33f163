"""Loaded into every gate run the tests start (``PYTEST_PLUGINS``, set by tests/conftest.py):
copies the JSON verdict and the JUnit file the run wrote into ``$FIXGATE_REPORT_SNAPSHOTS``,
as written, so that the test that started the run validates them against their schemas
(tests/report_schemas.py) even when it goes on to tamper with the files themselves.

Costs the gate run two file copies: no schema library is imported here.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest


def pytest_unconfigure(config: pytest.Config) -> None:
    folder = os.environ.get("FIXGATE_REPORT_SNAPSHOTS")
    if not folder:
        return
    for plugin in config.pluginmanager.get_plugins():
        if type(plugin).__name__ != "GateReporter" or getattr(plugin, "verdict", None) is None:
            continue
        if plugin.write_error is not None:
            continue  # the run said its reports were not filed (exit 3): nothing to check
        stem = uuid.uuid4().hex
        for path, suffix in ((plugin.paths.json, ".json"), (plugin.paths.junit, ".xml")):
            if Path(path).is_file():
                shutil.copyfile(path, Path(folder) / f"{stem}{suffix}")
