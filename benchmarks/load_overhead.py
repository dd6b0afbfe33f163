"""What exact latency recording costs: requests/s of fixgate's load phase vs plain Locust.

Against a minimal HTTP server on 127.0.0.1 (asyncio, one canned response,
so the load generator and not the server is the bottleneck), the same
flat-out FastHttpUser scenario runs as:

    plain       python -m locust --headless -f scenario.py (nothing added)
    fixgate     LoadRunner(spec).run(): scenario.py plus the capture module
    plain  x2   a Locust master and 2 local workers, nothing added
    fixgate x2  LoadRunner with workers=2

each REPS times, interleaved, and prints the median requests/s and the
ratios: the median of the interleaved pairs, with their spread (targets:
fixgate / plain >= 0.9; fixgate x2 close to 2x plain when the machine has a
core per worker plus one for the server). On a shared
machine requests/s swing by 20% from run to run, so it also prints the
load processes' CPU time per request (from getrusage of the reaped Locust
processes, start-up included), which a busy neighbour barely moves: the
recording's cost is the difference. Last, it times the capture alone in a
Locust process: events.request fired 200,000 times with and without the
capture's listener (the recording's own CPU per request, noise-free).

Usage: python benchmarks/load_overhead.py [SECONDS] [REPS]   (default 10 3)
"""

from __future__ import annotations

import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from pytest_fixgate.kinds.load.request import LoadRequest
from pytest_fixgate.kinds.load.runner import LoadRunner

USERS = 20

SCENARIO = """
from locust import FastHttpUser, constant, task


class Ready(FastHttpUser):
    wait_time = constant(0)

    @task
    def ready(self):
        self.client.get("/api/health/ready")
"""

SERVER = """
import asyncio
import sys

BODY = b'{"ready": true}'
RESPONSE = (
    b"HTTP/1.1 200 OK\\r\\nContent-Type: application/json\\r\\n"
    b"Content-Length: %d\\r\\n\\r\\n%s" % (len(BODY), BODY)
)


class Canned(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.buffer = transport, b""

    def data_received(self, data):
        self.buffer += data
        n = self.buffer.count(b"\\r\\n\\r\\n")
        if n:
            self.buffer = self.buffer[self.buffer.rfind(b"\\r\\n\\r\\n") + 4 :]
            self.transport.write(RESPONSE * n)


async def main(port):
    server = await asyncio.get_running_loop().create_server(Canned, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


asyncio.run(main(int(sys.argv[1])))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not start")


def locust_json_rps(path: Path) -> tuple[int, float]:
    entries = json.loads(path.read_text())
    n = sum(e["num_requests"] for e in entries)
    start = min(e["start_time"] for e in entries)
    last = max(e["last_request_timestamp"] for e in entries)
    return n, n / (last - start)


def plain(host: str, scenario: Path, seconds: int, out: Path, workers: int) -> tuple[float, int]:
    """Plain Locust, nothing added; (requests/s, requests) from its own JSON."""
    out.mkdir()
    base = [sys.executable, "-m", "locust", "-f", str(scenario), "--loglevel", "WARNING"]
    main = [
        *base,
        *("--headless", "--only-summary", "-H", host, "-u", str(USERS), "-r", "100"),
        *("-t", f"{seconds}s", "--json-file", str(out / "locust")),
    ]
    procs = []
    if workers:
        port = free_port()
        main += ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port)]
        main += ["--expect-workers", str(workers)]
        worker = [*base, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
    log = (out / "locust.log").open("wb")
    try:
        procs.append(subprocess.Popen(main, stdout=log, stderr=log))
        for _ in range(workers):
            procs.append(subprocess.Popen(worker, stdout=log, stderr=log))
        for proc in procs:
            proc.wait(timeout=seconds + 60)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        log.close()
    n, rps = locust_json_rps(out / "locust.json")
    return rps, n


def fixgate(host: str, scenario: Path, seconds: int, out: Path, workers: int) -> tuple[float, int]:
    """fixgate's load phase; (requests/s over the measured load time, requests)."""
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
    assert run.overall.failures_total == 0, run.overall.failures
    return run.overall.rps, run.overall.requests


MICRO = """
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

from locust import events
from locust.env import Environment

spec = importlib.util.spec_from_file_location("fixgate_capture", sys.argv[1])
capture = importlib.util.module_from_spec(spec)
sys.modules["fixgate_capture"] = capture
spec.loader.exec_module(capture)
env = Environment(events=events)
env.create_local_runner()
N = 200_000


class Response:
    status_code = 200
    content = b'{"ready": true}'


def fire_all():
    start, cpu = time.time(), time.process_time()
    for i in range(N):
        env.events.request.fire(
            request_type="GET", name="/api/health/ready", response_time=12.3 + (i % 1000) / 7,
            response_length=15, response=Response, context={}, exception=None,
            start_time=start + i * 1e-5, url="http://127.0.0.1/api/health/ready",
        )
    return time.process_time() - cpu


base = fire_all()
c = capture.Capture(env, Path(tempfile.mkdtemp()))
c.t0, c.step_s = time.monotonic(), 5.0  # steps run on the monotonic clock
env.events.request.add_listener(c.on_request)
with_capture = fire_all()
cpu = time.process_time()
for endpoint in c.endpoints.values():
    endpoint.windows.total().count  # the batched histogram work
c.take_delta()  # the progress line's share
batched = time.process_time() - cpu
print((with_capture - base) / N * 1e6, batched / N * 1e6)
"""


