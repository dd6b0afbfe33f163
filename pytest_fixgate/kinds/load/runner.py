"""Runs Locust headless in its own processes and turns the run into a LoadRun.

The gate process never imports Locust (it monkey-patches the interpreter
with gevent). ``LoadRunner`` starts ``python -m locust --headless -f
<theirs.py>,<capture.py> ...`` (and, with ``workers > 0``, a master and N
local ``--worker`` processes), follows the capture module's progress file,
samples the load processes' CPU, and after the exit reads the capture
files and Locust's ``--json-file``.

Locust exits 1 whenever a request failed: that is a measurement, not a
crash. A crash is told apart by its traces: no capture file, an exit code
other than 0/1, a load that stopped before the run time, a locustfile that
raised on every task. Those raise :class:`LoadRunError` with one line
naming the locustfile and the cause. A load the capture module stopped on
purpose (abort on fail: a gate's FAIL was already certain) is not a crash:
it is returned with ``LoadRun.aborted`` saying when and why. Every process runs in its own process
group and is killed on every way out (return, error, KeyboardInterrupt).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any

import psutil

from pytest_fixgate import timing
from pytest_fixgate.errors import ProbeError
from pytest_fixgate.kinds.load.progress import LoadProgress
from pytest_fixgate.kinds.load.request import LoadRequest
from pytest_fixgate.kinds.load.results import CaptureFileError, CpuUsage, LoadRun, build_load_run
from pytest_fixgate.measurements.process import ManagedProcess, read_log_end

__all__ = ["LoadRunError", "LoadRunner", "LoadState", "capture_module_path", "diagnose"]

_POLL_S = 0.25
_CPU_EVERY_S = 1.0
_KILL_GRACE_S = 3.0
_WORKER_EXIT_GRACE_S = 10.0
# Locust's -t timer starts on a stale event-loop clock and fires up to ~0.5 s
# early; a load that stops within this tolerance of its run time is complete.
_EARLY_STOP_TOLERANCE_S = 1.5
_EARLY_STOP_TOLERANCE_FRACTION = 0.05
_LOG_PREFIX = re.compile(r"^\[[^\]]*\] [^/]*/(?P<level>[A-Z]+)/(?P<logger>[^:]*): (?P<msg>.*)$")
_NO_USER_CLASS = re.compile(r"No User class found", re.IGNORECASE)
_CPU_WARNING = re.compile(r"CPU usage above|exceeded cpu threshold", re.IGNORECASE)


def capture_module_path() -> Path:
    """The capture module Locust loads beside the team's locustfile."""
    return Path(__file__).resolve().with_name("capture.py")


class LoadRunError(ProbeError):
    """A load run that could not measure: bad locustfile, Locust crashed, stopped early or hung.

    The message is one line; ``log_path`` names the Locust log with the details.
    """

    def __init__(
        self,
        message: str,
        *,
        target: str = "",
        log_path: Path | None = None,
        exit_code: int | None = None,
    ) -> None:
        self.log_path = log_path
        self.exit_code = exit_code
        super().__init__(message, target=target)


class LoadState(Enum):
    """Lifecycle of a LoadRunner; a runner runs once."""

    PENDING = "pending"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def error_line(log_text: str) -> str | None:
    """The line that says why Locust failed: a traceback's last line, else its last ERROR."""
    lines = [line.rstrip() for line in log_text.splitlines() if line.strip()]
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call")]
    if starts:
        for line in lines[starts[-1] + 1 :]:
            if not line.startswith((" ", "\t")) and not _LOG_PREFIX.match(line):
                return line
    for line in reversed(lines):
        match = _LOG_PREFIX.match(line)
        if match and match["level"] in ("ERROR", "CRITICAL"):
            return match["msg"]
    # Anything else Locust or Python said last ("No User class found!",
    # "python: No module named locust", ...).
    for line in reversed(lines):
        if not _LOG_PREFIX.match(line) and not line.startswith((" ", "\t")):
            return line
    return None


