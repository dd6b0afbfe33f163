"""Tests of the latency and error-rate statistics against exact oracles."""

from __future__ import annotations

import math
import random
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_fixgate.measurements.stats import (
    ErrorRate,
    LatencyHistogram,
    WindowedHistograms,
    censored_percentile,
    nearest_rank,
    order_statistic_ranks,
    percentile,
    wilson_interval,
)

STATS_PY = Path(__file__).resolve().parents[2] / "pytest_fixgate" / "measurements" / "stats.py"

latencies = st.lists(
    st.floats(min_value=0.0, max_value=600_000.0, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=400,
)
quantiles = st.sampled_from([0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999]) | st.floats(0.001, 0.999)


def oracle(values: list[float], q: float) -> float:
    """The exact nearest-rank order statistic, computed independently with fractions."""
    ordered = sorted(values)
    rank = math.ceil(Fraction(q).limit_denominator(10**9) * len(ordered))
    return ordered[min(len(ordered), max(1, rank)) - 1]


def hist_of(values: list[float]) -> LatencyHistogram:
    hist = LatencyHistogram()
    hist.record_many(values)
    return hist


def close(estimate: float, exact: float) -> bool:
    # 0.1% relative, or 1 us absolute (values are recorded to the microsecond).
    return abs(estimate - exact) <= max(exact * 0.001, 0.001)


@given(latencies, quantiles)
def test_percentile_within_0_1_percent_of_the_exact_order_statistic(values, q):
    estimate = percentile(hist_of(values), q)
    assert estimate.n == len(values)
    assert estimate.value_ms is not None
    assert close(estimate.value_ms, oracle(values, q))


@given(latencies, quantiles)
def test_interval_contains_the_point_estimate_and_the_true_order_statistic(values, q):
    estimate = percentile(hist_of(values), q)
    assert estimate.value_ms is not None
    assert estimate.low_ms <= estimate.value_ms <= estimate.high_ms
    exact = oracle(values, q)
    assert estimate.low_ms - 0.001 <= exact <= estimate.high_ms + 0.001
    assert estimate.low_rank <= estimate.rank < estimate.high_rank


@given(st.lists(st.floats(0.0, 10_000.0), min_size=20, max_size=200), quantiles)
def test_intervals_shrink_with_n(values, q):
    # The same empirical distribution with 4x (and 16x) the samples.
    small = percentile(hist_of(values), q)
    large = percentile(hist_of(values * 4), q)
    larger = percentile(hist_of(values * 16), q)
    assert large.low_ms >= small.low_ms and large.high_ms <= small.high_ms
    assert larger.low_ms >= large.low_ms and larger.high_ms <= large.high_ms


@given(st.integers(1, 5_000), quantiles)
def test_rank_interval_width_shrinks_relative_to_n(n, q):
    low, high, _ = order_statistic_ranks(n, q)
    low4, high4, _ = order_statistic_ranks(4 * n, q)
    assert (high4 - low4) / (4 * n) <= (high - low) / n


@pytest.mark.parametrize("q", [0.5, 0.9, 0.95, 0.99])
@pytest.mark.parametrize("n", [*range(1, 41), 57, 100, 250])
def test_ranks_cover_with_at_least_the_confidence_exact_binomial_sum(n, q):
    low, high, method = order_statistic_ranks(n, q, 0.95)
    assert method == "exact binomial"
    assert 0 <= low <= nearest_rank(n, q) < high <= n + 1
    # P(low <= B <= high - 1) for B ~ Binomial(n, q), summed exactly.
    qf = Fraction(q)
    coverage = sum(math.comb(n, k) * qf**k * (1 - qf) ** (n - k) for k in range(low, high))
    assert coverage >= Fraction(95, 100)


def test_normal_approximation_for_huge_n_agrees_with_exact_at_the_boundary():
    exact = order_statistic_ranks(10_000_000, 0.95)
    approx = order_statistic_ranks(10_000_001, 0.95)
    assert exact[2] == "exact binomial" and approx[2] == "normal approximation"
    assert abs(exact[0] - approx[0]) <= 3 and abs(exact[1] - approx[1]) <= 3


def test_interval_covers_the_true_quantile_at_the_nominal_rate():
    rng = random.Random(20261126)
    true_p95 = -math.log(0.05) * 100.0  # exponential with mean 100 ms
    trials, covered = 400, 0
    for _ in range(trials):
        hist = hist_of([rng.expovariate(1 / 100.0) for _ in range(300)])
        estimate = percentile(hist, 0.95)
        covered += estimate.low_ms <= true_p95 <= estimate.high_ms
    assert covered / trials >= 0.92


def test_too_few_samples_leave_the_interval_unbounded():
    estimate = percentile(hist_of([100.0] * 20), 0.99)
    assert estimate.high_ms == math.inf and not estimate.bounded
    assert estimate.as_dict()["high_ms"] is None
    empty = percentile(LatencyHistogram(), 0.95)
    assert empty.n == 0 and empty.value_ms is None and empty.high_ms == math.inf


def test_few_samples_bound_a_high_quantile_from_below():
    # 4 samples all at 10 s: P(all 4 above the true p95) = 0.05**4, so X(3) bounds it.
    estimate = percentile(hist_of([10_000.0] * 4), 0.95)
    assert estimate.low_rank == 3 and estimate.low_ms >= 9_990.0
    assert estimate.high_ms == math.inf


def test_censored_latencies_bound_only_from_below():
    done = hist_of([10.0] * 96)
    hung = hist_of([5_000.0] * 4)  # in flight for 5 s when the load stopped
    estimate = censored_percentile(done, hung, 0.99)
    assert estimate.n == 100 and estimate.low_ms >= 10.0
    assert estimate.high_ms == math.inf and not estimate.bounded  # they may be slower still
    mostly_hung = censored_percentile(hist_of([10.0] * 2), hist_of([5_000.0] * 20), 0.95)
    assert mostly_hung.low_ms >= 4_990.0  # proven over any limit below 5 s
    plain = censored_percentile(done, LatencyHistogram(), 0.95)
    assert plain == percentile(done, 0.95)


@settings(max_examples=30)
@given(st.lists(st.floats(0.0, 3_600_000.0), min_size=1, max_size=2_000))
def test_batched_recording_matches_hdrhistograms_own_record_value(values):
    from hdrh.histogram import HdrHistogram

    reference = HdrHistogram(1, 3_600_000_000, 3)
    for ms in values:
        reference.record_value(round(ms * 1000))
    ours = hist_of(values)
    assert ours.count == reference.get_total_count()
    assert ours.encode().split(":", 6)[6] == reference.encode().decode("ascii")


@given(latencies, latencies)
def test_merge_equals_the_histogram_of_the_union(a, b):
    merged = hist_of(a)
    merged.merge(hist_of(b))
    assert merged == hist_of(a + b)
    assert merged.count == len(a) + len(b)
    assert LatencyHistogram.merged([hist_of(a), hist_of(b)]) == merged


@given(latencies)
def test_encode_decode_round_trip(values):
    hist = hist_of(values)
    text = hist.encode()
    assert text.isascii() and "\n" not in text
    assert LatencyHistogram.decode(text) == hist
    assert LatencyHistogram.decode(LatencyHistogram().encode()).count == 0


@given(latencies)
def test_exact_count_min_max_mean(values):
    hist = hist_of(values)
    assert hist.count == len(values)
    assert hist.min_ms == pytest.approx(min(values), abs=0.0006)
    assert hist.max_ms == pytest.approx(max(values), abs=0.0006)
    assert hist.mean_ms == pytest.approx(sum(values) / len(values), abs=0.0006)


def test_decode_rejects_garbage():
    with pytest.raises(ValueError, match="not an encoded"):
        LatencyHistogram.decode("nonsense")
    with pytest.raises(ValueError, match="malformed"):
        LatencyHistogram.decode("hdr1:3:1:2:3:0:AAAA")


def test_values_beyond_one_hour_are_clipped_and_counted():
    hist = hist_of([10.0, 5_000_000.0])
    assert hist.count == 2 and hist.clipped == 1
    assert hist.max_ms == 3_600_000.0


@given(st.integers(0, 500), st.integers(0, 500))
def test_wilson_interval_contains_the_proportion(k, extra):
    n = k + extra
    low, high = wilson_interval(k, n)
    assert 0.0 <= low <= high <= 1.0
    if n:
        assert low <= k / n <= high


def test_wilson_interval_known_values():
    # Reference values (Wilson 1927; e.g. Newcombe 1998, Table I).
    low, high = wilson_interval(3, 100)
    assert low == pytest.approx(0.01026, abs=1e-4) and high == pytest.approx(0.08455, abs=1e-4)
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    rate = ErrorRate.from_counts(30, 1000)
    assert rate.rate == 0.03 and rate.low < 0.03 < rate.high
    assert rate.low > 0.01 and rate.high < 0.5
    assert ErrorRate.from_counts(0, 0).rate is None


@settings(max_examples=50)
@given(st.lists(st.tuples(st.floats(0.0, 119.9), st.floats(0.0, 5_000.0)), max_size=200))
def test_windows_hold_their_samples_and_total_exactly(samples):
    windows = WindowedHistograms(5.0)
    for offset, ms in samples:
        windows.histogram(math.floor(offset / 5.0)).record(ms)
    assert windows.total() == hist_of([ms for _, ms in samples])
    for start, hist in windows.items():
        assert hist == hist_of([ms for offset, ms in samples if start <= offset < start + 5.0])


def test_stats_module_imports_neither_pytest_nor_locust():
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('fixgate_stats', {str(STATS_PY)!r})\n"
        "module = sys.modules['fixgate_stats'] = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "assert 'pytest' not in sys.modules and 'locust' not in sys.modules, sys.modules.keys()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
