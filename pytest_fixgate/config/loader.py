"""Loading ``fixgate.toml`` (or ``[tool.fixgate]`` in ``pyproject.toml``) into :mod:`.schema`.

Every problem becomes one :class:`ConfigError` naming the file, the key, the
bad value and what was expected. Values of keys that name environment
variables are never echoed: a user who pasted a secret there must not see it
printed back into a CI log.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pytest_fixgate.config import defaults
from pytest_fixgate.config.durations import parse_duration
from pytest_fixgate.config.schema import (
    EnvConfig,
    FixgateConfig,
    GateOverride,
    HealthCheck,
    LoadConfig,
    SentryConfig,
)
from pytest_fixgate.config.thresholds import LOAD_METRICS, Threshold, compile_threshold
from pytest_fixgate.errors import ConfigError, ThresholdSyntaxError
from pytest_fixgate.outcomes.model import SEVERITIES

__all__ = ["find_config", "load_config", "select_env"]

T = TypeVar("T")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MISSING = object()


def find_config(explicit: Path | None, rootdir: Path) -> Path:
    """The config file to use: ``explicit``, else ``fixgate.toml``, else ``pyproject.toml``."""
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError("config file not found", file=str(explicit))
        return explicit
    for folder in dict.fromkeys((Path.cwd(), rootdir)):
        candidate = folder / "fixgate.toml"
        if candidate.is_file():
            return candidate
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and "fixgate" in _read_toml(pyproject).get("tool", {}):
            return pyproject
    raise ConfigError(
        f"no fixgate.toml or [tool.fixgate] in pyproject.toml under {rootdir}; "
        "pass --gate-config PATH"
    )


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML ({exc})", file=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read ({exc.strerror})", file=str(path)) from None


def load_config(path: Path) -> FixgateConfig:
    """Parse and validate every environment in ``path``."""
    data = _read_toml(path)
    prefix = ""
    if path.name == "pyproject.toml":
        data = data.get("tool", {}).get("fixgate")
        prefix = "tool.fixgate."
        if data is None:
            raise ConfigError("no [tool.fixgate] table", file=str(path))
    top = _Table(data, str(path), prefix.rstrip("."))
    envs_table = top.table("env", required=True)
    top.finish()
    envs = {
        name: _load_env(name, envs_table.table(name, required=True), path.parent)
        for name in list(envs_table.data)
    }
    if not envs:
        raise ConfigError(
            "no environments",
            file=str(path),
            key=f"{prefix}env",
            expected="at least one [env.<name>] table",
        )
    return FixgateConfig(path=path, envs=envs)


def select_env(config: FixgateConfig, name: str) -> EnvConfig:
    try:
        return config.envs[name]
    except KeyError:
        defined = ", ".join(sorted(config.envs)) or "none"
        raise ConfigError(
            f"no such environment (--gate={name}; defined: {defined})",
            file=str(config.path),
            key=f"env.{name}",
        ) from None


class _Table:
    """A TOML table being validated: typed reads, then unknown keys are errors."""

    def __init__(self, data: object, file: str, key: str) -> None:
        if not isinstance(data, dict):
            raise ConfigError("", file=file, key=key, value=_shown(data), expected="a table")
        self.data: dict[str, Any] = data
        self.file = file
        self.key = key
        self.seen: set[str] = set()

    def path(self, name: str) -> str:
        return f"{self.key}.{name}" if self.key else name

    def error(self, name: str, value: object, expected: str) -> ConfigError:
        return ConfigError(
            "", file=self.file, key=self.path(name), value=_shown(value), expected=expected
        )

    def get(
        self, name: str, kind: type[T] | tuple[type, ...], default: Any = _MISSING, *, expected: str
    ) -> Any:
        self.seen.add(name)
        if name not in self.data:
            if default is _MISSING:
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

    def duration(self, name: str, default: Any = _MISSING) -> float:
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

    def thresholds(self, name: str, default: Any = _MISSING) -> tuple[Threshold, ...]:
        """A list of load thresholds: only metrics a load run measures."""
        texts = self.get(name, list, default, expected="a list of threshold expressions")
        out = []
        for i, text in enumerate(texts):
            threshold = self.threshold(f"{name}[{i}]", text)
            if threshold.metric not in LOAD_METRICS:
                raise self.error(
                    f"{name}[{i}]",
                    text,
                    "a load metric: p(N), med, avg, min, max, error_rate, rps or count",
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

    def table(self, name: str, *, required: bool = False) -> _Table:
        self.seen.add(name)
        if name not in self.data:
            if required:
                raise ConfigError("missing table", file=self.file, key=self.path(name))
            return _Table({}, self.file, self.path(name))
        return _Table(self.data[name], self.file, self.path(name))

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


def _shown(value: object) -> object:
    """Long values are cut: an error message is one line."""
    text = repr(value)
    return value if len(text) <= 80 else text[:77] + "..."


def _load_env(name: str, table: _Table, base_dir: Path) -> EnvConfig:
    base_url = table.get(
        "base_url", str, expected='an http(s) URL such as "https://staging.example.com"'
    )
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise table.error(
            "base_url", base_url, 'an http(s) URL such as "https://staging.example.com"'
        )
    if parts.password or parts.username:
        raise ConfigError(
            "must not carry credentials; name them with token_env",
            file=table.file,
            key=table.path("base_url"),
        )
    timeout_s = table.duration("timeout", defaults.DEFAULT_TIMEOUT_S)
    health_entries = table.get(
        "health", list, list(defaults.DEFAULT_HEALTH), expected="an array of [[health]] tables"
    )
    health = tuple(
        _load_health(_Table(entry, table.file, table.path(f"health[{i}]")), timeout_s)
        for i, entry in enumerate(health_entries)
    )
    ids = [h.gate_id for h in health]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise table.error("health", dup, "each path at most once")
    load = _load_load(table.table("load"), base_dir) if table.has("load") else None
    sentry = _load_sentry(table.table("sentry")) if table.has("sentry") else None
    gates_table = table.table("gates")
    gates = {
        gate_id: _load_override(gates_table.table(gate_id)) for gate_id in list(gates_table.data)
    }
    env = EnvConfig(
        name=name,
        base_url=base_url.rstrip("/"),
        token_env=table.env_name("token_env"),
        token_header=table.get("token_header", str, "X-Health-Token", expected="a header name"),
        mongodb_uri_env=table.env_name("mongodb_uri_env"),
        redis_url_env=table.env_name("redis_url_env"),
        timeout_s=timeout_s,
        health=health,
        load=load,
        sentry=sentry,
        gates=gates,
    )
    table.finish()
    return env


def _load_health(table: _Table, default_timeout_s: float) -> HealthCheck:
    path = table.get("path", str, expected="a URL path starting with '/'")
    if not path.startswith("/"):
        raise table.error("path", path, "a URL path starting with '/'")
    status = table.get("expect_status", int, 200, expected="an HTTP status code (100-599)")
    if not 100 <= status <= 599:
        raise table.error("expect_status", status, "an HTTP status code (100-599)")
    expect_json = table.get("expect_json", dict, None, expected="a table of expected JSON values")
    check = HealthCheck(
        path=path,
        expect_status=status,
        expect_json=expect_json,
        timeout_s=table.duration("timeout", default_timeout_s),
        send_token=table.get("send_token", bool, True, expected="true or false"),
    )
    table.finish()
    return check


def _load_load(table: _Table, base_dir: Path) -> LoadConfig:
    d = defaults.DEFAULT_LOAD
    locustfile = Path(
        table.get("locustfile", str, d["locustfile"], expected="a path to a locustfile")
    )
    if not locustfile.is_absolute():
        locustfile = base_dir / locustfile
    users = table.get("users", int, d["users"], expected="a positive number of users")
    if users < 1:
        raise table.error("users", users, "a positive number of users")
    spawn_rate = float(
        table.get("spawn_rate", (int, float), d["spawn_rate"], expected="users per second")
    )
    if spawn_rate <= 0:
        raise table.error("spawn_rate", spawn_rate, "a positive number of users per second")
    endpoints_table = table.table("endpoints")
    endpoint_thresholds: dict[str, tuple[Threshold, ...]] = {}
    for endpoint in list(endpoints_table.data):
        sub = endpoints_table.table(endpoint)
        endpoint_thresholds[endpoint] = sub.thresholds("thresholds")
        sub.finish()
    weights = table.get("weights", dict, {}, expected="a table of user class name = weight")
    for cls, weight in weights.items():
        if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
            raise table.error(f"weights.{cls}", weight, "a non-negative integer weight")
    locust_args = table.get("locust_args", list, [], expected="a list of Locust options")
    if not all(isinstance(a, str) for a in locust_args):
        raise table.error("locust_args", locust_args, "a list of strings")
    min_samples = table.get("min_samples", int, d["min_samples"], expected="a positive integer")
    if min_samples < 1:
        raise table.error("min_samples", min_samples, "a positive integer")
    workers = table.get("workers", int, 0, expected="0 (one process) or a number of Locust workers")
    if workers < 0:
        raise table.error("workers", workers, "0 or a positive number of workers")
    load = LoadConfig(
        locustfile=locustfile,
        users=users,
        spawn_rate=spawn_rate,
        duration_s=table.duration("duration", d["duration"]),
        thresholds=table.thresholds("thresholds", d["thresholds"]),
        endpoint_thresholds=endpoint_thresholds,
        warn=table.thresholds("warn", []),
        window_s=table.duration("window") if table.has("window") else None,
        warmup_s=table.duration("warmup") if table.has("warmup") else 0.0,
        min_samples=min_samples,
        request_timeout_s=table.duration("request_timeout", 10.0),
        workers=workers,
        weights=weights,
        locust_args=tuple(locust_args),
    )
    if load.warmup_s >= load.duration_s:
        raise table.error(
            "warmup", load.warmup_s, f"less than the duration ({load.duration_s:g} s)"
        )
    table.finish()
    return load


def _load_sentry(table: _Table) -> SentryConfig:
    base_url = table.get("base_url", str, "https://sentry.io", expected="an http(s) URL")
    if urlsplit(base_url).scheme not in ("http", "https"):
        raise table.error("base_url", base_url, "an http(s) URL")
    thresholds = table.thresholds("thresholds", ["error_rate < 1%"])
    for i, threshold in enumerate(thresholds):
        if threshold.metric not in ("error_rate", "count"):
            raise table.error(f"thresholds[{i}]", threshold.text, "error_rate or count thresholds")
    min_samples = table.get("min_samples", int, 100, expected="a positive integer")
    if min_samples < 1:
        raise table.error("min_samples", min_samples, "a positive integer")
    sentry = SentryConfig(
        base_url=base_url.rstrip("/"),
        org_env=table.env_name("org_env", "SENTRY_ORG") or "SENTRY_ORG",
        project_env=table.env_name("project_env", "SENTRY_PROJECT") or "SENTRY_PROJECT",
        token_env=table.env_name("token_env", "SENTRY_AUTH_TOKEN") or "SENTRY_AUTH_TOKEN",
        thresholds=thresholds,
        period_s=table.duration("period", "5m"),
        environment=table.get("environment", str, None, expected="a Sentry environment name"),
        min_samples=min_samples,
        timeout_s=table.duration("timeout", 10.0),
    )
    table.finish()
    return sentry


def _load_override(table: _Table) -> GateOverride:
    severity = table.get("severity", str, None, expected=f"one of {', '.join(SEVERITIES)}")
    if severity is not None and severity not in SEVERITIES:
        raise table.error("severity", severity, f"one of {', '.join(SEVERITIES)}")
    override = GateOverride(
        required=table.get("required", bool, None, expected="true or false"),
        severity=severity,
    )
    table.finish()
    return override
