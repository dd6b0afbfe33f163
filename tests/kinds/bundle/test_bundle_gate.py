"""The bundle-budget gate (``[env.X.bundle]``): the application's budget report (a
violation, the warn band, clean, stale, missing, malformed), a build directory measured
directly, and `pytest --gate` end to end."""

from __future__ import annotations

import datetime as _dt
import gzip
import json
import math
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from gaterun import GATES, run_gate, staging_config

from pytest_fixgate.config.table import ConfigTable
from pytest_fixgate.errors import ConfigError, ProbeBadResponse, ProbeError
from pytest_fixgate.kinds import KindContext
from pytest_fixgate.kinds.bundle.config import DEFAULT_BUDGETS_KB, BundleConfig, parse_bundle
from pytest_fixgate.kinds.bundle.judge import judge_bundle
from pytest_fixgate.kinds.bundle.measurement import classify, measure_chunks, read_budget_report
from pytest_fixgate.outcomes.model import Outcome
from pytest_fixgate.reference import free_port

NOW = _dt.datetime(2026, 11, 29, 3, 0, tzinfo=_dt.UTC)
SUITE = GATES / "test_bundle.py"


def entry(
    *, hours_ago: float = 1, top: list[tuple[str, float, float]] = (), violations: bool = True
) -> dict[str, Any]:
    """A history entry as checkBundleBudget.mjs writes it."""
    chunks = [{"file": f, "sizeKb": s, "budgetKb": b, "overBudget": s > b} for f, s, b in top]
    over = [
        {
            "file": c["file"],
            "sizeKb": c["sizeKb"],
            "budgetKb": c["budgetKb"],
            "deltaKb": round(c["sizeKb"] - c["budgetKb"], 2),
        }
        for c in chunks
        if c["overBudget"]
    ]
    stamp = (NOW - _dt.timedelta(hours=hours_ago)).isoformat(timespec="milliseconds")
    return {
        "timestamp": stamp.replace("+00:00", "Z"),
        "branch": "release/2026.11",
        "totalKb": round(sum(s for _, s, _ in top) + 3000, 2),
        "bundleCount": 87,
        "overBudgetCount": len(over),
        "topChunks": chunks,
        "violations": over if violations else [],
    }


def history(tmp_path: Path, *entries: object) -> Path:
    path = tmp_path / "reports" / "bundle-budget-history.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(list(entries), indent=2), encoding="utf-8")
    return path


def judge(path: Path, **config: Any) -> tuple[Outcome, str, dict[str, Any]]:
    cfg = BundleConfig(report=path, **config)
    finding = judge_bundle(cfg, read_budget_report(path), now=NOW)
    return finding.outcome, finding.evidence.reason, finding.evidence.details


CLEAN = [("main-app-4c1.js", 7400.5, 8500), ("sentry-91a.js", 5100.0, 6500)]


def test_a_violation_in_the_last_entry_fails_with_file_size_budget_and_delta(
    tmp_path: Path,
) -> None:
    old_bad = entry(hours_ago=30, top=[("framework-1.js", 9000, 3500)])
    last = entry(top=[("main-app-4c1.js", 8712.34, 8500), ("sentry-91a.js", 5100.0, 6500)])
    outcome, reason, details = judge(history(tmp_path, old_bad, last))
    assert outcome is Outcome.FAIL
    assert reason == "1 chunk over budget: main-app-4c1.js: 8712.34 KB, budget 8500 KB (+212.34 KB)"
    assert details["violations"] == [
        {"file": "main-app-4c1.js", "sizeKb": 8712.34, "budgetKb": 8500, "deltaKb": 212.34}
    ]
    assert details["branch"] == "release/2026.11"


