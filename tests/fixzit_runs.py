"""The fixzit example's gate runs on a replica (tests/fixzit_replica.py), shared by
tests/reference/test_fixzit_example.py and test_fixzit_whole_run.py: the staging it is
gated against, one gate run and what it left, and the whole run handed from the worker
that starts it to the worker that checks it."""

from __future__ import annotations

import os
import pickle
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymongo
import pytest
from fixzit_replica import Replica, build_replica, fingerprint, seed_app_collections
from gaterun import GATES, GateRunResult, run_gate
from npm_registry_standin import npm_registry_standin

from pytest_fixgate.reference import (
    MongoServer,
    ReferenceService,
    mongo_server,
    reference_service,
)
from pytest_fixgate.reference.advisory_server import AdvisoryServer

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "fixzit.toml"
HEALTH_TOKEN = "replica-health-" + os.urandom(6).hex()
ADMIN_TOKEN = "replica-admin-" + os.urandom(6).hex()
TEST_USER_PASSWORD = "replica-pw-" + os.urandom(6).hex()
LOAD_GATES = {"load.p(95)", "load.error_rate"}
# Every gate file but the load one (tests/reference/test_fixzit_example.py says why).
GATE_FILES = [str(p) for p in sorted(GATES.glob("test_*.py")) if p.name != "test_load.py"]

# What the healthy replica must end with, gate by gate. migrations.pending is a WARN:
# nothing in the application records applied migrations, so every file is pending.
HEALTHY: dict[str, str] = {
    "health./api/health": "PASS",
    "health./api/health/ready": "PASS",
    "health./api/health/live": "PASS",
    "health./api/health/database": "PASS",
    "mongo.ping": "PASS",
    "secrets.missing": "PASS",
    "secrets.extra": "PASS",
    "secrets.empty": "PASS",
    "secrets.placeholder": "PASS",
    "secrets.must_differ": "PASS",
    "secrets.forbidden": "PASS",
    "secrets.localhost": "PASS",
    "flags.rollout": "PASS",
    "flags.overrides": "PASS",
    "backup.fresh": "PASS",
    "migrations.pending": "WARN",
    "migrations.dry_run": "PASS",
    "index.workorders.workorders_orgId_status": "PASS",
    "index.workorders.workorders_orgId_status_createdAt_desc": "PASS",
    "queue.background_jobs": "PASS",
    "command.lint": "PASS",
    "command.typecheck": "PASS",
    "command.e2e": "PASS",
    "bundle.budget": "PASS",
    "audit.node": "PASS",
}
# Gates whose feature has not landed: they truly fail on the healthy replica.
NOT_LANDED: dict[str, str] = {}


@dataclass
class Staging:
    """The staging deployment the replica is gated against."""

    mongo: MongoServer
    service: ReferenceService
    uri: str  # MONGODB_URI, with the app's database name

    def db(self) -> Any:
        client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(self.uri)
        return client, client.get_default_database()


@contextmanager
def staging_deployment() -> Iterator[Staging]:
    """A staging deployment of its own: SecantusDB seeded like the app, the service on it."""
    with (
        mongo_server() as mongo,
        reference_service(
            mongo.uri + "fixzit",
            None,
            contract="fixzit",
            seed=True,
            health_token=HEALTH_TOKEN,
            admin_token=ADMIN_TOKEN,
        ) as service,
    ):
        uri = mongo.uri + "fixzit"
        seed_app_collections(uri)
        yield Staging(mongo, service, uri)


def example_in(root: Path, base_url: str) -> str:
    """examples/fixzit.toml with its one base_url line set: nothing else changes."""
    text = EXAMPLE.read_text(encoding="utf-8")
    text, count = re.subn(r'(?m)^base_url = ".*"$', f'base_url = "{base_url}"', text)
    assert count == 1, "examples/fixzit.toml: expected one base_url line"
    return text


def environ(staging: Staging, registry: AdvisoryServer) -> dict[str, str]:
    """What an operator's CI job sets: the secrets the example names, and pnpm's
    registry (the application's .npmrc names none: pnpm's default, here the stand-in)."""
    return {
        "MONGODB_URI": staging.uri,
        "HEALTH_CHECK_TOKEN": HEALTH_TOKEN,
        "FIXZIT_ADMIN_SESSION": ADMIN_TOKEN,  # a SUPER_ADMIN session token
        "TEST_USER_PASSWORD": TEST_USER_PASSWORD,
        "pnpm_config_registry": registry.registry_url,
    }


