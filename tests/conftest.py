"""Shared fixtures: real servers on free ports of 127.0.0.1, started once per session.

- ``mongo``: a SecantusDB server (MongoDB wire protocol), in memory.
- ``redis_srv``: a redis-server without persistence.
- ``reference``: the reference staging service over both, seeded, with the
  admin token ``reference_admin_token``. Tests share it: faults set with
  ``reference.set_faults(...)`` are put back to ``Faults()`` after each test.

Under pytest-xdist each worker starts its own servers.

Every gate run a test starts (a subprocess or in-process pytest that inherits this
environment) loads tests/plugins/fixgate_report_snapshots.py, which copies the JSON
verdict and the JUnit file it wrote; after each test, the copies its runs made are
validated against their schemas (tests/report_schemas.py): a report that is not
valid fails the test that produced it.
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from pytest_fixgate.reference import (
    MongoServer,
    RedisServer,
    ReferenceService,
    mongo_server,
    redis_server,
    reference_service,
)

# Property tests check results, not speed: on 2 shared cores Hypothesis's 200 ms
# deadline failed correct code (a 205 ms example of test_stats under load).
settings.register_profile("fixgate", deadline=None)
settings.load_profile("fixgate")

_PLUGIN_DIR = str(Path(__file__).with_name("plugins"))
_SNAPSHOT_PLUGIN = "fixgate_report_snapshots"
# One folder per process that runs tests (each xdist worker has its own).
_SNAPSHOTS = Path(tempfile.mkdtemp(prefix="fixgate-report-snapshots-"))
atexit.register(shutil.rmtree, _SNAPSHOTS, True)


def _cache_bytecode_outside_the_tree() -> None:
    """The suite starts ~500 Python processes (gate runs, Locust, servers, workers).
    With PYTHONDONTWRITEBYTECODE set (this project's machine image sets it) each of them
    compiled every module from source: ~0.35 s of CPU a gate run. Bytecode goes to one
    folder under the temp dir instead, so the source tree stays as clean as the user
    asked and each module compiles once."""
    if not os.environ.get("PYTHONDONTWRITEBYTECODE"):
        return
    prefix = Path(tempfile.gettempdir()) / f"fixgate-tests-pycache-{os.getuid()}"
    del os.environ["PYTHONDONTWRITEBYTECODE"]
    os.environ.setdefault("PYTHONPYCACHEPREFIX", str(prefix))


_cache_bytecode_outside_the_tree()


# In CI a missing tool fails the run instead of skipping the tests that need it: a green
# CI that ran none of the Prometheus, npm or browser tests would prove nothing.
CI_TOOLS = ("redis-server", "chromium", "node", "npm", "pnpm", "prometheus", "promtool")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--runslow",
        action="store_true",
        help="also run the tests marked slow (minutes each: the fixzit example's whole run)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Skipped, not deselected: the summary shows what the quick run left for --runslow.
    # By the marker, not `"slow" in item.keywords`: keywords hold parameter ids too, and
    # that would skip test_gate_errors_fail_closed[slow].
    if config.getoption("--runslow"):
        # Last: the fixzit example's whole run is started in the background by the
        # worker that runs its other tests (tests/fixzit_runs.py); by the time the slow
        # tests come it has had the rest of the suite's time to finish.
        items.sort(key=lambda item: item.get_closest_marker("slow") is not None)
        return
    skip = pytest.mark.skip(reason="slow: runs with --runslow (CI passes it)")
    for item in items:
        if item.get_closest_marker("slow") is not None:
            item.add_marker(skip)


def pytest_sessionstart(session: pytest.Session) -> None:
    if not os.environ.get("CI"):
        return
    missing = [tool for tool in CI_TOOLS if shutil.which(tool) is None]
    if missing:
        raise pytest.UsageError(
            f"CI is set but not installed: {', '.join(missing)} (scripts/setup-test-machine.sh)"
        )


def pytest_configure(config: pytest.Config) -> None:
    if getattr(config.option, "numprocesses", None) and not os.environ.get("PYTEST_XDIST_WORKER"):
        return  # the xdist controller runs no test; its workers would inherit the plugin
    os.environ["FIXGATE_REPORT_SNAPSHOTS"] = str(_SNAPSHOTS)
    if _SNAPSHOT_PLUGIN not in os.environ.get("PYTEST_PLUGINS", "").split(","):
        os.environ["PYTEST_PLUGINS"] = ",".join(
            filter(None, [os.environ.get("PYTEST_PLUGINS", ""), _SNAPSHOT_PLUGIN])
        )
    if _PLUGIN_DIR not in os.environ.get("PYTHONPATH", "").split(os.pathsep):
        os.environ["PYTHONPATH"] = os.pathsep.join(
            filter(None, [_PLUGIN_DIR, os.environ.get("PYTHONPATH", "")])
        )


@pytest.fixture(autouse=True)
def _reports_are_valid_against_their_schemas(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    written = sorted(_SNAPSHOTS.iterdir())
    if not written:
        return
    from report_schemas import check_report_file

    try:
        for path in written:
            check_report_file(path, f"a {path.suffix[1:]} report written by {request.node.nodeid}")
    finally:
        for path in written:
            path.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def mongo() -> Iterator[MongoServer]:
    with mongo_server() as server:
        yield server


@pytest.fixture(scope="session")
def redis_srv() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


@pytest.fixture(scope="session")
def reference_admin_token() -> str:
    return "test-admin-" + secrets.token_hex(8)


@pytest.fixture(scope="session")
def reference(
    mongo: MongoServer, redis_srv: RedisServer, reference_admin_token: str
) -> Iterator[ReferenceService]:
    with reference_service(
        mongo.uri, redis_srv.url, admin_token=reference_admin_token, seed=True
    ) as service:
        yield service


@pytest.fixture(autouse=True)
def _reset_reference_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    # Only for tests that use the shared service: the others must not start it.
    yield
    if "reference" in request.fixturenames:
        request.getfixturevalue("reference").set_faults()
