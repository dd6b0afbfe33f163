"""Time to decision and cost per tick of a live watch against the reference service.

Starts SecantusDB, redis-server and the reference service, then:

1. Time to decision, RUNS times per schedule: `pytest --gate=production --watch=90s`
   with one SEV-1 rule `error_rate > 5%` held `for` F at an interval I (SCHEDULES);
   a few ticks in, at a random phase of the interval, errors are switched on
   (`error_ratio = 1`). Measured: from the fault's onset to the process's exit
   with ROLLBACK (10), rollback command (`true`) and reports included, divided by the
   rule's theoretical minimum (its `for` plus one interval). Target: <= 1.1.
2. CPU per tick: the CPU time (user + system, all threads) of 40 ticks of the
   live loop in this process (probe, fsync'd samples line, every rule, the live
   line), divided by 40.

Usage: python benchmarks/watch_decision.py [RUNS]   (default 5)
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pytest_fixgate.reference import mongo_server, redis_server, reference_service

SCHEDULES = tuple(
    tuple(float(x) for x in pair.split(":"))
    for pair in os.environ.get("WATCH_SCHEDULES", "1:5,2:20").split(",")
)  # (interval, for) in seconds
CONFIG = """
[env.production]
base_url = "{url}"
[env.production.watch]
interval = "{interval}s"
rollback_command = ["true"]
[[env.production.watch.rules]]
id = "errors"
severity = "SEV-1"
when = "error_rate > 5%"
for = "{for_s}s"
"""


def argv(folder: Path, duration: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pytest",
        "--gate=production",
        f"--watch={duration}",
        f"--gate-config={folder / 'fixgate.toml'}",
        f"--gate-report-dir={folder / 'reports'}",
        "-p",
        "no:cacheprovider",
        # Test-only plugins: hypothesis's imports hypothesis at exit (~0.6 s, after the
        # decision); a production watch host does not have it.
        "-p",
        "no:hypothesispytest",
        "-p",
        "no:benchmark",
        "-q",
    ]


def time_to_decision(service: Any, folder: Path, interval_s: float, for_s: float) -> float:
    service.set_faults()
    stderr_log = (folder / "watch-stderr.log").open("w")
    proc = subprocess.Popen(
        argv(folder, "90s"), cwd=folder, stdout=subprocess.DEVNULL, stderr=stderr_log
    )
    reports = folder / "reports"
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"the watch ended ({proc.returncode}) before the fault")
        found = list(reports.glob("*.samples.jsonl")) if reports.is_dir() else []
        if found and len(found[0].read_text().splitlines()) >= 4:  # header + 3 ticks
            break
        time.sleep(0.02)
    time.sleep(random.uniform(0, interval_s))
    service.set_faults(error_ratio=1.0)
    onset = time.monotonic()
    code = proc.wait()
    elapsed = time.monotonic() - onset
    if code != 10:
        raise SystemExit(f"expected ROLLBACK (10), got {code}")
    for path in found:
        path.unlink()
    return elapsed


def cpu_per_tick(service: Any, folder: Path, ticks: int = 40) -> float:
    """CPU seconds per tick, in-process: sample (threads included), record with fsync,
    evaluate, print the live line; the interval is short so the run is quick."""
    from pytest_fixgate.config.loader import load_config
    from pytest_fixgate.redaction import Redactor
    from pytest_fixgate.watch.engine import Engine
    from pytest_fixgate.watch.live import LiveLine
    from pytest_fixgate.watch.sampler import run_loop
    from pytest_fixgate.watch.samples import SamplesWriter
    from pytest_fixgate.watch.sources import open_sources

    env = load_config(folder / "fixgate.toml").envs["production"]
    cfg = env.section("watch")
    sources = open_sources(cfg, env, Redactor())
    writer = SamplesWriter.create(folder / "cpu.samples.jsonl", {"env": "production"})
    with open(os.devnull, "w") as sink:
        line = LiveLine("production", ticks * 0.1, sink)
        started = time.process_time()
        run_loop(
            engine=Engine(cfg.rules),
            sources=sources,
            writer=writer,
            duration_s=(ticks - 1) * 0.1,
            interval_s=0.1,
            redactor=Redactor(),
            on_tick=line,
        )
        cpu = time.process_time() - started
    writer.close()
    for source in sources.values():
        source.close()
    return cpu / ticks


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with (
        tempfile.TemporaryDirectory() as tmp,
        mongo_server() as mongo,
        redis_server() as redis,
        reference_service(mongo.uri, redis.url, admin_token="bench", seed=True) as service,
    ):
        folder = Path(tmp)
        for interval_s, for_s in SCHEDULES:
            (folder / "fixgate.toml").write_text(
                CONFIG.format(url=service.base_url, interval=interval_s, for_s=for_s)
            )
            minimum = for_s + interval_s
            seconds = [time_to_decision(service, folder, interval_s, for_s) for _ in range(runs)]
            ratios = [s / minimum for s in seconds]
            print(
                f"for = {for_s:g} s, interval {interval_s:g} s (minimum {minimum:g} s), "
                f"{runs} runs: " + ", ".join(f"{s:.2f}" for s in seconds) + " s; "
                f"ratio median {statistics.median(ratios):.3f}, max {max(ratios):.3f}"
            )
        service.set_faults()
        print(f"CPU per tick (1 probe, in-process): {cpu_per_tick(service, folder) * 1000:.2f} ms")


if __name__ == "__main__":
    main()