def diagnose(log_text: str, exit_code: int | None) -> str:
    """One line on why a Locust process failed, from its log.

    A locustfile without a User class reads the same whatever Locust says:
    2.x logs "No User class found!", and since 2.32 it first tries the file
    as pytest tests (``load_locustfile_pytest``), which can itself crash.
    """
    line = error_line(log_text)
    if _NO_USER_CLASS.search(log_text):
        return "no User class found"
    if "load_locustfile_pytest" in log_text:
        # Locust found no User class and fell back to reading the files as pytest tests.
        return f"no User class found (Locust's pytest fallback then failed: {line})"
    return line or f"exit code {exit_code}, no error logged"


class _Proc:
    """One Locust process, its log file and CPU samples."""

    def __init__(self, role: str, argv: list[str], log_path: Path, env: dict[str, str], cwd: Path):
        self.role = role
        self.argv = argv
        self.log_path = log_path
        # The process primitive: own process group (a kill reaches anything Locust
        # starts), output to the log file.
        self.process = ManagedProcess(argv, log_path=log_path, cwd=cwd, env=env)
        self.popen = self.process.proc
        self.cpu_samples: list[float] = []
        self._ps: psutil.Process | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid

    def start_cpu(self) -> None:
        with contextlib.suppress(psutil.Error):
            self._ps = psutil.Process(self.pid)
            self._ps.cpu_percent(None)  # baseline: the next call measures from here

    def sample_cpu(self) -> float | None:
        if self._ps is None:
            return None
        try:
            value = float(self._ps.cpu_percent(None))
        except psutil.Error:
            return None
        self.cpu_samples.append(value)
        return value

    def log_text(self) -> str:
        # The log's end only: Locust writes it itself, so it is as long as it printed.
        return read_log_end(self.log_path)

    def kill(self) -> None:
        """Stop the process group (also what an exited Locust left behind); close the log."""
        self.process.stop(_KILL_GRACE_S)


