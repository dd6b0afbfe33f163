"""How much time `pytest --gate=demo` spends beyond the gates' own I/O.

Starts the demo stack once (SecantusDB, redis-server, the reference
service), then runs the gate suite RUNS times serially and RUNS times with
`-n 2`, and prints the median of:

    wall       the whole `python -m pytest --gate=demo` process, start to exit
    gate I/O   the time the gates spent measuring (sum of the gates' call
               durations from the JSON verdict; under -n 2 divided by 2,
               the best the two workers can share it)
    overhead   wall - gate I/O: interpreter and plugin start-up, collection,
               aggregation, report writing

Usage: python benchmarks/overhead.py [RUNS]     (default 7)
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pytest_fixgate.demo import FAULTS, demo_config, demo_stack, gate_argv, suite_dir


def one_run(
    argv: list[str], env: dict[str, str], report_dir: Path, workers: int
) -> tuple[float, float]:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"gate run failed ({done.returncode}):\n{done.stdout[-2000:]}")
    verdict = json.loads((report_dir / "demo-latest.json").read_text())
    io = sum(g["duration_s"] for g in verdict["gates"]) / max(workers, 1)
    return wall, io


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    suite = suite_dir()
    with tempfile.TemporaryDirectory() as tmp, demo_stack(FAULTS["none"]) as (url, extra_env):
        config = Path(tmp) / "fixgate.toml"
        config.write_text(demo_config(url, load=False))  # the 6 health and dependency gates
        env = {**os.environ, **extra_env}
        report_dir = Path(tmp) / "reports"
        print(
            f"{'mode':<8} {'wall s':>8} {'gate I/O s':>11} {'overhead s':>11}   (median of {runs})"
        )
        for label, extra, workers in (("-n 0", [], 1), ("-n 2", ["-n", "2"], 2)):
            argv = gate_argv(suite, config, report_dir, extra)
            one_run(argv, env, report_dir, workers)  # warm the page cache and .pyc files
            samples = [one_run(argv, env, report_dir, workers) for _ in range(runs)]
            wall = statistics.median(s[0] for s in samples)
            io = statistics.median(s[1] for s in samples)
            over = statistics.median(s[0] - s[1] for s in samples)
            print(f"{label:<8} {wall:>8.3f} {io:>11.3f} {over:>11.3f}")
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        print(f"(a bare `python -c pass` takes {time.perf_counter() - start:.3f} s here)")


if __name__ == "__main__":
    main()
