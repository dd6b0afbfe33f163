"""Gate kinds: how a kind of gate (health, load, audit, ...) joins the gate run.

A kind declares its config section, the parser that validates it, the gate
ids its config implies (the completeness rule holds the run to exactly those),
the fixtures its gate tests are parametrized over, and the environment
variables (and dotenv files) whose values are secrets. Kinds come from the
``pytest_fixgate_gate_kinds`` hook: the built-in ones
(:mod:`pytest_fixgate.kinds.builtin`) use the same hook a third-party plugin
does::

    # a plugin module or conftest.py
    from pytest_fixgate.kinds import GateKind

    def parse_ping(table, ctx):
        host = table.get("host", str, expected="a host name")
        table.finish()
        return host

    def pytest_fixgate_gate_kinds():
        return [GateKind(
            section="ping",                                  # [env.X.ping]
            parse=parse_ping,
            gate_ids=lambda host, env: [f"ping.{host}"],
            params={"ping_host": lambda host, env: [(host, host)]},
        )]

and a gate test ``@pytest.mark.gate(id="ping.{ping_host}", needs="ping")``
taking the ``ping_host`` fixture, in a ``gates/`` folder beside the run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_fixgate.config.schema import EnvConfig

__all__ = ["GateKind", "KindContext", "SecretFile", "implied_gate_ids", "kinds_by_section"]


@dataclass(frozen=True)
class KindContext:
    """What a section parser may know besides its own table."""

    env_name: str
    base_dir: Path  # the config file's folder: relative paths resolve here
    timeout_s: float  # the environment's default timeout
    file: str  # the config file, for error messages
    # Every environment's raw table, for kinds that compare environments.
    all_envs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class SecretFile:
    """A dotenv file whose every value is a secret (``vercel env pull`` output): read once
    when the run starts, so its values are masked before any gate runs, everywhere."""

    path: Path  # resolved
    label: str  # as the config writes it, for messages
    #: Values in it that are public text, never masked (listed placeholders, env names).
    public: tuple[str, ...] = ()


def _no_files(section: Any) -> Iterable[SecretFile]:
    return ()


def _no_ids(section: Any, env: EnvConfig) -> Sequence[str]:
    return ()


def _no_secrets(section: Any) -> Iterable[str]:
    return ()


@dataclass(frozen=True)
class GateKind:
    """One kind of gate. ``section`` is the table under ``[env.X.<section>]``
    (``[[env.X.<section>]]`` when ``array``); ``None`` for a kind that reads
    only the environment's own keys (the dependency pings)."""

    section: str | None
    #: ``(table, ctx) -> config``; for an array section ``table`` is a list of tables.
    parse: Callable[[Any, KindContext], Any] | None = None
    array: bool = False
    #: The section's value when the table is absent (``None``: not configured).
    default: Callable[[KindContext], Any] | None = None
    #: ``(config, env) -> gate ids`` the config implies (never called with ``None``
    #: for a section kind; called with ``None`` for a kind without a section).
    gate_ids: Callable[[Any, EnvConfig], Sequence[str]] = _no_ids
    #: fixture name -> ``(config, env) -> [(id, value), ...]`` to parametrize gate tests.
    params: Mapping[str, Callable[[Any, EnvConfig], Sequence[tuple[str, Any]]]] = field(
        default_factory=dict
    )
    #: ``config -> names of environment variables whose values are secrets``.
    secret_envs: Callable[[Any], Iterable[str]] = _no_secrets
    #: ``config -> dotenv files whose values are secrets`` (see :class:`SecretFile`).
    secret_files: Callable[[Any], Iterable[SecretFile]] = _no_files
    title: str = ""

    @property
    def name(self) -> str:
        return self.section or self.title or "kind"


def kinds_by_section(kinds: Iterable[GateKind]) -> dict[str, GateKind]:
    """Index kinds by section; a section claimed twice is an error naming it."""
    out: dict[str, GateKind] = {}
    for kind in kinds:
        key = kind.section or f"<{kind.name}>"
        if key in out:
            raise ValueError(f"gate kind section {key!r} is registered twice")
        out[key] = kind
    return out


def implied_gate_ids(env: EnvConfig, kinds: Iterable[GateKind]) -> list[str]:
    """Every gate id the environment's config implies, in a stable order."""
    ids: list[str] = []
    for kind in kinds:
        section = env.section(kind.section) if kind.section else None
        if kind.section and section is None:
            continue
        ids.extend(kind.gate_ids(section, env))
    return list(dict.fromkeys(ids))
