"""What a dry run's fingerprint covers. A dry run that writes to
another database than the configured one, writes ``system.js``, only changes a
collection's validator (``collMod``), or leaves a detached writer behind that writes after
it exited, is a FAIL (here against the session's SecantusDB, ``target = "staging"``)."""

from __future__ import annotations

import secrets
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pymongo
import pytest

from pytest_fixgate.config.table import ConfigTable
from pytest_fixgate.kinds import KindContext
from pytest_fixgate.kinds.migrations.config import parse_migrations
from pytest_fixgate.kinds.migrations.judge import judge_dry_run
from pytest_fixgate.kinds.migrations.measurement import dry_run_migrations, migration_files
from pytest_fixgate.outcomes.model import Outcome
from pytest_fixgate.redaction import Redactor

_OPEN = (
    "import os, sys, time, subprocess\nimport pymongo\n"
    "client = pymongo.MongoClient(os.environ['MONGODB_URI'], serverSelectionTimeoutMS=3000)\n"
    "db = client[sys.argv[1]]\n"
)
SCRIPTS = {
    "other_database": _OPEN + "client[sys.argv[1] + '_other'].notes.insert_one({'x': 1})\n",
    "system_js": _OPEN + "db['system.js'].insert_one({'_id': 'f', 'value': 'function(){}'})\n",
    "validator_only": _OPEN
    + "db.command('collMod', 'orders', validator={'total': {'$exists': True}})\n",
    # Leaves its session and process group, then writes after the migration has exited.
    "detached_writer": _OPEN + "if len(sys.argv) > 2:\n"
    "    time.sleep(1.5); db.orders.insert_one({'late': True, 'total': 0}); sys.exit(0)\n"
    "subprocess.Popen([sys.executable, __file__, sys.argv[1], 'child'],"
    " start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
    "print('dry run: nothing written')\n",
    "read_only": _OPEN + "print(db.orders.count_documents({}))\n",
}
EXPECTED = {
    "other_database": "{db}_other.notes (added)",
    "system_js": "system.js (added)",
    "validator_only": "orders (options)",
    "detached_writer": "orders (documents, count 1 -> 2)",
}


@pytest.fixture
def database(mongo) -> Iterator[str]:
    name = "fp_" + secrets.token_hex(4)
    client: pymongo.MongoClient = pymongo.MongoClient(mongo.uri)
    client[name].create_collection("orders", validator={"total": {"$type": "number"}})
    client[name].orders.insert_one({"_id": 1, "total": 3})
    yield name
    for db_name in (name, name + "_other"):
        client.drop_database(db_name)
    client.close()


def _config(tmp_path: Path, database: str, script: str, **keys: object):
    folder = tmp_path / "migrations"
    folder.mkdir(exist_ok=True)
    (folder / f"001_{script}.py").write_text(SCRIPTS[script], encoding="utf-8")
    data = {
        "directory": str(folder),
        "dry_run": f"{sys.executable} {{file}} {{database}}",
        "database": database,
        "target": "staging",
        "applied": False,
        "require_backup": False,
        "timeout": "20s",
        **keys,
    }
    ctx = KindContext(
        env_name="staging",
        base_dir=tmp_path,
        timeout_s=5.0,
        file="fixgate.toml",
        all_envs={"staging": {"mongodb_uri_env": "MONGODB_URI"}},
    )
    return parse_migrations(ConfigTable(data, "fixgate.toml", "env.staging.migrations"), ctx)


def _judged(tmp_path: Path, mongo, config):
    report = dry_run_migrations(
        mongo.uri,
        "MONGODB_URI",
        config,
        migration_files(config),
        report_dir=tmp_path / "reports",
        log_subdir="logs/x",
        redactor=Redactor(),
    )
    return report, judge_dry_run(report)


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_a_dry_run_that_writes_anywhere_the_uri_reaches_fails(
    tmp_path, mongo, database, script, monkeypatch
):
    monkeypatch.setenv("MONGODB_URI", mongo.uri)
    started = time.monotonic()
    report, finding = _judged(tmp_path, mongo, _config(tmp_path, database, script))
    assert finding.outcome is Outcome.FAIL, (finding.evidence.reason, report.runs[0])
    assert EXPECTED[script].format(db=database) in finding.evidence.reason
    assert finding.evidence.reason.startswith("the database changed during the dry runs: ")
    if script == "detached_writer":
        # Waited for: the migration's own process exited at once, its writer 1.5 s later.
        run = report.runs[0]
        assert run.outlived == 1 and run.waited_s >= 1.0
        assert run.as_dict()["outlived_by"] == 1
        assert time.monotonic() - started < 15


