"""A watch killed with SIGKILL: the samples file is intact up to the kill, and both
``--watch-resume`` and ``fixgate replay`` complete it with the same decision."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from gaterun import QUIET_PLUGINS, REPO, run_gate

CONFIG = """
[env.production]
base_url = "{base_url}"

[env.production.watch]
interval = "1s"
probe_timeout = "800ms"

[[env.production.watch.rules]]
id = "errors"
severity = "SEV-1"
when = "error_rate > 5%"
for = "2s"
"""


def _tick_lines(path: Path) -> list[dict]:
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"", "the file ends mid-line"
    return [json.loads(line) for line in lines[1:-1]]


def _replay(workdir: Path, samples: Path, report_dir: Path) -> tuple[int, dict]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest_fixgate.cli",
            "replay",
            str(samples),
            f"--gate-config={workdir / 'fixgate.toml'}",
            f"--gate-report-dir={report_dir}",
            "--",
            f"--rootdir={REPO}",
            *QUIET_PLUGINS,
        ],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    verdict = json.loads((report_dir / "production-latest.json").read_text())
    return done.returncode, verdict


def test_sigkill_then_resume_and_replay_agree(tmp_path: Path, reference) -> None:
    workdir = tmp_path / "live"
    workdir.mkdir()
    (workdir / "fixgate.toml").write_text(CONFIG.format(base_url=reference.base_url))
    report_dir = workdir / "reports"
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "--gate=production",
        "--watch=12s",
        f"--gate-report-dir={report_dir}",
        f"--rootdir={REPO}",
        *QUIET_PLUGINS,
    ]
    proc = subprocess.Popen(
        argv,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        samples: Path | None = None
        while time.monotonic() < deadline:
            found = list(report_dir.glob("*.samples.jsonl")) if report_dir.is_dir() else []
            if found and len(found[0].read_bytes().split(b"\n")) >= 5:  # header + 3 ticks
                samples = found[0]
                break
            time.sleep(0.1)
        assert samples is not None, "the watch wrote no samples"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    killed = _tick_lines(samples)
    assert [t["t"] for t in killed] == [float(i) for i in range(len(killed))]
    assert len(killed) < 12  # it really was cut short
    assert not (report_dir / "production-latest.json").exists()  # no verdict was filed

    # Errors from now on: the resumed watch must roll back, 2 s after the first bad tick.
    reference.set_faults(error_ratio=1.0)
    resumed = run_gate(
        workdir,
        CONFIG.format(base_url=reference.base_url),
        "--watch=12s",
        f"--watch-resume={samples}",
        env_name="production",
    )
    assert resumed.exit_code == 10, resumed.output
    gate = resumed.gate("watch")
    assert gate["evidence"]["watch"]["replayed_ticks"] == len(killed)
    after = _tick_lines(samples)
    assert after[: len(killed)] == killed  # appended, nothing rewritten
    assert [t["t"] for t in after] == [float(i) for i in range(len(after))]
    alert = gate["evidence"]["alerts"][0]
    first_bad = next(t["t"] for t in after if t["readings"]["probe"]["error_rate"]["rate"][0])
    assert first_bad == len(killed)  # the time already watched counted
    assert alert["t"] == first_bad + 2

    reference.set_faults()
    code, verdict = _replay(workdir, samples, tmp_path / "replayed")
    assert code == 10
    assert verdict["decision"] == "ROLLBACK"
    replayed = next(g for g in verdict["gates"] if g["id"] == "watch")
    assert replayed["evidence"]["alerts"] == gate["evidence"]["alerts"]
    assert replayed["evidence"]["watch"]["mode"] == "replay"
    assert "rollback" not in replayed["evidence"]  # a replay runs no command


def test_replay_with_changed_thresholds_and_of_a_cut_file(tmp_path: Path) -> None:
    workdir = tmp_path
    (workdir / "fixgate.toml").write_text(CONFIG.format(base_url="http://127.0.0.1:9"))
    samples = tmp_path / "production-20260101T000000Z.samples.jsonl"
    header = {"fixgate_watch": 1, "env": "production", "interval_s": 1.0, "duration_s": 5.0}
    ticks = [
        {"t": float(i), "readings": {"probe": {"error_rate": {"rate": [int(i >= 2), 1]}}}}
        for i in range(6)
    ]
    body = "\n".join(json.dumps(x) for x in [header, *ticks]) + "\n"
    samples.write_text(body)
    code, verdict = _replay(workdir, samples, tmp_path / "r1")
    assert (code, verdict["decision"]) == (10, "ROLLBACK")
    # The same file under a looser rule (for 10 s) confirms: thresholds may change.
    (workdir / "fixgate.toml").write_text(
        CONFIG.format(base_url="http://127.0.0.1:9").replace('for = "2s"', 'for = "10s"')
    )
    code, verdict = _replay(workdir, samples, tmp_path / "r2")
    assert (code, verdict["decision"]) == (0, "PROMOTE")
    # A file cut short (a kill) with no alert yet is no confirmation.
    samples.write_text(body.split("\n", 3)[0] + "\n" + body.split("\n")[1] + '\n{"t": 1')
    code, verdict = _replay(workdir, samples, tmp_path / "r3")
    assert (code, verdict["decision"]) == (1, "HOLD")
    # A file with its middle cut out (the first and last ticks kept) is no confirmation.
    samples.write_text("\n".join(json.dumps(x) for x in [header, ticks[0], ticks[5]]) + "\n")
    (workdir / "fixgate.toml").write_text(CONFIG.format(base_url="http://127.0.0.1:9"))
    code, verdict = _replay(workdir, samples, tmp_path / "r4")
    assert (code, verdict["decision"]) == (1, "HOLD")
    gate = next(g for g in verdict["gates"] if g["id"] == "watch")
    assert "2 of the 6 ticks due were sampled" in gate["reason"]


def test_replay_of_a_file_without_a_usable_schedule_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "fixgate.toml").write_text(CONFIG.format(base_url="http://127.0.0.1:9"))
    samples = tmp_path / "production-20260101T000000Z.samples.jsonl"
    header = {"fixgate_watch": 1, "env": "production", "interval_s": 0, "duration_s": 5.0}
    tick = {"t": 0.0, "readings": {"probe": {"error_rate": {"rate": [0, 1]}}}}
    samples.write_text("\n".join(json.dumps(x) for x in [header, tick]) + "\n")
    done = subprocess.run(
        [
            *(sys.executable, "-m", "pytest_fixgate.cli", "replay", str(samples)),
            *(f"--gate-config={tmp_path / 'fixgate.toml'}", f"--gate-report-dir={tmp_path}"),
            *("--", f"--rootdir={REPO}", *QUIET_PLUGINS),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 4, done.stdout + done.stderr
    assert "no usable interval_s and duration_s (0, 5.0)" in done.stdout + done.stderr


def test_resuming_a_complete_samples_file_with_the_target_down_is_a_hold(
    tmp_path: Path, reference
) -> None:
    # A whole watch, recorded live while the target was healthy: PROMOTE.
    workdir = tmp_path / "live"
    config = CONFIG.format(base_url=reference.base_url)
    live = run_gate(workdir, config, "--watch=3s", env_name="production")
    assert live.exit_code == 0, live.output
    samples = Path(live.gate("watch")["evidence"]["watch"]["samples_file"])
    recorded = samples.read_bytes()
    # Later, with the target down, the complete file is "resumed": nothing is left to
    # sample, so nothing is measured now; it must not PROMOTE on the file alone.
    from pytest_fixgate.reference import free_port

    down = CONFIG.format(base_url=f"http://127.0.0.1:{free_port()}")
    resumed = run_gate(
        tmp_path / "resume", down, "--watch=3s", f"--watch-resume={samples}", env_name="production"
    )
    assert resumed.exit_code == 1, resumed.output
    assert resumed.verdict["decision"] == "HOLD"
    gate = resumed.gate("watch")
    assert gate["outcome"] == "ERROR"
    assert gate["reason"].startswith("nothing to resume: the samples file")
    assert samples.read_bytes() == recorded  # nothing appended or rewritten
