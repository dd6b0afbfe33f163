"""The checkout's top-level conftest: what pytest must not collect from the top level.

The project's own tests are ``tests/`` (``testpaths``); ``gates/`` is the gate suite,
run by ``pytest --gate=ENV``. The Locust scenarios, benchmarks and examples are
scripts that run on their own, never test modules, whatever their names say.
"""

collect_ignore = ["locustfiles", "benchmarks", "examples", "build", "reports"]
