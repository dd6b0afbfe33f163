"""Read-only, proven: the whole staging gate suite (every gate kind that can run here, the
migrations dry run included) against the reference service, with the database fingerprinted
before and after. The gates must leave MongoDB and Redis exactly as they found them."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from datagates import data_sections, dump_backup
from gaterun import run_gate, staging_config
from sentry_standin import sentry_standin

from pytest_fixgate.kinds.migrations.fingerprint import fingerprint_database
from pytest_fixgate.reference.app import DEFAULT_DB, FEATURE_DEFAULTS
from pytest_fixgate.suite import BUILTIN_LOCUSTFILES

SENTRY_TOKEN = "sntrys_ReadOnly-Planted-7Hq2"
# Every gate kind configured below; each must show up in the verdict.
KIND_PREFIXES = (
    "health.",
    "mongo.ping",
    "redis.ping",
    "load.",
    "sentry.",
    "command.",
    "secrets.",
    "flags.",
    "backup.fresh",
    "migrations.pending",
    "migrations.dry_run",
    "index.",
    "queue.",
)


def _redis_snapshot(url: str) -> dict[bytes, bytes | None]:
    """Every key with its serialized value (DUMP): equal snapshots, equal data."""
    client = redis.Redis.from_url(url)
    try:
        return {key: client.dump(key) for key in sorted(client.scan_iter(count=1000))}
    finally:
        client.close()


def _other_kinds(tmp_path: Path, sentry_url: str) -> str:
    envs = tmp_path / "run" / "envs"  # beside the config file run_gate writes
    envs.mkdir(parents=True)
    (envs / "manifest.env").write_text("MONGODB_URI=\nNEXTAUTH_SECRET=\n", encoding="utf-8")
    (envs / "staging.env").write_text(
        "MONGODB_URI=mongodb://staging-db.internal/fixzit\nNEXTAUTH_SECRET=s-4f9a1c2e7b\n",
        encoding="utf-8",
    )
    (envs / "production.env").write_text(
        "MONGODB_URI=mongodb://prod-db.internal/fixzit\nNEXTAUTH_SECRET=p-8e3d5b7a1f\n",
        encoding="utf-8",
    )
    intended = ", ".join(f"{k} = {str(v).lower()}" for k, v in FEATURE_DEFAULTS.items())
    return f"""
[env.staging.load]
locustfile = "{BUILTIN_LOCUSTFILES / "ready.py"}"
users = 5
spawn_rate = 10
duration = "4s"
warmup = "1s"
locust_args = ["--ready-wait-min-s=0.02", "--ready-wait-max-s=0.05"]
thresholds = ["p(95) < 1500ms", "error_rate < 5%"]

[env.staging.sentry]
base_url = "{sentry_url}"

[[env.staging.commands]]
id = "typecheck"
run = "python -c 'print(\\"types ok\\")'"

[env.staging.secrets]
manifest = "envs/manifest.env"
sources = {{ staging = "envs/staging.env", production = "envs/production.env" }}
must_differ = ["NEXTAUTH_SECRET", "MONGODB_URI"]

[env.staging.flags]
intended = {{ {intended} }}
"""


@pytest.mark.xdist_group("load")
def test_the_whole_staging_suite_leaves_the_data_unchanged(
    tmp_path, reference, reference_admin_token, mongo, redis_srv
):
    backups = tmp_path / "backups"
    dump_backup(backups, "pre-migration-20260101", mongo.uri, age_s=600)
    with sentry_standin(token=SENTRY_TOKEN, failure_rate=0.001, count=5000) as sentry:
        config = staging_config(
            reference.base_url,
            data_sections(backup_dir=backups) + _other_kinds(tmp_path, sentry.base_url),
            mongodb_uri_env="MONGODB_URI",
            redis_url_env="REDIS_URL",
        )
        environ = {
            "MONGODB_URI": mongo.uri,
            "REDIS_URL": redis_srv.url,
            "ADMIN_TOKEN": reference_admin_token,
            "SENTRY_ORG": "acme",
            "SENTRY_PROJECT": "backend",
            "SENTRY_AUTH_TOKEN": SENTRY_TOKEN,
        }
        before = fingerprint_database(mongo.uri, DEFAULT_DB, timeout_s=30)
        redis_before = _redis_snapshot(redis_srv.url)
        result = run_gate(tmp_path / "run", config, environ=environ, timeout=180)
        after = fingerprint_database(mongo.uri, DEFAULT_DB, timeout_s=30)
        redis_after = _redis_snapshot(redis_srv.url)

    outcomes = result.outcomes()
    for prefix in KIND_PREFIXES:
        assert any(g.startswith(prefix) for g in outcomes), f"no {prefix} gate ran: {outcomes}"
    # The data gates passed (the dry run really ran: its log is there), and nothing else
    # failed; a load gate may only be INCONCLUSIVE when this machine is too busy to judge.
    dry_run = result.gate("migrations.dry_run")
    assert dry_run["outcome"] == "PASS", dry_run["reason"]
    assert [r["migration"] for r in dry_run["evidence"]["runs"]] == ["002_backfill_priority.py"]
    bad = {
        gate: outcome
        for gate, outcome in outcomes.items()
        if outcome not in ("PASS", "WARN")
        and not (gate.startswith("load.") and outcome == "INCONCLUSIVE")
    }
    assert not bad, result.output[-3000:]
    assert result.exit_code in (0, 1)

    # The proof: the same documents, counts and indexes in every collection; the same Redis.
    assert before.documents > 0 and len(before.collections) >= 4
    assert before.changes(after) == []
    assert before.digest == after.digest
    assert redis_before == redis_after and redis_before
