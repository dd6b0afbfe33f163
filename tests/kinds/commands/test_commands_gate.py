"""Command gates (``[[env.X.commands]]``): config, the judge, and `pytest --gate` end to end
with real processes: exit 0, exit 1 with the output's tail, a missing program, a timeout
whose sleeping child is killed with its group, and a planted secret found nowhere."""

from __future__ import annotations

import importlib.util
import os
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from gaterun import GATES, GateRunResult, run_gate, staging_config

from pytest_fixgate.config.table import ConfigTable
from pytest_fixgate.errors import ConfigError, ProbeError
from pytest_fixgate.kinds import KindContext
from pytest_fixgate.kinds.commands.config import CommandSpec, parse_commands
from pytest_fixgate.kinds.commands.judge import judge_command
from pytest_fixgate.kinds.commands.measurement import run_command
from pytest_fixgate.outcomes.model import Outcome
from pytest_fixgate.redaction import Redactor
from pytest_fixgate.reference import free_port

SUITE = GATES / "test_commands.py"


def _suite_module() -> Any:
    """The shipped gate module itself, loaded from its file (``gates/`` is a folder of
    test files, not an importable package of the project)."""
    spec = importlib.util.spec_from_file_location("fixgate_suite_test_commands", SUITE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SECRET = "npm_Planted-7hQ2xZ"  # the value of DEPLOY_TOKEN, named by secret_env
ENV_SECRET = "hc-Planted-Kk91"  # the value of the environment's token_env
PY = sys.executable


def ctx(tmp_path: Path) -> KindContext:
    return KindContext(env_name="staging", base_dir=tmp_path, timeout_s=5.0, file="fixgate.toml")


def parse(tmp_path: Path, *entries: dict[str, object]) -> tuple[CommandSpec, ...]:
    tables = [
        ConfigTable(dict(e), "fixgate.toml", f"env.staging.commands[{i}]")
        for i, e in enumerate(entries)
    ]
    return parse_commands(tables, ctx(tmp_path))


# -- config ----------------------------------------------------------------------------


def test_a_command_line_is_split_without_a_shell_and_cwd_is_relative_to_the_config(
    tmp_path: Path,
) -> None:
    (spec,) = parse(
        tmp_path,
        {"id": "lint", "run": "pnpm lint --max-warnings '0 1'", "cwd": "../app", "env": {"A": "b"}},
    )
    assert spec.argv == ("pnpm", "lint", "--max-warnings", "0 1")
    assert spec.cwd == (tmp_path.parent / "app").resolve()
    assert spec.timeout_s == 600.0  # the default 10m
    assert spec.env == {"A": "b"} and spec.gate_id == "command.lint"


def test_an_argv_list_is_taken_as_it_is(tmp_path: Path) -> None:
    (spec,) = parse(tmp_path, {"id": "e2e", "run": ["pnpm", "test:e2e"], "timeout": "30s"})
    assert spec.argv == ("pnpm", "test:e2e") and spec.timeout_s == 30.0
    assert spec.cwd == tmp_path


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ({"id": "x", "run": ""}, "commands[0].run"),
        ({"id": "x", "run": []}, "commands[0].run"),
        ({"id": "x", "run": "echo 'unclosed"}, "shlex"),
        ({"id": "a b", "run": "true"}, "commands[0].id"),
        ({"id": "x", "run": "true", "timeout": "soon"}, "commands[0].timeout"),
        ({"id": "x", "run": "true", "rnu": "y"}, "did you mean 'run'?"),
        ({"id": "x", "run": "true", "env": {"A": 1}}, "commands[0].env.A"),
    ],
)
def test_bad_entries_are_one_line_config_errors(
    tmp_path: Path, entry: dict[str, object], words: str
) -> None:
    with pytest.raises(ConfigError) as err:
        parse(tmp_path, entry)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_a_secret_pasted_into_secret_env_is_not_echoed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        parse(tmp_path, {"id": "x", "run": "true", "secret_env": ["s3cr3t value!"]})
    assert "s3cr3t" not in str(err.value) and "secret_env[0]" in str(err.value)


def test_ids_are_unique_and_an_empty_list_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not used by another"):
        parse(tmp_path, {"id": "x", "run": "true"}, {"id": "x", "run": "false"})
    with pytest.raises(ConfigError, match="gates nothing"):
        parse(tmp_path)


# -- the measurement and the judge, with real processes ------------------------------------


def run(tmp_path: Path, argv: list[str], **more: object) -> tuple[Outcome, dict[str, object]]:
    spec = CommandSpec(id="t", argv=tuple(argv), cwd=tmp_path, **more)  # type: ignore[arg-type]
    done = run_command(
        spec, report_dir=tmp_path / "reports", redactor=Redactor.from_env(spec.secret_env)
    )
    finding = judge_command(done)
    return finding.outcome, {"reason": finding.evidence.reason, **finding.evidence.details}


