"""Bundle sizes: read from the application's budget report, or measured from a build.

The real application's ``scripts/checkBundleBudget.mjs`` gzips every ``.js``
under ``.next/static/chunks`` (recursively; source maps, the webpack runtime
and the build manifests skipped), classifies each by its file name, and
appends an entry to ``reports/bundle-budget-history.json``::

    {timestamp, branch, totalKb, bundleCount, overBudgetCount,
     topChunks: [{file, sizeKb, budgetKb, overBudget}],
     violations: [{file, sizeKb, budgetKb, deltaKb}]}

:func:`read_budget_report` reads the last entry of that file, refusing numbers no
script writes (NaN, infinities, negative sizes: Python's JSON reader accepts
``NaN``); :func:`measure_chunks` does what the script does: the same walk and
classes, the budgets overridden by the same ``BUNDLE_BUDGET_<KEY>_KB``
variables, and the gzip of Node's own ``zlib.gzipSync`` (one ``node`` process
for every chunk). Python's zlib cannot stand in for it: Node bundles
Chromium's zlib, whose deflate output differs (measured: -1.5 % to +1.4 % on
real JavaScript files, +1.1 % to +3.8 % on generated chunks, 29 KB on a 2.4 MB one).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_fixgate.errors import ProbeBadResponse, ProbeError
from pytest_fixgate.measurements.files import FileReadError, read_text
from pytest_fixgate.measurements.process import run_process

__all__ = [
    "BudgetEntry",
    "Budgets",
    "ChunkSize",
    "budget_env_name",
    "budgets_from_environment",
    "classify",
    "measure_chunks",
    "read_budget_report",
]

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
class Budgets:
    """The budgets a build is judged by, after the environment's overrides."""

    kb: Mapping[str, float]
    overrides: Mapping[str, str]  # budget class -> the variable that set it
    unknown: tuple[str, ...] = ()  # BUNDLE_BUDGET_*_KB variables naming no class

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kb": dict(self.kb), "overridden_by": dict(self.overrides)}
        if self.unknown:
            out["unknown_variables"] = list(self.unknown)
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
    budgets: Budgets | None = None  # a build: the budgets applied, and which variables set them
    gzip: str = ""  # a build: which gzip measured, e.g. "node v20.20.2 (zlib 1.3.1)"


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


def budget_env_name(budget_class: str) -> str:
    """The variable the application's script reads for a class: ``main-app`` ->
    ``BUNDLE_BUDGET_MAIN_APP_KB``."""
    return f"BUNDLE_BUDGET_{budget_class.replace('-', '_').upper()}_KB"


# A decimal number as JavaScript's Number() reads one (no hex, no "1_000", no "inf").
_DECIMAL = re.compile(r"^\s*\+?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")


def budgets_from_environment(budgets: Mapping[str, float], environ: Mapping[str, str]) -> Budgets:
    """``budgets`` with the application's ``BUNDLE_BUDGET_<KEY>_KB`` overrides applied.
    An empty variable is unset (as the script reads it); any other value that is not a
    positive finite number raises ProbeError naming the variable: the script would
    silently keep its default, and a budget nobody chose must not judge a release."""
    kb = dict(budgets)
    overrides: dict[str, str] = {}
    for budget_class in budgets:
        name = budget_env_name(budget_class)
        raw = environ.get(name, "")
        if not raw:
            continue
        value = float(raw) if _DECIMAL.match(raw) else math.nan
        if not (math.isfinite(value) and value > 0):
            shown = raw if len(raw) <= 40 else raw[:40] + "..."
            raise ProbeError(
                f"{name}={shown!r} is not a positive number of KB (the application's script "
                "would silently ignore it and keep its default): fix or unset it"
            )
        kb[budget_class] = value
        overrides[budget_class] = name
    known = {budget_env_name(c) for c in budgets}
    unknown = tuple(
        sorted(
            n
            for n in environ
            if n.startswith("BUNDLE_BUDGET_") and n.endswith("_KB") and n not in known
        )
    )
    return Budgets(kb=kb, overrides=overrides, unknown=unknown)


# Node's zlib.gzipSync with its defaults, as checkBundleBudget.mjs calls it; the files
# come on stdin (JSON), the sizes go to stdout (JSON).
_NODE_GZIP = (
    "const fs=require('fs'),z=require('zlib');"
    "const files=JSON.parse(fs.readFileSync(0,'utf8'));"
    "process.stdout.write(JSON.stringify({node:process.version,zlib:process.versions.zlib,"
    "sizes:files.map(f=>z.gzipSync(fs.readFileSync(f)).length)}))"
)


def node_gzip_sizes(files: list[Path], *, timeout_s: float) -> tuple[list[int], str]:
    """The byte size of Node's ``zlib.gzipSync`` of each file, and which Node measured;
    ProbeError when node is missing, fails, or answers in another shape."""
    result = run_process(
        ["node", "-e", _NODE_GZIP],
        timeout_s=timeout_s,
        separate_stdout=True,
        stdin_text=json.dumps([str(f) for f in files]),
        tail_lines=5,
    )
    if result.start_error is not None:
        raise ProbeError(
            f"node could not start ({result.start_error}): the chunks are gzipped with "
            "Node's zlib.gzipSync, as the application's script does"
        )
    if not result.ok:
        last = next((ln for ln in reversed(result.tail.splitlines()) if ln.strip()), "")
        raise ProbeError(f"node gzip of the chunks failed ({result.describe()}): {last.strip()}")
    try:
        answer = json.loads(result.stdout)
        sizes = answer["sizes"]
        which = f"node {answer['node']} (zlib {answer['zlib']})"
    except (ValueError, KeyError, TypeError):
        raise ProbeBadResponse("node gzip printed no {node, zlib, sizes} JSON") from None
    if (
        not isinstance(sizes, list)
        or len(sizes) != len(files)
        or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in sizes)
    ):
        raise ProbeBadResponse("node gzip printed sizes that do not match the chunks")
    return sizes, which


