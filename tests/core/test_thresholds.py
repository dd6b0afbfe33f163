"""Threshold expressions: parsing, units, errors with columns, evaluation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_fixgate.config.thresholds import MetricKind, compile_threshold
from pytest_fixgate.errors import ThresholdSyntaxError


@pytest.mark.parametrize(
    ("text", "key", "op", "value"),
    [
        ("p(95) < 1500ms", "p(95)", "<", 1500.0),
        ("p(99)<2.5s", "p(99)", "<", 2500.0),
        ("p(99.9) <= 3000", "p(99.9)", "<=", 3000.0),
        ("error_rate < 1%", "error_rate", "<", 0.01),
        ("error_rate < 0.05", "error_rate", "<", 0.05),
        ("rps > 20", "rps", ">", 20.0),
        ("avg < 1m", "avg", "<", 60_000.0),
        ('value == "connected"', "value", "==", "connected"),
        ("value == true", "value", "==", True),
        ("value != 'down'", "value", "!=", "down"),
    ],
)
def test_compiles_to_canonical_units(text: str, key: str, op: str, value: object) -> None:
    threshold = compile_threshold(text)
    assert (threshold.key, threshold.op, threshold.value) == (key, op, value)
    assert str(threshold) == text


@pytest.mark.parametrize(
    ("text", "column", "fragment"),
    [
        ("p(95) < 1500%", 13, "does not fit"),
        ("p95 < 3", 1, "unknown metric 'p95'"),
        ("error_rate < 5", 14, "ratio"),
        ("p(95) 1500", 7, "expected a comparison"),
        ("p(95) < 1500ms x", 16, "unexpected 'x'"),
        ("p(0) < 3", 3, "between 0 and 100"),
        ("p(95) < ", 9, "expected a value"),
        ('value < "a"', 7, "needs a number"),
        ("rps > 20 & 3", 10, "unexpected character '&'"),
        ('p(95) < "fast"', 9, "needs a number"),
    ],
)
def test_errors_name_the_column(text: str, column: int, fragment: str) -> None:
    with pytest.raises(ThresholdSyntaxError) as info:
        compile_threshold(text)
    assert info.value.column == column
    assert fragment in str(info.value)
    assert f"column {column}" in str(info.value)


def test_booleans_never_equal_numbers() -> None:
    assert not compile_threshold("value == true").holds(1)
    assert not compile_threshold("p(95) < 1500").holds(True)
    assert compile_threshold("value == true").holds(True)


def test_nan_never_holds() -> None:
    assert not compile_threshold("p(95) < 1500").holds(float("nan"))
    assert not compile_threshold("rps > 1").holds(float("nan"))


def test_interval_judgement() -> None:
    upper = compile_threshold("p(95) < 1500ms")
    assert upper.holds_for_interval(1400, 1490) is True
    assert upper.holds_for_interval(1510, 1600) is False
    assert upper.holds_for_interval(1450, 1550) is None
    lower = compile_threshold("rps > 20")
    assert lower.holds_for_interval(21, 25) is True
    assert lower.holds_for_interval(10, 19) is False
    assert lower.holds_for_interval(19, 21) is None


numbers = st.floats(min_value=0, max_value=1e6, allow_nan=False)


@given(limit=numbers, measured=numbers, op=st.sampled_from(["<", "<=", ">", ">="]))
def test_holds_agrees_with_python_comparison(limit: float, measured: float, op: str) -> None:
    threshold = compile_threshold(f"p(95) {op} {limit!r}ms")
    expected = {
        "<": measured < limit,
        "<=": measured <= limit,
        ">": measured > limit,
        ">=": measured >= limit,
    }[op]
    assert threshold.holds(measured) is expected


@given(low=numbers, width=numbers, limit=numbers)
def test_interval_verdict_is_consistent_with_its_ends(
    low: float, width: float, limit: float
) -> None:
    high = low + width
    threshold = compile_threshold(f"p(95) < {limit!r}")
    verdict = threshold.holds_for_interval(low, high)
    if verdict is True:
        assert threshold.holds(low) and threshold.holds(high)
    elif verdict is False:
        assert not threshold.holds(low) and not threshold.holds(high)
    else:
        assert threshold.holds(low) and not threshold.holds(high)


@given(st.text(max_size=30))
def test_never_crashes_on_arbitrary_text(text: str) -> None:
    try:
        threshold = compile_threshold(text)
    except ThresholdSyntaxError as exc:
        assert 1 <= exc.column <= len(text) + 1
    else:
        assert threshold.kind in MetricKind