def test_a_chunk_within_the_warn_band_warns(tmp_path: Path) -> None:
    near = [("main-app-4c1.js", 8100.0, 8500), ("sentry-91a.js", 5100.0, 6500)]
    outcome, reason, details = judge(history(tmp_path, entry(top=near)), warn_within=0.05)
    assert outcome is Outcome.WARN
    assert "main-app-4c1.js: 8100.00 KB, budget 8500 KB (-400.00 KB)" in reason
    assert [c["file"] for c in details["within_warn_band"]] == ["main-app-4c1.js"]
    # 4.7% under: outside a 4% band.
    assert judge(history(tmp_path, entry(top=near)), warn_within=0.04)[0] is Outcome.PASS


def test_a_clean_last_entry_passes(tmp_path: Path) -> None:
    bad_then = entry(hours_ago=5, top=[("main-app-4c1.js", 9000, 8500)])
    outcome, reason, _ = judge(history(tmp_path, bad_then, entry(top=CLEAN)))
    assert outcome is Outcome.PASS and reason.startswith("every chunk within budget")


def test_an_entry_older_than_max_age_is_not_evidence(tmp_path: Path) -> None:
    path = history(tmp_path, entry(hours_ago=25, top=CLEAN))
    outcome, reason, details = judge(path, max_age_s=86400.0)
    assert outcome is Outcome.ERROR
    assert "25.0 h old, older than max_age 24.0 h" in reason and details["age_s"] == 25 * 3600
    assert judge(path, max_age_s=26 * 3600.0)[0] is Outcome.PASS


def test_an_entry_stamped_in_the_future_is_not_evidence(tmp_path: Path) -> None:
    outcome, reason, _ = judge(history(tmp_path, entry(hours_ago=-48, top=CLEAN)))
    assert outcome is Outcome.ERROR and "48.0 h in the future" in reason
    assert judge(history(tmp_path, entry(hours_ago=-0.01, top=CLEAN)))[0] is Outcome.PASS


def test_a_count_of_violations_without_the_list_still_fails(tmp_path: Path) -> None:
    last = entry(top=[("main-app-4c1.js", 9000, 8500)], violations=False)
    outcome, reason, _ = judge(history(tmp_path, last))
    assert outcome is Outcome.FAIL and "counts 1 over budget" in reason


def test_a_listed_chunk_over_budget_fails_though_the_report_counts_none(tmp_path: Path) -> None:
    last = entry(top=[("main-app-4c1.js", 9000, 8500)], violations=False)
    last["overBudgetCount"] = 0
    outcome, reason, _ = judge(history(tmp_path, last))
    assert outcome is Outcome.FAIL
    assert reason == "1 chunk over budget: main-app-4c1.js: 9000.00 KB, budget 8500 KB (+500.00 KB)"


