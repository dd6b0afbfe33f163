"""Load from remote Locust workers: `fixgate load-worker` processes connecting over 127.0.0.1
to the gate's master (`[env.X.load] remote_workers = N`), as on other machines."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gaterun import REPO, run_gate
from loadruns import FLAT_OUT, load_config

from pytest_fixgate.cli import main
from pytest_fixgate.config.table import ConfigTable
from pytest_fixgate.errors import ConfigError
from pytest_fixgate.kinds.load.remote_workers import parse_remote_workers
from pytest_fixgate.reference import free_port

pytestmark = pytest.mark.xdist_group("load")

LOCUSTFILE = REPO / "locustfiles" / "ready.py"


def remote_config(base_url: str, port: int, *, n: int, duration: str, timeout: str) -> str:
    remote = f'remote_workers = {n}\nmaster_bind = "127.0.0.1:{port}"\nworker_timeout = "{timeout}"'
    thresholds = ["p(95) < 1500ms", "error_rate < 5%"]
    return load_config(base_url, users=6, duration=duration, thresholds=thresholds, extra=remote)


class Workers:
    """`fixgate load-worker` processes, each in its own process group."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, port: int, count: int) -> None:
        for _ in range(count):
            i = len(self.procs)
            argv = [sys.executable, "-m", "pytest_fixgate.cli", "load-worker"]
            argv += ["--master", f"127.0.0.1:{port}", "-f", str(LOCUSTFILE)]
            argv += ["--capture-dir", str(self.folder / f"worker{i}")]
            with (self.folder / f"worker{i}.log").open("wb") as log:
                self.procs.append(
                    subprocess.Popen(
                        argv,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        env={**os.environ, **FLAT_OUT},
                        start_new_session=True,
                    )
                )

    def kill(self, i: int) -> None:
        os.killpg(self.procs[i].pid, signal.SIGKILL)

    def wait(self, timeout: float) -> list[int | None]:
        codes = []
        for proc in self.procs:
            try:
                codes.append(proc.wait(timeout=timeout))
            except subprocess.TimeoutExpired:
                codes.append(None)
        return codes

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(tmp_path)
    yield pool
    pool.stop()


def load_gates(run: Any) -> dict[str, dict[str, Any]]:
    return {g["id"]: g for g in run.verdict["gates"] if g["id"].startswith("load.")}


def test_n_remote_workers_merge_exactly(tmp_path: Path, reference: Any, workers: Workers) -> None:
    port = free_port()
    workers.start(port, 2)
    basetemp = tmp_path / "bt"
    run = run_gate(
        tmp_path / "gate",
        remote_config(reference.base_url, port, n=2, duration="4s", timeout="30s"),
        f"--basetemp={basetemp}",
        environ=FLAT_OUT,
    )
    gates = load_gates(run)
    assert {k: g["outcome"] for k, g in gates.items()} == {
        "load.p(95)": "PASS",
        "load.error_rate": "PASS",
    }, run.output
    assert workers.wait(15) == [0, 0]  # the master ended them
    results = basetemp / "fixgate-load" / "results"
    state = json.loads((results / "remote-workers.json").read_text())
    assert len(state["participants"]) == 2 and state["lost"] == []
    # Every request each worker made is in the judged figures: the captures the workers
    # sent equal the copies they kept, and their requests add up to the gate's samples.
    sent = [json.loads((results / name).read_text()) for name in state["captures"].values()]
    kept = [json.loads(p.read_text()) for p in tmp_path.glob("worker*/capture-worker-*.json")]
    assert len(kept) == 2
    assert sorted(c["pid"] for c in sent) == sorted(c["pid"] for c in kept)
    assert all(c["remote"]["configured"] and len(c["remote"]["cpu"]) >= 2 for c in sent)

    def requests(capture: dict[str, Any]) -> int:
        return sum(s["requests"] for e in capture["endpoints"] for s in e["steps"].values())

    per_worker = [requests(c) for c in sent]
    assert all(n > 50 for n in per_worker)  # both did real work
    p95 = gates["load.p(95)"]
    summary = p95["evidence"]["load_run"]
    assert summary["overall"]["requests"] == sum(per_worker) == p95["samples"]
    assert p95["evidence"]["estimate"]["n"] == summary["overall"]["successes"]
    assert summary["lost_workers"] == []
    assert "2 remote workers via 127.0.0.1:" in summary["what"]


def test_fewer_workers_than_asked_is_error_within_worker_timeout(
    tmp_path: Path, reference: Any, workers: Workers
) -> None:
    port = free_port()
    workers.start(port, 1)
    started = time.monotonic()
    run = run_gate(
        tmp_path / "gate",
        remote_config(reference.base_url, port, n=2, duration="30s", timeout="3s"),
        environ=FLAT_OUT,
    )
    took = time.monotonic() - started
    gates = load_gates(run)
    assert {g["outcome"] for g in gates.values()} == {"ERROR"}, run.output
    reason = gates["load.p(95)"]["reason"]
    assert "only 1 of 2 remote Locust workers connected" in reason
    assert "within worker_timeout (3 s)" in reason
    assert run.verdict["decision"] == "HOLD" and run.exit_code == 1
    assert took < 20  # the 3 s worker_timeout, not the 30 s load


