"""Threshold expressions: ``p(95) < 1500ms``, ``error_rate < 1%``, ``value == "connected"``.

Grammar (whitespace between tokens is free)::

    threshold := metric op literal
    metric    := NAME [ "(" NUMBER ")" ]          p(95), error_rate, rps, value
    op        := "<" | "<=" | ">" | ">=" | "==" | "!="
    literal   := NUMBER [ unit ] | STRING | "true" | "false"
    unit      := "ms" | "s" | "m" | "%" | "/s"
    NAME      := [A-Za-z_][A-Za-z0-9_.]*
    STRING    := a "double" or 'single' quoted string, no escapes

Each metric has a kind that fixes its units and its canonical scale:
durations are compared in milliseconds (a bare number is ms, as in k6),
ratios as fractions (``1%`` is 0.01; a bare number must lie in [0, 1]),
rates per second, counts as plain numbers, and ``value`` compares anything.
An expression is compiled once, when the config is loaded, and evaluated
many times; it is never passed to ``eval``. Errors carry the column.
"""

from __future__ import annotations

import enum
import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pytest_fixgate.errors import ThresholdSyntaxError

__all__ = [
    "BUILTIN_METRICS",
    "LOAD_METRICS",
    "MetricKind",
    "MetricSpec",
    "Threshold",
    "compile_threshold",
]


class MetricKind(enum.Enum):
    DURATION = "duration"  # milliseconds
    RATIO = "ratio"  # a fraction in [0, 1]
    RATE = "rate"  # per second
    COUNT = "count"  # a plain number
    ANY = "any"  # numbers, strings or booleans, compared as they are


@dataclass(frozen=True)
class MetricSpec:
    kind: MetricKind
    takes_arg: bool = False  # p(95) takes a percentile in (0, 100)


BUILTIN_METRICS: Mapping[str, MetricSpec] = {
    "p": MetricSpec(MetricKind.DURATION, takes_arg=True),
    "avg": MetricSpec(MetricKind.DURATION),
    "med": MetricSpec(MetricKind.DURATION),
    "min": MetricSpec(MetricKind.DURATION),
    "max": MetricSpec(MetricKind.DURATION),
    "error_rate": MetricSpec(MetricKind.RATIO),
    "rps": MetricSpec(MetricKind.RATE),
    "count": MetricSpec(MetricKind.COUNT),
    "value": MetricSpec(MetricKind.ANY),
}

#: The metrics a load-run threshold may use (``value`` compares health answers).
LOAD_METRICS = frozenset({"p", "med", "avg", "min", "max", "error_rate", "rps", "count"})

