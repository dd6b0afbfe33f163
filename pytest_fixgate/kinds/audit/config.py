"""The dependency-audit gate kind: ``[[env.X.audit]]``, one gate per entry (``audit.<id>``).

The runbook's ``pnpm audit --prod --audit-level=high``, for Python too:
``tool`` is ``pip-audit`` (pinned requirement files, or an environment's
``path``), ``npm`` or ``pnpm`` (the lockfile in ``directory``). Findings at or
above ``audit_level`` fail the gate unless a live waiver covers them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pytest_fixgate.config.table import ConfigTable
from pytest_fixgate.errors import ConfigError
from pytest_fixgate.kinds import GateKind, KindContext
from pytest_fixgate.kinds.audit.findings import LEVELS, Severity
from pytest_fixgate.kinds.audit.waivers import Waiver, load_waivers
from pytest_fixgate.kinds.commands.config import (
    entry_id,
    extra_env,
    local_path,
    parse_entries,
    secret_env_names,
)

__all__ = ["KIND", "TOOLS", "AuditSpec", "parse_audits"]

TOOLS = ("pip-audit", "npm", "pnpm")
DEFAULT_OSV_URL = "https://api.osv.dev"


@dataclass(frozen=True)
class AuditSpec:
    """One audit: which tool, over what, the floor that fails, and the waivers."""

    id: str
    tool: str
    requirements: tuple[Path, ...] = ()  # pip-audit: pinned requirement files
    path: Path | None = None  # pip-audit: an environment (a venv or site-packages folder)
    directory: Path | None = None  # npm/pnpm: the folder with the lockfile
    audit_level: Severity = Severity.HIGH
    production_only: bool = True
    osv_url: str = DEFAULT_OSV_URL
    registry: str | None = None  # npm/pnpm; None: the tool's own configuration
    waivers_file: Path | None = None
    waivers: tuple[Waiver, ...] = ()
    timeout_s: float = 300.0
    fetch_retries: int | None = None  # npm/pnpm network retries; None: the tool's default
    secret_env: tuple[str, ...] = ()  # e.g. a private registry's token: masked in the log
    env: Mapping[str, str] = field(default_factory=dict)  # added to the tool's environment

    @property
    def gate_id(self) -> str:
        return f"audit.{self.id}"


def _url(table: ConfigTable, name: str, default: str | None) -> str | None:
    # Credentials belong in .npmrc / pip.conf, never in fixgate.toml.
    return table.url(name, default, credentials_hint="credentials belong in .npmrc or pip.conf")


def _parse_one(table: ConfigTable, ctx: KindContext) -> AuditSpec:
    gate_id = entry_id(table, "python")
    tool = table.get("tool", str, expected=" | ".join(TOOLS))
    if tool not in TOOLS:
        raise table.error("tool", tool, " | ".join(TOOLS))
    level_text = table.get("audit_level", str, "high", expected=" | ".join(LEVELS))
    level = Severity.parse(level_text) if level_text.lower() in LEVELS else None
    if level is None:
        raise table.error("audit_level", level_text, " | ".join(LEVELS))
    osv_url = _url(table, "osv_url", DEFAULT_OSV_URL) or DEFAULT_OSV_URL
    # pip-audit wants the query URL; the config names the API's base. Accept either.
    osv_url = re.sub(r"/v1/query/?$", "", osv_url.rstrip("/"))
    waivers_file = None
    waivers: tuple[Waiver, ...] = ()
    if table.has("waivers"):
        waivers_file = local_path(table, "waivers", ctx, None)
        waivers = load_waivers(waivers_file)
    retries = table.get("fetch_retries", int, None, expected="a number of retries (0 or more)")
    if retries is not None and retries < 0:
        raise table.error("fetch_retries", retries, "a number of retries (0 or more)")
    common = {
        "id": gate_id,
        "tool": tool,
        "audit_level": level,
        "osv_url": osv_url,
        "waivers_file": waivers_file,
        "waivers": waivers,
        "timeout_s": table.duration("timeout", "5m"),
        "secret_env": secret_env_names(table),
        "env": extra_env(table),
    }
    if tool == "pip-audit":
        spec = _pip_audit(table, ctx, common)
    else:
        spec = AuditSpec(
            **common,
            directory=local_path(table, "directory", ctx, ctx.base_dir),
            production_only=table.get("production_only", bool, True, expected="true or false"),
            registry=_url(table, "registry", None),
            fetch_retries=retries,
        )
    table.finish()
    return spec


def _pip_audit(table: ConfigTable, ctx: KindContext, common: dict[str, object]) -> AuditSpec:
    for name in ("directory", "production_only", "registry", "fetch_retries"):
        if table.has(name):
            raise ConfigError(
                f"applies to tool npm or pnpm, not {common['tool']}",
                file=table.file,
                key=table.path(name),
            )
    requirements = table.get("requirements", list, None, expected="a list of requirement files")
    path = local_path(table, "path", ctx, ctx.base_dir) if table.has("path") else None
    if (requirements is None) == (path is None):
        raise ConfigError(
            "pip-audit needs exactly one of requirements = [files] or path = environment",
            file=table.file,
            key=table.path("requirements"),
        )
    files: list[Path] = []
    for i, name in enumerate(requirements or []):
        if not isinstance(name, str) or not name.strip():
            raise table.error(f"requirements[{i}]", name, "a requirement file path")
        files.append((ctx.base_dir / name).resolve())
    if requirements is not None and not files:
        raise table.error("requirements", requirements, "at least one requirement file")
    return AuditSpec(**common, requirements=tuple(files), path=path)  # type: ignore[arg-type]


def parse_audits(tables: list[ConfigTable], ctx: KindContext) -> tuple[AuditSpec, ...]:
    """``[[env.X.audit]]``: each entry one gate; ids are unique."""
    return parse_entries(tables, ctx, _parse_one, section="audit")


KIND = GateKind(
    section="audit",
    array=True,
    parse=parse_audits,
    gate_ids=lambda specs, env: [s.gate_id for s in specs],
    params={"audit_spec": lambda specs, env: [(s.id, s) for s in specs]},
    secret_envs=lambda specs: [name for s in specs for name in s.secret_env],
    title="Dependency audits",
)