class LoadRunner:
    """Runs one LoadRequest with Locust, once.

    >>> run = LoadRunner(spec).run(on_progress=ProgressLine())  # doctest: +SKIP
    >>> run.overall.p95.value_ms, run.overall.error_rate.rate  # doctest: +SKIP
    """

    def __init__(self, spec: LoadRequest) -> None:
        self.spec = spec
        # Absolute: Locust runs in spec.cwd, the capture files must land here all the same.
        self.out_dir = spec.results_dir.resolve()
        self._state = LoadState.PENDING
        self._procs: list[_Proc] = []

    @property
    def state(self) -> LoadState:
        return self._state

    # -- command lines --------------------------------------------------------------
    def _locustfile(self) -> Path:
        path = self.spec.locustfile
        if not path.is_absolute():
            path = (self.spec.cwd or Path.cwd()) / path
        return path

    def commands(self, master_port: int = 5557) -> list[list[str]]:
        """The Locust command lines: [local] or [master, worker 1, ..., worker N]."""
        spec = self.spec
        files = f"{self._locustfile()},{capture_module_path()}"
        base = [spec.python, "-m", "locust", "-f", files, "--loglevel", "INFO"]
        main = [
            *base,
            *("--headless", "--only-summary", "--host", spec.host),
            *("-u", str(spec.users), "-r", f"{spec.spawn_rate:g}", "-t", f"{spec.duration_s}s"),
            *("--json-file", str(self.out_dir / "locust"), "--exit-code-on-error", "1"),
            # Requests in flight at the run time's end may finish (or time out); see capture.
            *("--stop-timeout", f"{spec.stop_timeout_s:g}"),
            *spec.extra_args,
        ]
        if spec.workers == 0:
            return [[*main, *spec.user_classes]]
        master = [
            *main,
            *("--master", "--master-bind-host", "127.0.0.1"),
            *("--master-bind-port", str(master_port)),
            *("--expect-workers", str(spec.workers)),
            *("--expect-workers-max-wait", f"{max(1, int(spec.startup_timeout_s))}"),
            *spec.user_classes,
        ]
        worker = [
            *base,
            *("--worker", "--master-host", "127.0.0.1", "--master-port", str(master_port)),
            *spec.user_classes,
        ]
        return [master] + [list(worker) for _ in range(spec.workers)]

    def _env(self) -> dict[str, str]:
        spec = self.spec
        env = {**os.environ, **spec.env}
        env.update(
            FIXGATE_CAPTURE_DIR=str(self.out_dir),
            FIXGATE_STEP_S=repr(spec.step_s),
            FIXGATE_DURATION_S=str(spec.duration_s),
            FIXGATE_REQUEST_TIMEOUT_S=repr(spec.request_timeout_s),
            FIXGATE_WARMUP_S=repr(spec.warmup_s),
            PYTHONUNBUFFERED="1",
        )
        if spec.abort_on_fail:
            env["FIXGATE_ABORT"] = json.dumps(
                {
                    "min_requests": spec.abort_min_requests,
                    "error_rate": [list(r) for r in spec.abort_error_rate],
                    "window_s": spec.window_s,
                    "window_p95": [list(r) for r in spec.abort_window_p95_ms],
                    "confidence": spec.confidence,
                }
            )
        else:
            env.pop("FIXGATE_ABORT", None)
        if spec.expect_json is not None:
            env["FIXGATE_EXPECT_JSON"] = json.dumps(dict(spec.expect_json))
        else:
            env.pop("FIXGATE_EXPECT_JSON", None)
        return env

    # -- the run --------------------------------------------------------------------
    def _fail(self, message: str, *, proc: _Proc | None = None) -> LoadRunError:
        self._state = LoadState.FAILED
        proc = proc or (self._procs[0] if self._procs else None)
        code = None if proc is None else proc.popen.poll()
        return LoadRunError(
            message,
            target=self.spec.host,
            log_path=None if proc is None else proc.log_path,
            exit_code=code,
        )

    def _where(self) -> str:
        return f"locustfile {self.spec.locustfile}"

    def run(self, on_progress: Callable[[LoadProgress], None] | None = None) -> LoadRun:
        """Run the load, calling ``on_progress`` about once a second; return the LoadRun.

        Raises LoadRunError when the run could not measure.
        """
        if self._state is not LoadState.PENDING:
            raise RuntimeError(
                f"this LoadRunner has already run ({self._state.value}); make a new one"
            )
        self._state = LoadState.RUNNING
        try:
            run = self._run(on_progress)
        except BaseException:
            self._state = LoadState.FAILED
            raise
        finally:
            for proc in reversed(self._procs):
                proc.kill()
        self._state = LoadState.FINISHED
        return run

    def _prepare_dir(self) -> None:
        out = self.out_dir
        out.mkdir(parents=True, exist_ok=True)
        # Stale files from an earlier run in the same directory must not be read as ours.
        for pattern in ("capture-*.json", "progress.json", "locust.json", ".*.tmp"):
            for old in out.glob(pattern):
                old.unlink(missing_ok=True)

    def _start(self) -> None:
        spec = self.spec
        env = self._env()
        cwd = spec.cwd or Path.cwd()
        commands = self.commands(_free_port() if spec.workers else 5557)
        for i, argv in enumerate(commands):
            role = ("master" if spec.workers else "local") if i == 0 else f"worker-{i}"
            log_name = "locust.log" if i == 0 else f"locust-{role}.log"
            try:
                self._procs.append(_Proc(role, argv, self.out_dir / log_name, env, cwd))
            except OSError as exc:
                raise self._fail(f"{self._where()}: cannot start Locust: {exc}") from exc

    def _read_progress(self) -> dict[str, Any] | None:
        try:
            data = json.loads((self.out_dir / "progress.json").read_text("utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _run(self, on_progress: Callable[[LoadProgress], None] | None) -> LoadRun:
        spec = self.spec
        if not self._locustfile().is_file():
            raise self._fail(f"{self._where()}: not found")
        self._prepare_dir()
        self._start()
        main, workers = self._procs[0], self._procs[1:]
        started = timing.monotonic()
        load_started: float | None = None  # monotonic time the capture saw the test start
        last_cpu = 0.0
        cpu_now: float | None = None
        last_tick = None
        hard_deadline = (
            started
            + spec.startup_timeout_s
            + spec.duration_s
            + spec.stop_timeout_s
            + spec.shutdown_grace_s
        )
        while main.popen.poll() is None:
            timing.sleep(_POLL_S)
            now = timing.monotonic()
            for worker in workers:
                # A worker that wrote its capture file has finished (the master quits it).
                if worker.popen.poll() is not None and not self._capture_file(worker).is_file():
                    detail = self._diagnose(worker)
                    raise self._fail(
                        f"{self._where()}: Locust {worker.role} exited during the run: {detail}",
                        proc=worker,
                    )
            progress = self._read_progress()
            if load_started is None and progress and progress.get("t0") is not None:
                load_started = now - float(progress.get("elapsed_s") or 0.0)
                for proc in self._procs:
                    proc.start_cpu()
                last_cpu = now
            # CPU only while the load runs: start-up imports would look like saturation.
            if (
                load_started is not None
                and now - last_cpu >= _CPU_EVERY_S
                and now - load_started <= spec.duration_s
            ):
                last_cpu = now
                values = [v for p in self._procs if (v := p.sample_cpu()) is not None]
                cpu_now = max(values) if values else None
            if on_progress is not None and progress is not None and progress.get("t") != last_tick:
                last_tick = progress.get("t")
                on_progress(self._progress(progress, cpu_now))
            if load_started is None and now - started > spec.startup_timeout_s:
                detail = error_line(main.log_text()) or "no error logged"
                raise self._fail(
                    f"{self._where()}: Locust did not start the load within "
                    f"{spec.startup_timeout_s:g} s: {detail}"
                )
            if now > hard_deadline:
                raise self._fail(
                    f"{self._where()}: Locust did not stop within "
                    f"{spec.stop_timeout_s + spec.shutdown_grace_s:g} s "
                    f"after its {spec.duration_s} s run time; killed"
                )
        if main.popen.returncode not in (0, 1) or not self._capture_file(main).is_file():
            # Crashed or refused to start (bad option, broken locustfile): its
            # workers would wait for it in vain.
            raise self._fail(f"{self._where()}: {self._diagnose(main)}")
        # The master quits its workers; give them time to write their capture files.
        for worker in workers:
            try:
                worker.popen.wait(timeout=_WORKER_EXIT_GRACE_S)
            except subprocess.TimeoutExpired:
                raise self._fail(
                    f"{self._where()}: Locust {worker.role} did not stop after the master",
                    proc=worker,
                ) from None
        return self._collect()

    @staticmethod
    def _diagnose(proc: _Proc) -> str:
        """One line on why ``proc`` failed, from its log."""
        return diagnose(proc.log_text(), proc.popen.returncode)

    def _capture_file(self, proc: _Proc) -> Path:
        role = proc.role.split("-")[0]  # "worker-2" writes capture-worker-<pid>.json
        return self.out_dir / f"capture-{role}-{proc.pid}.json"

    def _progress(self, data: dict[str, Any], cpu: float | None) -> LoadProgress:
        state = "waiting" if data.get("t0") is None else "running"
        if data.get("stopped") or float(data.get("elapsed_s") or 0.0) >= self.spec.duration_s:
            state = "stopping"
        if data.get("aborted"):
            state = "aborted"
        return LoadProgress(
            elapsed_s=float(data.get("elapsed_s") or 0.0),
            duration_s=float(self.spec.duration_s),
            users=int(data.get("users") or 0),
            rps=float(data.get("rps") or 0.0),
            p95_ms=data.get("p95_ms"),
            requests=int(data.get("requests") or 0),
            failures=int(data.get("failures") or 0),
            rate_limited=int(data.get("rate_limited") or 0),
            cpu_pct=cpu,
            state=state,
        )

    def _collect(self) -> LoadRun:
        spec = self.spec
        main = self._procs[0]
        code = main.popen.returncode
        log = main.log_text()
        expected = [self._capture_file(p) for p in self._procs]
        missing = [p for p in expected if not p.is_file()]
        if code not in (0, 1) or missing:
            culprit = main
            if missing and code in (0, 1):
                # The master looks fine: blame the first process whose file is missing.
                culprit = next(
                    p for p, f in zip(self._procs, expected, strict=True) if f in missing
                )
            raise self._fail(f"{self._where()}: {self._diagnose(culprit)}", proc=culprit)
        try:
            head = json.loads(expected[0].read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise self._fail(f"{self._where()}: unreadable capture file: {exc}") from exc
        t0, t_end, measured = head.get("t0"), head.get("t_end"), head.get("duration_s")
        if t0 is None or t_end is None or measured is None:
            detail = error_line(log) or "the test never started"
            raise self._fail(f"{self._where()}: {detail}")
        measured = float(measured)  # monotonic; t0 and t_end are wall clock, for display
        aborted = head.get("aborted")
        tolerance = max(_EARLY_STOP_TOLERANCE_S, _EARLY_STOP_TOLERANCE_FRACTION * spec.duration_s)
        if not aborted and measured < spec.duration_s - tolerance:
            detail = error_line(log)
            raise self._fail(
                f"{self._where()}: Locust stopped after {measured:.1f} s of a "
                f"{spec.duration_s} s run" + (f": {detail}" if detail else "")
            )
        locust_json = self._locust_json()
        cpu = CpuUsage(
            samples={p.role: tuple(p.cpu_samples) for p in self._procs if p.role != "master"},
            locust_warning=any(_CPU_WARNING.search(p.log_text()) for p in self._procs),
        )
        warnings = []
        if locust_json is None:
            warnings.append("Locust wrote no --json-file: its own figures are missing")
        if cpu.saturated:
            warnings.append("load generator CPU saturated: latencies include its own queueing")
        if any("Traceback (most recent call" in p.log_text() for p in self._procs):
            warnings.append(f"the locustfile raised during the run: {error_line(log) or 'see log'}")
        capture_files = [
            f for f, p in zip(expected, self._procs, strict=True) if p.role != "master"
        ]
        unbounded = sorted(
            {
                name
                for f in capture_files
                for name in json.loads(f.read_text("utf-8")).get("unbounded_user_classes", [])
            }
        )
        if unbounded:
            warnings.append(
                f"request_timeout cannot bound user classes {', '.join(unbounded)} (not HttpUser "
                "or FastHttpUser): their requests in flight when the load stopped are not seen"
            )
        try:
            run = build_load_run(
                spec,
                capture_files,
                locust_json=locust_json,
                t0=float(t0),
                t_end=float(t_end),
                duration_s=measured,
                aborted=aborted,
                cpu=cpu,
                exit_code=code,
                command=main.argv,
                warnings=warnings,
            )
        except (CaptureFileError, KeyError, ValueError) as exc:
            raise self._fail(f"{self._where()}: bad capture file: {exc}") from exc
        if run.overall.requests == 0:
            made = sum(point.requests for point in run.overall.series)
            if made:
                # Requests were made, none judged: say so, the locustfile is not to blame.
                raise self._fail(
                    f"all {made} requests ended inside the {spec.warmup_s:g} s warm-up: "
                    "nothing left to judge; shorten the warm-up or run longer"
                )
            # Nothing measured: a locustfile that raises in every task, or that has none.
            detail = error_line(log) or "no request was made"
            raise self._fail(f"{self._where()}: {detail}")
        return run

    def _locust_json(self) -> list[dict[str, Any]] | None:
        try:
            data = json.loads((self.out_dir / "locust.json").read_text("utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, list) else None