def test_a_missing_report_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ProbeError, match=r"no bundle budget report at .*history\.json"):
        read_budget_report(tmp_path / "reports" / "bundle-budget-history.json")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("{not json", "not JSON"),
        ("[]", "empty"),
        ('{"timestamp": "2026-11-29T02:00:00Z"}', "not a JSON array"),
        ('[{"timestamp": "yesterday", "topChunks": [], "violations": []}]', "no ISO timestamp"),
        ('[{"timestamp": "2026-11-29T02:00:00Z", "violations": []}]', "topChunks"),
        (
            '[{"timestamp": "2026-11-29T02:00:00Z", "topChunks": [{"file": "a.js"}], '
            '"violations": [], "totalKb": 1, "bundleCount": 1}]',
            "topChunks[0] lacks a numeric sizeKb",
        ),
        (
            '[{"timestamp": "2026-11-29T02:00:00Z", "topChunks": [], "violations": [], '
            '"totalKb": 0, "bundleCount": 0, "overBudgetCount": 0}]',
            "records no chunk",
        ),
    ],
)
def test_a_malformed_report_is_an_error(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "history.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProbeBadResponse) as err:
        read_budget_report(path)
    assert words in str(err.value)


def _with(
    top: dict[str, Any] | None = None, violation: dict[str, Any] | None = None, **last: Any
) -> str:
    """A clean last entry (JSON text, as Python writes NaN and Infinity) with one chunk,
    one violation or top-level field replaced."""
    doc = entry(top=[("main-app-4c1.js", 7400.5, 8500)])
    doc["topChunks"][0].update(top or {})
    if violation is not None:
        doc["violations"] = [{"file": "page-1.js", "sizeKb": 900, "budgetKb": 800, **violation}]
        doc["overBudgetCount"] = 1
    doc.update(last)
    return json.dumps([doc])


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (_with({"sizeKb": math.nan}), "topChunks[0].sizeKb is NaN: not a finite size"),
        (_with({"sizeKb": -1e9}), "topChunks[0].sizeKb is -1e+09: not a finite size"),
        (_with({"sizeKb": math.inf}), "topChunks[0].sizeKb is inf: not a finite size"),
        (_with({"budgetKb": math.inf}), "topChunks[0].budgetKb is inf: not a finite budget"),
        (_with({"budgetKb": 0}), "topChunks[0].budgetKb is 0: not a finite budget above 0"),
        (_with({"budgetKb": -800}), "topChunks[0].budgetKb is -800: not a finite budget"),
        (_with(violation={"sizeKb": math.nan}), "violations[0].sizeKb is NaN"),
        (_with(violation={"budgetKb": -math.inf}), "violations[0].budgetKb is -inf"),
        (_with(totalKb=math.nan), "totalKb is NaN: not a finite size"),
        (_with(totalKb=-3.5), "totalKb is -3.5: not a finite size"),
        (_with(totalKb=math.inf), "totalKb is inf"),
        (_with(bundleCount=2.5), "bundleCount is 2.5: not a whole number"),
        (_with(bundleCount=math.inf), "bundleCount is inf"),
        (_with(overBudgetCount=-1), "overBudgetCount is -1: not a whole number of 0 or more"),
    ],
)
def test_report_numbers_no_script_writes_are_an_error(
    tmp_path: Path, text: str, words: str
) -> None:
    path = tmp_path / "history.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProbeBadResponse) as err:
        read_budget_report(path)
    assert words in str(err.value)


def test_a_nan_size_holds_the_release_end_to_end(tmp_path: Path) -> None:
    stamp = _dt.datetime.now(_dt.UTC).isoformat().replace("+00:00", "Z")
    path = history(tmp_path / "app")
    path.write_text(_with({"sizeKb": math.nan}, timestamp=stamp), encoding="utf-8")
    config = staging_config(
        f"http://127.0.0.1:{free_port()}",
        '[env.staging.bundle]\nreport = "app/reports/bundle-budget-history.json"\n',
    )
    result = run_gate(tmp_path, config, suite=SUITE)
    assert result.gate("bundle.budget")["outcome"] == "ERROR" and result.exit_code == 1
    assert result.verdict["decision"] == "HOLD"
    assert "topChunks[0].sizeKb is NaN" in result.output


# -- a build directory, measured directly --------------------------------------------------


def _noise(size: int, seed: int) -> bytes:
    rng = random.Random(seed)  # incompressible: gzip size ~ file size
    return bytes(rng.getrandbits(8) for _ in range(size))


def build_dir(tmp_path: Path) -> Path:
    chunks = tmp_path / ".next" / "static" / "chunks"
    (chunks / "app" / "dashboard").mkdir(parents=True)
    (chunks / "main-app-4c1.js").write_bytes(_noise(60_000, 1))
    (chunks / "framework-77.js").write_bytes(b"x" * 500_000)  # compresses to ~0.5 KB
    (chunks / "app" / "dashboard" / "page-3f.js").write_bytes(_noise(30_000, 2))
    (chunks / "webpack-9d.js").write_bytes(_noise(40_000, 3))  # the runtime: skipped
    (chunks / "main-app-4c1.js.map").write_bytes(_noise(40_000, 4))  # a source map: skipped
    (chunks / "styles.css").write_bytes(_noise(40_000, 5))  # not .js: skipped
    return chunks