_OPS: Mapping[str, Callable[[object, object], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}

# Scale of each unit into the canonical unit of the metric kinds that accept it.
_UNITS: Mapping[MetricKind, Mapping[str, float]] = {
    MetricKind.DURATION: {"": 1.0, "ms": 1.0, "s": 1000.0, "m": 60_000.0},
    MetricKind.RATIO: {"": 1.0, "%": 0.01},
    MetricKind.RATE: {"": 1.0, "/s": 1.0},
    MetricKind.COUNT: {"": 1.0},
    MetricKind.ANY: {"": 1.0},
}

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<unit>ms|s\b|m\b|%|/s)
  | (?P<name>[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<string>"[^"]*"|'[^']*')
  | (?P<op><=|>=|==|!=|<|>)
  | (?P<lparen>\()
  | (?P<rparen>\))
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    column: int  # 1-based, as an editor shows it


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ThresholdSyntaxError(
                f"unexpected character {text[pos]!r}", text=text, column=pos + 1
            )
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(_Token(kind, match.group(), pos + 1))
        pos = match.end()
    return tokens


@dataclass(frozen=True)
class Threshold:
    """A compiled threshold: ``metric(arg) op value`` in the metric's canonical unit."""

    text: str
    metric: str
    arg: float | None
    op: str
    value: float | str | bool
    unit: str
    kind: MetricKind

    @property
    def key(self) -> str:
        """The metric as written without the comparison: ``p(95)``, ``error_rate``."""
        if self.arg is None:
            return self.metric
        return f"{self.metric}({_format_number(self.arg)})"

    def holds(self, measured: object) -> bool:
        """Whether ``measured`` (in the canonical unit) satisfies the threshold."""
        if measured is None or (isinstance(measured, float) and math.isnan(measured)):
            return False  # nothing measured never satisfies a gate, whatever the operator
        # JSON true is not 1: a boolean only ever matches a boolean.
        if isinstance(measured, bool) != isinstance(self.value, bool):
            return False
        try:
            return bool(_OPS[self.op](measured, self.value))
        except TypeError:
            return False  # a string against a number never satisfies a gate

    @property
    def upper_bound(self) -> bool:
        """True for ``<``/``<=``: the limit caps the measured value from above."""
        return self.op in ("<", "<=")

    def holds_for_interval(self, low: float, high: float) -> bool | None:
        """Judge a measured interval: True if all of it holds, False if none does.

        ``None`` when the limit lies inside the interval: the data cannot
        decide. Only meaningful for the ordering operators.
        """
        if self.op in ("==", "!="):
            raise ValueError(f"{self.text!r}: an interval cannot be judged with {self.op}")
        worst, best = (high, low) if self.upper_bound else (low, high)
        if self.holds(worst):
            return True
        if not self.holds(best):
            return False
        return None

    def format(self, measured: float | str | bool | None) -> str:
        """``measured`` in the unit the threshold was written in."""
        if measured is None:
            return "n/a"
        if isinstance(measured, bool | str):
            return repr(measured) if isinstance(measured, str) else str(measured).lower()
        if self.kind is MetricKind.DURATION:
            return f"{measured:.1f} ms" if self.unit in ("", "ms") else f"{measured / 1000:.3f} s"
        if self.kind is MetricKind.RATIO:
            return f"{measured * 100:.2f}%"
        if self.kind is MetricKind.RATE:
            return f"{measured:.1f}/s"
        return _format_number(measured)

    def __str__(self) -> str:
        return self.text


def _format_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


class _Parser:
    def __init__(self, text: str, metrics: Mapping[str, MetricSpec]) -> None:
        self.text = text
        self.metrics = metrics
        self.tokens = _tokenize(text)
        self.index = 0

    def _error(self, message: str, token: _Token | None = None) -> ThresholdSyntaxError:
        column = token.column if token else len(self.text) + 1
        return ThresholdSyntaxError(message, text=self.text, column=column)

    def _peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def _take(self, kind: str, what: str) -> _Token:
        token = self._peek()
        if token is None or token.kind != kind:
            found = "end of expression" if token is None else repr(token.text)
            raise self._error(f"expected {what}, found {found}", token)
        self.index += 1
        return token

    def parse(self) -> Threshold:
        name = self._take("name", "a metric name such as p(95) or error_rate")
        spec = self.metrics.get(name.text)
        if spec is None:
            known = ", ".join(
                sorted(k + ("(N)" if v.takes_arg else "") for k, v in self.metrics.items())
            )
            raise self._error(f"unknown metric {name.text!r} (known: {known})", name)
        arg: float | None = None
        if spec.takes_arg:
            self._take("lparen", f"'(' after {name.text}")
            number = self._take("number", "a percentile between 0 and 100")
            arg = float(number.text)
            if not 0 < arg < 100:
                raise self._error(f"percentile {number.text} is not between 0 and 100", number)
            self._take("rparen", "')'")
        op = self._take("op", "a comparison (<, <=, >, >=, ==, !=)")
        value, unit = self._literal(spec.kind, name.text)
        if self._peek() is not None:
            raise self._error(f"unexpected {self._peek().text!r} after the value", self._peek())  # type: ignore[union-attr]
        if op.text not in ("==", "!=") and not isinstance(value, float):
            raise self._error(f"{op.text} needs a number", op)
        return Threshold(self.text.strip(), name.text, arg, op.text, value, unit, spec.kind)

    def _literal(self, kind: MetricKind, metric: str) -> tuple[float | str | bool, str]:
        token = self._peek()
        if token is None:
            raise self._error("expected a value, found end of expression")
        self.index += 1
        if token.kind == "string":
            if kind is not MetricKind.ANY:
                raise self._error(f"{metric} is a {kind.value}: it needs a number", token)
            return token.text[1:-1], ""
        if token.kind == "name" and token.text in ("true", "false"):
            if kind is not MetricKind.ANY:
                raise self._error(f"{metric} is a {kind.value}: it needs a number", token)
            return token.text == "true", ""
        if token.kind != "number":
            raise self._error(f"expected a value, found {token.text!r}", token)
        number = float(token.text)
        unit_token = self._peek()
        unit = ""
        if unit_token is not None and unit_token.kind == "unit":
            self.index += 1
            unit = unit_token.text
        scales = _UNITS[kind]
        if unit not in scales:
            allowed = ", ".join(repr(u) for u in scales if u) or "no unit"
            raise self._error(
                f"unit {unit!r} does not fit {metric} (a {kind.value}; use {allowed})", unit_token
            )
        value = number * scales[unit]
        if kind is MetricKind.RATIO and not 0 <= value <= 1:
            raise self._error(
                f"{metric} is a ratio: write a percentage (1%) or a fraction in [0, 1]", token
            )
        return value, unit


def compile_threshold(text: str, metrics: Mapping[str, MetricSpec] = BUILTIN_METRICS) -> Threshold:
    """Compile ``text`` into a :class:`Threshold`, or raise :class:`ThresholdSyntaxError`."""
    if not isinstance(text, str) or not text.strip():
        raise ThresholdSyntaxError("empty threshold", text=str(text), column=1)
    return _Parser(text, metrics).parse()
