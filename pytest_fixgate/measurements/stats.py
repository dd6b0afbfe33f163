"""Latency and error-rate statistics for load runs: percentiles with confidence intervals.

Pure statistics: nothing here knows about pytest or Locust, so the same code
runs inside the Locust process (recording) and in the gate process (deciding).

Methods, named so that a report can say how a figure was obtained:

- **Latency histogram.** Every response time is recorded, in microseconds,
  into an HdrHistogram with 3 significant digits (HdrHistogram_py). Values
  below 2,048 us are kept exactly (1 us unit); above, a bucket spans at most
  1/1024 of its value, so every recorded value is known within 0.1%. The
  histogram is mergeable (bucket counts add), so histograms from several
  Locust workers combine into exactly the histogram of all their samples.
  Count, min, max and mean are tracked exactly beside the buckets.
- **Percentile (point).** The nearest-rank order statistic: for n samples
  and quantile q, the sample of rank ``r = ceil(q * n)`` in ascending order
  (the inverse of the empirical CDF, as HdrHistogram and Locust define it).
  The histogram gives that sample's bucket; the estimate is the bucket's
  midpoint, within 0.05% (plus 0.5 us of rounding) of the exact sample.
- **Percentile (interval).** Distribution-free, from order statistics: with
  B ~ Binomial(n, q) the number of samples at or below the true quantile,
  ``P(X(l) <= x_q < X(u)) = P(l <= B <= u - 1)``. Ranks l and u are the
  equal-tailed binomial ranks, each tail holding at most (1 - confidence)/2,
  computed from the exact binomial distribution (n <= 10**7) or its normal
  approximation beyond. The interval is widened to the outer edges of the
  buckets holding X(l) and X(u), so quantisation never narrows it. When no
  rank is low (high) enough the bound is 0 (infinity): too few samples to
  bound the quantile on that side.
- **Error rate.** The Wilson score interval for a binomial proportion.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from itertools import accumulate
from statistics import NormalDist
from typing import Any

from hdrh.histogram import HdrHistogram

__all__ = [
    "HIGHEST_TRACKABLE_MS",
    "ErrorRate",
    "LatencyHistogram",
    "PercentileEstimate",
    "WindowedHistograms",
    "censored_percentile",
    "nearest_rank",
    "order_statistic_ranks",
    "percentile",
    "wilson_interval",
]

# One hour: anything slower is clipped to it (and counted as clipped).
_HIGHEST_US = 3_600_000_000
HIGHEST_TRACKABLE_MS = _HIGHEST_US / 1000.0
_SIGNIFICANT_FIGURES = 3
# Sub-bucket count 2**11 = 2048 for 3 significant digits: the HdrHistogram layout.
_SUB_BUCKET_BITS = math.ceil(math.log2(2 * 10**_SIGNIFICANT_FIGURES))
# Recording appends to a list; the list is folded into the histogram in
# batches, which is ~20x cheaper per value than HdrHistogram_py's record_value.
_FLUSH_AT = 16_384
# Above this many samples the binomial ranks use the normal approximation.
_EXACT_BINOMIAL_MAX_N = 10_000_000
_ENCODING_PREFIX = "hdr1"


def _new_hdr() -> HdrHistogram:
    return HdrHistogram(1, _HIGHEST_US, _SIGNIFICANT_FIGURES)


def _quantise(value_us: int) -> int:
    """The lowest value of the HdrHistogram bucket that holds ``value_us``."""
    shift = value_us.bit_length() - _SUB_BUCKET_BITS
    return value_us if shift <= 0 else (value_us >> shift) << shift


def _index(value_us: int) -> int:
    """The HdrHistogram counts-array index of ``value_us`` (unit 1 us, 3 significant digits)."""
    shift = value_us.bit_length() - _SUB_BUCKET_BITS
    return value_us if shift <= 0 else (shift << (_SUB_BUCKET_BITS - 1)) + (value_us >> shift)


@cache
def _check_layout() -> None:
    # The batch path re-derives HdrHistogram's bucket layout; prove it once per
    # process against the library's own API so a change there cannot go unseen.
    hdr = _new_hdr()
    for value in (0, 1, 2047, 2048, 2049, 4095, 4097, 1_470_123, 123_456_789, _HIGHEST_US):
        if hdr.get_lowest_equivalent_value(value) != _quantise(value) or (
            hdr.get_counts_array_index(value) != _index(value)
        ):
            raise RuntimeError(f"HdrHistogram bucket layout changed (value {value} us)")


def _decode_histogram(text: str) -> LatencyHistogram:
    return LatencyHistogram.decode(text)


class LatencyHistogram:
    """Response times (ms) in a mergeable HdrHistogram: 1 us unit, 3 significant digits.

    ``record`` is cheap (a list append); values are folded into the
    histogram in batches. Count, min, max and sum are exact. Values above
    one hour are clipped to one hour and counted in ``clipped``.
    """

    __slots__ = ("_cum", "_hdr", "_max_us", "_min_us", "_pending", "_sum_us", "clipped")

    def __init__(self) -> None:
        _check_layout()
        self._hdr: HdrHistogram | None = None  # allocated lazily: ~190 KB each
        self._pending: list[int] = []
        self._min_us: int | None = None
        self._max_us: int | None = None
        self._sum_us = 0
        self.clipped = 0
        self._cum: tuple[list[int], list[int]] | None = None

    # -- recording ---------------------------------------------------------
    def record(self, ms: float) -> None:
        """Record one response time in milliseconds (negative values count as 0).

        The hot path of a load run: one list append; conversion to
        microseconds and bucketing happen in batches.
        """
        pending = self._pending
        pending.append(ms)
        if len(pending) >= _FLUSH_AT:
            self._flush()

    def record_many(self, values_ms: Iterable[float]) -> None:
        """Record several response times in milliseconds."""
        self._pending.extend(values_ms)
        if len(self._pending) >= _FLUSH_AT:
            self._flush()

    def _flush(self) -> None:
        pending = self._pending
        if not pending:
            return
        self._cum = None
        values = [round(ms * 1000.0) for ms in pending]
        pending.clear()
        low, high = min(values), max(values)
        if low < 0 or high > _HIGHEST_US:
            self.clipped += sum(1 for v in values if v > _HIGHEST_US)
            values = [min(max(v, 0), _HIGHEST_US) for v in values]
            low, high = min(values), max(values)
        if self._hdr is None:
            self._hdr = _new_hdr()
        hdr = self._hdr
        # HdrHistogram_py's record_value costs ~9 us; adding into its counts
        # array by bucket index (the layout checked by _check_layout) costs
        # ~0.3 us a value. The index computation is _index() inlined.
        bits, half = _SUB_BUCKET_BITS, _SUB_BUCKET_BITS - 1
        counts = hdr.counts
        for index, count in Counter(
            [(b << half) + (v >> b) if (b := v.bit_length() - bits) > 0 else v for v in values]
        ).items():
            counts[index] += count
        self._min_us = low if self._min_us is None else min(self._min_us, low)
        self._max_us = high if self._max_us is None else max(self._max_us, high)
        self._sum_us += sum(values)
        hdr.set_internal_tacking_values(
            _index(self._min_us), _index(self._max_us), hdr.get_total_count() + len(values)
        )

    def merge(self, other: LatencyHistogram) -> None:
        """Add every sample of ``other`` to this histogram (exact: bucket counts add)."""
        other._flush()
        self._flush()
        self._cum = None
        if other._hdr is None or other.count == 0:
            return
        if self._hdr is None:
            self._hdr = _new_hdr()
        self._hdr.add(other._hdr)
        self._sum_us += other._sum_us
        self.clipped += other.clipped
        assert other._min_us is not None and other._max_us is not None
        self._min_us = other._min_us if self._min_us is None else min(self._min_us, other._min_us)
        self._max_us = other._max_us if self._max_us is None else max(self._max_us, other._max_us)

    @classmethod
    def merged(cls, histograms: Iterable[LatencyHistogram]) -> LatencyHistogram:
        """A new histogram holding the samples of all ``histograms``."""
        result = cls()
        for hist in histograms:
            result.merge(hist)
        return result

    # -- exact summary figures ---------------------------------------------
    @property
    def count(self) -> int:
        """Number of recorded samples."""
        self._flush()
        return 0 if self._hdr is None else self._hdr.get_total_count()

    @property
    def min_ms(self) -> float | None:
        """Smallest recorded value (exact to 1 us), or None when empty."""
        self._flush()
        return None if self._min_us is None else self._min_us / 1000.0

    @property
    def max_ms(self) -> float | None:
        """Largest recorded value (exact to 1 us), or None when empty."""
        self._flush()
        return None if self._max_us is None else self._max_us / 1000.0

    @property
    def mean_ms(self) -> float | None:
        """Arithmetic mean of the recorded values (exact to 1 us), or None when empty."""
        n = self.count
        return None if n == 0 else self._sum_us / n / 1000.0

    # -- order statistics ---------------------------------------------------
    def _cumulative(self) -> tuple[list[int], list[int]]:
        self._flush()
        if self._cum is None:
            starts: list[int] = []
            counts: list[int] = []
            hdr = self._hdr
            if hdr is not None and hdr.get_total_count():
                for index, count in enumerate(list(hdr.counts)):
                    if count:
                        starts.append(hdr.get_value_from_index(index))
                        counts.append(count)
            self._cum = (starts, list(accumulate(counts)))
        return self._cum

    def bucket_at_rank(self, rank: int) -> tuple[float, float]:
        """The (lowest, highest) value in ms of the bucket holding the sample of ``rank``.

        Ranks are 1-based, ascending: rank 1 is the smallest sample. The
        exact sample lies within the returned range.
        """
        starts, cum = self._cumulative()
        if not 1 <= rank <= (cum[-1] if cum else 0):
            raise IndexError(f"rank {rank} outside 1..{cum[-1] if cum else 0}")
        low_us = starts[bisect_left(cum, rank)]
        assert self._hdr is not None and self._min_us is not None and self._max_us is not None
        high_us = self._hdr.get_highest_equivalent_value(low_us)
        # Every sample lies within the exact extremes: clip the bucket to them.
        return max(low_us, self._min_us) / 1000.0, min(high_us, self._max_us) / 1000.0

    def value_at_rank(self, rank: int) -> float:
        """The sample of ``rank`` (1-based, ascending), in ms.

        Exact for the smallest and largest sample; otherwise its bucket's midpoint.
        """
        if rank == 1 and self.min_ms is not None:
            return self.min_ms
        if rank == self.count and self.max_ms is not None:
            return self.max_ms
        low, high = self.bucket_at_rank(rank)
        return (low + high) / 2.0

    def buckets(self) -> list[tuple[float, float, int]]:
        """Non-empty buckets as (lowest ms, highest ms, count), ascending."""
        starts, cum = self._cumulative()
        hdr = self._hdr
        result: list[tuple[float, float, int]] = []
        previous = 0
        for start, total in zip(starts, cum, strict=True):
            assert hdr is not None
            high = hdr.get_highest_equivalent_value(start)
            result.append((start / 1000.0, high / 1000.0, total - previous))
            previous = total
        return result

    # -- transport ------------------------------------------------------------
    def __reduce__(self) -> tuple[Any, tuple[str]]:
        # The HdrHistogram inside holds ctypes arrays, which pickle refuses; the
        # encoding round-trips exactly (a load run is pickled across xdist workers).
        return (_decode_histogram, (self.encode(),))

    def encode(self) -> str:
        """A compact ASCII string (HdrHistogram V2 encoding plus exact extremes).

        ``LatencyHistogram.decode(h.encode()) == h``.
        """
        self._flush()
        if self._hdr is None or self.count == 0:
            return f"{_ENCODING_PREFIX}:0"
        blob = self._hdr.encode()
        payload = blob.decode("ascii") if isinstance(blob, bytes) else str(blob)
        return (
            f"{_ENCODING_PREFIX}:{self.count}:{self._min_us}:{self._max_us}:"
            f"{self._sum_us}:{self.clipped}:{payload}"
        )

    @classmethod
    def decode(cls, text: str) -> LatencyHistogram:
        """Rebuild a histogram from ``encode()``'s string; ValueError when malformed."""
        parts = text.split(":")
        if not parts or parts[0] != _ENCODING_PREFIX:
            raise ValueError(f"not an encoded LatencyHistogram: {text[:40]!r}")
        hist = cls()
        if parts[1:] == ["0"]:
            return hist
        if len(parts) != 7:
            raise ValueError(f"malformed encoded LatencyHistogram: {text[:40]!r}")
        try:
            count, min_us, max_us, sum_us, clipped = (int(p) for p in parts[1:6])
            hdr = HdrHistogram.decode(parts[6].encode("ascii"))
        except Exception as exc:  # int(), base64, zlib and HdrHistogram_py's own errors
            raise ValueError(f"malformed encoded LatencyHistogram: {exc!r}") from exc
        if hdr.get_total_count() != count:
            raise ValueError(
                f"encoded LatencyHistogram count mismatch: {hdr.get_total_count()} != {count}"
            )
        hist._hdr = hdr
        hist._min_us, hist._max_us, hist._sum_us, hist.clipped = min_us, max_us, sum_us, clipped
        return hist

    # -- comparison -------------------------------------------------------------
    def _signature(self) -> tuple[Any, ...]:
        starts, cum = self._cumulative()
        return (tuple(starts), tuple(cum), self._min_us, self._max_us, self._sum_us, self.clipped)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LatencyHistogram):
            return NotImplemented
        return self._signature() == other._signature()

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"LatencyHistogram(count={self.count}, min_ms={self.min_ms}, max_ms={self.max_ms})"


