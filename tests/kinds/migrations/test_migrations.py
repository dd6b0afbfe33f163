"""The database fingerprint, pending migrations and the migrations config, against a real
SecantusDB (the ``mongo`` fixture), each test in its own database."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import pymongo
import pytest
from datagates import MIGRATIONS

from pytest_fixgate.config.table import ConfigTable
from pytest_fixgate.errors import ConfigError, ProbeError, ProbeTimeout
from pytest_fixgate.kinds import KindContext
from pytest_fixgate.kinds.migrations.config import parse_migrations, render_command
from pytest_fixgate.kinds.migrations.fingerprint import fingerprint_database
from pytest_fixgate.kinds.migrations.judge import judge_pending
from pytest_fixgate.kinds.migrations.measurement import pending_migrations
from pytest_fixgate.outcomes.model import Outcome
from pytest_fixgate.reference import free_port


@pytest.fixture
def db(mongo) -> Iterator[pymongo.database.Database]:
    client: pymongo.MongoClient = pymongo.MongoClient(mongo.uri)
    name = "t_" + secrets.token_hex(4)
    yield client[name]
    client.drop_database(name)
    client.close()


def _print(mongo, db):
    return fingerprint_database(mongo.uri, db.name, timeout_s=10)


# --- fingerprint ------------------------------------------------------------------------


def test_fingerprint_is_stable_and_names_what_changed(mongo, db):
    db.orders.insert_many([{"_id": i, "n": i} for i in range(50)])
    db.jobs.insert_one({"_id": 1, "status": "queued"})
    db.orders.create_index([("n", 1)])
    first = _print(mongo, db)
    assert first.documents == 51 and set(first.collections) == {"orders", "jobs"}
    assert first.changes(_print(mongo, db)) == []  # reading changes nothing

    db.orders.update_one({"_id": 7}, {"$set": {"n": 7.0}})  # same count, same value as a number
    after_update = _print(mongo, db)
    changes = first.changes(after_update)
    assert [(c.name, c.what) for c in changes] == [("orders", ("documents",))]

    db.orders.insert_one({"_id": 99})
    db.jobs.create_index("status")
    db.extra.insert_one({"_id": 1})
    changes = after_update.changes(_print(mongo, db))
    assert [(c.name, c.what) for c in changes] == [
        ("extra", ("added",)),
        ("jobs", ("indexes",)),
        ("orders", ("documents", "count")),
    ]
    assert changes[2].describe() == "orders (documents, count 50 -> 51)"


def test_fingerprint_hashes_in_id_order_not_insertion_order(mongo, db):
    other = db.client[db.name + "_b"]
    try:
        db.c.insert_many([{"_id": i, "v": i} for i in range(20)])
        other.c.insert_many([{"_id": i, "v": i} for i in reversed(range(20))])
        a = _print(mongo, db).collections["c"]
        b = fingerprint_database(mongo.uri, other.name, timeout_s=10).collections["c"]
        assert a.digest == b.digest and a.count == b.count == 20
    finally:
        db.client.drop_database(other.name)


def test_a_fingerprint_past_its_deadline_is_an_error_never_partial(mongo, db):
    db.c.insert_many([{"_id": i} for i in range(100)])
    from pytest_fixgate.kinds.migrations.fingerprint import fingerprint_target
    from pytest_fixgate.measurements.mongo_client import mongo_database

    with (
        mongo_database(mongo.uri, db.name, timeout_s=5) as target,
        pytest.raises(ProbeTimeout, match="fingerprint of c not finished in time"),
    ):
        fingerprint_target(target, timeout_s=1e-9, batch_size=10)


def test_fingerprint_of_an_unreachable_server_is_an_error():
    uri = f"mongodb://127.0.0.1:{free_port()}/"
    with pytest.raises(ProbeError, match="no server answered"):
        fingerprint_database(uri, "x", timeout_s=0.3)


def test_fingerprint_needs_a_database_name(mongo):
    with pytest.raises(ProbeError, match="names no database"):
        fingerprint_database(mongo.uri, None, timeout_s=2)


# --- pending ----------------------------------------------------------------------------


def _config(tmp_path: Path, **keys: object):
    data = {"directory": str(MIGRATIONS), "dry_run": "python {file} --dry-run", **keys}
    ctx = KindContext(
        env_name="staging",
        base_dir=tmp_path,
        timeout_s=5.0,
        file="fixgate.toml",
        all_envs={"staging": {"mongodb_uri_env": "MONGODB_URI"}},
    )
    return parse_migrations(ConfigTable(data, "fixgate.toml", "env.staging.migrations"), ctx)


def test_pending_are_the_files_the_changelog_does_not_record(tmp_path, mongo, db):
    db.changelog.insert_one({"fileName": "001_create_work_order_indexes.py"})
    db.changelog.insert_one({"fileName": "scripts/000_gone.py"})  # recorded with a path
    config = _config(tmp_path, database=db.name)
    pending = pending_migrations(mongo.uri, config, timeout_s=5)
    assert [p.name for p in pending.files] == [
        "001_create_work_order_indexes.py",
        "002_backfill_priority.py",
    ]
    assert [p.name for p in pending.pending] == ["002_backfill_priority.py"]
    assert pending.applied_without_file == ["000_gone.py"]
    finding = judge_pending(pending, str(MIGRATIONS))
    assert finding.outcome is Outcome.WARN
    assert "002_backfill_priority.py" in finding.evidence.reason

    assert "does not exist" not in finding.evidence.reason
    db.changelog.insert_one({"fileName": "002_backfill_priority.py"})
    finding = judge_pending(pending_migrations(mongo.uri, config, timeout_s=5), str(MIGRATIONS))
    assert finding.outcome is Outcome.PASS


def test_a_missing_applied_collection_is_said(tmp_path, mongo, db):
    db.other.insert_one({"_id": 1})
    config = _config(tmp_path, database=db.name, applied={"collection": "changelogs"})
    finding = judge_pending(pending_migrations(mongo.uri, config, timeout_s=5), "m")
    assert finding.outcome is Outcome.WARN
    assert f"the applied collection does not exist in {db.name}" in finding.evidence.reason


def test_nothing_recorded_means_every_file_is_pending(tmp_path):
    # The real application records no applied migrations: `applied = false`.
    config = _config(tmp_path, applied=False)
    pending = pending_migrations("mongodb://unused/", config, timeout_s=1)
    assert len(pending.pending) == 2 and not pending.recorded
    assert "nothing records applied migrations" in judge_pending(pending, "m").evidence.reason


def test_pending_files_do_not_promote_when_the_dry_run_is_optional(tmp_path):
    # `[env.X.gates."migrations.dry_run"] required = false`: its outcome no longer blocks,
    # so the pending gate's WARN ("the dry run judges them") would promote unjudged files.
    config = _config(tmp_path, applied=False)
    pending = pending_migrations("mongodb://unused/", config, timeout_s=1)
    assert judge_pending(pending, "m").outcome is Outcome.WARN
    finding = judge_pending(pending, "m", dry_run_required=False)
    assert finding.outcome is Outcome.INCONCLUSIVE
    assert "migrations.dry_run is not required" in finding.evidence.reason


def test_a_folder_without_migrations_is_inconclusive(tmp_path):
    (tmp_path / "README.md").write_text("not a migration")
    config = _config(tmp_path, directory=str(tmp_path), applied=False)
    finding = judge_pending(pending_migrations("mongodb://unused/", config, timeout_s=1), "m")
    assert finding.outcome is Outcome.INCONCLUSIVE


# --- config -----------------------------------------------------------------------------


def test_template_is_split_like_a_shell_and_filled_per_argument(tmp_path):
    config = _config(tmp_path, dry_run="node '{file}' --dry-run --uri-env={uri_env} {{literal}}")
    argv = render_command(
        config.dry_run,
        file=Path("/m/a b.js"),
        uri_env="MONGODB_URI",
        directory=Path("/m"),
        database="db",
    )
    assert argv == ["node", "/m/a b.js", "--dry-run", "--uri-env=MONGODB_URI", "{literal}"]
    assert config.mongodb_uri_env == "MONGODB_URI"  # the environment's
    assert config.cwd == tmp_path


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"dry_run": "node {file} {uri}"}, "migrations.dry_run: unknown placeholder {uri}"),
        ({"dry_run": "node {0}"}, "unknown placeholder {0}"),
        ({"dry_run": "node {file!r}"}, "unknown placeholder {file!r}"),
        ({"dry_run": "node {file"}, "migrations.dry_run"),
        ({"dry_run": "node 'unclosed"}, "No closing quotation"),
        ({"overrides": {"a.js": "x {nope}"}}, "migrations.overrides.a.js: unknown placeholder"),
        ({"applied": True}, "migrations.applied"),
        ({"applied": {"collection": "c", "feild": "x"}}, "did you mean 'field'"),
        ({"timeout": "0s"}, "migrations.timeout"),
        ({"mongodb_uri_env": "mongodb://user:pw@host/"}, "NAME of an environment variable"),
    ],
)
def test_bad_migrations_config_is_one_config_error(tmp_path, keys, message):
    with pytest.raises(ConfigError) as excinfo:
        _config(tmp_path, **keys)
    text = str(excinfo.value)
    assert message in text and "\n" not in text
    assert "pw@" not in text


# --- dry runs -----------------------------------------------------------------------------


def test_a_dry_run_past_its_timeout_is_killed_and_fails(tmp_path, mongo, db):
    from pytest_fixgate.kinds.migrations.judge import judge_dry_run
    from pytest_fixgate.kinds.migrations.measurement import dry_run_migrations
    from pytest_fixgate.redaction import Redactor

    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "001_slow.py").write_text(
        "import time\nprint('working', flush=True)\ntime.sleep(30)\n"
    )
    (folder / "002_ok.py").write_text("print('fine')\n")
    config = _config(
        tmp_path,
        directory=str(folder),
        dry_run=f"{sys.executable} {{file}}",
        timeout="1s",
        database=db.name,
    )
    pending = pending_migrations(mongo.uri, config, timeout_s=5).pending
    report = dry_run_migrations(
        mongo.uri,
        "MONGODB_URI",
        config,
        pending,
        report_dir=tmp_path / "reports",
        log_subdir="logs/x",
        redactor=Redactor(),
    )
    assert [r.result.timed_out for r in report.runs] == [True, False]
    assert report.runs[0].result.duration_s < 10
    finding = judge_dry_run(report)
    assert finding.outcome is Outcome.FAIL
    assert finding.evidence.reason.startswith("001_slow.py: timed out after")
    assert "working" in (tmp_path / "reports" / report.runs[0].log).read_text()


def test_a_dry_run_that_cannot_start_is_an_error(tmp_path, mongo, db):
    from pytest_fixgate.kinds.migrations.judge import judge_dry_run
    from pytest_fixgate.kinds.migrations.measurement import dry_run_migrations
    from pytest_fixgate.redaction import Redactor

    config = _config(tmp_path, dry_run="no-such-tool-xyz {file}", database=db.name)
    report = dry_run_migrations(
        mongo.uri,
        "MONGODB_URI",
        config,
        pending_migrations(mongo.uri, config, timeout_s=5).pending,
        report_dir=tmp_path / "reports",
        log_subdir="logs/x",
        redactor=Redactor(),
    )
    finding = judge_dry_run(report)
    assert finding.outcome is Outcome.ERROR
    assert "no-such-tool-xyz" in finding.evidence.reason


def test_a_dry_run_on_a_database_without_collections_proves_nothing(tmp_path, mongo, db):
    # A wrong `database` reads as an empty one: a migration writing to the real database
    # would leave this empty fingerprint unchanged, so the dry run is not a PASS.
    from pytest_fixgate.kinds.migrations.judge import judge_dry_run
    from pytest_fixgate.kinds.migrations.measurement import dry_run_migrations
    from pytest_fixgate.redaction import Redactor

    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "001_ok.py").write_text("print('fine')\n")
    config = _config(
        tmp_path, directory=str(folder), dry_run=f"{sys.executable} {{file}}", database=db.name
    )

    def judged():
        report = dry_run_migrations(
            mongo.uri,
            "MONGODB_URI",
            config,
            pending_migrations(mongo.uri, config, timeout_s=5).pending,
            report_dir=tmp_path / "reports",
            log_subdir="logs/x",
            redactor=Redactor(),
        )
        return judge_dry_run(report)

    finding = judged()
    assert finding.outcome is Outcome.INCONCLUSIVE
    assert f"the database {db.name} holds no collection" in finding.evidence.reason
    db.workOrders.insert_one({"_id": 1})
    assert judged().outcome is Outcome.PASS


def test_the_data_gate_modules_import_no_pytest():
    import subprocess

    modules = [
        "pytest_fixgate.kinds.migrations.fingerprint",
        "pytest_fixgate.kinds.migrations.clone",
        "pytest_fixgate.kinds.migrations.reaper",
    ] + [
        f"pytest_fixgate.kinds.{name}.{part}"
        for part in ("config", "measurement", "judge")
        for name in ("backup", "migrations", "indexes", "queues")
    ]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "assert 'pytest' not in sys.modules, 'pytest imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-1000:]
