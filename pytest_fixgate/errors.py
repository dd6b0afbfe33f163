"""The one error tree of pytest-fixgate.

    FixgateError
    ├── ConfigError             bad or missing config: exit 4, one line
    │   └── ThresholdSyntaxError   a threshold expression that does not parse
    └── ProbeError              a measurement that could not be taken (gate ERROR)
        ├── ProbeConnectError   refused, DNS failure, server gone
        ├── ProbeTimeout        no answer within the timeout
        └── ProbeBadResponse    an answer that cannot be judged (not JSON, ...)

Messages never contain secret values: probes build them from redacted text.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "FixgateError",
    "ProbeBadResponse",
    "ProbeConnectError",
    "ProbeError",
    "ProbeTimeout",
    "ThresholdSyntaxError",
]


class FixgateError(Exception):
    """Base class of every error pytest-fixgate raises on purpose."""


class ConfigError(FixgateError):
    """The config cannot be used; the message names file, key, value and what was expected."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        key: str | None = None,
        value: object = None,
        expected: str | None = None,
    ) -> None:
        self.file = file
        self.key = key
        self.value = value
        self.expected = expected
        self.detail = message
        super().__init__(self._format())

    def _format(self) -> str:
        where = ": ".join(part for part in (self.file, self.key) if part)
        text = self.detail
        if self.expected is not None:
            got = "" if self.value is None else f"got {self.value!r}, "
            text = (
                f"{text}: {got}expected {self.expected}"
                if text
                else f"{got}expected {self.expected}"
            )
        return f"{where}: {text}" if where else text


class ThresholdSyntaxError(ConfigError):
    """A threshold expression that does not parse; carries the column."""

    def __init__(self, message: str, *, text: str, column: int) -> None:
        self.text = text
        self.column = column
        super().__init__(f"{message} at column {column} in {text!r}")


class ProbeError(FixgateError):
    """A measurement that could not be taken: the gate ends in ERROR."""

    def __init__(self, message: str, *, target: str = "") -> None:
        self.target = target
        super().__init__(message)


class ProbeConnectError(ProbeError):
    """The target refused the connection, did not resolve, or went away."""


class ProbeTimeout(ProbeError):
    """The target did not answer within the timeout."""


class ProbeBadResponse(ProbeError):
    """The target answered something that cannot be judged (for example, not JSON)."""