def test_a_build_directory_is_gzipped_and_classified_like_the_app_script(
    tmp_path: Path,
) -> None:
    chunks = build_dir(tmp_path)
    budgets = {**DEFAULT_BUDGETS_KB, "page": 25.0}
    measured = measure_chunks(chunks, budgets)
    by_file = {c.file: c for c in measured.chunks}
    assert sorted(by_file) == ["framework-77.js", "main-app-4c1.js", "page-3f.js"]
    assert {f: c.category for f, c in by_file.items()} == {
        "framework-77.js": "framework",
        "main-app-4c1.js": "main-app",
        "page-3f.js": "page",
    }
    assert by_file["framework-77.js"].size_kb < 1
    assert [v.file for v in measured.violations] == ["page-3f.js"]
    finding = judge_bundle(BundleConfig(chunks=chunks, budgets_kb=budgets), measured, now=NOW)
    assert finding.outcome is Outcome.FAIL and "page-3f.js" in finding.evidence.reason
    assert finding.evidence.details["all_chunks_listed"] is True


def _javascript(size: int, seed: int) -> bytes:
    """Minified-JavaScript-like text: keywords, short identifiers, numbers, strings and
    punctuation, compressible as real chunks are (gzip to about half)."""
    rng = random.Random(seed)
    words = [
        "function",
        "return",
        "const",
        "let",
        "var",
        "if",
        "else",
        "for",
        "this",
        "null",
        "undefined",
        "true",
        "false",
        "new",
        "typeof",
        "window",
        "document",
        "React",
        "createElement",
        "useState",
        "props",
        "children",
        "className",
        "module",
        "exports",
        "__webpack_require__",
        "Object",
        "defineProperty",
        "Promise",
        "then",
        "async",
        "await",
    ]
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_$"
    idents = ["".join(rng.choices(letters, k=rng.randint(1, 3))) for _ in range(400)]
    out: list[str] = []
    length = 0
    while length < size:
        pick = rng.random()
        if pick < 0.3:
            token = rng.choice(words)
        elif pick < 0.6:
            token = rng.choice(idents)
        elif pick < 0.7:
            token = str(rng.randint(0, 99999))
        elif pick < 0.8:
            token = '"' + "".join(rng.choices("abcdefghijklmnop qrstuvwxyz-/", k=9)) + '"'
        else:
            token = rng.choice("(){}[];,.=+-*/&|!?:<>")
        out.append(token + rng.choice(("", " ", ";", "\n")))
        length += len(out[-1])
    return "".join(out).encode()[:size]


def _node_gzip_sizes(files: list[Path]) -> dict[str, int]:
    """The application script's own measure, run by real Node: zlib.gzipSync(content)."""
    script = (
        "const z=require('zlib'),fs=require('fs'),p=require('path');"
        "for(const f of process.argv.slice(1))"
        "console.log(p.basename(f)+' '+z.gzipSync(fs.readFileSync(f)).length)"
    )
    out = subprocess.run(
        ["node", "-e", script, *map(str, files)], capture_output=True, text=True, check=True
    )
    return {name: int(size) for name, size in (ln.split() for ln in out.stdout.splitlines())}


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_gzip_sizes_agree_with_nodes_gzipsync_to_the_byte(tmp_path: Path) -> None:
    chunks = tmp_path / ".next" / "static" / "chunks"
    (chunks / "app").mkdir(parents=True)
    sizes = (0, 1, 500, 3_000, 20_000, 100_000, 400_000, 1_500_000)
    files = []
    for i, size in enumerate(sizes):
        files.append(chunks / ("app" if i % 2 else ".") / f"{i}-{size}.js")
        files[-1].write_bytes(_javascript(size, i))
    files.append(chunks / "framework-77.js")
    files[-1].write_bytes(b"x" * 500_000)
    node = _node_gzip_sizes(files)
    entry = measure_chunks(chunks, DEFAULT_BUDGETS_KB, environ={})
    measured = {c.file: c.size_kb * 1024 for c in entry.chunks}
    assert measured == node  # every byte count, not rounded
    assert entry.total_kb * 1024 == sum(node.values())
    assert entry.gzip.startswith("node v") and "zlib" in entry.gzip
    # The data tells gzip implementations apart: Python's zlib would not agree.
    python = {f.name: len(gzip.compress(f.read_bytes(), 6, mtime=0)) for f in files}
    assert sum(python[n] != node[n] for n in node) >= 5


