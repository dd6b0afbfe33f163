"""How soon a hopeless load run stops once its FAIL is certain (abort on fail).

Starts the reference service (SecantusDB, redis-server, the service) and runs
5-minute loads through ``LoadRunner`` that cannot pass:

    errors     60% HTTP 500s against error_rate < 1%
    refused    a port nobody listens on (every request fails to connect)
    hang       the service stops answering 4.5 s in; window 2 s, p(95) < 1500ms

For each it prints when the capture module saw the FAIL become certain
(``aborted.at_s``, seconds into the load), when the load process had stopped
and when the runner returned, and the figure that matters: seconds from the
point of certainty to the end of the run (target: at most 10 s; without abort
on fail it would be the rest of the 300 s).

The point of certainty is taken where the capture module detected it: it
checks once a second, so the true point is at most 1 s earlier.

Usage: python benchmarks/abort_on_fail.py
"""

from __future__ import annotations

import sys
import tempfile
import textwrap
import time
from pathlib import Path

from pytest_fixgate.kinds.load.request import LoadRequest
from pytest_fixgate.kinds.load.runner import LoadRunner
from pytest_fixgate.reference import free_port, mongo_server, redis_server, reference_service

PLAIN = """
from locust import FastHttpUser, constant, task

class Plain(FastHttpUser):
    wait_time = constant(0)

    @task
    def ready(self):
        self.client.get("/api/health/ready", name="/api/health/ready")
"""

HANG = """
import json
import urllib.request

import gevent
from locust import HttpUser, constant, events, task


@events.test_start.add_listener
def _hang_later(environment, **kw):
    def hang():
        body = json.dumps({"latency_ms": 60000, "paths": ["/api/health/ready"]}).encode()
        request = urllib.request.Request(
            environment.host + "/__fixgate/faults", data=body, method="PUT"
        )
        urllib.request.urlopen(request, timeout=5).read()

    gevent.spawn_later(4.5, hang)


class Ready(HttpUser):
    wait_time = constant(0.01)

    @task
    def ready(self):
        self.client.get("/api/health/ready", name="/api/health/ready")
"""

ERROR_RATE = (("<", 0.01, "error_rate < 1%"),)
P95 = (("<", 1500.0, "p(95) < 1500ms"),)


def run(name: str, host: str, text: str, workdir: Path, **spec_fields: object) -> float:
    locustfile = workdir / f"{name}.py"
    locustfile.write_text(textwrap.dedent(text), encoding="utf-8")
    spec = LoadRequest(
        host=host,
        locustfile=locustfile,
        users=4,
        spawn_rate=4,
        duration_s=300,
        results_dir=workdir / name,
        abort_error_rate=ERROR_RATE,
        **spec_fields,  # type: ignore[arg-type]
    )
    started = time.monotonic()
    result = LoadRunner(spec).run()
    returned = time.time()
    wall = time.monotonic() - started
    if result.aborted is None:
        print(f"{name:8}  not aborted: ran {result.duration_s:.1f} s")
        return float("inf")
    certain = result.started.timestamp() + result.aborted.at_s
    after = returned - certain
    print(
        f"{name:8}  certain at {result.aborted.at_s:5.1f} s | load stopped at "
        f"{result.duration_s:5.1f} s | runner returned after {wall:5.1f} s | "
        f"{after:4.1f} s from certainty to the end | {result.aborted.reason}"
    )
    return after


def main() -> int:
    with (
        tempfile.TemporaryDirectory() as tmp,
        mongo_server() as mongo,
        redis_server() as redis,
        reference_service(mongo.uri, redis.url) as service,
    ):
        workdir = Path(tmp)
        service.set_faults(error_ratio=0.6, paths=["/api/health/ready"])
        figures = [run("errors", service.base_url, PLAIN, workdir)]
        figures.append(run("refused", f"http://127.0.0.1:{free_port()}", PLAIN, workdir))
        service.set_faults()
        figures.append(
            run(
                "hang",
                service.base_url,
                HANG,
                workdir,
                window_s=2,
                request_timeout_s=2.0,
                abort_window_p95_ms=P95,
            )
        )
        service.set_faults()
    worst = max(figures)
    print(f"worst: {worst:.1f} s from certainty to the end of a 300 s run (target <= 10 s)")
    return 0 if worst <= 10 else 1


if __name__ == "__main__":
    sys.exit(main())
