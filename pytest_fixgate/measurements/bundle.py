"""Bundle sizes: read from the application's budget report, or measured from a build.

The real application's ``scripts/checkBundleBudget.mjs`` gzips every ``.js``
under ``.next/static/chunks`` (recursively; source maps, the webpack runtime
and the build manifests skipped), classifies each by its file name, and
appends an entry to ``reports/bundle-budget-history.json``::

    {timestamp, branch, totalKb, bundleCount, overBudgetCount,
     topChunks: [{file, sizeKb, budgetKb, overBudget}],
     violations: [{file, sizeKb, budgetKb, deltaKb}]}

:func:`read_budget_report` reads the last entry of that file;
:func:`measure_chunks` does what the script does, with zlib's default level
(6, as Node's ``gzipSync``), so the sizes agree to the byte.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_fixgate.errors import ProbeBadResponse, ProbeError

__all__ = ["BudgetEntry", "ChunkSize", "classify", "measure_chunks", "read_budget_report"]

_SKIP = (r"\.map$", r"webpack-", r"buildManifest", r"ssgManifest")


@dataclass(frozen=True)
class ChunkSize:
    file: str
    size_kb: float
    budget_kb: float
    category: str = ""

    @property
    def over(self) -> bool:
        return self.size_kb > self.budget_kb

    @property
    def delta_kb(self) -> float:
        return self.size_kb - self.budget_kb

    def as_dict(self) -> dict[str, Any]:
        out = {
            "file": self.file,
            "sizeKb": round(self.size_kb, 2),
            "budgetKb": self.budget_kb,
            "deltaKb": round(self.delta_kb, 2),
        }
        if self.category:
            out["category"] = self.category
        return out


@dataclass(frozen=True)
class BudgetEntry:
    """One budget check: the chunks it lists and the violations it found."""

    source: str  # "report" or "build"
    timestamp: _dt.datetime | None
    branch: str | None
    total_kb: float
    bundle_count: int
    chunks: tuple[ChunkSize, ...]  # the report's topChunks (five largest), or every chunk
    violations: tuple[ChunkSize, ...]
    over_budget_count: int
    all_chunks: bool  # whether ``chunks`` lists every chunk (a build) or only the largest


def classify(filename: str) -> str:
    """The budget class of a chunk file name, as checkBundleBudget.mjs decides it."""
    lower = filename.lower()
    for needle, category in (
        ("main-app", "main-app"),
        ("framework", "framework"),
        ("commons", "commons"),
        ("sentry", "sentry"),
        ("copilot", "copilot"),
        ("i18n", "i18n"),
        ("dictionary", "i18n"),
        ("vendor", "vendor"),
        ("polyfill", "polyfills"),
        ("page", "page"),
        ("app-", "page"),
    ):
        if needle in lower:
            return category
    return "default"


def _gzip_size(data: bytes) -> int:
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: a gzip wrapper, as gzipSync
    return len(compressor.compress(data) + compressor.flush())


def measure_chunks(folder: Path, budgets_kb: Mapping[str, float]) -> BudgetEntry:
    """Gzip and classify every chunk under ``folder``; ProbeError when there is none."""
    if not folder.is_dir():
        raise ProbeError(f"no build directory at {folder}: run the build first")
    chunks = []
    for path in sorted(folder.rglob("*.js")):
        if not path.is_file() or any(re.search(p, path.name) for p in _SKIP):
            continue
        category = classify(path.name)
        budget = budgets_kb.get(category, budgets_kb["default"])
        size_kb = _gzip_size(path.read_bytes()) / 1024
        chunks.append(ChunkSize(path.name, size_kb, budget, category))
    if not chunks:
        raise ProbeError(f"no .js chunk under {folder}: nothing to measure")
    chunks.sort(key=lambda c: -c.size_kb)
    violations = tuple(c for c in chunks if c.over)
    return BudgetEntry(
        source="build",
        timestamp=None,
        branch=None,
        total_kb=sum(c.size_kb for c in chunks),
        bundle_count=len(chunks),
        chunks=tuple(chunks),
        violations=violations,
        over_budget_count=len(violations),
        all_chunks=True,
    )


def _bad(path: Path, what: str) -> ProbeBadResponse:
    return ProbeBadResponse(f"bundle budget report {path}: {what}", target=str(path))


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _chunk(item: object, path: Path, where: str) -> ChunkSize:
    if not isinstance(item, dict) or not isinstance(item.get("file"), str):
        raise _bad(path, f"{where} is not a {{file, sizeKb, budgetKb}} object")
    size, budget = _number(item.get("sizeKb")), _number(item.get("budgetKb"))
    if size is None or budget is None:
        raise _bad(path, f"{where} lacks a numeric sizeKb or budgetKb")
    return ChunkSize(item["file"], size, budget)


def read_budget_report(path: Path) -> BudgetEntry:
    """The last entry of the application's budget history; ProbeError when the file is
    missing, not JSON, empty, or of another shape."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProbeError(
            f"no bundle budget report at {path}: run the budget script first", target=str(path)
        ) from None
    except OSError as exc:
        raise ProbeError(f"cannot read {path}: {exc.strerror or exc}", target=str(path)) from None
    try:
        history = json.loads(text)
    except ValueError as exc:
        raise _bad(path, f"not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(history, list):
        raise _bad(path, "not a JSON array of budget entries")
    if not history:
        raise _bad(path, "empty: no budget check has been recorded")
    last = history[-1]
    if not isinstance(last, dict):
        raise _bad(path, "its last entry is not an object")
    stamp = last.get("timestamp")
    try:
        timestamp = _dt.datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        raise _bad(path, f"its last entry has no ISO timestamp (got {stamp!r})") from None
    if timestamp.tzinfo is None:
        timestamp = timestamp.replace(tzinfo=_dt.UTC)
    top, violations = last.get("topChunks"), last.get("violations")
    if not isinstance(top, list) or not isinstance(violations, list):
        raise _bad(path, "its last entry lacks the topChunks and violations lists")
    total, count = _number(last.get("totalKb")), _number(last.get("bundleCount"))
    if total is None or count is None:
        raise _bad(path, "its last entry lacks a numeric totalKb or bundleCount")
    if count < 1 or not top:
        # A budget check run without a build measures nothing: not a clean bundle.
        raise _bad(path, "its last entry records no chunk (was the build missing?)")
    over = _number(last.get("overBudgetCount"))
    return BudgetEntry(
        source="report",
        timestamp=timestamp,
        branch=last.get("branch") if isinstance(last.get("branch"), str) else None,
        total_kb=total,
        bundle_count=int(count),
        chunks=tuple(_chunk(c, path, f"topChunks[{i}]") for i, c in enumerate(top)),
        violations=tuple(_chunk(v, path, f"violations[{i}]") for i, v in enumerate(violations)),
        over_budget_count=int(over) if over is not None else len(violations),
        all_chunks=False,
    )