def measure_chunks(
    folder: Path,
    budgets_kb: Mapping[str, float],
    *,
    environ: Mapping[str, str] | None = None,
    timeout_s: float = 120.0,
) -> BudgetEntry:
    """Gzip and classify every chunk under ``folder`` as the application's script does,
    its budgets overridden by ``environ``'s ``BUNDLE_BUDGET_<KEY>_KB`` (default: this
    process's environment); ProbeError when there is no chunk, or no node to gzip."""
    budgets = budgets_from_environment(budgets_kb, os.environ if environ is None else environ)
    if not folder.is_dir():
        raise ProbeError(f"no build directory at {folder}: run the build first")
    files = [
        path
        for path in sorted(folder.rglob("*.js"))
        if path.is_file() and not any(re.search(p, path.name) for p in _SKIP)
    ]
    if not files:
        raise ProbeError(f"no .js chunk under {folder}: nothing to measure")
    sizes, which = node_gzip_sizes(files, timeout_s=timeout_s)
    chunks = []
    for path, size in zip(files, sizes, strict=True):
        category = classify(path.name)
        budget = budgets.kb.get(category, budgets.kb["default"])
        chunks.append(ChunkSize(path.name, size / 1024, budget, category))
    chunks.sort(key=lambda c: -c.size_kb)
    violations = tuple(c for c in chunks if c.over)
    return BudgetEntry(
        source="build",
        timestamp=None,
        branch=None,
        total_kb=sum(sizes) / 1024,
        bundle_count=len(chunks),
        chunks=tuple(chunks),
        violations=violations,
        over_budget_count=len(violations),
        all_chunks=True,
        budgets=budgets,
        gzip=which,
    )


def _bad(path: Path, what: str) -> ProbeBadResponse:
    return ProbeBadResponse(f"bundle budget report {path}: {what}", target=str(path))


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _checked(path: Path, where: str, value: object, *, positive: bool = False) -> float:
    """A size or budget the script could have written: a finite number, not negative
    (a budget: above zero). ``NaN`` is never over any budget; ``-1e9`` hides a chunk."""
    number = _number(value)
    if number is None:
        raise _bad(path, f"{where} is not a number (got {value!r})")
    if not math.isfinite(number) or number < 0 or (positive and number == 0):
        shown = "NaN" if math.isnan(number) else f"{number:g}"
        what = "a finite budget above 0 KB" if positive else "a finite size of 0 KB or more"
        raise _bad(path, f"{where} is {shown}: not {what}")
    return number


def _count(path: Path, where: str, value: object, *, least: int) -> int:
    number = _number(value)
    if number is None or not math.isfinite(number) or number != int(number) or number < least:
        raise _bad(path, f"{where} is {value!r}: not a whole number of {least} or more")
    return int(number)


def _chunk(item: object, path: Path, where: str) -> ChunkSize:
    if not isinstance(item, dict) or not isinstance(item.get("file"), str):
        raise _bad(path, f"{where} is not a {{file, sizeKb, budgetKb}} object")
    if _number(item.get("sizeKb")) is None or _number(item.get("budgetKb")) is None:
        raise _bad(path, f"{where} lacks a numeric sizeKb or budgetKb")
    size = _checked(path, f"{where}.sizeKb", item["sizeKb"])
    budget = _checked(path, f"{where}.budgetKb", item["budgetKb"], positive=True)
    return ChunkSize(item["file"], size, budget)


def read_budget_report(path: Path) -> BudgetEntry:
    """The last entry of the application's budget history; ProbeError when the file is
    missing, not JSON, empty, or of another shape."""
    try:
        text = read_text(path)
    except FileNotFoundError:
        raise ProbeError(
            f"no bundle budget report at {path}: run the budget script first", target=str(path)
        ) from None
    except FileReadError as exc:
        raise ProbeError(f"bundle budget report {exc}", target=str(path)) from None
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
    total = _checked(path, "its last entry's totalKb", total)
    count = _count(path, "its last entry's bundleCount", count, least=1)
    over = None
    if last.get("overBudgetCount") is not None:
        over = _count(path, "its last entry's overBudgetCount", last["overBudgetCount"], least=0)
    return BudgetEntry(
        source="report",
        timestamp=timestamp,
        branch=last.get("branch") if isinstance(last.get("branch"), str) else None,
        total_kb=total,
        bundle_count=count,
        chunks=tuple(_chunk(c, path, f"topChunks[{i}]") for i, c in enumerate(top)),
        violations=tuple(_chunk(v, path, f"violations[{i}]") for i, v in enumerate(violations)),
        over_budget_count=over if over is not None else len(violations),
        all_chunks=False,
    )
