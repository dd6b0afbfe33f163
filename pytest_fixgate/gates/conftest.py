"""The gate suite's wiring: parametrize gates from the selected environment."""

from __future__ import annotations

import pytest

from pytest_fixgate.load_session import load_checks
from pytest_fixgate.plugin import RUN_KEY


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    run = metafunc.config.stash.get(RUN_KEY, None)
    env = run.env if run is not None else None
    if "health_check" in metafunc.fixturenames:
        checks = env.health if env is not None else ()
        _parametrize(metafunc, "health_check", list(checks), [c.path for c in checks])
    if "load_check" in metafunc.fixturenames:
        loads = load_checks(env.load) if env is not None and env.load is not None else []
        _parametrize(metafunc, "load_check", loads, [c.id for c in loads])
    if "sentry_threshold" in metafunc.fixturenames:
        sentry = env.sentry if env is not None else None
        thresholds = list(sentry.thresholds) if sentry is not None else []
        _parametrize(metafunc, "sentry_threshold", thresholds, [t.key for t in thresholds])


def _parametrize(
    metafunc: pytest.Metafunc, name: str, values: list[object], ids: list[str]
) -> None:
    if values:
        metafunc.parametrize(name, values, ids=ids)
    else:
        # Keep one item, so the report lists the gate as not configured.
        metafunc.parametrize(name, [None], ids=["none"])