def test_a_read_only_dry_run_passes_and_every_database_is_printed(
    tmp_path, mongo, database, monkeypatch
):
    monkeypatch.setenv("MONGODB_URI", mongo.uri)
    report, finding = _judged(tmp_path, mongo, _config(tmp_path, database, "read_only"))
    assert finding.outcome is Outcome.PASS, finding.evidence.reason
    assert database in report.before.databases
    assert "orders" in report.before.primary_collections
    assert report.before.primary_collections["orders"].options  # the validator is printed
    assert report.runs[0].outlived == 0


def test_a_script_without_dry_run_on_staging_is_unchecked(tmp_path, mongo, database, monkeypatch):
    monkeypatch.setenv("MONGODB_URI", mongo.uri)
    config = _config(
        tmp_path, database, "read_only", overrides={"001_read_only.py": {"dry_run": False}}
    )
    report, finding = _judged(tmp_path, mongo, config)
    assert report.runs == ()  # never run against staging
    assert finding.outcome is Outcome.INCONCLUSIVE
    assert "001_read_only.py: no dry-run mode" in finding.evidence.reason


def test_include_exclude_globs_cover_every_migration_language(tmp_path, database):
    config = _config(tmp_path, database, "read_only")
    folder = config.directory
    for name in ("a.js", "b.mjs", "c.cjs", "d.ts", "e.py", "f.d.ts", "README.md", ".hidden.js"):
        (folder / name).write_text("", encoding="utf-8")
    names = [p.name for p in migration_files(config)]
    assert names == ["001_read_only.py", "a.js", "b.mjs", "c.cjs", "d.ts", "e.py", "f.d.ts"]
    excluded = _config(tmp_path, database, "read_only", exclude=["*.d.ts", "001_*"])
    assert [p.name for p in migration_files(excluded)] == ["a.js", "b.mjs", "c.cjs", "d.ts", "e.py"]
    only_ts = _config(tmp_path, database, "read_only", files=["*.ts"], exclude=["*.d.ts"])
    assert [p.name for p in migration_files(only_ts)] == ["d.ts"]  # the old key still works


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"include": ["*.ts"], "files": ["*.js"]}, "both include and files"),
        ({"exclude": [1]}, "migrations.exclude"),
        ({"target": "prod"}, "migrations.target"),
        ({"target": "clone", "require_backup": False}, "migrations.require_backup"),
        ({"apply": "node {file}"}, "migrations.apply: set only with the clone target"),
        ({"clone_uri_env": "SCRATCH"}, "migrations.clone_uri_env: set only with the clone"),
        ({"target": "clone", "apply": "node {nope}"}, "unknown placeholder {nope}"),
        ({"overrides": {"a.ts": {"dryrun": "x"}}}, "migrations.overrides.a.ts"),
        (
            {"target": "clone", "require_backup": True, "overrides": {"a.ts": {"dry_run": False}}},
            "migrations.overrides.a.ts: dry_run = false needs a real run",
        ),
        ({"target": "clone", "clone_uri_env": "mongodb://u:pw@h/"}, "NAME of an environment"),
    ],
)
def test_bad_clone_and_glob_config_is_one_config_error(tmp_path, database, keys, message):
    from pytest_fixgate.errors import ConfigError

    with pytest.raises(ConfigError) as excinfo:
        _config(tmp_path, database, "read_only", **keys)
    text = str(excinfo.value)
    assert message in text and "\n" not in text and "pw@" not in text


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a zombie waits for its reaper only


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the subreaper is Linux's")
def test_a_detached_process_still_running_at_the_deadline_is_killed(
    tmp_path, mongo, database, monkeypatch
):
    monkeypatch.setenv("MONGODB_URI", mongo.uri)
    script = (
        "import subprocess, sys\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'],"
        " start_new_session=True)\n"
        "print('detached', p.pid, flush=True)\n"
    )
    monkeypatch.setitem(SCRIPTS, "detached_forever", script)
    config = _config(tmp_path, database, "detached_forever", timeout="2s")
    report, finding = _judged(tmp_path, mongo, config)
    run = report.runs[0]
    assert run.result.timed_out and finding.outcome is Outcome.FAIL
    log = (tmp_path / "reports" / run.log).read_text(encoding="utf-8")
    pid = int(log.split("detached ", 1)[1].split()[0])
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid), "the detached process outlived the gate"
