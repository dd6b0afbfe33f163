"""Fault switches for the reference staging service: one frozen value, three sources.

A :class:`Faults` value says how the reference service should misbehave. It can
come from the command line (``--error-ratio 0.1``), from the environment
(``FIXGATE_REF_ERROR_RATIO=0.1``) or, while the service runs, from a JSON body
``PUT`` to ``/__fixgate/faults`` (``{"error_ratio": 0.1}``). The same
converter checks a field whatever its source, and the error names the flag,
the variable or the JSON key that carried the bad value.

Fields (all off by default)::

    latency_ms            fixed delay added to every affected request
    slow_fraction         exact fraction of affected requests that get slow_ms more
    slow_ms               the extra delay of a slow request
    latency_distribution  a delay drawn per request from a known distribution:
                            fixed:<ms> | uniform:<low_ms>:<high_ms>
                            | lognormal:<median_ms>:<sigma>
    latency_seed          seed of the generator the distribution draws from
    error_ratio           exact fraction of affected requests answered 500
    mongo_down            the MongoDB probes fail as if the server were gone
    redis_down            the Redis probes fail as if the server were gone
    ready_flap_s          /api/health/ready: N s healthy, N s 503, and again
    wrong_json            health routes answer 200 with a wrong body
    rate_limit_per_min    per client IP and route, 60 s sliding window; 429 over it
    paths                 path prefixes the delay and error faults apply to
                          (empty: every /api/ route)
    missing_index         the work orders' {organizationId: 1, status: 1} index is dropped
                          (put back when switched off): the index gate's FAIL case
    flags_shape           GET /api/admin/features answers {"features": [...]} ("features",
                          the default), a bare list ("list") or {flag: enabled} ("object")

Delays add up: ``latency_ms`` + a draw from ``latency_distribution`` +
``slow_ms`` when the request is one of the slow ones. "Exact fraction" means
counter-based spreading: request *k* (counted from the last change of faults)
is picked when ``floor(k*f) > floor((k-1)*f)``, so 0.05 picks exactly 1 in 20.

This module imports neither pytest nor the web stack: the launcher and the
``fixgate demo`` command use it too.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from fractions import Fraction
from typing import Any

__all__ = [
    "ENV_PREFIX",
    "FLAGS_SHAPES",
    "Distribution",
    "FaultError",
    "Faults",
    "add_arguments",
    "exact_fraction",
    "fraction_picks",
    "from_args",
    "parse_distribution",
]

#: Prefix of the environment variables: ``FIXGATE_REF_<FIELD IN CAPITALS>``.
ENV_PREFIX = "FIXGATE_REF_"


class FaultError(ValueError):
    """A fault value that cannot be used; ``str()`` is one line naming where it came from."""

    def __init__(self, name: str, value: object, expected: str) -> None:
        self.name = name
        self.value = value
        self.expected = expected
        super().__init__(f"{name}: expected {expected}, got {value!r}")

    def renamed(self, name: str) -> FaultError:
        """The same error, naming the flag or variable the value came from."""
        return FaultError(name, self.value, self.expected)


# --- distributions ----------------------------------------------------------


@dataclass(frozen=True)
class Distribution:
    """A latency distribution with a known quantile function, in milliseconds.

    ``quantile(q)`` is exact (the lognormal one uses the normal inverse CDF),
    so an accuracy benchmark can compare a measured p95 with the true one.
    """

    kind: str
    a: float
    b: float = 0.0

    def sample(self, rng: random.Random) -> float:
        """One draw, in ms."""
        if self.kind == "fixed":
            return self.a
        if self.kind == "uniform":
            return rng.uniform(self.a, self.b)
        return rng.lognormvariate(math.log(self.a), self.b)

    def quantile(self, q: float) -> float:
        """The true ``q``-quantile (0 < q < 1), in ms."""
        if self.kind == "fixed":
            return self.a
        if self.kind == "uniform":
            return self.a + q * (self.b - self.a)
        return self.a * math.exp(self.b * statistics.NormalDist().inv_cdf(q))

    def __str__(self) -> str:
        args = [self.a] if self.kind == "fixed" else [self.a, self.b]
        return ":".join([self.kind, *(f"{x:g}" for x in args)])


_DISTRIBUTION_FORMS = "fixed:<ms>, uniform:<low_ms>:<high_ms> or lognormal:<median_ms>:<sigma>"


def parse_distribution(spec: str, *, name: str = "latency_distribution") -> Distribution:
    """Parse ``fixed:1470``, ``uniform:100:2000`` or ``lognormal:300:0.5`` strictly."""
    kind, *raw = spec.strip().split(":")
    arity = {"fixed": 1, "uniform": 2, "lognormal": 2}.get(kind)
    if arity is None or len(raw) != arity:
        raise FaultError(name, spec, _DISTRIBUTION_FORMS)
    try:
        args = [float(x) for x in raw]
    except ValueError:
        raise FaultError(name, spec, _DISTRIBUTION_FORMS) from None
    if not all(math.isfinite(x) and x >= 0 for x in args):
        raise FaultError(name, spec, "finite, non-negative numbers")
    if kind == "uniform" and args[0] > args[1]:
        raise FaultError(name, spec, "uniform:<low_ms>:<high_ms> with low <= high")
    if kind == "lognormal" and args[0] == 0:
        raise FaultError(name, spec, "lognormal with a median above 0")
    return Distribution(kind, *args)


def fraction_picks(k: int, fraction: Fraction) -> bool:
    """Whether request ``k`` (1-based) is one of the exact ``fraction`` picked.

    Exact rational arithmetic: with floats, 0.29 * 100 is 28.999... and 100
    requests would pick 28, not 29.
    """
    p, q = fraction.numerator, fraction.denominator
    return (k * p) // q > ((k - 1) * p) // q


# --- field converters: str (CLI, env) or JSON value -> checked value ---------


def _number(raw: object, name: str, expected: str) -> float:
    # bool is an int: reject it, {"latency_ms": true} is a mistake, not 1 ms.
    if isinstance(raw, bool):
        raise FaultError(name, raw, expected)
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise FaultError(name, raw, expected) from None
    if not math.isfinite(value):
        raise FaultError(name, raw, expected)
    return value


def _millis(raw: object, name: str) -> float:
    value = _number(raw, name, "a number of milliseconds >= 0")
    if value < 0:
        raise FaultError(name, raw, "a number of milliseconds >= 0")
    return value


def _seconds(raw: object, name: str) -> float:
    value = _number(raw, name, "a number of seconds >= 0")
    if value < 0:
        raise FaultError(name, raw, "a number of seconds >= 0")
    return value


def _ratio(raw: object, name: str) -> float:
    value = _number(raw, name, "a fraction between 0 and 1")
    if not 0 <= value <= 1:
        raise FaultError(name, raw, "a fraction between 0 and 1")
    return value


def _count(raw: object, name: str) -> int:
    expected = "a whole number >= 0"
    if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
        raise FaultError(name, raw, expected)
    try:
        value = int(raw)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise FaultError(name, raw, expected) from None
    if value < 0:
        raise FaultError(name, raw, expected)
    return value


def _integer(raw: object, name: str) -> int:
    if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
        raise FaultError(name, raw, "a whole number")
    try:
        return int(raw)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise FaultError(name, raw, "a whole number") from None


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _flag(raw: object, name: str) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
        return raw.strip().lower() in _TRUE
    raise FaultError(name, raw, "true or false (1/0, yes/no, on/off)")


def _distribution(raw: object, name: str) -> str:
    if raw is None or raw == "":
        return ""
    if not isinstance(raw, str):
        raise FaultError(name, raw, _DISTRIBUTION_FORMS)
    return str(parse_distribution(raw, name=name))


def _paths(raw: object, name: str) -> tuple[str, ...]:
    # CLI and env give "a,b"; JSON gives a list.
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple):
        raise FaultError(name, raw, "a list of path prefixes starting with '/'")
    out = []
    for item in items:
        if not isinstance(item, str):
            raise FaultError(name, raw, "a list of path prefixes starting with '/'")
        item = item.strip()
        if not item:
            continue
        if not item.startswith("/"):
            raise FaultError(name, item, "a path prefix starting with '/'")
        out.append(item)
    return tuple(out)


#: The answer shapes of the runbook contract's GET /api/admin/features.
FLAGS_SHAPES = ("features", "list", "object")


def _flags_shape(raw: object, name: str) -> str:
    if raw is None or raw == "":
        return FLAGS_SHAPES[0]
    if not isinstance(raw, str) or raw.strip() not in FLAGS_SHAPES:
        raise FaultError(name, raw, "one of " + ", ".join(FLAGS_SHAPES))
    return raw.strip()


# name -> (converter, help for --flag)
_FIELDS: dict[str, tuple[Callable[[object, str], Any], str]] = {
    "latency_ms": (_millis, "fixed delay added to every affected request"),
    "slow_fraction": (_ratio, "exact fraction of affected requests that get --slow-ms more"),
    "slow_ms": (_millis, "extra delay of a slow request"),
    "latency_distribution": (
        _distribution,
        "per-request delay drawn from " + _DISTRIBUTION_FORMS,
    ),
    "latency_seed": (_integer, "seed of the latency distribution's generator"),
    "error_ratio": (_ratio, "exact fraction of affected requests answered 500"),
    "mongo_down": (_flag, "MongoDB probes fail as if the server were unreachable"),
    "redis_down": (_flag, "Redis probes fail as if the server were unreachable"),
    "ready_flap_s": (_seconds, "readiness alternates: N s healthy, N s 503"),
    "wrong_json": (_flag, "health routes answer 200 with a wrong body"),
    "rate_limit_per_min": (_count, "requests per client IP and route per 60 s; 429 over it"),
    "paths": (_paths, "comma-separated path prefixes the delay and error faults apply to"),
    "missing_index": (_flag, "drop the work orders' organizationId+status index (while on)"),
    "flags_shape": (_flags_shape, "GET /api/admin/features answers: features, list or object"),
}
_CONVERTERS = {name: convert for name, (convert, _) in _FIELDS.items()}


# --- the value --------------------------------------------------------------


@dataclass(frozen=True)
class Faults:
    """How the reference service misbehaves; ``Faults()`` is a healthy service.

    Every field is checked when the value is built, whatever the source:
    ``Faults(error_ratio=2)`` raises :class:`FaultError`.
    """

    latency_ms: float = 0.0
    slow_fraction: float = 0.0
    slow_ms: float = 0.0
    latency_distribution: str = ""
    latency_seed: int = 0
    error_ratio: float = 0.0
    mongo_down: bool = False
    redis_down: bool = False
    ready_flap_s: float = 0.0
    wrong_json: bool = False
    rate_limit_per_min: int = 0
    paths: tuple[str, ...] = ()
    missing_index: bool = False
    flags_shape: str = "features"

    def __post_init__(self) -> None:
        for f in fields(self):
            # Normalise in place (e.g. a list of paths to a tuple): the value stays hashable.
            object.__setattr__(self, f.name, _CONVERTERS[f.name](getattr(self, f.name), f.name))

    # -- sources

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> Faults:
        """From a JSON object with the field names; unknown keys are an error."""
        unknown = sorted(set(data) - set(_CONVERTERS))
        if unknown:
            raise FaultError(unknown[0], data[unknown[0]], f"one of the faults {cls.names()}")
        return cls(**data)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Faults:
        """From ``FIXGATE_REF_<FIELD>`` variables; unset variables keep the default."""
        environ = os.environ if environ is None else environ
        found = {}
        for name in _CONVERTERS:
            var = ENV_PREFIX + name.upper()
            if var in environ:
                try:
                    found[name] = _CONVERTERS[name](environ[var], var)
                except FaultError as exc:
                    raise exc.renamed(var) from None
        return cls(**found)

    def replace(self, **changes: object) -> Faults:
        """A copy with some fields changed (and checked)."""
        return Faults.from_mapping({**self.as_dict(), **changes})

    # -- sinks

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the body of ``GET /__fixgate/faults``."""
        data = asdict(self)
        data["paths"] = list(self.paths)
        return data

    def to_argv(self) -> list[str]:
        """Command-line flags for the fields that differ from the default."""
        argv: list[str] = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value == f.default:
                continue
            flag = "--" + f.name.replace("_", "-")
            if isinstance(value, bool):
                argv.append(flag)
            elif isinstance(value, tuple):
                argv += [flag, ",".join(value)]
            else:
                argv += [flag, str(value)]
        return argv

    @staticmethod
    def names() -> list[str]:
        """The field names, in order."""
        return list(_CONVERTERS)

    # -- derived values the service needs on every request

    @property
    def distribution(self) -> Distribution | None:
        """The parsed ``latency_distribution``, or ``None``."""
        return parse_distribution(self.latency_distribution) if self.latency_distribution else None

    @property
    def active(self) -> bool:
        """Whether any fault is on (the service skips all fault work otherwise)."""
        return self != Faults(latency_seed=self.latency_seed, paths=self.paths)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one ``--field-name`` flag per fault, checked at parse time.

    Flags default to ``None`` so that :func:`from_args` can tell "not given"
    (fall back to the environment) from "given".
    """
    group = parser.add_argument_group(
        "faults", f"also settable as {ENV_PREFIX}<NAME> variables and by PUT /__fixgate/faults"
    )
    for name, (convert, help_text) in _FIELDS.items():
        flag = "--" + name.replace("_", "-")
        if convert is _flag:
            group.add_argument(flag, action="store_const", const=True, default=None, help=help_text)
        else:
            group.add_argument(flag, type=_argparse_type(name), default=None, help=help_text)


def from_args(namespace: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Faults:
    """Faults from parsed flags over ``FIXGATE_REF_*`` variables over the defaults."""
    given = {n: getattr(namespace, n) for n in _FIELDS if getattr(namespace, n, None) is not None}
    return Faults.from_env(environ).replace(**given)


def _argparse_type(name: str) -> Callable[[str], Any]:
    # argparse prefixes the message with the flag ("argument --error-ratio: ..."),
    # so the error names what the user typed.
    def convert(raw: str) -> Any:
        try:
            return _CONVERTERS[name](raw, name)
        except FaultError as exc:
            raise argparse.ArgumentTypeError(f"expected {exc.expected}, got {raw!r}") from None

    convert.__name__ = name
    return convert


def exact_fraction(value: float) -> Fraction:
    """``0.1`` as ``1/10``, not as the binary float's 3602879701896397/36028797018963968."""
    return Fraction(str(value)).limit_denominator(1_000_000)
