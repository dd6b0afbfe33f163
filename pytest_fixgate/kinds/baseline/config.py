"""The baseline kind: ``[env.X.baseline]``, how far a gate may drift from the last
promoted release before it is a regression.

    [env.staging.baseline]
    tolerance = { "load.p(95)" = "+20%", "load.error_rate" = "+0.5pp" }
    on_regression = "warn"     # or "fail"

A tolerance is ``+N%`` (relative), ``+Npp`` (percentage points, for rates) or
``+Nms`` / ``+Ns`` (absolute, for latencies); ``+`` means an increase is the
regression. Keys are gate ids whose evidence carries a 95% interval: load
percentiles (``p(N)``, ``med``) and error rates. The kind implies no gate of
its own: it changes the outcome of the gates it names (see
:mod:`pytest_fixgate.release.baseline`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from pytest_fixgate.config.table import ConfigTable
from pytest_fixgate.kinds import GateKind, KindContext

__all__ = ["KIND", "BaselineConfig", "Tolerance", "parse_baseline", "parse_tolerance"]

_TOLERANCE = re.compile(r"^\+\s*(\d+(?:\.\d+)?)\s*(%|pp|ms|s)$")
_COMPARABLE = re.compile(r"^load\.(?:.+\.)?(?:p\(\d+(?:\.\d+)?\)|med|error_rate)$")
_EXPECTED_TOLERANCE = '"+N%", "+Npp" (rates) or "+Nms" (latencies), e.g. "+20%"'
_EXPECTED_KEY = (
    'a load gate id with a 95% interval: "load.p(95)", "load.med", "load.error_rate" '
    '(or "load.<endpoint>.p(95)")'
)


@dataclass(frozen=True)
class Tolerance:
    """How much worse than the baseline a value may get. ``unit``: %, pp, ms."""

    amount: float
    unit: str
    text: str

    def limit(self, baseline: float) -> float:
        """The highest value still inside the tolerance over ``baseline`` (rates are
        fractions, 0.01 = 1%, so ``pp`` adds amount/100)."""
        if self.unit == "%":
            return baseline * (1 + self.amount / 100)
        if self.unit == "pp":
            return baseline + self.amount / 100
        return baseline + self.amount  # ms

    def fits(self, *, rate: bool) -> bool:
        return self.unit == "%" or (self.unit == "pp") == rate

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class BaselineConfig:
    tolerance: Mapping[str, Tolerance] = field(default_factory=dict)
    on_regression: str = "warn"


def parse_tolerance(text: object) -> Tolerance | None:
    if not isinstance(text, str) or not (match := _TOLERANCE.match(text.strip())):
        return None
    amount, unit = float(match.group(1)), match.group(2)
    if unit == "s":
        amount, unit = amount * 1000, "ms"
    return Tolerance(amount, unit, text.strip())


def parse_baseline(table: ConfigTable, ctx: KindContext) -> BaselineConfig:
    raw = table.get("tolerance", dict, {}, expected='a table such as { "load.p(95)" = "+20%" }')
    tolerance: dict[str, Tolerance] = {}
    for key, text in raw.items():
        if not _COMPARABLE.match(key):
            raise table.error(f"tolerance.{key}", text, _EXPECTED_KEY)
        parsed = parse_tolerance(text)
        rate = key.endswith("error_rate")
        if parsed is None or not parsed.fits(rate=rate):
            expected = '"+N%" or "+Npp"' if rate else '"+N%" or "+Nms"'
            raise table.error(f"tolerance.{key}", text, expected if parsed else _EXPECTED_TOLERANCE)
        tolerance[key] = parsed
    on_regression = table.get("on_regression", str, "warn", expected='"warn" or "fail"')
    if on_regression not in ("warn", "fail"):
        raise table.error("on_regression", on_regression, '"warn" or "fail"')
    table.finish()
    return BaselineConfig(tolerance=tolerance, on_regression=on_regression)


KIND = GateKind(
    section="baseline",
    parse=parse_baseline,
    title="Baseline (the last promoted release)",
)
