"""Requests per second with remote Locust workers: fixgate's master + `fixgate load-worker`
processes vs plain Locust's master + the same number of plain workers.

Against the minimal canned-response server of ``load_overhead.py`` (so the
load generator, not the server, should be the bottleneck), the same
flat-out FastHttpUser scenario runs, for N = 1, 2, 4 workers:

    plain  xN   python -m locust --master + N `python -m locust --worker` (nothing added)
    local  xN   fixgate's LoadRunner with workers = N (local workers, capture module)
    remote xN   RemoteLoadRunner (the gate's master, remote_workers = N) + N
                `fixgate load-worker` processes connecting over 127.0.0.1

each REPS times, interleaved; prints the median requests/s, the ratios
remote / plain (target >= 0.9x) and remote / local per N and the machine's core count, which
is what limits scaling here: every worker, the master and the server share
the same cores.

Usage: python benchmarks/remote_workers.py [SECONDS] [REPS]   (default 6 3)

On a busy machine requests/s swing by 2x from run to run; it also prints the
Locust processes' CPU time per request (getrusage of the reaped processes, start-up
included), which a busy neighbour barely moves.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load_overhead import (
    SCENARIO,
    SERVER,
    USERS,
    children_cpu_s,
    free_port,
    plain,
    wait_for_port,
)

from pytest_fixgate.kinds.load.remote import RemoteLoadRunner, worker_command
from pytest_fixgate.kinds.load.remote_workers import RemoteWorkers
from pytest_fixgate.kinds.load.request import LoadRequest
from pytest_fixgate.kinds.load.results import LoadRun
from pytest_fixgate.kinds.load.runner import LoadRunner

COUNTS = (1, 2, 4)


def _check(run: LoadRun) -> None:
    # A request Locust kills in flight at stop (a user it stops in its wait, already in
    # its next request) is "unfinished": rare, with local and remote workers alike.
    others = {k: v for k, v in run.overall.failures.items() if v and k != "unfinished"}
    assert not others, run.overall.failures


def local(host: str, scenario: Path, seconds: int, out: Path, workers: int) -> tuple[float, int]:
    """fixgate's LoadRunner with N local workers; (requests/s, requests)."""
    spec = LoadRequest(
        host=host,
        locustfile=scenario,
        users=USERS,
        spawn_rate=100,
        duration_s=seconds,
        results_dir=out,
        workers=workers,
    )
    run = LoadRunner(spec).run()
    _check(run)
    return run.overall.rps, run.overall.requests


def remote(host: str, scenario: Path, seconds: int, out: Path, workers: int) -> tuple[float, int]:
    """The gate's master with N `fixgate load-worker` processes; (requests/s, requests)."""
    port = free_port()
    spec = LoadRequest(
        host=host,
        locustfile=scenario,
        users=USERS,
        spawn_rate=100,
        duration_s=seconds,
        results_dir=out,
    )
    procs = []
    with (out.parent / f"{out.name}-workers.log").open("wb") as log:
        for i in range(workers):
            argv, env = worker_command(
                f"127.0.0.1:{port}", scenario, capture_dir=out.parent / f"{out.name}-w{i}"
            )
            Path(env["FIXGATE_CAPTURE_DIR"]).mkdir(parents=True)
            procs.append(subprocess.Popen(argv, env={**os.environ, **env}, stdout=log, stderr=log))
        try:
            run = RemoteLoadRunner(spec, RemoteWorkers(workers, "127.0.0.1", port, 60)).run()
        finally:
            for proc in procs:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
    _check(run)
    assert not run.lost_workers, run.lost_workers
    return run.overall.rps, run.overall.requests


def main(seconds: int, reps: int) -> int:
    rates: dict[tuple[str, int], list[float]] = {}
    cpu_us: dict[tuple[str, int], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="fixgate-bench-remote-") as tmp:
        work = Path(tmp)
        scenario = work / "scenario.py"
        scenario.write_text(textwrap.dedent(SCENARIO))
        server_py = work / "server.py"
        server_py.write_text(textwrap.dedent(SERVER))
        port = free_port()
        server = subprocess.Popen([sys.executable, str(server_py), str(port)])
        try:
            wait_for_port(port)
            host = f"http://127.0.0.1:{port}"
            for rep in range(reps):
                for n in COUNTS:
                    for name, fn in (("plain", plain), ("local", local), ("remote", remote)):
                        out = work / f"{name}{n}-{rep}"
                        if name == "remote":
                            out.mkdir()
                        before = children_cpu_s()
                        rps, requests = fn(host, scenario, seconds, out, n)
                        # Reaped Locust processes' CPU (start-up included): a busy
                        # neighbour moves this far less than requests/s.
                        per_request = (children_cpu_s() - before) / requests * 1e6
                        rates.setdefault((name, n), []).append(rps)
                        cpu_us.setdefault((name, n), []).append(per_request)
                        print(
                            f"rep {rep + 1}/{reps} {name:<6} x{n} {rps:8.0f} requests/s "
                            f"{per_request:6.1f} us CPU/request ({requests} requests)",
                            flush=True,
                        )
        finally:
            server.kill()
            server.wait()
    median = {key: statistics.median(values) for key, values in rates.items()}
    cpu = {key: statistics.median(values) for key, values in cpu_us.items()}
    print(f"\n{os.cpu_count()} cores, {USERS} users flat out, {seconds} s runs, median of {reps}")
    print("workers  plain rps  local rps  remote rps  remote/plain  remote/local")
    worst = float("inf")
    for n in COUNTS:
        plain_rps, local_rps, remote_rps = (median[(k, n)] for k in ("plain", "local", "remote"))
        ratio = remote_rps / plain_rps
        worst = min(worst, ratio)
        print(
            f"{n:>7}  {plain_rps:9.0f}  {local_rps:9.0f}  {remote_rps:10.0f}  {ratio:11.3f}x"
            f"  {remote_rps / local_rps:11.3f}x"
        )
    print("\nCPU per request (us): workers  plain  local  remote  plain/remote")
    for n in COUNTS:
        p, lo, r = (cpu[(k, n)] for k in ("plain", "local", "remote"))
        print(f"{n:>33}  {p:5.0f}  {lo:5.0f}  {r:6.0f}  {p / r:11.3f}x")
    print(f"\nworst ratio {worst:.3f}x (target >= 0.9x)")
    return 0 if worst >= 0.9 else 1


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    sys.exit(main(*(args + [6, 3][len(args) :])))