# -- percentiles ---------------------------------------------------------------


@dataclass(frozen=True)
class PercentileEstimate:
    """A quantile of response times with its distribution-free confidence interval.

    ``value_ms`` is the nearest-rank order statistic (None when n == 0);
    ``low_ms``/``high_ms`` bound the true quantile with probability at least
    ``confidence``; ``low_ms`` is 0.0 and ``high_ms`` is ``math.inf`` when
    the samples cannot bound that side. Ranks are 1-based (0 and n + 1 mean
    unbounded).
    """

    q: float
    value_ms: float | None
    low_ms: float
    high_ms: float
    n: int
    confidence: float
    rank: int
    low_rank: int
    high_rank: int
    method: str

    @property
    def bounded(self) -> bool:
        """True when both ends of the interval are finite sample values."""
        return self.n > 0 and self.low_rank >= 1 and self.high_rank <= self.n

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: an unbounded high end is ``None``."""
        return {
            "q": self.q,
            "value_ms": _round_ms(self.value_ms),
            "low_ms": _round_ms(self.low_ms),
            "high_ms": None if math.isinf(self.high_ms) else _round_ms(self.high_ms),
            "n": self.n,
            "confidence": self.confidence,
            "ranks": {"point": self.rank, "low": self.low_rank, "high": self.high_rank},
            "method": self.method,
        }


def _round_ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def nearest_rank(n: int, q: float) -> int:
    """The 1-based nearest-rank position ``ceil(q * n)`` (at least 1) of quantile q in n samples."""
    if n < 1:
        raise ValueError("nearest_rank needs n >= 1")
    # round() first: 0.95 * 100 is 95.00000000000001 in binary floating point.
    return min(n, max(1, math.ceil(round(q * n, 9))))


def _z(confidence: float) -> float:
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def _binomial_window(n: int, q: float) -> tuple[int, list[float]]:
    """Exact Binomial(n, q) probabilities over the range holding all but ~1e-30 of the mass."""
    mean = n * q
    sd = math.sqrt(n * q * (1.0 - q))
    lo = max(0, math.floor(mean - 12.0 * sd - 10))
    hi = min(n, math.ceil(mean + 12.0 * sd + 10))
    log_q, log_p = math.log(q), math.log1p(-q)
    log_n_fact = math.lgamma(n + 1)
    # Start at the mode and step outwards by the pmf's ratio recurrence.
    mode = min(hi, max(lo, math.floor((n + 1) * q)))
    pmf = [0.0] * (hi - lo + 1)
    log_mode = log_n_fact - math.lgamma(mode + 1) - math.lgamma(n - mode + 1)
    pmf[mode - lo] = math.exp(log_mode + mode * log_q + (n - mode) * log_p)
    ratio = q / (1.0 - q)
    for k in range(mode, hi):
        pmf[k + 1 - lo] = pmf[k - lo] * (n - k) / (k + 1) * ratio
    for k in range(mode, lo, -1):
        pmf[k - 1 - lo] = pmf[k - lo] * k / (n - k + 1) / ratio
    return lo, pmf


def order_statistic_ranks(n: int, q: float, confidence: float = 0.95) -> tuple[int, int, str]:
    """Equal-tailed ranks (l, u) with ``P(l <= B <= u - 1) >= confidence``, B ~ Binomial(n, q).

    Then ``[X(l), X(u)]`` covers the true q-quantile with at least that
    probability, whatever the distribution (continuous). ``l`` is in 0..n
    (0: no lower bound), ``u`` in 1..n+1 (n + 1: no upper bound); both are
    widened, if needed, to include the point rank ``ceil(q * n)``. Returns
    the method used, "exact binomial" or "normal approximation".
    """
    if not 0.0 < q < 1.0:
        raise ValueError(f"quantile q must be in (0, 1), got {q}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if n < 1:
        return 0, 1, "no samples"
    tail = (1.0 - confidence) / 2.0
    if n <= _EXACT_BINOMIAL_MAX_N:
        method = "exact binomial"
        lo, pmf = _binomial_window(n, q)
        total = math.fsum(pmf)
        # l: the largest k with P(B < k) <= tail.
        low = lo
        below = 0.0
        for i, p in enumerate(pmf):
            if (below + p) / total > tail:
                break
            below += p
            low = lo + i + 1
        # u: the smallest k with P(B >= k) <= tail.
        high = lo + len(pmf)
        above = 0.0
        for i in range(len(pmf) - 1, -1, -1):
            if (above + pmf[i]) / total > tail:
                break
            above += pmf[i]
            high = lo + i
        high = min(high, n + 1)
    else:
        method = "normal approximation"
        half = _z(confidence) * math.sqrt(n * q * (1.0 - q))
        low = max(0, math.floor(n * q - half))
        high = min(n + 1, math.ceil(n * q + half) + 1)
    rank = nearest_rank(n, q)
    return min(low, rank), max(high, rank + 1), method


def percentile(hist: LatencyHistogram, q: float, confidence: float = 0.95) -> PercentileEstimate:
    """The q-quantile of ``hist`` with a distribution-free ``confidence`` interval.

    Point: the nearest-rank order statistic ``X(ceil(q * n))`` as the midpoint
    of its HdrHistogram bucket (within 0.05% of the sample). Interval: order
    statistics at equal-tailed binomial ranks (see ``order_statistic_ranks``),
    taken at the outer edges of their buckets.
    """
    n = hist.count
    low_rank, high_rank, ci_method = order_statistic_ranks(n, q, confidence)
    method = (
        "nearest-rank order statistic from an HdrHistogram (3 significant digits, 1 us unit); "
        f"{confidence:.0%} CI: order statistics at binomial ranks ({ci_method})"
    )
    if n == 0:
        return PercentileEstimate(q, None, 0.0, math.inf, 0, confidence, 0, 0, 1, method)
    rank = nearest_rank(n, q)
    low_ms = hist.bucket_at_rank(low_rank)[0] if low_rank >= 1 else 0.0
    high_ms = hist.bucket_at_rank(high_rank)[1] if high_rank <= n else math.inf
    return PercentileEstimate(
        q=q,
        value_ms=hist.value_at_rank(rank),
        low_ms=low_ms,
        high_ms=high_ms,
        n=n,
        confidence=confidence,
        rank=rank,
        low_rank=low_rank,
        high_rank=high_rank,
        method=method,
    )


def censored_percentile(
    done: LatencyHistogram,
    censored: LatencyHistogram,
    q: float,
    confidence: float = 0.95,
) -> PercentileEstimate:
    """The q-quantile when some latencies are known only from below (right-censored).

    ``done`` holds exact latencies; ``censored`` holds lower bounds: requests
    that timed out or were still in flight when the load stopped, at the time
    they had taken so far. Ranks are over all ``n = done + censored`` requests.
    Lower ends come from the merged sample (a lower bound can only lower an
    order statistic, so the interval's low end stays valid); upper ends from
    ``done`` alone with every censored value at +infinity (rank beyond the
    exact samples: unbounded). Without censored values this is ``percentile``.
    """
    if censored.count == 0:
        return percentile(done, q, confidence)
    merged = LatencyHistogram.merged([done, censored])
    est = percentile(merged, q, confidence)
    exact = done.count
    high_ms = done.bucket_at_rank(est.high_rank)[1] if est.high_rank <= exact else math.inf
    return PercentileEstimate(
        q=est.q,
        value_ms=est.value_ms,
        low_ms=est.low_ms,
        high_ms=high_ms,
        n=est.n,
        confidence=est.confidence,
        rank=est.rank,
        low_rank=est.low_rank,
        # Past the exact samples the upper end is unbounded: say so in the rank too.
        high_rank=est.high_rank if est.high_rank <= exact else est.n + 1,
        method=est.method + f"; {censored.count} censored (lower-bound) latencies: "
        "low end over all requests, high end with them at +infinity",
    )


# -- error rates -------------------------------------------------------------------


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion of k successes in n trials; (0, 1) when n == 0."""
    if n < 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return 0.0, 1.0
    z = _z(confidence)
    p = k / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1.0 - p) / n + z * z / (4 * n * n)) / denom
    # Exact ends: k == 0 must give 0, k == n must give 1 (no float drift).
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return low, high


