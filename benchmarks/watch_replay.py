"""Replay speed and memory of the watch engine.

Generates a recorded watch at a 1 s interval (probe, mongo, redis and
prometheus readings every tick, a latency spike and a few failures along the
way), then replays it through :func:`pytest_fixgate.watch.session.run_watch`
(file decoding, every rule each tick, evidence and HTML built from the file),
and prints:

    ticks/s       replayed ticks per second (the engine alone, and the whole replay)
    engine KiB    memory the engine holds after the stream (tracemalloc), for
                  watches of 5 minutes, 30 minutes and 2 hours: the rules' windows
                  (constant) plus the alert timeline, which grows with state
                  changes (here 1% failing probes flip two rules) up to its cap of
                  TIMELINE_MAX entries, never with the ticks themselves

Usage: python benchmarks/watch_replay.py
"""

from __future__ import annotations

import datetime as dt
import json
import random
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from pytest_fixgate.config.loader import load_config
from pytest_fixgate.redaction import Redactor
from pytest_fixgate.watch.engine import Engine
from pytest_fixgate.watch.samples import iter_ticks
from pytest_fixgate.watch.session import WatchRequest, run_watch

CONFIG = """
[env.production]
base_url = "http://127.0.0.1:9"
mongodb_uri_env = "MONGODB_URI"
redis_url_env = "REDIS_URL"
[env.production.watch]
interval = "1s"
duration = "{duration}s"
[env.production.watch.mongo]
database = "app"
counts = {{ queue_depth = {{ collection = "background_jobs", filter = {{ status = "queued" }} }} }}
[env.production.watch.mongo.payments]
[env.production.watch.prometheus]
url = "http://127.0.0.1:9"
queries = {{ cpu = "c", memory = "m", disk = "d" }}
"""


def generate(path: Path, seconds: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    header = {"fixgate_watch": 1, "env": "production", "interval_s": 1.0, "duration_s": seconds}
    with path.open("w") as fh:
        fh.write(json.dumps(header) + "\n")
        for t in range(seconds + 1):
            slow = 1600.0 if 600 <= t < 620 else 0.0
            tick = {
                "t": float(t),
                "readings": {
                    "probe": {
                        "error_rate": {"rate": [int(rng.random() < 0.01), 1]},
                        "rate_limited": {"rate": [0, 1]},
                        "latency": {"dist": [round(rng.lognormvariate(4, 0.5) + slow, 3)]},
                        "ready": {"level": True},
                    },
                    "mongo": {
                        "connection_failures": {"count": 0},
                        "queue_depth": {"count": rng.randint(0, 50)},
                        "payment_failure_rate": {"rate": [rng.randint(0, 1), 100]},
                        "payment_consecutive_failures": {"count": 0},
                    },
                    "prometheus": {
                        "cpu": {"level": rng.random() * 0.6},
                        "memory": {"level": 0.5},
                        "disk": {"level": 0.4},
                    },
                },
            }
            fh.write(json.dumps(tick, separators=(",", ":")) + "\n")


def engine_kib(cfg: Any, samples: Path) -> tuple[float, float, int, int]:
    """Memory the engine holds after the stream, and its speed (timed without tracing)."""
    ticks = list(iter_ticks(samples))
    engine = Engine(cfg.rules)
    started = time.perf_counter()
    for tick in ticks:
        engine.step(tick)
    elapsed = time.perf_counter() - started
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    engine = Engine(cfg.rules)
    for tick in ticks:
        engine.step(tick)
    held = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    return held / 1024, elapsed, engine.ticks, len(engine.transitions)


def main() -> None:
    print(
        f"{'watch':<8} {'ticks':>6} {'engine ticks/s':>15} {'replay s':>9} "
        f"{'replay ticks/s':>15} {'engine KiB':>11} {'timeline':>9} {'rules':>6}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for label, seconds in (("5 min", 300), ("30 min", 1800), ("2 h", 7200)):
            folder = Path(tmp) / label.replace(" ", "")
            folder.mkdir()
            (folder / "fixgate.toml").write_text(CONFIG.format(duration=seconds))
            env = load_config(folder / "fixgate.toml").envs["production"]
            cfg = env.section("watch")
            samples = folder / "production-20260101T000000Z.samples.jsonl"
            generate(samples, seconds)
            kib, engine_s, ticks, changes = engine_kib(cfg, samples)
            request = WatchRequest(
                env=env,
                cfg=cfg,
                redactor=Redactor(),
                report_dir=folder,
                started=dt.datetime.now(dt.UTC),
                replay=samples,
            )
            started = time.perf_counter()
            report = run_watch(request)
            replay_s = time.perf_counter() - started
            assert report.verdict.decision in ("PROMOTE", "ROLLBACK", "HOLD")
            print(
                f"{label:<8} {ticks:>6} {ticks / engine_s:>15,.0f} {replay_s:>9.3f} "
                f"{ticks / replay_s:>15,.0f} {kib:>11.1f} {changes:>9} {len(cfg.rules):>6}"
                f"   ({report.verdict.decision}: {report.verdict.reason[:60]})"
            )


if __name__ == "__main__":
    main()
