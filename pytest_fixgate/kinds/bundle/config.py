"""The bundle-budget gate kind: ``[env.X.bundle]``, one gate ``bundle.budget``.

The runbook's ``pnpm run bundle:budget:report`` ("fail if budgets exceeded"):
either judge the application's own report (``report``: the last entry of
``reports/bundle-budget-history.json``), or measure a Next.js build directly
(``chunks``: gzip each ``.js`` with Node's ``zlib.gzipSync`` as the application's
``checkBundleBudget.mjs`` does, classify it by file name, compare with
``budgets_kb`` overridden by the script's ``BUNDLE_BUDGET_<KEY>_KB`` variables).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pytest_fixgate.config.table import ConfigTable
from pytest_fixgate.errors import ConfigError
from pytest_fixgate.kinds import GateKind, KindContext
from pytest_fixgate.kinds.commands.config import local_path

__all__ = ["DEFAULT_BUDGETS_KB", "KIND", "BundleConfig", "parse_bundle"]

#: The real application's budgets (KB, gzipped), from its scripts/checkBundleBudget.mjs.
DEFAULT_BUDGETS_KB: Mapping[str, float] = {
    "main-app": 8500,
    "framework": 3500,
    "commons": 2200,
    "sentry": 6500,
    "copilot": 3200,
    "i18n": 2200,
    "vendor": 4200,
    "polyfills": 600,
    "page": 800,
    "default": 1200,
}
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


@dataclass(frozen=True)
class BundleConfig:
    """Where the sizes come from, and the limits."""

    report: Path | None = None
    chunks: Path | None = None
    budgets_kb: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_BUDGETS_KB))
    warn_within: float = 0.05  # a chunk within this fraction under its budget is WARN
    max_age_s: float = 86400.0  # an older report entry is not evidence for this build
    timeout_s: float = 120.0  # chunks: the deadline of the node process that gzips them

    @property
    def source(self) -> str:
        return f"report {self.report}" if self.report else f"build directory {self.chunks}"


def parse_bundle(table: ConfigTable, ctx: KindContext) -> BundleConfig:
    has_report, has_chunks = table.has("report"), table.has("chunks")
    if has_report == has_chunks:
        raise ConfigError(
            "exactly one of report = <budget history JSON> or chunks = <.next/static/chunks>",
            file=table.file,
            key=table.path("report"),
        )
    report = local_path(table, "report", ctx, None) if has_report else None
    chunks = local_path(table, "chunks", ctx, None) if has_chunks else None
    budgets = dict(DEFAULT_BUDGETS_KB)
    given = table.get("budgets_kb", dict, {}, expected="a table of chunk class = KB")
    for name, value in given.items():
        if name not in DEFAULT_BUDGETS_KB:
            close = difflib.get_close_matches(name, list(DEFAULT_BUDGETS_KB), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise table.error(
                f"budgets_kb.{name}", name, f"one of {', '.join(DEFAULT_BUDGETS_KB)}{hint}"
            )
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise table.error(f"budgets_kb.{name}", value, "a positive number of KB")
        if not math.isfinite(value):
            raise table.error(f"budgets_kb.{name}", value, "a finite number of KB")
        budgets[name] = float(value)
    if has_report and given:
        raise ConfigError(
            "the report carries its own budgets; budgets_kb applies to chunks = ...",
            file=table.file,
            key=table.path("budgets_kb"),
        )
    warn_text = table.get("warn_within", (str, int, float), "5%", expected='a percentage "5%"')
    match = _PERCENT.match(warn_text) if isinstance(warn_text, str) else None
    if match is None or not 0 <= float(match.group(1)) < 100:
        raise table.error("warn_within", warn_text, 'a percentage from "0%" to under "100%"')
    config = BundleConfig(
        report=report,
        chunks=chunks,
        budgets_kb=budgets,
        warn_within=float(match.group(1)) / 100,
        max_age_s=table.duration("max_age", "24h"),
        timeout_s=table.duration("timeout", "2m"),
    )
    table.finish()
    return config


KIND = GateKind(
    section="bundle",
    parse=parse_bundle,
    gate_ids=lambda bundle, env: ["bundle.budget"],
    params={"bundle_config": lambda bundle, env: [("budget", bundle)]},
    title="Bundle budget",
)
