"""The figures of a finished load run: per-endpoint and overall statistics, as frozen values.

Built by the runner from the capture module's files (one per load process)
and Locust's own ``--json-file``. All percentiles here are exact to 0.1%
(HdrHistogram, see ``stats.py``); Locust's own p95, computed from its rounded
buckets, is kept beside each for comparison and named as such.

Definitions:

- ``requests``: every request the load processes saw, failed or not.
- ``failures``: by kind (``failures.py``); ``rate_limited`` (HTTP 429) is
  counted apart and is not a failure.
- latency percentiles: over successful requests, plus timed-out and
  unfinished ones as right-censored samples (their elapsed time is a lower
  bound of their latency: it lowers the interval's low end, and puts the
  high end at infinity when the rank reaches them; see
  ``stats.censored_percentile``). A fast 503 or a refused connection says
  nothing about the service's latency: failures are judged by the error
  rate, and a latency gate cannot PASS while they are over its limit.
- time: every request belongs to the step in which it ENDED, on the
  monotonic clock from the load's start; a request ending after the run
  time counts in the last step. ``windows`` cover the whole judged span,
  empty ones included (``requests == 0``: nothing ended in them).
- ``error_rate``: failures / (requests - rate_limited), Wilson interval.
- ``rps``: requests / measured load time (from the test start to its stop).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_fixgate.kinds.load.failures import FAILURE_KINDS, FailureKind
from pytest_fixgate.measurements.stats import (
    ErrorRate,
    LatencyHistogram,
    PercentileEstimate,
    WindowedHistograms,
    censored_percentile,
)

if TYPE_CHECKING:
    from pytest_fixgate.kinds.load.request import LoadRequest

__all__ = [
    "CaptureFileError",
    "CpuUsage",
    "EndpointStats",
    "LoadAbort",
    "LoadRun",
    "WindowStats",
    "build_load_run",
    "locust_percentile",
    "read_capture_file",
]

OVERALL = "Aggregated"
CPU_SATURATION_PCT = 90.0  # Locust's own warning threshold
_CPU_ROLLING_SAMPLES = 5


class CaptureFileError(ValueError):
    """A capture file that is missing pieces or cannot be parsed."""


def locust_percentile(response_times: Mapping[float, int], q: float) -> float | None:
    """Locust's own percentile of its rounded response-time buckets.

    ``locust.stats.calculate_response_time_percentile``, re-implemented here
    because the gate process must not import Locust.
    """
    total = sum(response_times.values())
    if total == 0:
        return None
    wanted = int(total * q)
    processed = 0
    for value in sorted(response_times, reverse=True):
        processed += response_times[value]
        if total - processed <= wanted:
            return float(value)
    return 0.0


@dataclass(frozen=True)
class WindowStats:
    """One time window (seconds from the test start) of one endpoint."""

    start_s: float
    end_s: float
    requests: int
    failures: int
    rate_limited: int
    p95: PercentileEstimate
    error_rate: ErrorRate

    def as_dict(self) -> dict[str, Any]:
        return {
            "start_s": self.start_s,
            "end_s": self.end_s,
            "requests": self.requests,
            "failures": self.failures,
            "rate_limited": self.rate_limited,
            "p95": self.p95.as_dict(),
            "error_rate": self.error_rate.as_dict(),
        }


@dataclass(frozen=True)
class EndpointStats:
    """Figures of one endpoint (method and Locust name), or of all (``name == "Aggregated"``)."""

    name: str
    method: str
    requests: int
    failures: Mapping[str, int]
    rate_limited: int
    histogram: LatencyHistogram
    percentiles: Mapping[float, PercentileEstimate]
    error_rate: ErrorRate
    rps: float
    locust_requests: int | None
    locust_failures: int | None
    locust_p95_ms: float | None
    windows: tuple[WindowStats, ...]
    series: tuple[WindowStats, ...]
    failure_examples: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Lower bounds of the latencies of timed-out and unfinished requests.
    censored: LatencyHistogram = field(default_factory=LatencyHistogram)

    @property
    def failures_total(self) -> int:
        """All failures (rate-limited requests excluded)."""
        return sum(self.failures.values())

    @property
    def successes(self) -> int:
        """Requests that succeeded (the latency samples)."""
        return self.histogram.count

    @property
    def p50(self) -> PercentileEstimate:
        return self.percentile(0.5)

    @property
    def p95(self) -> PercentileEstimate:
        return self.percentile(0.95)

    @property
    def p99(self) -> PercentileEstimate:
        return self.percentile(0.99)

    def percentile(self, q: float, confidence: float | None = None) -> PercentileEstimate:
        """The q-quantile of latencies, censored ones included (precomputed for the spec's)."""
        known = self.percentiles.get(q)
        if known is not None and (confidence is None or confidence == known.confidence):
            return known
        level = confidence if confidence is not None else self.error_rate.confidence
        return censored_percentile(self.histogram, self.censored, q, level)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready; percentiles keyed ``p50``, ``p95``, ... (``p99.9`` for 0.999)."""
        return {
            "name": self.name,
            "method": self.method,
            "requests": self.requests,
            "successes": self.successes,
            "failures": {"total": self.failures_total, **dict(self.failures)},
            "rate_limited": self.rate_limited,
            "censored": {
                "count": self.censored.count,
                "max_lower_bound_ms": self.censored.max_ms,
                "what": "timed-out and unfinished requests: latency at least this",
            },
            "error_rate": self.error_rate.as_dict(),
            "rps": round(self.rps, 3),
            "latency_ms": {
                "min": self.histogram.min_ms,
                "max": self.histogram.max_ms,
                "mean": None
                if self.histogram.mean_ms is None
                else round(self.histogram.mean_ms, 3),
                **{_pname(q): est.as_dict() for q, est in sorted(self.percentiles.items())},
            },
            "locust": {
                "requests": self.locust_requests,
                "failures": self.locust_failures,
                "p95_ms": self.locust_p95_ms,
                "method": "Locust's own percentile of its rounded response-time buckets",
            },
            "windows": [w.as_dict() for w in self.windows],
            "failure_examples": {k: list(v) for k, v in self.failure_examples.items()},
        }


def _pname(q: float) -> str:
    return f"p{q * 100:g}"


@dataclass(frozen=True)
class CpuUsage:
    """CPU of the load-generating processes, sampled once a second during the load (100 = one core).

    ``saturated`` when any process averaged >= 90% over any 5 consecutive
    samples, or Locust itself warned about its CPU: latencies measured by a
    saturated generator include its own queueing and are not trustworthy.
    """

    samples: Mapping[str, tuple[float, ...]]
    locust_warning: bool = False
    threshold_pct: float = CPU_SATURATION_PCT

    @property
    def max_pct(self) -> float | None:
        values = [v for series in self.samples.values() for v in series]
        return max(values) if values else None

    @property
    def mean_pct(self) -> float | None:
        """Mean over the samples of the busiest process."""
        means = [sum(s) / len(s) for s in self.samples.values() if s]
        return max(means) if means else None

    @property
    def peak_rolling_pct(self) -> float | None:
        """The highest mean over 5 consecutive samples of any one process."""
        peaks = []
        for series in self.samples.values():
            if not series:
                continue
            k = min(_CPU_ROLLING_SAMPLES, len(series))
            peaks.append(max(sum(series[i : i + k]) / k for i in range(len(series) - k + 1)))
        return max(peaks) if peaks else None

    @property
    def saturated(self) -> bool:
        peak = self.peak_rolling_pct
        return self.locust_warning or (peak is not None and peak >= self.threshold_pct)

    def as_dict(self) -> dict[str, Any]:
        return {
            "saturated": self.saturated,
            "threshold_pct": self.threshold_pct,
            "max_pct": self.max_pct,
            "mean_pct": None if self.mean_pct is None else round(self.mean_pct, 1),
            "peak_5s_pct": None
            if self.peak_rolling_pct is None
            else round(self.peak_rolling_pct, 1),
            "locust_warning": self.locust_warning,
            "samples": {k: list(v) for k, v in self.samples.items()},
        }


@dataclass(frozen=True)
class LoadAbort:
    """A load run stopped early on purpose: a gate's FAIL was already certain."""

    at_s: float  # seconds from the load's start
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"at_s": self.at_s, "reason": self.reason}