@dataclass
class Run:
    result: GateRunResult
    replica: Replica
    unchanged: bool  # staging's fingerprint before the run == after it
    # Every secret value the run was given (tokens are drawn per process: a run handed
    # to another worker brings its own).
    planted: tuple[str, ...] = field(default=())


def gate_replica(
    root: Path,
    staging: Staging,
    registry: AdvisoryServer,
    plant: Callable[[Replica], None] | None = None,
    *,
    whole: bool = False,
) -> Run:
    """One gate run of the example on a replica; ``whole``: every gate file, the load
    one included (its five minutes), else every file but the load one."""
    replica = build_replica(root, staging.uri)
    if plant is not None:
        plant(replica)
    before = fingerprint(staging.uri)
    files = [] if whole else GATE_FILES[1:]
    result = run_gate(
        root,
        example_in(root, staging.service.base_url),
        *files,
        suite=GATES if whole else Path(GATE_FILES[0]),
        environ=environ(staging, registry),
        timeout=600 if whole else 240,
    )
    planted = (*replica.secrets.values(), HEALTH_TOKEN, ADMIN_TOKEN, TEST_USER_PASSWORD)
    return Run(result, replica, before == fingerprint(staging.uri), planted)


def whole_run(root: Path) -> Run:
    """The whole example, its five minutes of load included, against a healthy staging
    and an advisory server of its own (the load counts against its rate limit only)."""
    with staging_deployment() as own, npm_registry_standin() as registry:
        return gate_replica(root, own, registry, whole=True)


# -- the whole run, started on one xdist worker and checked on any ---------------------
# Its five minutes are mostly waiting on the rate limit: the worker that runs the fault
# runs starts it in a thread beside them, and the slow tests, scheduled last, read it
# from this session's base temp folder, which the workers share (pytest-xdist's idiom:
# private to the user, new each session, so no earlier session's result is ever read).


def _handoff(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    return shared / "fixzit-whole-run"


def start_whole_run(tmp_path_factory: pytest.TempPathFactory) -> threading.Thread:
    """Start the whole run in a thread; its Run (or the error it ended with) is pickled
    where wait_for_whole_run finds it."""
    folder = _handoff(tmp_path_factory)
    folder.mkdir()
    (folder / "started").touch()
    root = tmp_path_factory.mktemp("whole")

    def run() -> None:
        try:
            payload: tuple[str, Any] = ("run", whole_run(root))
        except BaseException as exc:  # handed on: the checking test fails with it
            payload = ("error", f"{type(exc).__name__}: {exc}")
        part = folder / "run.pickle.part"
        part.write_bytes(pickle.dumps(payload))
        part.replace(folder / "run.pickle")

    thread = threading.Thread(target=run, name="fixzit-whole-run", daemon=True)
    thread.start()
    return thread


def wait_for_whole_run(tmp_path_factory: pytest.TempPathFactory, timeout_s: float = 900) -> Run:
    """The whole run a worker started (waiting for it), or, when none was, one made now."""
    folder = _handoff(tmp_path_factory)
    if not (folder / "started").exists():
        return whole_run(tmp_path_factory.mktemp("whole"))
    deadline = time.monotonic() + timeout_s
    while not (folder / "run.pickle").exists():
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"the whole run started in the background did not end in {timeout_s:g} s"
            )
        time.sleep(1)
    kind, value = pickle.loads((folder / "run.pickle").read_bytes())
    if kind == "error":
        raise RuntimeError(f"the whole run started in the background failed: {value}")
    return value


def assert_shows_no_secret(run: Run) -> None:
    """No value the run was given is in its output or any file it wrote."""
    texts = {"output": run.result.output}
    for path in run.result.report_dir.rglob("*"):
        if path.is_file() and path.name != "bundle-budget-history.json":
            texts[str(path)] = path.read_text(encoding="utf-8", errors="replace")
    assert run.planted, "the run names no planted secret to look for"
    for where, text in texts.items():
        for value in run.planted:
            assert value not in text, f"a planted secret in {where}"
