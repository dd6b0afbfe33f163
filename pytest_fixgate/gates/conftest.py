"""The gate suite's wiring: parametrize gates from the selected environment, for every
registered gate kind (built-in or a plugin's) through the fixtures it declares."""

from __future__ import annotations

import pytest

from pytest_fixgate.plugin import current_gate_run


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    run = current_gate_run(metafunc.config)
    for kind in run.kinds if run is not None else ():
        for fixture, params in kind.params.items():
            if fixture not in metafunc.fixturenames:
                continue
            section = run.env.section(kind.section) if kind.section else None
            pairs = list(params(section, run.env)) if section is not None else []
            if pairs:
                metafunc.parametrize(fixture, [v for _, v in pairs], ids=[i for i, _ in pairs])
            else:
                # Keep one item, so the report lists the gate as not configured.
                metafunc.parametrize(fixture, [None], ids=["none"])
