"""Exact-latency capture for load runs, loaded by Locust beside the team's locustfile.

Locust is started with ``-f theirs.py,capture.py``.

This module runs INSIDE the Locust process (gevent-patched); the gate
process never imports it. It does nothing unless ``FIXGATE_CAPTURE_DIR`` is
set, so a team may keep it on their own command line harmlessly.

What it does, per Locust role:

- local / worker: listens to ``events.request`` and records every request's
  own ``response_time`` into per-endpoint, per-time-step LatencyHistograms
  (successes) and counters (failures by kind, see ``failures.py``). A
  request belongs to the step in which it ENDED (monotonic clock, from the
  load's start), so a slow request is judged when it is seen to be slow and
  the warm-up drops requests that end inside it. Timeouts also go into a
  ``censored`` histogram: their elapsed time is a lower bound of their
  latency. The HTTP clients' ``request`` methods are wrapped: a request
  still in flight when Locust kills its user (the load stopped) is counted
  as ``unfinished``, censored at its elapsed time (except Locust's own race,
  see ``counts_as_unfinished``); ``HttpUser`` requests get
  ``request_timeout`` as their ``timeout`` (FastHttpUser gets it as class
  attributes). At ``quitting`` it writes ``capture-<role>-<pid>.json``.
  Workers write their own file instead of relying on Locust's final report
  to the master, which the master waits for only 0.5 s before it exits.
- worker: adds a small delta (histogram and counts since the last report)
  to Locust's periodic report to the master, for the live progress line.
- local / master: every second writes ``progress.json`` (elapsed, users,
  rps, p95 of the last seconds, counts); the master writes
  ``capture-master.json`` at ``quitting``. With ``FIXGATE_ABORT`` it also
  stops a load run whose FAIL is already certain (abort on fail): an
  error-rate interval wholly over its limit after ``min_requests`` judged
  requests, every judged request so far failing to connect, or a finished
  window whose p95 is wholly over its limit (with workers: once every
  worker has sent that window with its periodic report).

Configuration, from the environment set by the runner:
``FIXGATE_CAPTURE_DIR``, ``FIXGATE_STEP_S``, ``FIXGATE_DURATION_S``,
``FIXGATE_WARMUP_S``, ``FIXGATE_REQUEST_TIMEOUT_S``, ``FIXGATE_EXPECT_JSON``
(a JSON object), ``FIXGATE_ABORT`` (a JSON object: ``min_requests``,
``error_rate`` [[op, limit, text]], ``window_s``, ``window_p95``
[[op, limit_ms, text]], ``confidence``, ``stop_grace_s``).

File format (read by ``results.py``): ``{"schema": 1, "role", "pid", "t0",
"t_end" (wall clock, for display), "duration_s" (monotonic), "step_s",
"aborted": null | {"at_s", "reason"}, "unbounded_user_classes": [name],
"endpoints": [{"method", "name", "steps": {index: {"hist": encoded,
"censored": encoded, "requests": n, "kinds": {kind: n}}}, "examples":
{kind: [text]}}]}``.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import sys
import time
from collections import Counter, deque
from pathlib import Path
from types import ModuleType
from typing import Any

import gevent
from locust import HttpUser, events
from locust.clients import HttpSession
from locust.contrib.fasthttp import FastHttpSession, FastHttpUser
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

SCHEMA = 1
_PROGRESS_INTERVAL_S = 1.0
_RECENT_HORIZON_S = 6.0  # p95 "now" = the last ~6 s (a worker reports every 3 s)
_EXAMPLES_PER_KIND = 3
_CONNECT_ABORT_MIN = 10  # "every request failed to connect" needs this many first


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
_stats = _load("_fixgate_stats", _HERE.parents[1] / "measurements" / "stats.py")
_failures = _load("_fixgate_failures", _HERE / "failures.py")


def _write_json(path: Path, data: dict[str, Any]) -> None:
    # Atomic: the runner may read the progress file at any moment.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


class _Endpoint:
    """One (method, name): per-step success histograms and failure counts by kind."""

    __slots__ = ("_hist", "_step", "censored", "examples", "kinds", "method", "name", "windows")

    def __init__(self, method: str, name: str, step_s: float) -> None:
        self.method = method
        self.name = name
        self.windows = _stats.WindowedHistograms(step_s)
        # Lower bounds of latencies never seen to end: timeouts and unfinished requests.
        self.censored = _stats.WindowedHistograms(step_s)
        self.kinds: dict[int, Counter[str]] = {}
        self.examples: dict[str, list[str]] = {}
        self._step = -1
        self._hist: Any = None

    def histogram(self, step: int) -> Any:
        # Almost every request lands in the same step as the previous one.
        if step != self._step:
            self._step, self._hist = step, self.windows.histogram(step)
        return self._hist

    def add_failure(self, step: int, kind: str, text: str) -> None:
        self.kinds.setdefault(step, Counter())[kind] += 1
        examples = self.examples.setdefault(kind, [])
        if len(examples) < _EXAMPLES_PER_KIND and text not in examples:
            examples.append(text)

    def as_dict(self) -> dict[str, Any]:
        hists = self.windows.encode()
        censored = self.censored.encode()
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
            if str(index) in censored:
                steps[str(index)]["censored"] = censored[str(index)]
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
        self.warmup_s = float(os.environ.get("FIXGATE_WARMUP_S", "0") or 0)
        duration = os.environ.get("FIXGATE_DURATION_S")
        abort = os.environ.get("FIXGATE_ABORT")
        self.abort_rules: dict[str, Any] | None = json.loads(abort) if abort else None
        # A request that ends after the run time still counts in the last step.
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
        # Steps and durations on the monotonic clock; wall clock only for display.
        self.t0: float | None = None
        self.t_end: float | None = None
        self.wall_t0: float | None = None
        self.wall_t_end: float | None = None
        self.stopping_at: float | None = None  # when Locust began stopping the users
        self.endpoints: dict[tuple[str, str], _Endpoint] = {}
        self.recent = _Recent()
        # What happened since the last progress tick / report to the master.
        self.delta_values: list[float] = []  # successes' response times
        self.delta_counts = [0, 0]  # failures, rate_limited
        # Judged (after the warm-up) requests, failures, rate-limited, connection failures.
        self.delta_judged = [0, 0, 0, 0]
        self.judged = [0, 0, 0, 0]  # totals, for abort on fail (local / master)
        self.windows_taken = 0
        # Master: finished windows from each worker, {index: {client id: (hist, censored)}}.
        self.worker_windows: dict[int, dict[str, tuple[Any, Any]]] = {}
        self.aborted: dict[str, Any] | None = None
        self.written = False
        self.run_time_s = self._take_over_run_time()

    def _take_over_run_time(self) -> float | None:
        """Locust starts its --run-time clock before the test starts: anything that holds
        the event loop in between (a busy machine, a slow test_start listener) shortened
        the load, and the run read as stopped early. The capture counts the run time
        from test_start instead (on_test_start), the moment its own clock starts."""
        options = getattr(self.env, "parsed_options", None)
        run_time = getattr(options, "run_time", None)
        if self.role == "worker" or not run_time:
            return None
        options.run_time = None  # read by Locust's main after the init event
        return float(run_time)

    # -- wiring ------------------------------------------------------------------
    def install(self) -> None:
        ev = self.env.events
        ev.test_start.add_listener(self.on_test_start)
        ev.test_stopping.add_listener(self.on_test_stopping)
        ev.test_stop.add_listener(self.on_test_stop)
        ev.quitting.add_listener(self.on_quitting)
        if self.role != "master":
            ev.request.add_listener(self.on_request)
            self.apply_timeouts()
            self.wrap_clients()
        if self.role == "worker":
            ev.report_to_master.add_listener(self.on_report_to_master)
        else:
            if self.role == "master":
                ev.worker_report.add_listener(self.on_worker_report)
            gevent.spawn(self.progress_loop)

    def apply_timeouts(self) -> None:
        # FastHttpUser reads its timeouts from class attributes; a team's own
        # tighter values are kept. (HttpUser gets its timeout in wrap_clients.)
        if self.timeout_s is None:
            return
        for user_class in self.env.user_classes:
            if issubclass(user_class, FastHttpUser):
                for attr in ("network_timeout", "connection_timeout"):
                    current = getattr(user_class, attr, None) or self.timeout_s
                    setattr(user_class, attr, min(float(current), self.timeout_s))

    def unbounded_user_classes(self) -> list[str]:
        """User classes whose requests neither request_timeout nor the in-flight count reach."""
        return sorted(
            cls.__name__
            for cls in self.env.user_classes
            if not issubclass(cls, HttpUser | FastHttpUser)
        )

    def wrap_clients(self) -> None:
        # Locust has no "request started" event: wrap both HTTP clients' request()
        # to see the requests a stopping load kills, and to bound HttpUser's.
        for session_class in (HttpSession, FastHttpSession):
            original = session_class.request
            if getattr(original, "_fixgate_capture", None) is not None:
                original = original._fixgate_capture  # installed by an earlier Environment
            session_class.request = self._wrapped(original, session_class is HttpSession)

    def _wrapped(self, original: Any, bound_timeout: bool) -> Any:
        capture = self

        def request(session: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            if bound_timeout and capture.timeout_s is not None:
                kwargs["timeout"] = _capped(kwargs.get("timeout"), capture.timeout_s)
            started = time.monotonic()
            try:
                return original(session, method, url, *args, **kwargs)
            except gevent.GreenletExit:
                if capture.counts_as_unfinished(started):
                    name = kwargs.get("name") or (args[0] if args and args[0] else None)
                    capture.on_unfinished(method, str(name or url), time.monotonic() - started)
                raise

        request._fixgate_capture = original  # type: ignore[attr-defined]
        return request

    # -- events -------------------------------------------------------------------
    def on_test_start(self, **_kw: Any) -> None:
        if self.t0 is None:
            self.t0, self.wall_t0 = time.monotonic(), time.time()
            if self.run_time_s is not None:
                gevent.spawn_later(self.run_time_s, self.on_run_time_reached)

    def on_run_time_reached(self) -> None:
        # What Locust's own run-time greenlet does in a headless run.
        logging.getLogger("locust.main").info("--run-time limit reached, shutting down")
        if self.env.runner is not None:
            self.env.runner.quit()

    def counts_as_unfinished(self, started: float) -> bool:
        """A request killed in flight: part of the load unless Locust's own race.

        Locust kills a "waiting" user asynchronously, and the user may begin one more
        request before the kill lands: a request begun after the stop began and killed
        before the stop timeout ran out was never part of the load. One in flight since
        before the stop, or still running when the timeout ran out, is unfinished.
        """
        stopping = self.stopping_at
        if stopping is None or started < stopping:
            return True
        grace = float(self.env.stop_timeout or 0)
        return time.monotonic() - stopping >= 0.9 * grace

    def on_test_stopping(self, **_kw: Any) -> None:
        if self.stopping_at is None:
            self.stopping_at = time.monotonic()

    def on_test_stop(self, **_kw: Any) -> None:
        self.t_end, self.wall_t_end = time.monotonic(), time.time()

    def _step(self, now: float) -> tuple[int, bool]:
        """The step a request ending at monotonic ``now`` falls in, and whether it is judged."""
        if self.t0 is None:
            return 0, False
        offset = now - self.t0
        step = int(offset // self.step_s)
        step = 0 if step < 0 else self.max_step if step > self.max_step else step
        return step, offset >= self.warmup_s

    def _endpoint(self, method: str, name: str) -> _Endpoint:
        key = (method, name)
        endpoint = self.endpoints.get(key)
        if endpoint is None:
            endpoint = self.endpoints[key] = _Endpoint(method, name, self.step_s)
        return endpoint

    def on_unfinished(self, method: str, name: str, elapsed_s: float) -> None:
        """A request killed in flight: a failure whose latency is at least ``elapsed_s``."""
        step, judged = self._step(time.monotonic())
        endpoint = self._endpoint(method, name)
        endpoint.censored.histogram(step).record(elapsed_s * 1000.0)
        text = f"still in flight after {elapsed_s * 1000.0:.0f} ms when the load stopped"
        endpoint.add_failure(step, _failures.FailureKind.UNFINISHED.value, text)
        self.delta_counts[0] += 1
        if judged:
            self.delta_judged[0] += 1
            self.delta_judged[1] += 1

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
        endpoint = self._endpoint(request_type, name)
        # The event fires when the request ends: its step is that of its end.
        step, judged = self._step(time.monotonic())
        ms = response_time if response_time is not None else 0.0
        if judged:
            self.delta_judged[0] += 1
        if kind is None:
            endpoint.histogram(step).record(ms)
            self.delta_values.append(ms)
            return
        if kind == "timeout":
            endpoint.censored.histogram(step).record(ms)
        endpoint.add_failure(step, kind.value, _failures.describe(status, exception))
        limited = kind == "rate_limited"
        self.delta_counts[1 if limited else 0] += 1
        if judged:
            self.delta_judged[2 if limited else 1] += 1
            if kind == "connection":
                self.delta_judged[3] += 1

    def take_delta(self) -> tuple[Any, list[int], list[int]]:
        """Since the last call: successes (a histogram), [requests, failures, rate_limited],
        and the judged [requests, failures, rate_limited, connection failures]."""
        values, (failures, limited) = self.delta_values, self.delta_counts
        judged = self.delta_judged
        self.delta_values, self.delta_counts, self.delta_judged = [], [0, 0], [0, 0, 0, 0]
        hist = _stats.LatencyHistogram()
        hist.record_many(values)
        return hist, [len(values) + failures + limited, failures, limited], judged

    def on_report_to_master(self, client_id: str, data: dict[str, Any]) -> None:
        hist, counts, judged = self.take_delta()
        data["fixgate"] = {"hist": hist.encode(), "counts": counts, "judged": judged}
        if self.abort_rules and self.t0 is not None and self.t_end is None:
            # Each finished window once, for the master's "a window already failed" rule.
            finished = self._finished_windows(time.monotonic() - self.t0)
            data["fixgate"]["windows"] = {str(i): [d.encode(), c.encode()] for i, d, c in finished}

    def on_worker_report(self, client_id: str, data: dict[str, Any]) -> None:
        delta = data.get("fixgate")
        if delta:
            hist = _stats.LatencyHistogram.decode(delta["hist"])
            self.recent.add(time.monotonic(), hist, *delta["counts"])
            self.judged = [
                a + b for a, b in zip(self.judged, delta.get("judged", [0] * 4), strict=True)
            ]
            for key, (done, censored) in delta.get("windows", {}).items():
                self.worker_windows.setdefault(int(key), {})[client_id] = (
                    _stats.LatencyHistogram.decode(done),
                    _stats.LatencyHistogram.decode(censored),
                )

    # -- progress -----------------------------------------------------------------
    def progress_loop(self) -> None:
        while True:
            gevent.sleep(_PROGRESS_INTERVAL_S)
            try:
                self.write_progress()
            except Exception as exc:  # progress is best effort; never kill the run for it
                sys.stderr.write(f"fixgate capture: progress not written: {exc!r}\n")

    def write_progress(self) -> None:
        now = time.monotonic()
        if self.role == "local":
            hist, counts, judged = self.take_delta()
            self.recent.add(now, hist, *counts)
            self.judged = [a + b for a, b in zip(self.judged, judged, strict=True)]
        if self.abort_rules and self.aborted is None and self.t_end is None and self.t0:
            reason = self.certain_failure(now - self.t0)
            if reason is not None:
                self.abort(now - self.t0, reason)
        runner = self.env.runner
        data = {
            "schema": SCHEMA,
            "t": time.time(),
            "t0": self.wall_t0,
            "elapsed_s": None if self.t0 is None else now - self.t0,
            "stopped": self.t_end is not None,
            "aborted": self.aborted,
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

    # -- abort on fail ------------------------------------------------------------
    def certain_failure(self, elapsed_s: float) -> str | None:
        """Why a gate's FAIL is already certain at ``elapsed_s``, or None."""
        rules = self.abort_rules or {}
        confidence = float(rules.get("confidence", 0.95))
        requests, failures, limited, connection = self.judged
        served = requests - limited
        for op, limit, text in rules.get("error_rate", ()):
            low, _ = _stats.wilson_interval(failures, served, confidence) if served else (0, 1)
            if not _over(op, float(limit), low):
                continue
            if connection == requests >= _CONNECT_ABORT_MIN:
                return (
                    f"every one of the {requests} judged requests so far failed to connect "
                    f"({text} cannot hold)"
                )
            if served >= int(rules.get("min_requests", 50)):
                return (
                    f"{failures} of {served} judged requests failed: the error rate's "
                    f"{confidence:.0%} interval lies wholly over {text}"
                )
        if rules.get("window_s") and rules.get("window_p95"):
            if self.role == "local":
                return self._failed_window(self._finished_windows(elapsed_s))
            return self._failed_window(self._complete_worker_windows())
        return None

    def _finished_windows(self, elapsed_s: float) -> list[tuple[int, Any, Any]]:
        """Windows of this process that ended by ``elapsed_s`` and were not taken yet:
        (index, successes, censored). A request belongs to the window it ENDED in, so a
        window is final once its end has passed."""
        window_s = float((self.abort_rules or {}).get("window_s") or 0)
        if not window_s:
            return []
        per_window = max(1, round(window_s / self.step_s))
        first_judged = int(-(-self.warmup_s // self.step_s))  # steps from the warm-up's end
        out = []
        while (self.windows_taken + 1) * window_s <= elapsed_s:
            index = self.windows_taken
            self.windows_taken += 1
            steps = [
                s for s in range(index * per_window, (index + 1) * per_window) if s >= first_judged
            ]
            done = _stats.LatencyHistogram.merged(
                e.windows.histogram(s) for e in self.endpoints.values() for s in steps
            )
            censored = _stats.LatencyHistogram.merged(
                e.censored.histogram(s) for e in self.endpoints.values() for s in steps
            )
            out.append((index, done, censored))
        return out

    def _failed_window(self, windows: list[tuple[int, Any, Any]]) -> str | None:
        rules = self.abort_rules or {}
        window_s = float(rules.get("window_s") or 0)
        confidence = float(rules.get("confidence", 0.95))
        for index, done, censored in windows:
            if done.count + censored.count == 0:
                continue
            est = _stats.censored_percentile(done, censored, 0.95, confidence)
            for op, limit, text in rules.get("window_p95", ()):
                if _over(op, float(limit), est.low_ms):
                    return (
                        f"window {index * window_s:g}-{(index + 1) * window_s:g} s failed: "
                        f"its p95 is at least {est.low_ms:.1f} ms ({confidence:.0%} interval), "
                        f"over {text}"
                    )
        return None

    def _complete_worker_windows(self) -> list[tuple[int, Any, Any]]:
        """Master: the windows every worker has sent, merged, each once."""
        runner = self.env.runner
        expected = max(1, int(getattr(runner, "worker_count", 0) or 0))
        out = []
        for index in sorted(self.worker_windows):
            parts = self.worker_windows[index]
            if len(parts) >= expected:
                del self.worker_windows[index]
                done = _stats.LatencyHistogram.merged(d for d, _ in parts.values())
                censored = _stats.LatencyHistogram.merged(c for _, c in parts.values())
                out.append((index, done, censored))
        return out

    def abort(self, elapsed_s: float, reason: str) -> None:
        self.aborted = {"at_s": round(elapsed_s, 3), "reason": reason}
        sys.stderr.write(
            f"fixgate capture: stopping the load early at {elapsed_s:.1f} s: {reason}\n"
        )
        # In-flight requests get a short grace, not the full request timeout: the run is lost.
        grace = float((self.abort_rules or {}).get("stop_grace_s", 2.0))
        self.env.stop_timeout = min(float(self.env.stop_timeout or grace), grace)
        runner = self.env.runner
        if runner is not None:
            gevent.spawn(runner.quit)

    # -- results ------------------------------------------------------------------
    def on_quitting(self, environment: Environment, **_kw: Any) -> None:
        if self.written:
            return
        self.written = True
        if self.t_end is None:
            self.t_end, self.wall_t_end = time.monotonic(), time.time()
        runner = self.env.runner
        data: dict[str, Any] = {
            "schema": SCHEMA,
            "role": self.role,
            "pid": os.getpid(),
            "t0": self.wall_t0,
            "t_end": self.wall_t_end,
            "duration_s": None if self.t0 is None else self.t_end - self.t0,
            "step_s": self.step_s,
            "aborted": self.aborted,
            "cpu_warning": bool(
                getattr(runner, "cpu_warning_emitted", False)
                or getattr(runner, "worker_cpu_warning_emitted", False)
            ),
        }
        if self.role == "master":
            data["workers_seen"] = len(getattr(runner, "worker_indexes", {}) or {})
        else:
            data["endpoints"] = [e.as_dict() for e in self.endpoints.values()]
            data["unbounded_user_classes"] = self.unbounded_user_classes()
        _write_json(self.out_dir / f"capture-{self.role}-{os.getpid()}.json", data)


def _capped(timeout: Any, limit: float) -> Any:
    """``timeout`` (requests' number or (connect, read) pair) no looser than ``limit``."""
    if timeout is None:
        return limit
    if isinstance(timeout, tuple):
        return tuple(limit if t is None else min(float(t), limit) for t in timeout)
    return min(float(timeout), limit)


def _over(op: str, limit: float, low: float) -> bool:
    """An upper-bound limit (``<``, ``<=``) that a whole interval starting at ``low`` breaks."""
    return low >= limit if op == "<" else low > limit if op == "<=" else False


@events.init.add_listener
def _on_init(environment: Environment, **_kw: Any) -> None:
    out_dir = os.environ.get("FIXGATE_CAPTURE_DIR")
    if not out_dir:
        return
    Capture(environment, Path(out_dir)).install()
