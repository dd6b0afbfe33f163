"""How much time `pytest --gate=demo` spends beyond the gates' own I/O, and beyond a
plain pytest start in the same environment.

Starts the demo stack once (SecantusDB, redis-server, the reference service), then,
serially and with `-n 2`, runs RUNS interleaved pairs of

    gate run   `python -m pytest -p fixgate --gate=demo` on the 6 health and dependency
               gates, as the README says to type it: no `-p no:` flags (fixgate, loaded
               first by `-p fixgate`, keeps the test-only plugins installed in this
               environment from loading; pytest_fixgate/startup.py)
    plain      `python -m pytest` in an empty folder (collects nothing, exit 5), with
               the same `-n` and the test-only plugins off (`-p no:hypothesispytest
               -p no:benchmark -p no:locust -p no:anyio`): pytest's own start-up
    plain+     the same with every installed plugin loaded (what a plain pytest
               start costs in this environment; shown for comparison)

and prints the medians of:

    wall       the gate run's process, start to exit
    gate I/O   the time the gates spent measuring (sum of the gates' call durations
               from the JSON verdict; under -n 2 divided by 2, the best two workers
               can share it)
    plain      the plain pytest process
    overhead   wall - gate I/O - plain: what fixgate adds to pytest's own start-up
               (its plugin, collection of the gate suite, aggregation, reports)

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

from pytest_fixgate.demo import FAULTS, demo_config, demo_stack, suite_dir
from pytest_fixgate.startup import TEST_ONLY_PLUGINS as TEST_ONLY


def _timed(argv: list[str], env: dict[str, str], cwd: Path, ok: set[int]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode not in ok:
        raise SystemExit(f"{argv[3:]} exited {done.returncode}:\n{done.stdout[-2000:]}")
    return wall


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    suite = suite_dir()
    with tempfile.TemporaryDirectory() as tmp, demo_stack(FAULTS["none"]) as (url, extra_env):
        config = Path(tmp) / "fixgate.toml"
        config.write_text(demo_config(url, load=False))  # the 6 health and dependency gates
        env = {**os.environ, **extra_env}
        env.pop("PYTEST_ADDOPTS", None)
        report_dir = Path(tmp) / "reports"
        empty = Path(tmp) / "empty"
        empty.mkdir()
        print(
            f"{'mode':<6} {'wall s':>7} {'gate I/O s':>11} {'plain s':>8} {'overhead s':>11}"
            f" {'(min-max)':>13} {'plain+ s':>8}   (median of {runs} interleaved runs)"
        )
        for label, extra, workers in (("-n 0", [], 1), ("-n 2", ["-n", "2"], 2)):
            gate = [
                *(sys.executable, "-m", "pytest", "-p", "fixgate", str(suite), "--gate=demo"),
                *(f"--gate-config={config}", f"--gate-report-dir={report_dir}"),
                *(f"--rootdir={suite.parent}", "-p", "no:cacheprovider", *extra),
            ]
            plain_all = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra]
            plain = [*plain_all, *(a for n in TEST_ONLY for a in ("-p", f"no:{n}"))]
            _timed(gate, env, Path(tmp), {0})  # warm the page cache and .pyc files
            _timed(plain, env, empty, {5})
            samples = []
            for _ in range(runs):
                wall = _timed(gate, env, Path(tmp), {0})
                verdict = json.loads((report_dir / "demo-latest.json").read_text())
                io = sum(g["duration_s"] for g in verdict["gates"]) / workers
                bare = _timed(plain, env, empty, {5})
                samples.append((wall, io, bare, _timed(plain_all, env, empty, {5})))
            over = [w - io - p for w, io, p, _ in samples]
            print(
                f"{label:<6} {statistics.median(s[0] for s in samples):>7.3f}"
                f" {statistics.median(s[1] for s in samples):>11.3f}"
                f" {statistics.median(s[2] for s in samples):>8.3f}"
                f" {statistics.median(over):>11.3f} {min(over):>6.3f}-{max(over):.3f}"
                f" {statistics.median(s[3] for s in samples):>8.3f}"
            )
        load1, _, _ = os.getloadavg()
        print(f"(load average {load1:.1f} on {os.cpu_count()} cores while measuring)")


if __name__ == "__main__":
    main()