def test_a_worker_lost_mid_run_makes_latency_inconclusive(
    tmp_path: Path, reference: Any, workers: Workers
) -> None:
    port = free_port()
    workers.start(port, 2)
    basetemp = tmp_path / "bt"
    progress = basetemp / "fixgate-load" / "results" / "progress.json"
    result: dict[str, Any] = {}

    def run() -> None:
        result["run"] = run_gate(
            tmp_path / "gate",
            remote_config(reference.base_url, port, n=2, duration="6s", timeout="30s"),
            f"--basetemp={basetemp}",
        )

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if json.loads(progress.read_text()).get("t0") is not None:
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    else:
        pytest.fail("the load never started")
    time.sleep(1.5)
    workers.kill(0)
    thread.join(120)
    gates = load_gates(result["run"])
    p95 = gates["load.p(95)"]
    assert p95["outcome"] == "INCONCLUSIVE", p95
    assert "remote Locust worker(s) lost mid-run" in p95["reason"]
    assert len(p95["evidence"]["load_run"]["lost_workers"]) == 1
    assert any("lost mid-run" in w for w in p95["evidence"]["load_run"]["warnings"])
    assert result["run"].verdict["decision"] == "HOLD"


def _table(data: dict[str, Any]) -> ConfigTable:
    return ConfigTable(data, "fixgate.toml", "env.staging.load")


def test_config_keys() -> None:
    remote = parse_remote_workers(_table({"remote_workers": 4, "worker_timeout": "90s"}))
    assert remote is not None
    assert (remote.count, remote.bind, remote.timeout_s) == (4, "0.0.0.0:5557", 90.0)
    assert parse_remote_workers(_table({})) is None
    bad = [
        ({"remote_workers": 2, "master_bind": "5557"}, 'HOST:PORT, e.g. "0.0.0.0:5557"'),
        ({"remote_workers": -1}, "a positive number of workers"),
        ({"master_bind": "0.0.0.0:5557"}, "remote_workers = N beside it"),
        ({"remote_workers": 2, "workers": 2}, "local or remote, not both"),
        ({"remote_workers": 2, "worker_timeout": "soon"}, "worker_timeout"),
    ]
    for data, expect in bad:
        with pytest.raises(ConfigError) as err:
            parse_remote_workers(_table(data))
        assert expect in str(err.value) and "env.staging.load" in str(err.value)


def test_load_worker_print_shows_the_locust_command(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["load-worker", "--master", "gate:5557", "-f", "ready.py", "--print"])
    assert code == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("FIXGATE_CAPTURE_DIR=")
    assert "FIXGATE_REMOTE_WORKER=1" in line and "-m locust -f ready.py," in line
    assert line.endswith("--worker --master-host gate --master-port 5557 --loglevel INFO")
    assert "capture.py," in line and line.count("remote_capture.py") == 1


def test_examples_run_workers_with_load_worker() -> None:
    import yaml

    folder = REPO / "examples" / "remote-workers"
    kinds = {d["kind"]: d for d in yaml.safe_load_all((folder / "kubernetes.yaml").read_text())}
    assert set(kinds) == {"ConfigMap", "Deployment", "Service", "Job"}
    worker = kinds["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert "fixgate load-worker --master fixgate-master:5557 -f " in " ".join(worker["args"])
    assert kinds["Service"]["spec"]["ports"][0]["port"] == 5557
    assert (
        kinds["Service"]["spec"]["selector"]
        == kinds["Job"]["spec"]["template"]["metadata"]["labels"]
    )
    assert "pytest --gate=staging" in " ".join(kinds["Job"]["spec"]["template"]["spec"]
                                                ["containers"][0]["args"])  # fmt: skip
    compose = yaml.safe_load((folder / "docker-compose.yml").read_text())
    assert "fixgate load-worker --master gate:5557" in compose["services"]["worker"]["command"]
    assert compose["services"]["worker"]["deploy"]["replicas"] == 4
    assert "pytest --gate=staging" in compose["services"]["gate"]["command"]


def test_local_and_remote_workers_together_is_a_usage_error(tmp_path: Path, reference: Any) -> None:
    config = remote_config(reference.base_url, free_port(), n=2, duration="5s", timeout="3s")
    run = run_gate(tmp_path, config, "--gate-load-workers", "2")
    assert run.exit_code == 4, run.output
    assert "--gate-load-workers and env.staging.load.remote_workers" in run.output