def test_exit_0_passes_and_the_log_is_under_the_report_folder(tmp_path: Path) -> None:
    outcome, ev = run(tmp_path, [PY, "-c", "print('all 12 files clean')"])
    assert outcome is Outcome.PASS and ev["exit_code"] == 0
    (log,) = ev["logs"]  # type: ignore[misc]
    assert log.startswith("logs/command.t-")
    assert (tmp_path / "reports" / log).read_text() == "all 12 files clean\n"


def test_exit_1_fails_with_the_last_40_lines_interleaved(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys
        for i in range(60):
            stream = sys.stderr if i % 2 else sys.stdout
            print(f"line {i}", file=stream, flush=True)
        sys.exit(1)
        """
    )
    outcome, ev = run(tmp_path, [PY, "-c", script])
    assert outcome is Outcome.FAIL and ev["exit_code"] == 1
    tail = str(ev["output_tail"]).splitlines()
    assert tail == [f"line {i}" for i in range(20, 60)]  # stdout and stderr, as they came
    assert str(ev["reason"]).startswith("exited 1 after") and "line 59" in str(ev["reason"])


def test_a_missing_program_is_an_error_not_a_fail(tmp_path: Path) -> None:
    outcome, ev = run(tmp_path, ["pnpm-that-is-not-installed", "lint"])
    assert outcome is Outcome.ERROR
    assert "program not found: pnpm-that-is-not-installed" in str(ev["reason"])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    # A zombie (killed, not yet reaped by init) runs nothing.
    return not (status.exists() and "\nState:\tZ" in status.read_text())


SLEEPER = textwrap.dedent(
    """
    import subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    open("child.pid", "w").write(str(child.pid))
    print("started child", child.pid, flush=True)
    time.sleep(120)
    """
)


def test_a_timeout_is_an_error_and_kills_the_whole_process_group(tmp_path: Path) -> None:
    started = time.monotonic()
    outcome, ev = run(tmp_path, [PY, "-c", SLEEPER], timeout_s=3)
    assert time.monotonic() - started < 10
    assert outcome is Outcome.ERROR and "timeout of 3 s" in str(ev["reason"])
    child = int((tmp_path / "child.pid").read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the command's child outlived the timeout"


# -- `pytest --gate` end to end --------------------------------------------------------------


def commands_config(tmp_path: Path) -> str:
    (tmp_path / "app").mkdir(exist_ok=True)
    leak = (
        "import os, sys; print('token', os.environ['DEPLOY_TOKEN'], flush=True); "
        "print('health', os.environ['HEALTH_TOKEN'], file=sys.stderr, flush=True); "
        "print('lint: 3 problems', flush=True); sys.exit(1)"
    )
    entries = [
        ("ok", [PY, "-c", "import os; print(os.getcwd())"], 'cwd = "app"'),
        ("leaky", [PY, "-c", leak], 'secret_env = ["DEPLOY_TOKEN"]'),
        ("missing", ["no-such-program-fixgate", "lint"], ""),
        ("sleeper", [PY, "-c", SLEEPER], 'timeout = "3s"'),
    ]
    blocks = []
    for gate_id, argv, more in entries:
        quoted = ", ".join(f"'''{a}'''" for a in argv)
        blocks.append(f'[[env.staging.commands]]\nid = "{gate_id}"\nrun = [{quoted}]\n{more}\n')
    return staging_config(
        f"http://127.0.0.1:{free_port()}", "\n".join(blocks), token_env="HEALTH_TOKEN"
    )


@pytest.fixture(scope="module")
def gate_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[GateRunResult, Path]:
    tmp_path = tmp_path_factory.mktemp("commands")
    result = run_gate(
        tmp_path,
        commands_config(tmp_path),
        environ={"DEPLOY_TOKEN": SECRET, "HEALTH_TOKEN": ENV_SECRET},
        suite=SUITE,
    )
    return result, tmp_path


def test_each_command_is_a_gate_with_its_outcome(gate_run: tuple[GateRunResult, Path]) -> None:
    result, tmp_path = gate_run
    outcomes = result.outcomes()
    assert {k: v for k, v in outcomes.items() if k.startswith("command.")} == {
        "command.ok": "PASS",
        "command.leaky": "FAIL",
        "command.missing": "ERROR",
        "command.sleeper": "ERROR",
    }
    assert result.exit_code == 1  # a HOLD
    ok = result.gate("command.ok")["evidence"]
    assert ok["exit_code"] == 0 and ok["output_tail"] == str((tmp_path / "app").resolve())
    leaky = result.gate("command.leaky")
    assert leaky["evidence"]["exit_code"] == 1 and "lint: 3 problems" in leaky["reason"]
    html = result.files["html"].read_text(encoding="utf-8")
    for gate_id in ("command.ok", "command.leaky", "command.sleeper"):
        (log,) = result.gate(gate_id)["evidence"]["logs"]
        assert (result.report_dir / log).is_file(), log
        assert f"href='{log}'" in html  # linked from the HTML report, beside it


def test_the_timed_out_commands_child_is_not_left_running(
    gate_run: tuple[GateRunResult, Path],
) -> None:
    result, tmp_path = gate_run
    assert "timeout of 3 s" in result.gate("command.sleeper")["reason"]
    child = int((tmp_path / "child.pid").read_text())
    assert not _alive(child)


def test_planted_secrets_reach_no_artifact(gate_run: tuple[GateRunResult, Path]) -> None:
    result, _ = gate_run
    files = [p for p in result.report_dir.rglob("*") if p.is_file()]
    assert any(p.suffix == ".log" for p in files) and any(p.suffix == ".html" for p in files)
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        assert SECRET not in text and ENV_SECRET not in text, path
    assert SECRET not in result.output and ENV_SECRET not in result.output
    # Masked, not dropped: the reader sees that something was printed there.
    (log,) = result.gate("command.leaky")["evidence"]["logs"]
    assert "token ***" in (result.report_dir / log).read_text()
    assert "health ***" in result.gate("command.leaky")["evidence"]["output_tail"]


def test_under_xdist_the_same_outcomes_and_logs(tmp_path: Path) -> None:
    result = run_gate(
        tmp_path,
        commands_config(tmp_path),
        "-n",
        "2",
        environ={"DEPLOY_TOKEN": SECRET, "HEALTH_TOKEN": ENV_SECRET},
        suite=SUITE,
    )
    assert {k: v for k, v in result.outcomes().items() if k.startswith("command.")} == {
        "command.ok": "PASS",
        "command.leaky": "FAIL",
        "command.missing": "ERROR",
        "command.sleeper": "ERROR",
    }
    (log,) = result.gate("command.leaky")["evidence"]["logs"]
    assert "token ***" in (result.report_dir / log).read_text()
    assert SECRET not in result.output


def test_a_missing_working_folder_is_an_error_naming_it(tmp_path: Path) -> None:
    spec = CommandSpec(id="t", argv=(PY, "-c", "pass"), cwd=tmp_path / "no-app")
    with pytest.raises(ProbeError, match=r"working folder .*no-app does not exist"):
        run_command(
            spec, report_dir=tmp_path / "reports", redactor=Redactor.from_env(spec.secret_env)
        )


def test_the_gate_masks_secrets_the_session_learned_during_the_run(tmp_path: Path) -> None:
    # A dotenv value read by the secrets gate is added to the session's redactor; a later
    # command that prints it must find it masked too, not only the configured env vars.
    from types import SimpleNamespace

    test_command = _suite_module().test_command

    learned = "dotenv-Planted-Zq81"
    session = Redactor()
    session.add([learned])
    (spec,) = parse(tmp_path, {"id": "echo", "run": [PY, "-c", f"print('v={learned}')"]})
    recorded = []
    gate = SimpleNamespace(measuring=lambda *a, **k: None, record=recorded.append)
    config = SimpleNamespace(
        invocation_params=SimpleNamespace(dir=tmp_path), getoption=lambda name: "reports"
    )
    test_command(gate, session, spec, SimpleNamespace(config=config))
    (finding,) = recorded
    assert finding.outcome is Outcome.PASS
    assert learned not in finding.evidence.details["output_tail"]
    (log,) = finding.evidence.details["logs"]
    assert learned not in (tmp_path / "reports" / log).read_text()


def test_a_command_gets_the_environments_base_url_end_to_end(tmp_path: Path) -> None:
    # An end-to-end suite must test the environment gated: {base_url} in run and env, and
    # FIXGATE_BASE_URL, are the environment's base_url. The command exits 0 only if so.
    base_url = f"http://127.0.0.1:{free_port()}"
    check = (
        "import os, sys\n"
        "want = sys.argv[1]\n"
        "got = [sys.argv[2], os.environ['PW_WEB_URL'], os.environ['FIXGATE_BASE_URL']]\n"
        "print('base urls', got, os.environ['LOGIN'])\n"
        "sys.exit(0 if got == [want] * 3 and os.environ['LOGIN'] == want + '/login' else 1)\n"
    )
    config = staging_config(
        base_url + "/",  # the trailing slash is dropped, as for every gate
        "[[env.staging.commands]]\n"
        'id = "e2e"\n'
        f"run = [{PY!r}, '-c', '''{check}''', '{base_url}', '{{base_url}}']\n"
        'env = { PW_WEB_URL = "{base_url}", LOGIN = "{base_url}/login" }\n',
    )
    result = run_gate(tmp_path, config, suite=SUITE)
    gate = result.gate("command.e2e")
    assert gate["outcome"] == "PASS", result.output
    assert gate["evidence"]["command"].endswith(f"{base_url} {base_url}")
    (log,) = gate["evidence"]["logs"]
    text = (result.report_dir / log).read_text()
    assert text.startswith(f"base urls ['{base_url}', '{base_url}', '{base_url}'] {base_url}/login")


def test_a_command_env_may_set_fixgate_base_url_itself(tmp_path: Path) -> None:
    (spec,) = parse(
        tmp_path, {"id": "x", "run": "true", "env": {"FIXGATE_BASE_URL": "http://other"}}
    )
    assert spec.for_environment("https://staging.example").env == {
        "FIXGATE_BASE_URL": "http://other"
    }
    assert spec.env == {"FIXGATE_BASE_URL": "http://other"}  # the parsed spec is unchanged
