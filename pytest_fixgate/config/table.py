"""A TOML table being validated: typed reads, one-line errors, unknown keys refused.

The building block of every config parser, the built-in gate kinds' and a
third-party kind's alike (see :mod:`pytest_fixgate.kinds`). Values of keys that
name environment variables are never echoed: a user who pasted a secret there
must not see it printed back into a CI log.
"""

from __future__ import annotations

import difflib
import re
from typing import Any, TypeVar

from pytest_fixgate.config.durations import parse_duration
from pytest_fixgate.config.thresholds import LOAD_METRICS, Threshold, compile_threshold
from pytest_fixgate.config.urls import url_key
from pytest_fixgate.errors import ConfigError, ThresholdSyntaxError

__all__ = ["MISSING", "ConfigTable", "shown"]

T = TypeVar("T")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MISSING: Any = object()


class ConfigTable:
    """A TOML table being validated: typed reads, then unknown keys are errors."""

    def __init__(self, data: object, file: str, key: str) -> None:
        if not isinstance(data, dict):
            raise ConfigError("", file=file, key=key, value=shown(data), expected="a table")
        self.data: dict[str, Any] = data
        self.file = file
        self.key = key
        self.seen: set[str] = set()

    def path(self, name: str) -> str:
        return f"{self.key}.{name}" if self.key else name

    def error(self, name: str, value: object, expected: str) -> ConfigError:
        return ConfigError(
            "", file=self.file, key=self.path(name), value=shown(value), expected=expected
        )

    def get(
        self, name: str, kind: type[T] | tuple[type, ...], default: Any = MISSING, *, expected: str
    ) -> Any:
        self.seen.add(name)
        if name not in self.data:
            if default is MISSING:
                raise ConfigError(
                    "missing required key", file=self.file, key=self.path(name), expected=expected
                )
            return default
        value = self.data[name]
        # bool is an int in Python, never in a config file
        if (
            isinstance(value, bool)
            and kind is not bool
            and (not isinstance(kind, tuple) or bool not in kind)
        ):
            raise self.error(name, value, expected)
        if not isinstance(value, kind):
            raise self.error(name, value, expected)
        return value

    def url(self, name: str, default: Any = MISSING, *, credentials_hint: str = "") -> Any:
        """An http(s) URL key, through the config's one URL validator
        (:func:`pytest_fixgate.config.urls.check_url`): credentials refused, never echoed."""
        return url_key(self, name, default, credentials_hint=credentials_hint)

    def env_name(self, name: str, default: str | None = None) -> str | None:
        """A key that names an environment variable; its value is never echoed."""
        self.seen.add(name)
        value = self.data.get(name, default)
        if value is None:
            return None
        if not isinstance(value, str) or not _ENV_NAME.match(value):
            raise ConfigError(
                "must be the NAME of an environment variable (letters, digits, _), "
                "never a value; the value given is not shown in case it is a secret",
                file=self.file,
                key=self.path(name),
            )
        return value

    def duration(self, name: str, default: Any = MISSING) -> float:
        value = self.get(name, (str, int, float), default, expected='a duration such as "5m"')
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise self.error(name, value, str(exc)) from None

    def threshold(self, name: str, text: object) -> Threshold:
        if not isinstance(text, str):
            raise self.error(name, text, 'a threshold expression such as "p(95) < 1500ms"')
        try:
            return compile_threshold(text)
        except ThresholdSyntaxError as exc:
            raise ConfigError(str(exc), file=self.file, key=self.path(name)) from None

    def thresholds(
        self,
        name: str,
        default: Any = MISSING,
        *,
        metrics: frozenset[str] = LOAD_METRICS,
        allow_empty: bool = False,
    ) -> tuple[Threshold, ...]:
        """A list of limits (``<``, ``<=``, ``>``, ``>=``) on ``metrics``, one per metric."""
        texts = self.get(name, list, default, expected="a list of threshold expressions")
        if not texts and not allow_empty:
            # An empty list would silently remove every check it stood for.
            raise self.error(name, texts, 'at least one threshold, e.g. ["p(95) < 1500ms"]')
        out: list[Threshold] = []
        for i, text in enumerate(texts):
            threshold = self.threshold(f"{name}[{i}]", text)
            if threshold.metric not in metrics:
                raise self.error(
                    f"{name}[{i}]", text, f"a metric among {', '.join(sorted(metrics))}"
                )
            if threshold.op in ("==", "!="):
                raise self.error(f"{name}[{i}]", text, "a limit with <, <=, > or >=")
            if any(t.key == threshold.key for t in out):
                # Each threshold is a gate named by its metric: two would share an id.
                raise self.error(
                    f"{name}[{i}]", text, f"one threshold per metric ({threshold.key})"
                )
            out.append(threshold)
        return tuple(out)

    def array(self, name: str, default: Any = MISSING, *, expected: str) -> list[ConfigTable]:
        """An array of tables (``[[key]]``), each to be read and finished by the caller."""
        entries = self.get(name, list, default, expected=expected)
        return [
            ConfigTable(entry, self.file, self.path(f"{name}[{i}]"))
            for i, entry in enumerate(entries)
        ]

    def table(self, name: str, *, required: bool = False) -> ConfigTable:
        self.seen.add(name)
        if name not in self.data:
            if required:
                raise ConfigError("missing table", file=self.file, key=self.path(name))
            return ConfigTable({}, self.file, self.path(name))
        return ConfigTable(self.data[name], self.file, self.path(name))

    def has(self, name: str) -> bool:
        return name in self.data

    def finish(self) -> None:
        """Reject keys nobody read: a typo must not silently become a default."""
        for name in self.data:
            if name not in self.seen:
                close = difflib.get_close_matches(name, sorted(self.seen), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                known = ", ".join(sorted(self.seen))
                raise ConfigError(
                    f"unknown key (known keys: {known}){hint}", file=self.file, key=self.path(name)
                )


def shown(value: object) -> object:
    """Long values are cut: an error message is one line."""
    text = repr(value)
    return value if len(text) <= 80 else text[:77] + "..."
