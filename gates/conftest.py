"""The gate suite's wiring: parametrize gates from the selected environment."""

from __future__ import annotations

import pytest

from pytest_fixgate.plugin import RUN_KEY


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "health_check" not in metafunc.fixturenames:
        return
    run = metafunc.config.stash.get(RUN_KEY, None)
    checks = run.env.health if run is not None else ()
    if checks:
        metafunc.parametrize("health_check", checks, ids=[c.path for c in checks])
    else:
        # Keep one item, so the report lists the gate as not configured.
        metafunc.parametrize("health_check", [None], ids=["none"])