@dataclass(frozen=True)
class LoadRun:
    """A finished load run: what was asked, what was measured, and how."""

    spec: LoadRequest
    overall: EndpointStats
    endpoints: tuple[EndpointStats, ...]
    cpu: CpuUsage
    started: datetime
    finished: datetime
    duration_s: float
    exit_code: int
    command: tuple[str, ...]
    results_dir: Path
    warnings: tuple[str, ...] = ()
    aborted: LoadAbort | None = None
    # Remote workers that took part and sent no capture (remote.py).
    lost_workers: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for the verdict's evidence."""
        return {
            "what": self.spec.describe(),
            "host": self.spec.host,
            "locustfile": str(self.spec.locustfile),
            "users": self.spec.users,
            "spawn_rate": self.spec.spawn_rate,
            "duration_s": self.spec.duration_s,
            "measured_duration_s": round(self.duration_s, 3),
            "window_s": self.spec.window_s,
            "warmup_s": self.spec.warmup_s,
            "workers": self.spec.workers,
            "started": self.started.isoformat(),
            "finished": self.finished.isoformat(),
            "locust_exit_code": self.exit_code,
            "command": list(self.command),
            "method": (
                "every request's own response_time recorded in the load process "
                "(Locust events.request) into HdrHistograms (1 us, 3 significant digits), "
                "merged across workers; nearest-rank percentiles with order-statistic "
                "confidence intervals; Wilson intervals for error rates"
            ),
            "overall": self.overall.as_dict(),
            "endpoints": [ep.as_dict() for ep in self.endpoints],
            "series": {
                "step_s": self.spec.step_s,
                "points": [
                    {
                        "start_s": w.start_s,
                        "requests": w.requests,
                        "failures": w.failures,
                        "rate_limited": w.rate_limited,
                        "p95_ms": w.p95.as_dict()["value_ms"],
                    }
                    for w in self.overall.series
                ],
            },
            "cpu": self.cpu.as_dict(),
            "warnings": list(self.warnings),
            "lost_workers": list(self.lost_workers),
            "aborted": None if self.aborted is None else self.aborted.as_dict(),
        }


