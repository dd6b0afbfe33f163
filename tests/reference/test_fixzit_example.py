"""The example is the proof: ``examples/fixzit.toml``, copied unchanged to the root of a
replica of the real application's checkout (tests/fixzit_replica.py), with only its
``base_url`` line and environment variables set, PROMOTEs the healthy replica and HOLDs
on each planted fault, naming the gate; no run changes staging's data.

Real parts: the reference service speaking the application's contract
(``--contract fixzit``) over SecantusDB as staging's database (seeded like the
app: ``workorders`` with ``orgId`` and its named indexes, ``background_jobs``,
``feature_flags``, users), the real pnpm running the replica's package.json
scripts, the npm advisory stand-in for the audit, a mongodump-layout backup of
staging taken before the run.

The load table is left out of these runs: the example's one user stays under the
application's 120 requests/min per route, so its five minutes are what it takes to
collect ``min_samples = 400`` requests; nothing shorter could PASS, and nothing in the
config lets an environment shorten it. The runs name every gate file but the load
one, so the two load gates end ERROR "did not run" (completeness) and are the only
ones the healthy decision may hold on. The whole example, its five minutes of load
included, is tests/reference/test_fixzit_whole_run.py (marked ``slow``); under
``--runslow`` the first of these runs starts it in the background.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from fixzit_replica import (
    MIGRATIONS,
    Replica,
    bundle_entry,
    env_values,
    write_dependencies,
    write_env_file,
    write_migration,
)
from fixzit_runs import (
    HEALTHY,
    LOAD_GATES,
    NOT_LANDED,
    Run,
    Staging,
    assert_shows_no_secret,
    gate_replica,
    staging_deployment,
    start_whole_run,
)
from npm_registry_standin import npm_registry_standin

from pytest_fixgate.reference.advisory_server import AdvisoryServer

pytestmark = [
    pytest.mark.skipif(shutil.which("pnpm") is None, reason="pnpm is not installed"),
    # One worker computes the module's runs once (its fixtures are module-scoped).
    pytest.mark.xdist_group("fixzit"),
]


@pytest.fixture(scope="module")
def staging() -> Iterator[Staging]:
    with staging_deployment() as deployment:
        yield deployment


@pytest.fixture(scope="module")
def registry() -> Iterator[AdvisoryServer]:
    with npm_registry_standin() as server:
        yield server


@pytest.fixture(autouse=True)
def _healthy_service(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "staging" in request.fixturenames:
        request.getfixturevalue("staging").service.set_faults()


@pytest.fixture(scope="session")
def whole_run_started(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """The whole run (tests/reference/test_fixzit_whole_run.py), started first when it
    will be checked (--runslow): its five minutes of rate-limited load overlap these
    runs and the tests after them; the session waits for it before it ends."""
    wanted = request.config.getoption("--runslow") and any(
        item.get_closest_marker("slow") and "whole_run" in getattr(item, "fixturenames", ())
        for item in request.session.items
    )
    thread = start_whole_run(tmp_path_factory) if wanted else None
    yield
    if thread is not None:
        thread.join()


@pytest.fixture(scope="module")
def all_runs(
    tmp_path_factory: pytest.TempPathFactory,
    staging: Staging,
    registry: AdvisoryServer,
    whole_run_started: None,
) -> dict[str, Run]:
    """Every run, three at a time: the healthy replica and each fault planted in its
    files against the shared healthy staging (each proves by its own fingerprints that
    it did not write to it; a write by any would show in the others' too), and each
    staging fault against a staging deployment of its own."""
    plants: dict[str, Callable[[Replica], None] | None] = {"healthy": None}
    plants |= {name: _planter(fault, staging) for name, fault in FILE_FAULTS.items()}
    with ThreadPoolExecutor(3) as pool:
        futures = {
            name: pool.submit(gate_replica, tmp_path_factory.mktemp(name), staging, registry, plant)
            for name, plant in plants.items()
        }
        futures |= {
            name: pool.submit(_run_on_own_staging, name, tmp_path_factory.mktemp(name), registry)
            for name in STAGING_FAULTS
        }
        return {name: future.result() for name, future in futures.items()}


def _run_on_own_staging(name: str, root: Path, registry: AdvisoryServer) -> Run:
    # Planted before the run's first fingerprint, taken back after its last.
    with staging_deployment() as own:
        undo = STAGING_FAULTS[name][0](own)
        try:
            return gate_replica(root, own, registry)
        finally:
            undo()


@pytest.fixture(scope="module")
def file_runs(all_runs: dict[str, Run]) -> dict[str, Run]:
    return {name: all_runs[name] for name in ("healthy", *FILE_FAULTS)}


@pytest.fixture(scope="module")
def staging_runs(all_runs: dict[str, Run]) -> dict[str, Run]:
    return {name: all_runs[name] for name in STAGING_FAULTS}


def _planter(fault: Fault, staging: Staging) -> Callable[[Replica], None]:
    return lambda replica: fault.plant(staging, replica)


@pytest.fixture(scope="module")
def healthy(file_runs: dict[str, Run]) -> Run:
    return file_runs["healthy"]


def _blocking(run: Run) -> set[str]:
    return set(run.result.verdict["blocking"])


# --- the healthy replica ---------------------------------------------------------------


def test_the_example_gates_every_configured_gate(healthy: Run) -> None:
    assert healthy.result.exit_code in (0, 1), healthy.result.output[-3000:]
    assert set(healthy.result.outcomes()) == set(HEALTHY) | LOAD_GATES
    for gate_id in LOAD_GATES:
        assert healthy.result.gate(gate_id)["reason"].startswith("did not run")


@pytest.mark.parametrize(
    "gate_id",
    [
        pytest.param(g, marks=pytest.mark.xfail(strict=True, reason=NOT_LANDED[g]))
        if g in NOT_LANDED
        else g
        for g in HEALTHY
    ],
)
def test_healthy_gate(healthy: Run, gate_id: str) -> None:
    gate = healthy.result.gate(gate_id)
    assert gate["outcome"] == HEALTHY[gate_id], gate["reason"]


def test_every_migration_file_is_pending(healthy: Run) -> None:
    # Nothing records applied migrations: each file, .ts and the one .js, is pending.
    pending = healthy.result.gate("migrations.pending")["evidence"]["pending"]
    assert pending == sorted(MIGRATIONS)


def test_the_migrations_are_rehearsed_on_a_clone(healthy: Run) -> None:
    # The script with no dry-run mode is rehearsed by its real run, on the clone only.
    reason = healthy.result.gate("migrations.dry_run")["reason"]
    assert "staging was not touched" in reason
    assert "migrate-permissions-vocabulary.ts: no dry-run mode" in reason
    assert "migrate-permissions-vocabulary.ts: users: 2 changed" in reason


@pytest.mark.xfail(
    bool(NOT_LANDED), strict=True, reason="; ".join(sorted(set(NOT_LANDED.values())))
)
def test_the_healthy_replica_holds_only_on_the_load_left_out(healthy: Run) -> None:
    verdict = healthy.result.verdict
    assert verdict["decision"] == "HOLD"
    assert _blocking(healthy) == LOAD_GATES, verdict["reason"]


def test_the_healthy_run_leaves_staging_unchanged(healthy: Run) -> None:
    assert healthy.unchanged


def test_the_healthy_run_shows_no_secret(healthy: Run) -> None:
    assert_shows_no_secret(healthy)


# --- one fault at a time ---------------------------------------------------------------


def _secrets_drift(staging: Staging, replica: Replica) -> None:
    # Production reuses staging's session secret.
    values = env_values("production")
    values["NEXTAUTH_SECRET"] = env_values("staging")["NEXTAUTH_SECRET"]
    write_env_file(replica.root, "production", values)


def _missing_in_production(staging: Staging, replica: Replica) -> None:
    # A name the manifest gives an example value (so required) is not set in production.
    values = env_values("production")
    del values["NEXT_PUBLIC_APP_URL"]
    write_env_file(replica.root, "production", values)


def _otp_bypass_in_production(staging: Staging, replica: Replica) -> None:
    values = env_values("production") | {"NEXTAUTH_BYPASS_OTP_ALL": "true"}
    write_env_file(replica.root, "production", values)


def _unknown_override(staging: Staging, replica: Replica) -> None:
    # lib/feature-flags.ts maps FEATURE_UI_NEW_DASHBOARD to ui.new.dashboard: no flag.
    values = env_values("staging") | {"FEATURE_UI_NEW_DASHBOARD": "true"}
    write_env_file(replica.root, "staging", values)


def _vulnerable_dependency(staging: Staging, replica: Replica) -> None:
    # lodash 4.17.11: GHSA-jf85-cpcp-j695 (critical), no waiver in the replica.
    write_dependencies(replica.root, "4.17.11")


def _over_budget(staging: Staging, replica: Replica) -> None:
    chunks = (
        ("main-app-5b1c9e0d2a.js", "main-app", 8712.4),
        ("framework-8f2a61c4.js", "framework", 2984.1),
    )
    (replica.root / "reports" / "bundle-budget-history.json").write_text(
        json.dumps([bundle_entry(chunks)]), encoding="utf-8"
    )


def _dry_run_writes(staging: Staging, replica: Replica) -> None:
    # The --dry-run convention, and a createIndex the script makes even in its dry run.
    spec = {
        "dry_run": "flag",
        "collection": "souq_payouts",
        "index": {"keys": [["orgId", 1], ["status", 1]], "name": "souq_payouts_orgId_status"},
        "index_in_dry_run": True,
    }
    write_migration(replica.root, "2025-12-07-souq-payouts.ts", spec)


def _stale_backup(staging: Staging, replica: Replica) -> None:
    old = (_dt.datetime.now() - _dt.timedelta(days=2)).timestamp()
    for path in [*(replica.root / "backups").rglob("*")]:
        os.utime(path, (old, old))


def _lint_error(staging: Staging, replica: Replica) -> None:
    route = replica.root / "app" / "api" / "health" / "live" / "route.ts"
    route.write_text(route.read_text(encoding="utf-8") + "debugger;\n", encoding="utf-8")


def _type_error(staging: Staging, replica: Replica) -> None:
    path = replica.root / "lib" / "sla.ts"
    path.write_text('export const SLA_HOURS: number = "48";\n', encoding="utf-8")


@dataclass(frozen=True)
class Fault:
    plant: Callable[[Staging, Replica], None]
    gates: dict[str, str]  # the gates it must fail, and how
    says: str = ""  # what the first gate's reason or evidence must show of the fault
    not_landed: str | None = None  # the missing feature, when the fault cannot HOLD yet


# Faults planted in the replica's files: the staging deployment stays healthy.
FILE_FAULTS: dict[str, Fault] = {
    "secrets-drift": Fault(_secrets_drift, {"secrets.must_differ": "FAIL"}, "NEXTAUTH_SECRET"),
    "production-misses-a-name": Fault(
        _missing_in_production, {"secrets.missing": "FAIL"}, "NEXT_PUBLIC_APP_URL"
    ),
    "otp-bypass-in-production": Fault(
        _otp_bypass_in_production, {"secrets.forbidden": "FAIL"}, "NEXTAUTH_BYPASS_OTP_ALL"
    ),
    "flag-override-to-no-flag": Fault(
        _unknown_override, {"flags.overrides": "FAIL"}, "FEATURE_UI_NEW_DASHBOARD"
    ),
    "vulnerable-dependency": Fault(
        _vulnerable_dependency,
        {"audit.node": "FAIL"},
        "GHSA-jf85-cpcp-j695",
    ),
    "bundle-over-budget": Fault(_over_budget, {"bundle.budget": "FAIL"}, "main-app-5b1c9e0d2a.js"),
    "migration-writes-in-dry-run": Fault(
        _dry_run_writes,
        {"migrations.dry_run": "FAIL"},
        "2025-12-07-souq-payouts.ts",
    ),
    # No fresh backup, no clone: the dry runs cannot be rehearsed.
    "stale-backup": Fault(
        _stale_backup,
        {"backup.fresh": "FAIL", "migrations.dry_run": "INCONCLUSIVE"},
        "manual-",
    ),
    "lint-error": Fault(_lint_error, {"command.lint": "FAIL"}, "no-debugger"),
    "type-error": Fault(_type_error, {"command.typecheck": "FAIL"}, "TS2322"),
}


def _db_down(staging: Staging) -> Callable[[], None]:
    staging.service.set_faults(mongo_down=True)
    return lambda: staging.service.set_faults()


def _live_fails(staging: Staging) -> Callable[[], None]:
    # Liveness answers HTTP 500 (the application's failure status for it).
    staging.service.set_faults(error_ratio=1.0, paths=["/api/health/live"])
    return lambda: staging.service.set_faults()


def _missing_index(staging: Staging) -> Callable[[], None]:
    staging.service.set_faults(missing_index=True)
    return lambda: staging.service.set_faults()


def _deep_queue(staging: Staging) -> Callable[[], None]:
    client, db = staging.db()
    db.background_jobs.insert_many(
        [{"_id": f"deep-{i}", "type": "sms", "status": "queued"} for i in range(1001)]
    )

    def undo() -> None:
        db.background_jobs.delete_many({"_id": {"$regex": "^deep-"}})
        client.close()

    return undo


def _flag_drift(staging: Staging) -> Callable[[], None]:
    # The live flag differs from the intended rollout (as an admin's PUT would leave it).
    client, db = staging.db()
    db.feature_flags.update_one({"id": "ui.new_dashboard"}, {"$set": {"enabled": True}})

    def undo() -> None:
        db.feature_flags.update_one({"id": "ui.new_dashboard"}, {"$set": {"enabled": False}})
        client.close()

    return undo


# Faults of the staging deployment itself, each in a deployment of its own.
STAGING_FAULTS: dict[str, tuple[Callable[[Staging], Callable[[], None]], dict[str, str]]] = {
    "db-down": (
        _db_down,
        {
            "health./api/health": "FAIL",
            "health./api/health/ready": "FAIL",
            "health./api/health/database": "FAIL",
            # The flags route reads the database: the live flags cannot be read.
            "flags.rollout": "ERROR",
            "flags.overrides": "ERROR",
            "command.e2e": "FAIL",  # the smoke requests readiness
        },
    ),
    # The e2e smoke requests liveness too.
    "health-route-wrong": (
        _live_fails,
        {"health./api/health/live": "FAIL", "command.e2e": "FAIL"},
    ),
    "missing-index": (_missing_index, {"index.workorders.workorders_orgId_status": "FAIL"}),
    "deep-queue": (_deep_queue, {"queue.background_jobs": "FAIL"}),
    "flag-drift": (_flag_drift, {"flags.rollout": "FAIL"}),
}


def _assert_holds_on(run: Run, healthy: Run, gates: dict[str, str]) -> None:
    verdict = run.result.verdict
    assert run.result.exit_code == 1, run.result.output[-3000:]
    assert verdict["decision"] == "HOLD"
    for gate_id, outcome in gates.items():
        gate = run.result.gate(gate_id)
        assert gate["outcome"] == outcome, gate["reason"]
        assert gate_id in verdict["blocking"]
        assert gate_id in verdict["reason"]
    # Nothing else holds the decision that did not hold the healthy one.
    assert _blocking(run) - _blocking(healthy) <= set(gates), verdict["reason"]


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=f.not_landed))
        if f.not_landed
        else n
        for n, f in FILE_FAULTS.items()
    ],
)
def test_a_fault_in_the_checkout_holds_naming_its_gate(
    name: str, file_runs: dict[str, Run], healthy: Run
) -> None:
    fault, run = FILE_FAULTS[name], file_runs[name]
    _assert_holds_on(run, healthy, fault.gates)
    first = run.result.gate(next(iter(fault.gates)))
    # The reason names it, or the command's output (a lint or type error) shows it.
    shown = first["reason"] + first["evidence"].get("output_tail", "")
    assert fault.says in shown, first["reason"]


@pytest.mark.parametrize("name", list(STAGING_FAULTS))
def test_a_fault_in_staging_holds_naming_its_gate(
    name: str, staging_runs: dict[str, Run], healthy: Run
) -> None:
    _assert_holds_on(staging_runs[name], healthy, STAGING_FAULTS[name][1])


def test_no_run_wrote_to_staging(file_runs: dict[str, Run], staging_runs: dict[str, Run]) -> None:
    # Staging's fingerprint (its documents and indexes) before and after each run.
    changed = [name for name, run in {**file_runs, **staging_runs}.items() if not run.unchanged]
    assert changed == []