def capture_cost_us(work: Path) -> tuple[float, float]:
    """(request-path, batched) CPU microseconds per request of the capture, in a Locust process."""
    from pytest_fixgate.kinds.load.runner import capture_module_path

    script = work / "micro.py"
    script.write_text(textwrap.dedent(MICRO))
    out = subprocess.run(
        [sys.executable, str(script), str(capture_module_path())],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout.split()
    return float(out[0]), float(out[1])


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _paired(numerators: list[float], denominators: list[float]) -> tuple[float, float, float]:
    ratios = [n / d for n, d in zip(numerators, denominators, strict=True)]
    return statistics.median(ratios), min(ratios), max(ratios)


def main(seconds: int, reps: int) -> int:
    configs: dict[str, tuple[Callable[..., tuple[float, int]], int]] = {
        "plain": (plain, 0),
        "fixgate": (fixgate, 0),
        "plain x2": (plain, 2),
        "fixgate x2": (fixgate, 2),
    }
    rates: dict[str, list[float]] = {name: [] for name in configs}
    cpu_us: dict[str, list[float]] = {name: [] for name in configs}
    with tempfile.TemporaryDirectory(prefix="fixgate-bench-") as tmp:
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
                for name, (fn, workers) in configs.items():
                    out = work / f"{name.replace(' ', '')}-{rep}"
                    before = children_cpu_s()
                    rps, requests = fn(host, scenario, seconds, out, workers)
                    per_request = (children_cpu_s() - before) / requests * 1e6
                    rates[name].append(rps)
                    cpu_us[name].append(per_request)
                    print(
                        f"rep {rep + 1}/{reps} {name:<11} {rps:8.0f} requests/s"
                        f"  {per_request:6.1f} us CPU/request",
                        flush=True,
                    )
        finally:
            server.kill()
            server.wait()
        hot, batched = capture_cost_us(work)
    rate = {name: statistics.median(values) for name, values in rates.items()}
    cpu = {name: statistics.median(values) for name, values in cpu_us.items()}
    print(f"\n{os.cpu_count()} cores, {USERS} users flat out, {seconds} s runs, median of {reps}")
    for name in configs:
        print(f"  {name:<11} {rate[name]:8.0f} requests/s  {cpu[name]:6.1f} us CPU/request")
    # Each rep runs plain then fixgate back to back: the ratio of one pair sees the same
    # machine load, so the ratios are the median of the pairs (with their spread), not a
    # ratio of medians taken minutes apart.
    single, single_lo, single_hi = _paired(rates["fixgate"], rates["plain"])
    double, double_lo, double_hi = _paired(rates["fixgate x2"], rates["plain x2"])
    scale = rate["fixgate x2"] / rate["plain"]
    cpu_single, cpu_lo, cpu_hi = _paired(cpu_us["plain"], cpu_us["fixgate"])
    cpu_double, cpu2_lo, cpu2_hi = _paired(cpu_us["plain x2"], cpu_us["fixgate x2"])
    print(
        f"\nfixgate / plain            {single:.3f}x requests/s ({single_lo:.3f}-{single_hi:.3f})"
        "   (target >= 0.9x; median of interleaved pairs, min-max)"
    )
    print(f"{'':27}{cpu_single:.3f}x by CPU per request ({cpu_lo:.3f}-{cpu_hi:.3f})")
    print(
        f"fixgate x2 / plain x2      {double:.3f}x requests/s ({double_lo:.3f}-{double_hi:.3f})"
        "   (the capture's cost with workers)"
    )
    print(f"{'':27}{cpu_double:.3f}x by CPU per request ({cpu2_lo:.3f}-{cpu2_hi:.3f})")
    print(f"fixgate x2 / plain         {scale:.3f}x   (scaling; ~2x needs a core per worker)")
    share = (hot + batched) / cpu["plain"]
    print(
        f"\ncapture alone: {hot:.2f} us per request on the request path + {batched:.2f} us "
        f"batched = {share:.1%} of plain Locust's {cpu['plain']:.0f} us CPU per request"
    )
    load1, load5, _ = os.getloadavg()
    print(
        f"load average {load1:.1f} (5 min: {load5:.1f}) on {os.cpu_count()} cores at the end"
        + ("  -- a loaded machine: the ratios swing with the other jobs" if load5 > 1.5 else "")
    )
    return 0 if min(single, cpu_single) >= 0.9 else 1


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    sys.exit(main(*(args + [10, 3][len(args) :])))
