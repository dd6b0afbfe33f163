"""Exact-latency capture for load runs, loaded by Locust beside the team's locustfile.

Locust is started with ``-f theirs.py,capture.py``.

This module runs INSIDE the Locust process (gevent-patched); the gate
process never imports it. It does nothing unless ``FIXGATE_CAPTURE_DIR`` is
set, so a team may keep it on their own command line harmlessly.

What it does, per Locust role:

- local / worker: listens to ``events.request`` and records every request's
  own ``response_time`` into per-endpoint, per-time-step LatencyHistograms
  (successes) and counters (failures by kind, see ``failures.py``). At
  ``quitting`` it writes ``capture-<role>-<pid>.json``. Workers write their
  own file instead of relying on Locust's final report to the master,
  which the master waits for only 0.5 s before it exits.
- worker: adds a small delta (histogram and counts since the last report)
  to Locust's periodic report to the master, for the live progress line.
- local / master: every second writes ``progress.json`` (elapsed, users,
  rps, p95 of the last seconds, counts); the master writes
  ``capture-master.json`` at ``quitting``.

Configuration, from the environment set by the runner:
``FIXGATE_CAPTURE_DIR``, ``FIXGATE_STEP_S``, ``FIXGATE_DURATION_S``,
``FIXGATE_REQUEST_TIMEOUT_S``, ``FIXGATE_EXPECT_JSON`` (a JSON object).

File format (read by ``results.py``): ``{"schema": 1, "role", "pid", "t0",
"t_end", "step_s", "endpoints": [{"method", "name", "steps": {index:
{"hist": encoded, "requests": n, "kinds": {kind: n}}}, "examples": {kind:
[text]}}]}``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
from collections import Counter, deque
from pathlib import Path
from types import ModuleType
from typing import Any

import gevent
from locust import events
from locust.contrib.fasthttp import FastHttpUser
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

SCHEMA = 1
_PROGRESS_INTERVAL_S = 1.0
_RECENT_HORIZON_S = 6.0  # p95 "now" = the last ~6 s (a worker reports every 3 s)
_EXAMPLES_PER_KIND = 3


def _load(name: str, path: Path) -> ModuleType:
    # By file path, not through the pytest_fixgate package: its __init__ pulls
    # in the plugin, which has no business in a gevent-patched load process.
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return module


_HERE = Path(__file__).resolve().parent
_stats = _load("_fixgate_stats", _HERE.parent / "stats.py")
_failures = _load("_fixgate_failures", _HERE / "failures.py")


def _write_json(path: Path, data: dict[str, Any]) -> None:
    # Atomic: the runner may read the progress file at any moment.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


class _Endpoint:
    """One (method, name): per-step success histograms and failure counts by kind."""

    __slots__ = ("_hist", "_step", "examples", "kinds", "method", "name", "windows")

    def __init__(self, method: str, name: str, step_s: float) -> None:
        self.method = method
        self.name = name
        self.windows = _stats.WindowedHistograms(step_s)
        self.kinds: dict[int, Counter[str]] = {}
        self.examples: dict[str, list[str]] = {}
        self._step = -1
        self._hist: Any = None

    def histogram(self, step: int) -> Any:
        # Almost every request lands in the same step as the previous one.
        if step != self._step:
            self._step, self._hist = step, self.windows.histogram(step)
        return self._hist

    def as_dict(self) -> dict[str, Any]:
        hists = self.windows.encode()
        steps = {}
        for index in sorted({int(k) for k in hists} | set(self.kinds)):
            kinds = self.kinds.get(index, {})
            hist = hists.get(str(index), _stats.LatencyHistogram().encode())
            successes = self.windows.histogram(index).count
            steps[str(index)] = {
                "hist": hist,
                "requests": successes + sum(kinds.values()),
                "kinds": dict(kinds),
            }
        return {
            "method": self.method,
            "name": self.name,
            "steps": steps,
            "examples": self.examples,
        }


class _Recent:
    """Deltas (time, histogram, request count) for the progress line, over the last few seconds."""

    def __init__(self) -> None:
        self.deltas: deque[tuple[float, Any, int]] = deque()
        self.requests = 0
        self.failures = 0
        self.rate_limited = 0

    def add(self, when: float, hist: Any, requests: int, failures: int, limited: int) -> None:
        self.deltas.append((when, hist, requests))
        self.requests += requests
        self.failures += failures
        self.rate_limited += limited

    def _trim(self, now: float) -> None:
        while self.deltas and self.deltas[0][0] <= now - _RECENT_HORIZON_S:
            self.deltas.popleft()

    def p95_ms(self, now: float) -> float | None:
        self._trim(now)
        merged = _stats.LatencyHistogram.merged(h for _, h, _ in self.deltas)
        if merged.count == 0:
            return None
        return float(_stats.percentile(merged, 0.95).value_ms)

    def rps(self, now: float, t0: float | None) -> float:
        # Locust's own current_rps skips the last 2 s and needs ~12 s to settle.
        self._trim(now)
        span = min(_RECENT_HORIZON_S, now - t0) if t0 is not None else 0.0
        return sum(n for _, _, n in self.deltas) / span if span > 0.5 else 0.0


class Capture:
    """The capture of one Locust process; created by the ``init`` listener."""

    def __init__(self, environment: Environment, out_dir: Path) -> None:
        self.env = environment
        self.out_dir = out_dir
        self.step_s = float(os.environ.get("FIXGATE_STEP_S", "1"))
        duration = os.environ.get("FIXGATE_DURATION_S")
        # A request that starts after the run time still counts in the last step.
        self.max_step = (
            max(0, int(-(-float(duration) // self.step_s)) - 1) if duration else sys.maxsize
        )
        expect = os.environ.get("FIXGATE_EXPECT_JSON")
        self.expect_json: dict[str, Any] | None = json.loads(expect) if expect else None
        timeout = os.environ.get("FIXGATE_REQUEST_TIMEOUT_S")
        self.timeout_s = float(timeout) if timeout else None
        runner = environment.runner
        self.role = (
            "master"
            if isinstance(runner, MasterRunner)
            else "worker"
            if isinstance(runner, WorkerRunner)
            else "local"
        )
        self.t0: float | None = None
        self.t_end: float | None = None
        self.endpoints: dict[tuple[str, str], _Endpoint] = {}
        self.recent = _Recent()
        # What happened since the last progress tick / report to the master.
        self.delta_values: list[float] = []  # successes' response times
        self.delta_counts = [0, 0]  # failures, rate_limited
        self.written = False

    # -- wiring ------------------------------------------------------------------
    def install(self) -> None:
        ev = self.env.events
        ev.test_start.add_listener(self.on_test_start)
        ev.test_stop.add_listener(self.on_test_stop)
        ev.quitting.add_listener(self.on_quitting)
        if self.role != "master":
            ev.request.add_listener(self.on_request)
            self.apply_timeouts()
        if self.role == "worker":
            ev.report_to_master.add_listener(self.on_report_to_master)
        else:
            if self.role == "master":
                ev.worker_report.add_listener(self.on_worker_report)
            gevent.spawn(self.progress_loop)

    def apply_timeouts(self) -> None:
        # FastHttpUser reads its timeouts from class attributes; a team's own
        # tighter values are kept. (HttpUser has no class-level timeout.)
        if self.timeout_s is None:
            return
        for user_class in self.env.user_classes:
            if issubclass(user_class, FastHttpUser):
                for attr in ("network_timeout", "connection_timeout"):
                    current = getattr(user_class, attr, None) or self.timeout_s
                    setattr(user_class, attr, min(float(current), self.timeout_s))

    # -- events -------------------------------------------------------------------
    def on_test_start(self, **_kw: Any) -> None:
        if self.t0 is None:
            self.t0 = time.time()

    def on_test_stop(self, **_kw: Any) -> None:
        self.t_end = time.time()

    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float | None,
        response_length: int = 0,
        response: Any = None,
        context: Any = None,
        exception: BaseException | None = None,
        start_time: float | None = None,
        url: str | None = None,
        **_kw: Any,
    ) -> None:
        # The hot path: a success costs a few dict lookups and two list appends.
        status = getattr(response, "status_code", None)
        if (
            exception is None
            and self.expect_json is None
            and (status is None or (status < 500 and status != 429))
        ):
            kind = None
        else:
            body_ok = None
            if (
                self.expect_json is not None
                and exception is None
                and status
                and 200 <= status < 300
            ):
                body = getattr(response, "content", None)
                body_ok = _failures.body_matches(self.expect_json, body)
            kind = _failures.classify(status, exception, body_ok)
        key = (request_type, name)
        endpoint = self.endpoints.get(key)
        if endpoint is None:
            endpoint = self.endpoints[key] = _Endpoint(request_type, name, self.step_s)
        when = start_time if start_time is not None else time.time()
        step = int((when - self.t0) // self.step_s) if self.t0 is not None else 0
        step = 0 if step < 0 else self.max_step if step > self.max_step else step
        if kind is None:
            ms = response_time if response_time is not None else 0.0
            endpoint.histogram(step).record(ms)
            self.delta_values.append(ms)
            return
        endpoint.kinds.setdefault(step, Counter())[kind.value] += 1
        self.delta_counts[1 if kind == "rate_limited" else 0] += 1
        examples = endpoint.examples.setdefault(kind.value, [])
        if len(examples) < _EXAMPLES_PER_KIND:
            text = _failures.describe(status, exception)
            if text not in examples:
                examples.append(text)

    def take_delta(self) -> tuple[Any, list[int]]:
        """Successes (as a histogram) and [requests, failures, rate_limited] since the last call."""
        values, (failures, limited) = self.delta_values, self.delta_counts
        self.delta_values, self.delta_counts = [], [0, 0]
        hist = _stats.LatencyHistogram()
        hist.record_many(values)
        return hist, [len(values) + failures + limited, failures, limited]

    def on_report_to_master(self, client_id: str, data: dict[str, Any]) -> None:
        hist, counts = self.take_delta()
        data["fixgate"] = {"hist": hist.encode(), "counts": counts}

    def on_worker_report(self, client_id: str, data: dict[str, Any]) -> None:
        delta = data.get("fixgate")
        if delta:
            hist = _stats.LatencyHistogram.decode(delta["hist"])
            self.recent.add(time.time(), hist, *delta["counts"])

    # -- progress -----------------------------------------------------------------
    def progress_loop(self) -> None:
        while True:
            gevent.sleep(_PROGRESS_INTERVAL_S)
            try:
                self.write_progress()
            except Exception as exc:  # progress is best effort; never kill the run for it
                sys.stderr.write(f"fixgate capture: progress not written: {exc!r}\n")

    def write_progress(self) -> None:
        now = time.time()
        if self.role == "local":
            hist, counts = self.take_delta()
            self.recent.add(now, hist, *counts)
        runner = self.env.runner
        data = {
            "schema": SCHEMA,
            "t": now,
            "t0": self.t0,
            "elapsed_s": None if self.t0 is None else now - self.t0,
            "stopped": self.t_end is not None,
            "state": getattr(runner, "state", None),
            "users": getattr(runner, "user_count", 0),
            "workers": len(runner.clients.ready) if isinstance(runner, MasterRunner) else None,
            "rps": self.recent.rps(now, self.t0),
            "p95_ms": self.recent.p95_ms(now),
            "requests": self.recent.requests,
            "failures": self.recent.failures,
            "rate_limited": self.recent.rate_limited,
        }
        _write_json(self.out_dir / "progress.json", data)

    # -- results ------------------------------------------------------------------
    def on_quitting(self, environment: Environment, **_kw: Any) -> None:
        if self.written:
            return
        self.written = True
        if self.t_end is None:
            self.t_end = time.time()
        runner = self.env.runner
        data: dict[str, Any] = {
            "schema": SCHEMA,
            "role": self.role,
            "pid": os.getpid(),
            "t0": self.t0,
            "t_end": self.t_end,
            "step_s": self.step_s,
            "cpu_warning": bool(
                getattr(runner, "cpu_warning_emitted", False)
                or getattr(runner, "worker_cpu_warning_emitted", False)
            ),
        }
        if self.role == "master":
            data["workers_seen"] = len(getattr(runner, "worker_indexes", {}) or {})
        else:
            data["endpoints"] = [e.as_dict() for e in self.endpoints.values()]
        _write_json(self.out_dir / f"capture-{self.role}-{os.getpid()}.json", data)


@events.init.add_listener
def _on_init(environment: Environment, **_kw: Any) -> None:
    out_dir = os.environ.get("FIXGATE_CAPTURE_DIR")
    if not out_dir:
        return
    Capture(environment, Path(out_dir)).install()
