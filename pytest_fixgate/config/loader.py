"""Loading ``fixgate.toml`` (or ``[tool.fixgate]`` in ``pyproject.toml``) into :mod:`.schema`.

Every problem becomes one :class:`ConfigError` naming the file, the key, the
bad value and what was expected. Values of keys that name environment
variables are never echoed: a user who pasted a secret there must not see it
printed back into a CI log.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pytest_fixgate.config import defaults
from pytest_fixgate.config.schema import EnvConfig, FixgateConfig, GateOverride
from pytest_fixgate.config.table import ConfigTable
from pytest_fixgate.errors import ConfigError
from pytest_fixgate.kinds import GateKind, KindContext, implied_gate_ids
from pytest_fixgate.measurements.files import FileReadError, read_text
from pytest_fixgate.severity import SEVERITIES

__all__ = ["find_config", "load_config", "select_env"]


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
        return tomllib.loads(read_text(path, max_bytes=4 * 1024 * 1024))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML ({exc})", file=str(path)) from None
    except FileReadError as exc:  # a FIFO, over 4 MiB, not read in time, not UTF-8
        raise ConfigError(f"not read: {exc.problem}", file=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read ({exc.strerror})", file=str(path)) from None


def load_config(path: Path, kinds: Sequence[GateKind] | None = None) -> FixgateConfig:
    """Parse and validate every environment in ``path``; ``kinds`` defaults to the built-in
    gate kinds (a gate run passes every kind registered through the hook)."""
    if kinds is None:
        # deferred: the built-in kinds import this package themselves
        from pytest_fixgate.kinds.builtin import builtin_kinds

        kinds = builtin_kinds()
    data = _read_toml(path)
    prefix = ""
    if path.name == "pyproject.toml":
        data = data.get("tool", {}).get("fixgate")
        prefix = "tool.fixgate."
        if data is None:
            raise ConfigError("no [tool.fixgate] table", file=str(path))
    top = ConfigTable(data, str(path), prefix.rstrip("."))
    envs_table = top.table("env", required=True)
    top.finish()
    raw_envs = {k: v for k, v in envs_table.data.items() if isinstance(v, dict)}
    envs = {
        name: _load_env(
            envs_table.table(name, required=True),
            KindContext(name, path.parent, defaults.DEFAULT_TIMEOUT_S, str(path), raw_envs),
            kinds,
        )
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


def _load_env(table: ConfigTable, ctx: KindContext, kinds: Iterable[GateKind]) -> EnvConfig:
    base_url = table.url("base_url", credentials_hint="name them with token_env")
    timeout_s = table.duration("timeout", defaults.DEFAULT_TIMEOUT_S)
    ctx = KindContext(ctx.env_name, ctx.base_dir, timeout_s, ctx.file, ctx.all_envs)
    sections: dict[str, Any] = {}
    secret_envs: list[str] = []
    kinds = list(kinds)
    for kind in kinds:
        if kind.section is None:
            continue
        sections[kind.section] = _load_section(table, kind, ctx)
        if sections[kind.section] is not None:
            secret_envs.extend(kind.secret_envs(sections[kind.section]))
    gates_table = table.table("gates")
    gates = {
        gate_id: _load_override(gates_table.table(gate_id)) for gate_id in list(gates_table.data)
    }
    env = EnvConfig(
        name=ctx.env_name,
        base_url=base_url.rstrip("/"),
        token_env=table.env_name("token_env"),
        token_header=table.get("token_header", str, "X-Health-Token", expected="a header name"),
        mongodb_uri_env=table.env_name("mongodb_uri_env"),
        redis_url_env=table.env_name("redis_url_env"),
        timeout_s=timeout_s,
        sections=sections,
        gates=gates,
        secret_envs=tuple(secret_envs),
    )
    # Unknown keys and tables: every kind's section was read above, so the did-you-mean
    # covers them all.
    table.finish()
    # The ids the config implies need the finished environment (a kind may read its keys).
    return dataclasses.replace(env, implied_gates=tuple(implied_gate_ids(env, kinds)))


def _load_section(table: ConfigTable, kind: GateKind, ctx: KindContext) -> Any:
    name = kind.section
    assert name is not None
    if not table.has(name):
        table.seen.add(name)
        return kind.default(ctx) if kind.default is not None else None
    if kind.parse is None:
        raise ConfigError("this gate kind takes no table", file=table.file, key=table.path(name))
    if kind.array:
        return kind.parse(table.array(name, expected=f"an array of [[{name}]] tables"), ctx)
    sub = table.table(name)
    return kind.parse(sub, ctx)


def _load_override(table: ConfigTable) -> GateOverride:
    severity = table.get("severity", str, None, expected=f"one of {', '.join(SEVERITIES)}")
    if severity is not None and severity not in SEVERITIES:
        raise table.error("severity", severity, f"one of {', '.join(SEVERITIES)}")
    override = GateOverride(
        required=table.get("required", bool, None, expected="true or false"),
        severity=severity,
    )
    table.finish()
    return override
