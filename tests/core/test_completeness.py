"""Completeness: no command-line option turns a partial gate run into a PROMOTE.

Each case below PROMOTEd (exit 0) before, with a broken dependency in the target.
Now an option that selects or stops early is a usage error (exit 4) unless the
run is advisory; a gate the config implies that did not run is ERROR "did not
run", and the decision HOLDs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from gaterun import GATES, run_gate, staging_config


@pytest.fixture
def redis_broken(reference: Any, mongo: Any, redis_srv: Any) -> tuple[str, dict[str, str]]:
    """A target whose Redis is down: the health and ping gates for Redis fail."""
    reference.set_faults(redis_down=True)
    config = staging_config(
        reference.base_url, mongodb_uri_env="T_MONGO_URI", redis_url_env="T_REDIS_URL", timeout="2s"
    )
    # redis.ping itself is fine (the server runs); the target's readiness is not.
    return config, {"T_MONGO_URI": mongo.uri, "T_REDIS_URL": redis_srv.url}


@pytest.mark.parametrize(
    "args",
    [
        ["-k", "mongo"],
        ["--deselect", f"{GATES}/test_health.py"],
        ["-x"],
        ["--maxfail=1"],
        ["-m", "not slow"],
    ],
    ids=["-k", "--deselect", "-x", "--maxfail", "-m"],
)
def test_selection_options_are_a_usage_error(
    tmp_path: Path, redis_broken: Any, args: list[str]
) -> None:
    config, environ = redis_broken
    run = run_gate(tmp_path, config, *args, environ=environ)
    assert run.exit_code == 4, run.output
    assert "runs only part of the gate suite" in run.output
    assert "--gate-advisory" in run.output
    assert "Traceback" not in run.output


@pytest.mark.parametrize("cache_option", ["--lf", "--ff"])
def test_last_failed_after_a_hold_is_a_usage_error(
    tmp_path: Path, redis_broken: Any, cache_option: str
) -> None:
    config, environ = redis_broken
    cache = ["-p", "cacheprovider", "-o", f"cache_dir={tmp_path / 'cache'}"]
    first = run_gate(tmp_path, config, *cache, environ=environ)
    assert first.exit_code == 1, first.output
    again = run_gate(tmp_path, config, *cache, cache_option, environ=environ)
    assert again.exit_code == 4, again.output


def test_x_under_xdist_is_a_usage_error(tmp_path: Path, redis_broken: Any) -> None:
    config, environ = redis_broken
    run = run_gate(tmp_path, config, "-n", "2", "-x", environ=environ)
    assert run.exit_code == 4, run.output


def test_advisory_allows_selection_and_lists_what_did_not_run(
    tmp_path: Path, redis_broken: Any
) -> None:
    config, environ = redis_broken
    run = run_gate(tmp_path, config, "-k", "mongo", "--gate-advisory", environ=environ)
    assert run.exit_code == 0, run.output
    assert run.verdict["decision"] == "HOLD"
    outcomes = run.outcomes()
    assert outcomes["mongo.ping"] == "PASS"
    assert outcomes["health./api/health/ready"] == "ERROR"
    assert run.gate("redis.ping")["reason"].startswith("did not run")


@pytest.mark.parametrize(
    "target",
    [f"{GATES}/test_dependencies.py", f"{GATES}/test_dependencies.py::test_mongo_ping"],
    ids=["file", "node-id"],
)
def test_a_file_or_node_id_on_the_command_line_holds(
    tmp_path: Path, redis_broken: Any, target: str
) -> None:
    config, environ = redis_broken
    run = run_gate(tmp_path, config, target, environ=environ, suite=Path(target.split("::")[0]))
    assert run.exit_code == 1, run.output
    assert run.verdict["decision"] == "HOLD"
    health = run.gate("health./api/health/ready")
    assert (health["outcome"], health["reason"][:11]) == ("ERROR", "did not run")
    assert "health./api/health/ready" in run.verdict["blocking"]


def test_a_gate_module_skipped_at_import_holds(tmp_path: Path, reference: Any, mongo: Any) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    # The built-in health gates, plus a copy of the dependency gates that skips at import.
    (suite / "test_health.py").write_text((GATES / "test_health.py").read_text())
    (suite / "test_dependencies.py").write_text(
        (GATES / "test_dependencies.py")
        .read_text()
        .replace(
            "import pytest\n",
            "import pytest\n\npytest.importorskip('no_such_module_fixgate')\n",
            1,
        )
    )
    config = staging_config(reference.base_url, mongodb_uri_env="T_MONGO_URI")
    run = run_gate(tmp_path, config, environ={"T_MONGO_URI": mongo.uri}, suite=suite)
    assert run.exit_code == 1, run.output
    assert run.outcomes()["health./api/health/ready"] == "PASS"
    assert run.gate("mongo.ping")["reason"].startswith("did not run")


def test_a_gate_module_failing_to_import_holds(tmp_path: Path, reference: Any, mongo: Any) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_health.py").write_text((GATES / "test_health.py").read_text())
    (suite / "test_dependencies.py").write_text("import no_such_module_fixgate\n")
    config = staging_config(reference.base_url, mongodb_uri_env="T_MONGO_URI")
    run = run_gate(tmp_path, config, environ={"T_MONGO_URI": mongo.uri}, suite=suite)
    assert run.exit_code in (1, 2), run.output
    assert run.verdict["decision"] == "HOLD"
    assert run.gate("mongo.ping")["outcome"] == "ERROR"


def test_a_needs_typo_is_a_usage_error(tmp_path: Path, reference: Any) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_typo.py").write_text(
        "import pytest\n\n"
        "@pytest.mark.gate(id='x.y', needs='mongodb_url_env')\n"
        "def test_x(gate):\n    pass\n"
    )
    run = run_gate(tmp_path, staging_config(reference.base_url), suite=suite)
    assert run.exit_code == 4, run.output
    assert "needs='mongodb_url_env' is neither an environment key" in run.output


def test_a_baseline_file_without_a_baseline_table_is_a_usage_error(tmp_path: Path) -> None:
    # Asked for on the command line, a comparison must never be silently skipped.
    from releasekit import minimal_verdict, variant, write

    pinned = write(tmp_path / "promote.json", variant(minimal_verdict()))
    run = run_gate(
        tmp_path / "w", staging_config("http://127.0.0.1:9"), f"--gate-baseline={pinned}"
    )
    assert run.exit_code == 4, run.output
    assert "--gate-baseline needs an [env.staging.baseline] table" in run.output
