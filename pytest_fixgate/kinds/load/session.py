"""The load run of a gate session: built from config, run once, shared by every load gate.

Every load gate judges the same Locust run. Under pytest-xdist the gates may
land on different workers; the first to ask runs Locust while holding a lock
in the session's shared temporary folder, and the others wait, then read the
run it left there (or the error it hit). So a gate session makes exactly one
load run, whatever ``-n`` is.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import pickle
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_fixgate.config.schema import EnvConfig
from pytest_fixgate.config.thresholds import Threshold
from pytest_fixgate.errors import ProbeConnectError, ProbeTimeout
from pytest_fixgate.kinds.load.config import LoadConfig
from pytest_fixgate.kinds.load.remote import runner_for
from pytest_fixgate.kinds.load.request import LoadRequest
from pytest_fixgate.kinds.load.runner import LoadRunError
from pytest_fixgate.measurements.http_probe import http_get

if TYPE_CHECKING:
    from pytest_fixgate.kinds.load.progress import LoadProgress
    from pytest_fixgate.kinds.load.request import LoadRequest
    from pytest_fixgate.kinds.load.results import LoadRun

__all__ = [
    "SessionLoad",
    "abort_rules",
    "error_limit",
    "load_request",
    "run_load_once",
]

_RUN_FILE = "load-run.pickle"
_ERROR_FILE = "load-error.json"


def load_request(env: EnvConfig, results_dir: Path, workers: int | None = None) -> LoadRequest:
    """The Locust run ``[env.X.load]`` describes, aimed at ``base_url``."""
    load = env.section("load")
    if load is None:
        raise ValueError(f"env.{env.name} has no [load] table")
    extra: list[str] = []
    if load.weights:
        users = [{"user_class_name": name, "weight": w} for name, w in load.weights.items()]
        extra += ["--config-users", json.dumps(users)]
    child_env = {}
    if env.token_env:
        # The shipped locustfiles read the token from the variable this names.
        child_env["FIXGATE_READY_TOKEN_ENV"] = env.token_env
    return LoadRequest(
        host=env.base_url,
        locustfile=load.locustfile,
        users=load.users,
        spawn_rate=load.spawn_rate,
        duration_s=max(1, math.ceil(load.duration_s)),
        results_dir=results_dir,
        window_s=load.window_s,
        warmup_s=load.warmup_s,
        workers=load.workers if workers is None else workers,
        request_timeout_s=load.request_timeout_s,
        env=child_env,
        extra_args=(*extra, *load.locust_args),
        remote=load.remote,
        **abort_rules(load),
    )


def _upper_limits(
    thresholds: tuple[Threshold, ...], key: str
) -> tuple[tuple[str, float, str], ...]:
    return tuple(
        (t.op, float(t.value), t.text)
        for t in thresholds
        if t.key == key and t.upper_bound and isinstance(t.value, int | float)
    )


def abort_rules(load: LoadConfig) -> dict[str, Any]:
    """The LoadRequest fields for abort on fail: the overall limits whose certain failure
    stops the load (error rates; with ``window``, the p95 per window)."""
    if not load.abort_on_fail:
        return {}
    return {
        "abort_error_rate": _upper_limits(load.thresholds, "error_rate"),
        "abort_window_p95_ms": _upper_limits(load.thresholds, "p(95)") if load.window_s else (),
    }


def error_limit(load: LoadConfig, endpoint: str | None) -> Threshold | None:
    """The error-rate threshold a latency gate is held to: the endpoint's own, else the
    table's (the config adds the runbook's 1% when none is written)."""
    own = load.endpoint_thresholds.get(endpoint, ()) if endpoint else ()
    for thresholds in (own, load.thresholds):
        limits = [t for t in thresholds if t.metric == "error_rate" and t.upper_bound]
        if limits:
            return min(limits, key=lambda t: float(t.value))  # type: ignore[arg-type]
    return None


def run_load_once(
    spec: LoadRequest,
    folder: Path,
    on_progress: Callable[[LoadProgress], None] | None = None,
    preflight: Callable[[], None] | None = None,
) -> LoadRun:
    """The session's one load run: run it here, or read the one another worker made.

    ``preflight`` (a LoadRunError when the target cannot be reached) runs once, by the
    first to come: its error is shared like the run's, not probed again by every gate.
    """

    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "load.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        error_file, run_file = folder / _ERROR_FILE, folder / _RUN_FILE
        if error_file.exists():
            raise LoadRunError(json.loads(error_file.read_text(encoding="utf-8"))["error"])
        if run_file.exists():
            # Written by this same code in this same session: safe to unpickle.
            with run_file.open("rb") as fh:
                return pickle.load(fh)
        try:
            if preflight is not None:
                preflight()
            run = runner_for(spec).run(on_progress)
            _write_run(run_file, run)
        except LoadRunError as exc:
            error_file.write_text(json.dumps({"error": str(exc)}), encoding="utf-8")
            raise
        except BaseException as exc:
            # Whatever stopped this run stops the other workers' gates too, never silently.
            error_file.write_text(
                json.dumps({"error": f"the load run failed: {type(exc).__name__}: {exc}"}),
                encoding="utf-8",
            )
            raise
        return run


def _write_run(path: Path, run: LoadRun) -> None:
    """Atomically: a worker never reads half a run."""
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as fh:
        pickle.dump(run, fh)
    os.replace(tmp, path)


def _preflight(env: EnvConfig) -> None:
    """One request before minutes of load: an unreachable target is an ERROR now, not
    after the whole run has failed request by request. Any HTTP answer will do."""

    try:
        http_get(env.base_url + "/", timeout_s=env.timeout_s)
    except (ProbeConnectError, ProbeTimeout) as exc:
        raise LoadRunError(f"no load run: the target is unreachable ({exc})") from None


class SessionLoad:
    """What the ``gate_load`` fixture gives a load gate: the session's one load run,
    made on first use. ("Run" alone means the gate run; Locust's is the load run.)"""

    def __init__(
        self,
        env: EnvConfig,
        folder: Path,
        workers: int | None,
        progress: Callable[[], AbstractContextManager[Callable[[LoadProgress], None]]],
    ) -> None:
        self.env = env
        self.folder = folder
        self.workers = workers
        self._progress = progress
        self._load_run: LoadRun | None = None

    def describe(self) -> str:
        """How the load is measured, for evidence, before anything runs."""
        try:
            return self._spec().describe()
        except ValueError:
            load = self.env.section("load")
            return f"locust {load.locustfile if load else '?'} (the load spec is invalid)"

    def _spec(self) -> LoadRequest:
        return load_request(self.env, self.folder / "results", self.workers)

    def load_run(self) -> LoadRun:
        """The session's load run; LoadRunError (a ProbeError: the gate ERRORs) if it failed."""
        if self._load_run is None:
            try:
                spec = self._spec()
            except ValueError as exc:
                raise LoadRunError(f"env.{self.env.name}.load: {exc}") from None
            with self._progress() as on_progress:
                self._load_run = run_load_once(
                    spec, self.folder, on_progress, lambda: _preflight(self.env)
                )
        return self._load_run