def test_node_missing_is_an_error_not_a_python_estimate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chunks = build_dir(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(ProbeError) as err:
        measure_chunks(chunks, DEFAULT_BUDGETS_KB, environ={})
    assert str(err.value).startswith("node could not start (program not found: node)")


def test_budget_variables_override_as_the_app_script_reads_them(tmp_path: Path) -> None:
    chunks = build_dir(tmp_path)
    plain = measure_chunks(chunks, DEFAULT_BUDGETS_KB, environ={})
    assert plain.violations == () and plain.budgets.overrides == {}
    environ = {
        "BUNDLE_BUDGET_PAGE_KB": "25",
        "BUNDLE_BUDGET_MAIN_APP_KB": " 1e2 ",  # main-app -> MAIN_APP; Number() trims
        "BUNDLE_BUDGET_VENDOR_KB": "",  # empty: unset, as the script reads it
        "BUNDLE_BUDGET_PAGES_KB": "1",  # a typo names no class: listed, not applied
    }
    entry = measure_chunks(chunks, DEFAULT_BUDGETS_KB, environ=environ)
    assert [v.file for v in entry.violations] == ["page-3f.js"]
    assert entry.budgets.kb["page"] == 25 and entry.budgets.kb["main-app"] == 100
    assert entry.budgets.kb["vendor"] == 4200
    assert entry.budgets.overrides == {
        "main-app": "BUNDLE_BUDGET_MAIN_APP_KB",
        "page": "BUNDLE_BUDGET_PAGE_KB",
    }
    assert entry.budgets.unknown == ("BUNDLE_BUDGET_PAGES_KB",)
    finding = judge_bundle(BundleConfig(chunks=chunks), entry, now=NOW)
    assert finding.outcome is Outcome.FAIL and "budget 25 KB" in finding.evidence.reason
    assert "BUNDLE_BUDGET_PAGE_KB=25" in finding.evidence.method
    assert finding.evidence.details["budgets"]["overridden_by"]["page"] == "BUNDLE_BUDGET_PAGE_KB"


@pytest.mark.parametrize("value", ["abc", "0", "-5", "Infinity", "NaN", "0x10", "1_000", "5KB"])
def test_a_budget_variable_that_is_not_a_positive_number_is_an_error_naming_it(
    tmp_path: Path, value: str
) -> None:
    chunks = build_dir(tmp_path)
    with pytest.raises(ProbeError) as err:
        measure_chunks(chunks, DEFAULT_BUDGETS_KB, environ={"BUNDLE_BUDGET_COMMONS_KB": value})
    assert str(err.value).startswith(f"BUNDLE_BUDGET_COMMONS_KB={value!r} is not a positive")


def test_the_gate_honours_budget_variables_end_to_end(tmp_path: Path) -> None:
    build_dir(tmp_path / "app")
    config = staging_config(
        f"http://127.0.0.1:{free_port()}",
        '[env.staging.bundle]\nchunks = "../app/.next/static/chunks"\n',
    )
    result = run_gate(tmp_path / "ok", config, suite=SUITE, environ={})
    assert result.gate("bundle.budget")["outcome"] == "PASS", result.output
    over = run_gate(tmp_path / "over", config, suite=SUITE, environ={"BUNDLE_BUDGET_PAGE_KB": "25"})
    assert over.gate("bundle.budget")["outcome"] == "FAIL" and over.exit_code == 1
    bad = run_gate(tmp_path / "bad", config, suite=SUITE, environ={"BUNDLE_BUDGET_PAGE_KB": "lots"})
    gate = bad.gate("bundle.budget")
    assert gate["outcome"] == "ERROR" and bad.exit_code == 1
    assert "BUNDLE_BUDGET_PAGE_KB='lots' is not a positive number of KB" in gate["reason"]


def test_classes_follow_the_app_scripts_order() -> None:
    assert classify("main-app-1.js") == "main-app"
    assert classify("sentry-framework.js") == "framework"  # framework is tested first
    assert classify("i18n-ar.js") == classify("dictionary-en.js") == "i18n"
    assert classify("app-layout-8.js") == "page"
    assert classify("7261-a1.js") == "default"


def test_a_missing_or_empty_build_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ProbeError, match="no build directory"):
        measure_chunks(tmp_path / "nope", DEFAULT_BUDGETS_KB)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "webpack-1.js").write_text("x")
    with pytest.raises(ProbeError, match=r"no \.js chunk"):
        measure_chunks(tmp_path / "empty", DEFAULT_BUDGETS_KB)