# -- building a LoadRun from the files ------------------------------------------------


@dataclass
class _Acc:
    """Accumulates one endpoint over capture files."""

    method: str
    name: str
    step_s: float
    windows: WindowedHistograms = field(init=False)
    censored: WindowedHistograms = field(init=False)
    requests: Counter[int] = field(default_factory=Counter)
    kinds: dict[int, Counter[str]] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.windows = WindowedHistograms(self.step_s)
        self.censored = WindowedHistograms(self.step_s)

    def add_file_entry(self, entry: Mapping[str, Any]) -> None:
        for key, step in entry.get("steps", {}).items():
            index = int(key)
            self.requests[index] += int(step["requests"])
            self.windows.histogram(index).merge(LatencyHistogram.decode(step["hist"]))
            if "censored" in step:
                self.censored.histogram(index).merge(LatencyHistogram.decode(step["censored"]))
            kinds = self.kinds.setdefault(index, Counter())
            kinds.update({k: int(v) for k, v in step.get("kinds", {}).items()})
        for kind, texts in entry.get("examples", {}).items():
            known = self.examples.setdefault(kind, [])
            known.extend(t for t in texts if t not in known and len(known) < 3)

    def after(self, first_index: int) -> _Acc:
        """A copy holding only the steps from ``first_index`` on (the warm-up left out)."""
        out = _Acc(self.method, self.name, self.step_s)
        for mine, theirs in ((self.windows, out.windows), (self.censored, out.censored)):
            for start_s, hist in mine.items():
                index = round(start_s / self.step_s)
                if index >= first_index:
                    theirs.histogram(index).merge(hist)
        out.requests = Counter({i: n for i, n in self.requests.items() if i >= first_index})
        out.kinds = {i: Counter(k) for i, k in self.kinds.items() if i >= first_index}
        out.examples = {k: list(v) for k, v in self.examples.items()}
        return out

    def merge(self, other: _Acc) -> None:
        self.windows.merge(other.windows)
        self.censored.merge(other.censored)
        self.requests.update(other.requests)
        for index, kinds in other.kinds.items():
            self.kinds.setdefault(index, Counter()).update(kinds)
        for kind, texts in other.examples.items():
            known = self.examples.setdefault(kind, [])
            known.extend(t for t in texts if t not in known and len(known) < 3)