@dataclass(frozen=True)
class ErrorRate:
    """A failure proportion with its Wilson score interval; ``rate`` is None when total == 0."""

    failures: int
    total: int
    rate: float | None
    low: float
    high: float
    confidence: float
    method: str = "Wilson score interval"

    @classmethod
    def from_counts(cls, failures: int, total: int, confidence: float = 0.95) -> ErrorRate:
        """Build from counts: ``failures`` of ``total`` requests."""
        low, high = wilson_interval(failures, total, confidence)
        rate = failures / total if total else None
        return cls(failures, total, rate, low, high, confidence)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "failures": self.failures,
            "total": self.total,
            "rate": self.rate,
            "low": self.low,
            "high": self.high,
            "confidence": self.confidence,
            "method": self.method,
        }


# -- windows ---------------------------------------------------------------------


class WindowedHistograms:
    """Latency histograms in tumbling windows of ``step_s`` seconds, keyed by window start.

    Window ``i`` covers ``[i * step_s, (i + 1) * step_s)`` seconds from the
    load run's start; the caller picks the index (by a request's end time).
    """

    __slots__ = ("_windows", "step_s")

    def __init__(self, step_s: float) -> None:
        if not step_s > 0:
            raise ValueError(f"window step must be > 0 s, got {step_s}")
        self.step_s = float(step_s)
        self._windows: dict[int, LatencyHistogram] = {}

    def histogram(self, index: int) -> LatencyHistogram:
        """The histogram of window ``index``, created when missing."""
        hist = self._windows.get(index)
        if hist is None:
            hist = self._windows[index] = LatencyHistogram()
        return hist

    def merge(self, other: WindowedHistograms) -> None:
        """Add ``other``'s windows (same step) to these, window by window."""
        if other.step_s != self.step_s:
            raise ValueError(f"window steps differ: {self.step_s} s vs {other.step_s} s")
        for index, hist in other._windows.items():
            self.histogram(index).merge(hist)

    def total(self) -> LatencyHistogram:
        """All windows merged."""
        return LatencyHistogram.merged(self._windows.values())

    def items(self) -> Iterator[tuple[float, LatencyHistogram]]:
        """(window start in s, histogram), by start time."""
        for index in sorted(self._windows):
            yield index * self.step_s, self._windows[index]

    def encode(self) -> dict[str, str]:
        """{window index: encoded histogram}, JSON-ready."""
        return {str(index): hist.encode() for index, hist in sorted(self._windows.items())}
