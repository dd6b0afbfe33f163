"""How close fixgate's p95 is to the true p95, beside Locust's own figure.

Starts the reference service (SecantusDB, redis-server, the service), and
for each latency distribution set through its fault switches runs a short
load through ``LoadRunner``. The scenario's locustfile also keeps every
successful request's raw ``response_time`` (in the Locust process, as a
team could): the exact nearest-rank p95 of those raw values is the truth.
Prints, per scenario, the relative error of

    fixgate   the HdrHistogram percentile (target: within 0.5%)
    locust    Locust's own p95 from its rounded buckets (--json-file)

and whether fixgate's 95% interval covers the truth.

Usage: python benchmarks/load_accuracy.py [SECONDS_PER_SCENARIO]   (default 8)
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
import textwrap
from pathlib import Path

from pytest_fixgate.kinds.load.request import LoadRequest
from pytest_fixgate.kinds.load.runner import LoadRunner
from pytest_fixgate.reference import mongo_server, redis_server, reference_service

SCENARIOS = [
    # (latency_distribution, users)
    ("fixed:1470", 20),
    ("uniform:1400:1600", 20),
    ("lognormal:1200:0.25", 20),
    ("lognormal:250:0.5", 20),
    ("uniform:20:80", 10),
]
TARGET = 0.005

LOCUSTFILE = """
import json
import os

from locust import FastHttpUser, constant, events, task

RAW = []  # this scenario's own record of every success, to know the truth


@events.request.add_listener
def _keep(response_time, exception=None, response=None, **kw):
    if exception is None and getattr(response, "status_code", 0) == 200:
        RAW.append(response_time)


@events.quitting.add_listener
def _dump(environment, **kw):
    path = os.environ.get("BENCH_RAW_DIR")
    if path and RAW:
        with open(os.path.join(path, f"raw-{os.getpid()}.json"), "w") as out:
            json.dump(RAW, out)


class Health(FastHttpUser):
    wait_time = constant(0)

    @task
    def health(self):
        self.client.get("/api/health")
"""


def exact_p95(values: list[float]) -> float:
    ordered = sorted(values)
    rank = max(1, math.ceil(round(0.95 * len(ordered), 9)))
    return ordered[rank - 1]


def main(seconds: int) -> int:
    rows = []
    with tempfile.TemporaryDirectory(prefix="fixgate-bench-") as tmp:
        work = Path(tmp)
        locustfile = work / "health_raw.py"
        locustfile.write_text(textwrap.dedent(LOCUSTFILE))
        with (
            mongo_server() as mongo,
            redis_server() as redis,
            reference_service(mongo.uri, redis.url, seed=True) as ref,
        ):
            for i, (distribution, users) in enumerate(SCENARIOS):
                ref.set_faults(latency_distribution=distribution, latency_seed=i + 1)
                out = work / f"run-{i}"
                out.mkdir()
                spec = LoadRequest(
                    host=ref.base_url,
                    locustfile=locustfile,
                    users=users,
                    spawn_rate=10,  # staggered: requests do not queue behind each other
                    duration_s=seconds,
                    results_dir=out,
                    env={"BENCH_RAW_DIR": str(out)},
                )
                run = LoadRunner(spec).run()
                raw = [v for f in out.glob("raw-*.json") for v in json.loads(f.read_text())]
                truth = exact_p95(raw)
                est = run.overall.p95
                locust = run.overall.locust_p95_ms
                assert est.value_ms is not None and locust is not None
                rows.append(
                    (
                        distribution,
                        len(raw),
                        run.overall.successes,
                        truth,
                        est.value_ms,
                        abs(est.value_ms - truth) / truth,
                        locust,
                        abs(locust - truth) / truth,
                        est.low_ms <= truth <= est.high_ms,
                    )
                )
    header = (
        f"{'distribution':<22}{'n':>6}{'true p95':>11}{'fixgate':>11}{'error':>9}"
        f"{'locust':>9}{'error':>9}  CI covers"
    )
    print(header)
    print("-" * len(header))
    worst = 0.0
    for dist, n_raw, n_hist, truth, ours, err, locust, lerr, covers in rows:
        assert n_raw == n_hist, f"{dist}: {n_raw} raw samples, {n_hist} in the histogram"
        worst = max(worst, err)
        print(
            f"{dist:<22}{n_raw:>6}{truth:>11.2f}{ours:>11.2f}{err:>9.3%}"
            f"{locust:>9.0f}{lerr:>9.3%}  {'yes' if covers else 'NO'}"
        )
    verdict = "within" if worst <= TARGET else "OVER"
    print(f"\nworst fixgate error {worst:.3%}: {verdict} the {TARGET:.1%} target")
    return 0 if worst <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 8))