# -- config ----------------------------------------------------------------------------


def parse(tmp_path: Path, table: dict[str, Any]) -> BundleConfig:
    ctx = KindContext(env_name="staging", base_dir=tmp_path, timeout_s=5, file="fixgate.toml")
    return parse_bundle(ConfigTable(table, "fixgate.toml", "env.staging.bundle"), ctx)


def test_config_defaults_and_errors(tmp_path: Path) -> None:
    cfg = parse(tmp_path, {"report": "../app/reports/h.json"})
    assert cfg.report == (tmp_path.parent / "app" / "reports" / "h.json").resolve()
    assert cfg.warn_within == 0.05 and cfg.max_age_s == 86400 and cfg.budgets_kb["page"] == 800
    cfg = parse(tmp_path, {"chunks": "c", "budgets_kb": {"main-app": 9000}, "warn_within": "10%"})
    assert cfg.budgets_kb["main-app"] == 9000 and cfg.budgets_kb["vendor"] == 4200
    assert cfg.warn_within == 0.10
    for table, words in [
        ({}, "exactly one of report"),
        ({"report": "a", "chunks": "b"}, "exactly one of report"),
        ({"chunks": "c", "budgets_kb": {"main_app": 1}}, "did you mean 'main-app'?"),
        ({"chunks": "c", "budgets_kb": {"page": -1}}, "a positive number of KB"),
        ({"chunks": "c", "warn_within": 5}, "a percentage"),
        ({"report": "a", "max_age": "a day"}, "max_age"),
    ]:
        with pytest.raises(ConfigError) as err:
            parse(tmp_path, table)
        assert words in str(err.value), table


# -- `pytest --gate` end to end --------------------------------------------------------------


def test_the_gate_fails_on_a_violation_with_each_line_in_the_verdict(tmp_path: Path) -> None:
    last = entry(top=[("main-app-4c1.js", 8712.34, 8500)], hours_ago=0)
    last["timestamp"] = _dt.datetime.now(_dt.UTC).isoformat().replace("+00:00", "Z")
    history(tmp_path / "app", last)
    config = staging_config(
        f"http://127.0.0.1:{free_port()}",
        '[env.staging.bundle]\nreport = "app/reports/bundle-budget-history.json"\n',
    )
    result = run_gate(tmp_path, config, suite=SUITE)
    gate = result.gate("bundle.budget")
    assert gate["outcome"] == "FAIL" and result.exit_code == 1
    assert gate["evidence"]["violations"][0]["deltaKb"] == 212.34
    assert "main-app-4c1.js: 8712.34 KB, budget 8500 KB (+212.34 KB)" in result.output


def test_both_sources_at_once_is_a_usage_error(tmp_path: Path) -> None:
    config = staging_config(
        f"http://127.0.0.1:{free_port()}", '[env.staging.bundle]\nreport = "a"\nchunks = "b"\n'
    )
    result = run_gate(tmp_path, config, suite=SUITE)
    assert result.exit_code == 4
    lines = [ln for ln in result.output.splitlines() if "exactly one of report" in ln]
    assert len(lines) == 1 and "env.staging.bundle.report" in lines[0]
    assert "Traceback" not in result.output
