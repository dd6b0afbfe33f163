"""What a load run is asked to do: the LoadRequest value object.

A LoadRequest is plain values (no config objects, no pytest): the config loader
builds one from ``[env.<name>.load]``, tests build one by hand. It validates
itself on construction, so a bad value fails before any process starts.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_fixgate.kinds.load.remote_workers import RemoteWorkers

__all__ = ["LoadRequest"]

# About this many points in the time series of a run (chart and windows).
_SERIES_POINTS = 60
_MIN_STEP_S = 0.1  # a finer common step of window and warm-up is not worth its histograms


@dataclass(frozen=True)
class LoadRequest:
    """One headless Locust run against ``host``.

    :param host: base URL, e.g. ``http://127.0.0.1:8000``.
    :param locustfile: the team's locustfile, used unchanged.
    :param users: peak number of concurrent users.
    :param spawn_rate: users started per second.
    :param duration_s: run time in whole seconds (Locust's ``-t``).
    :param results_dir: where Locust's JSON, the capture files and the logs go.
    :param window_s: tumbling window for per-window figures (the p95 must
        hold in every window), or None.
    :param warmup_s: requests that END in the first ``warmup_s`` seconds are left
        out of the judged figures (they still show in the time series): connection
        set-up and the spawn burst are not the steady state "p95 for 5 minutes"
        speaks of. A request that starts in the warm-up and ends after it is judged.
    :param workers: 0 runs one Locust process; N > 0 runs a master and N
        local workers whose histograms are merged exactly.
    :param request_timeout_s: per-request timeout: FastHttpUser's connect and
        network timeouts, HttpUser's ``timeout``. When the run time is over,
        requests in flight get this long (plus 1 s) to end; any still running
        then count as ``unfinished``.
    :param abort_error_rate: abort on fail: ``(op, limit, text)`` of the
        error-rate thresholds whose certain failure stops the load early.
    :param abort_window_p95_ms: abort on fail: ``(op, limit_ms, text)`` of the
        p95 thresholds a finished ``window`` may already have failed.
    :param abort_min_requests: judged requests before the error-rate rule may stop a load.
    :param expect_json: when set, every 2xx response must be a JSON object
        holding these keys and values (``{"ready": True}`` for readiness);
        others count as ``bad_body``.
    :param env: extra environment variables for the Locust processes (the
        locustfiles' own options, e.g. weights).
    :param user_classes: run only these User classes (all when empty).
    :param extra_args: more Locust command-line options, passed as is.
    :param percentiles: the quantiles reported for every endpoint.
    :param confidence: confidence level of every interval.
    :param startup_timeout_s: how long Locust may take to start the load.
    :param shutdown_grace_s: how long it may take to stop after the run time.
    :param cwd: working directory of the Locust processes (default: the caller's).
    :param python: the interpreter that runs Locust.
    """

    host: str
    locustfile: Path
    users: int
    spawn_rate: float
    duration_s: int
    results_dir: Path
    window_s: float | None = None
    warmup_s: float = 0.0
    workers: int = 0
    request_timeout_s: float = 10.0
    abort_error_rate: tuple[tuple[str, float, str], ...] = ()
    abort_window_p95_ms: tuple[tuple[str, float, str], ...] = ()
    abort_min_requests: int = 50
    expect_json: Mapping[str, Any] | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    user_classes: tuple[str, ...] = ()
    extra_args: tuple[str, ...] = ()
    percentiles: tuple[float, ...] = (0.5, 0.95, 0.99)
    confidence: float = 0.95
    startup_timeout_s: float = 30.0
    shutdown_grace_s: float = 20.0
    cwd: Path | None = None
    python: str = sys.executable
    # Workers started elsewhere connect to the master (remote.py).
    remote: RemoteWorkers | None = None

    def __post_init__(self) -> None:
        # Freeze the mappings and normalise paths, so a spec cannot change under a run.
        object.__setattr__(self, "locustfile", Path(self.locustfile))
        object.__setattr__(self, "results_dir", Path(self.results_dir))
        object.__setattr__(self, "env", MappingProxyType(dict(self.env)))
        if self.expect_json is not None:
            object.__setattr__(self, "expect_json", MappingProxyType(dict(self.expect_json)))
        object.__setattr__(self, "user_classes", tuple(self.user_classes))
        object.__setattr__(self, "extra_args", tuple(self.extra_args))
        object.__setattr__(self, "percentiles", tuple(self.percentiles))
        for name in ("abort_error_rate", "abort_window_p95_ms"):
            object.__setattr__(self, name, tuple(tuple(r) for r in getattr(self, name)))
        problems = list(self._problems())
        if problems:
            raise ValueError("invalid load spec: " + "; ".join(problems))

    def __reduce__(self) -> tuple[Any, tuple[dict[str, Any]]]:
        # MappingProxyType does not pickle: rebuild from plain values (and validate again).
        plain = {
            f.name: dict(value) if isinstance(value, MappingProxyType) else value
            for f in fields(self)
            for value in (getattr(self, f.name),)
        }
        return (_spec_from_fields, (plain,))

    def _problems(self) -> list[str]:
        problems = []
        if not self.host.startswith(("http://", "https://")):
            problems.append(f"host must be an http(s) URL, got {self.host!r}")
        if self.locustfile.suffix != ".py":
            problems.append(f"locustfile must be a .py file, got {str(self.locustfile)!r}")
        if "," in str(self.locustfile):
            problems.append("locustfile path must not contain a comma (Locust splits -f on it)")
        if self.users < 1:
            problems.append(f"users must be >= 1, got {self.users}")
        if not self.spawn_rate > 0:
            problems.append(f"spawn_rate must be > 0, got {self.spawn_rate}")
        if isinstance(self.duration_s, bool) or not isinstance(self.duration_s, int):
            problems.append(f"duration_s must be whole seconds, got {self.duration_s!r}")
        elif self.duration_s < 1:
            problems.append(f"duration_s must be >= 1, got {self.duration_s}")
        if self.window_s is not None and self.window_s < 1:
            problems.append(f"window_s must be >= 1 s, got {self.window_s}")
        if not 0 <= self.warmup_s < self.duration_s:
            problems.append(f"warmup_s must be >= 0 and shorter than the run, got {self.warmup_s}")
        if self.abort_min_requests < 1:
            problems.append(f"abort_min_requests must be >= 1, got {self.abort_min_requests}")
        if self.workers < 0:
            problems.append(f"workers must be >= 0, got {self.workers}")
        if not self.request_timeout_s > 0:
            problems.append(f"request_timeout_s must be > 0, got {self.request_timeout_s}")
        if not all(0.0 < q < 1.0 for q in self.percentiles):
            problems.append(f"percentiles must be in (0, 1), got {self.percentiles}")
        if not 0.0 < self.confidence < 1.0:
            problems.append(f"confidence must be in (0, 1), got {self.confidence}")
        return problems

    @property
    def step_s(self) -> float:
        """Resolution of the time series: about 60 points, with ``window_s`` and
        ``warmup_s`` whole multiples of it.

        Windows are merged from steps, so per-window percentiles stay exact;
        the warm-up ends on a step boundary, so it drops exactly the requests
        that end inside it. When the only common divisor is under
        ``_MIN_STEP_S`` (window "70s" with warm-up "2s" has 1 ms), the step
        stays as it was and the warm-up is rounded up to whole steps: a step of
        milliseconds would mean hundreds of thousands of histograms.
        """
        if self.window_s is None:
            step = float(max(1, math.ceil(self.duration_s / _SERIES_POINTS)))
        else:
            windows = max(1, math.ceil(self.duration_s / self.window_s))
            per_window = max(1, min(int(self.window_s), _SERIES_POINTS // windows))
            step = self.window_s / per_window
        if self.warmup_s:
            # A common divisor (in ms) of the window (or step) and the warm-up, at most ``step``.
            common = math.gcd(round(step * 1000), round(self.warmup_s * 1000)) / 1000
            if common >= _MIN_STEP_S:
                step = common / math.ceil(common / step - 1e-9)
        return step

    @property
    def stop_timeout_s(self) -> int:
        """How long requests in flight at the end of the run time may take to end
        (Locust's ``--stop-timeout`` takes whole seconds)."""
        return math.ceil(self.request_timeout_s) + 1

    @property
    def abort_on_fail(self) -> bool:
        """True when some certain failure stops the load early."""
        return bool(self.abort_error_rate or self.abort_window_p95_ms)

    def describe(self) -> str:
        """One line for evidence: what was run, without the environment's values."""
        mode = f", {self.workers} workers" if self.workers else ""
        if self.remote is not None:
            mode = f", {self.remote.count} remote workers via {self.remote.bind}"
        window = f", window {self.window_s:g} s" if self.window_s else ""
        if self.warmup_s:
            window += f", first {self.warmup_s:g} s not judged (warm-up)"
        return (
            f"locust {self.locustfile} against {self.host}: {self.users} users "
            f"(+{self.spawn_rate:g}/s) for {self.duration_s} s{window}{mode}"
        )


def _spec_from_fields(values: dict[str, Any]) -> LoadRequest:
    return LoadRequest(**values)