def read_capture_file(path: Path) -> dict[str, Any]:
    """Parse one capture file; CaptureFileError when it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CaptureFileError(f"{path.name}: unreadable capture file: {exc}") from exc
    if not isinstance(data, dict) or data.get("schema") != 1 or "role" not in data:
        raise CaptureFileError(f"{path.name}: not a fixgate capture file (schema 1)")
    return data


def _split_kinds(kinds: Mapping[str, int]) -> tuple[dict[str, int], int]:
    failures = {k.value: int(kinds.get(k.value, 0)) for k in FAILURE_KINDS}
    return failures, int(kinds.get(FailureKind.RATE_LIMITED.value, 0))


def _window_stats(
    acc: _Acc, window_s: float, confidence: float, first_s: float, last_end_s: float
) -> tuple[WindowStats, ...]:
    """Tumbling windows from ``first_s`` to ``last_end_s``, empty ones included.

    Requests that ended after ``last_end_s`` (in flight when the run time was
    over, or when the load was stopped early) count in the last window.
    """
    factor = max(1, round(window_s / acc.step_s))
    width = acc.step_s * factor
    first = math.floor(first_s / width + 1e-9)
    last = max(first + 1, math.ceil(last_end_s / width - 1e-9))  # exclusive

    def window(step: int) -> int:
        return min(step // factor, last - 1)

    grouped_requests: Counter[int] = Counter()
    grouped_kinds: dict[int, Counter[str]] = {}
    for index, n in acc.requests.items():
        grouped_requests[window(index)] += n
    for index, kinds in acc.kinds.items():
        grouped_kinds.setdefault(window(index), Counter()).update(kinds)
    hists, censored = WindowedHistograms(width), WindowedHistograms(width)
    for steps, grouped in ((acc.windows, hists), (acc.censored, censored)):
        for start_s, hist in steps.items():
            grouped.histogram(window(round(start_s / acc.step_s))).merge(hist)
    result = []
    for index in sorted(set(range(first, last)) | set(grouped_requests)):
        failures, limited = _split_kinds(grouped_kinds.get(index, Counter()))
        requests = grouped_requests[index]
        start = index * width
        result.append(
            WindowStats(
                start_s=start,
                end_s=min(start + width, max(last_end_s, start)),
                requests=requests,
                failures=sum(failures.values()),
                rate_limited=limited,
                p95=censored_percentile(
                    hists.histogram(index), censored.histogram(index), 0.95, confidence
                ),
                error_rate=ErrorRate.from_counts(
                    sum(failures.values()), requests - limited, confidence
                ),
            )
        )
    return tuple(result)


def _endpoint_stats(
    acc: _Acc,
    spec: LoadRequest,
    duration_s: float,
    span_s: float,
    locust_entry: Mapping[str, Any] | None,
) -> EndpointStats:
    # Windows end with the run time (or the abort): requests ending later are in the last step.
    series_acc, series_end_s = acc, span_s
    # The spec makes the warm-up a whole number of steps (requests are in the step they ended in).
    warmup_steps = math.ceil(spec.warmup_s / acc.step_s - 1e-9) if spec.warmup_s else 0
    if warmup_steps:
        acc = acc.after(warmup_steps)
        duration_s = max(0.0, duration_s - warmup_steps * acc.step_s)
    hist = acc.windows.total()
    censored = acc.censored.total()
    kinds: Counter[str] = Counter()
    for step_kinds in acc.kinds.values():
        kinds.update(step_kinds)
    failures, limited = _split_kinds(kinds)
    failures = {k: v for k, v in failures.items() if v}
    requests = sum(acc.requests.values())
    confidence = spec.confidence
    locust_times = _locust_times(locust_entry)
    return EndpointStats(
        name=acc.name,
        method=acc.method,
        requests=requests,
        failures=failures,
        rate_limited=limited,
        histogram=hist,
        percentiles={
            q: censored_percentile(hist, censored, q, confidence) for q in spec.percentiles
        },
        error_rate=ErrorRate.from_counts(sum(failures.values()), requests - limited, confidence),
        rps=requests / duration_s if duration_s > 0 else 0.0,
        locust_requests=None if locust_entry is None else int(locust_entry["num_requests"]),
        locust_failures=None if locust_entry is None else int(locust_entry["num_failures"]),
        locust_p95_ms=None if locust_times is None else locust_percentile(locust_times, 0.95),
        windows=(
            _window_stats(acc, spec.window_s, confidence, warmup_steps * acc.step_s, series_end_s)
            if spec.window_s is not None
            else ()
        ),
        series=_window_stats(series_acc, acc.step_s, confidence, 0.0, series_end_s),
        failure_examples={k: tuple(v) for k, v in acc.examples.items()},
        censored=censored,
    )


def _locust_times(entry: Mapping[str, Any] | None) -> dict[float, int] | None:
    if entry is None:
        return None
    return {float(k): int(v) for k, v in entry.get("response_times", {}).items()}


def _merge_locust_entries(entries: Iterable[Mapping[str, Any]]) -> dict[str, Any] | None:
    entries = list(entries)
    if not entries:
        return None
    times: Counter[str] = Counter()
    for entry in entries:
        times.update({str(k): int(v) for k, v in entry.get("response_times", {}).items()})
    return {
        "num_requests": sum(int(e["num_requests"]) for e in entries),
        "num_failures": sum(int(e["num_failures"]) for e in entries),
        "response_times": dict(times),
    }


def build_load_run(
    spec: LoadRequest,
    capture_files: Sequence[Path],
    *,
    locust_json: Sequence[Mapping[str, Any]] | None,
    t0: float,
    t_end: float,
    cpu: CpuUsage,
    exit_code: int,
    command: Sequence[str],
    warnings: Sequence[str] = (),
    duration_s: float | None = None,
    aborted: Mapping[str, Any] | None = None,
) -> LoadRun:
    """Merge the capture files of all load processes into one LoadRun.

    ``t0``/``t_end`` are the epoch seconds of the test's start and stop (for
    display); ``duration_s`` the load's length on the monotonic clock
    (default ``t_end - t0``); ``aborted`` the capture's ``{"at_s", "reason"}``
    when it stopped the load early.
    """
    step_s = spec.step_s
    per_endpoint: dict[tuple[str, str], _Acc] = {}
    for path in capture_files:
        data = read_capture_file(path)
        if float(data.get("step_s", step_s)) != step_s:
            raise CaptureFileError(f"{path.name}: step {data.get('step_s')} s, expected {step_s} s")
        for entry in data.get("endpoints", []):
            key = (str(entry["method"]), str(entry["name"]))
            acc = per_endpoint.get(key)
            if acc is None:
                acc = per_endpoint[key] = _Acc(key[0], key[1], step_s)
            acc.add_file_entry(entry)
    duration_s = max(0.0, t_end - t0 if duration_s is None else duration_s)
    span_s = min(duration_s, float(spec.duration_s))
    if aborted:
        span_s = min(span_s, float(aborted["at_s"]))
    locust_by_key = {(str(e["method"]), str(e["name"])): e for e in (locust_json or [])}
    endpoints = tuple(
        _endpoint_stats(acc, spec, duration_s, span_s, locust_by_key.get(key))
        for key, acc in sorted(per_endpoint.items())
    )
    overall_acc = _Acc("", OVERALL, step_s)
    for acc in per_endpoint.values():
        overall_acc.merge(acc)
    overall = _endpoint_stats(
        overall_acc,
        spec,
        duration_s,
        span_s,
        _merge_locust_entries(locust_json or []) if locust_json is not None else None,
    )
    return LoadRun(
        spec=spec,
        overall=overall,
        endpoints=endpoints,
        cpu=cpu,
        started=datetime.fromtimestamp(t0, UTC),
        finished=datetime.fromtimestamp(t_end, UTC),
        duration_s=duration_s,
        exit_code=exit_code,
        command=tuple(command),
        results_dir=spec.results_dir,
        warnings=tuple(warnings),
        aborted=None if not aborted else LoadAbort(float(aborted["at_s"]), str(aborted["reason"])),
    )
