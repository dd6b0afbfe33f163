"""Baselines: a gate run compared with the last promoted release of its environment.

Pure comparisons on exact intervals first; then real gate runs (a real load
run against the reference service) with the baseline pinned, found in the
reports folder, or found in the notes of a release tag.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest
from gaterun import run_gate, staging_config
from loadruns import FLAT_OUT, load_config
from releasekit import clone, make_template, minimal_verdict, sh_git, variant, write

from pytest_fixgate.cli import main
from pytest_fixgate.config.table import ConfigTable
from pytest_fixgate.errors import ConfigError
from pytest_fixgate.kinds import KindContext
from pytest_fixgate.kinds.baseline.config import parse_baseline, parse_tolerance
from pytest_fixgate.release.baseline import Interval, compare_one, find_baseline


def ms(value: float, low: float, high: float) -> Interval:
    return Interval(value, low, high, rate=False)


def rate(value: float, low: float, high: float) -> Interval:
    return Interval(value, low, high, rate=True)


def tol(text: str) -> Any:
    parsed = parse_tolerance(text)
    assert parsed is not None
    return parsed


# -- the comparison rule, on exact intervals --------------------------------------------


def test_beyond_tolerance_is_a_regression() -> None:
    entry = compare_one("load.p(95)", tol("+20%"), ms(500, 490, 510), ms(700, 650, 720))
    assert entry["status"] == "regression"
    assert entry["limit"] == pytest.approx(612.0)  # 20% over the baseline's HIGH end
    assert entry["change"] == "+200.0 ms (+40.0%)"


def test_a_shift_inside_the_noise_is_not_a_regression() -> None:
    # The point moved 30% (past +20%), but the current interval reaches down to
    # 560 ms, under 20% over the baseline's 95% high end (1.2 * 520 = 624).
    entry = compare_one("load.p(95)", tol("+20%"), ms(500, 420, 520), ms(650, 560, 900))
    assert entry["status"] == "noise"
    # The same shift measured tightly is one.
    tight = compare_one("load.p(95)", tol("+20%"), ms(500, 495, 505), ms(650, 640, 660))
    assert tight["status"] == "regression"


def test_within_tolerance_and_improvements() -> None:
    assert compare_one("p", tol("+20%"), ms(500, 490, 510), ms(590, 580, 600))["status"] == "within"
    assert compare_one("p", tol("+20%"), ms(500, 490, 510), ms(200, 190, 210))["status"] == "within"
    assert compare_one("p", tol("+50ms"), ms(500, 490, 510), ms(580, 565, 590))["status"] == (
        "regression"
    )


def test_error_rate_in_percentage_points() -> None:
    base = rate(0.001, 0.0005, 0.002)
    assert compare_one("e", tol("+0.5pp"), base, rate(0.02, 0.015, 0.026))["status"] == (
        "regression"
    )
    # 0.6% measured, but its interval reaches 0.3%: not surely over 0.2% + 0.5pp.
    entry = compare_one("e", tol("+0.5pp"), base, rate(0.008, 0.003, 0.02))
    assert entry["status"] == "noise"
    assert entry["change"].startswith("+0.70pp")


def _parse(data: dict[str, Any]) -> Any:
    ctx = KindContext(env_name="staging", base_dir=Path(), timeout_s=5, file="fixgate.toml")
    return parse_baseline(ConfigTable(data, "fixgate.toml", "env.staging.baseline"), ctx)


def test_config_keys_and_errors() -> None:
    cfg = _parse({"tolerance": {"load.p(95)": "+20%", "load.error_rate": "+0.5pp"}})
    assert cfg.on_regression == "warn"
    assert str(cfg.tolerance["load.p(95)"]) == "+20%"
    assert _parse({"on_regression": "fail"}).on_regression == "fail"
    bad = [
        ({"on_regression": "panic"}, "env.staging.baseline.on_regression"),
        ({"tolerance": {"load.p(95)": "20%"}}, "tolerance.load.p(95)"),
        ({"tolerance": {"load.p(95)": "+1pp"}}, '"+N%" or "+Nms"'),
        ({"tolerance": {"load.error_rate": "+5ms"}}, '"+N%" or "+Npp"'),
        ({"tolerance": {"health./api/health": "+5%"}}, "a load gate id"),
        ({"tolerence": {}}, "did you mean 'tolerance'"),
    ]
    for data, expect in bad:
        with pytest.raises(ConfigError) as err:
            _parse(data)
        assert expect in str(err.value) and "fixgate.toml" in str(err.value)


# -- real runs ---------------------------------------------------------------------------


def baseline_config(base_url: str, baseline: str) -> str:
    thresholds = ["p(95) < 1500ms", "error_rate < 5%"]
    extra = f"\n[env.staging.baseline]\n{baseline}\n"
    return load_config(base_url, users=8, duration="3s", thresholds=thresholds, extra=extra)


TOLERANCE = 'tolerance = { "load.p(95)" = "+20%", "load.error_rate" = "+0.5pp" }'


@pytest.fixture(scope="module")
def first_release(tmp_path_factory: pytest.TempPathFactory, reference: Any) -> dict[str, Any]:
    """A real load gate run with [baseline] configured and nothing to compare with."""
    base = tmp_path_factory.mktemp("baseline")
    commit = make_template(base / "template")
    run = run_gate(
        base / "first",
        baseline_config(reference.base_url, TOLERANCE),
        environ={**FLAT_OUT, "FIXGATE_COMMIT": commit},
    )
    assert run.exit_code == 0, run.output
    return {"run": run, "template": base / "template", "commit": commit}


def slower_baseline(verdict: dict[str, Any], factor: float) -> dict[str, Any]:
    """The run's verdict with its p(95) figures scaled: the release it is compared with."""
    gates = copy.deepcopy(verdict["gates"])
    for gate in gates:
        if gate["id"] == "load.p(95)":
            est = gate["evidence"]["estimate"]
            for key in ("value_ms", "low_ms", "high_ms"):
                est[key] = round(est[key] * factor, 3)
    return variant(verdict, gates=gates, baseline=None)


# Load-generating tests share one xdist worker (`--dist loadgroup`).
LOAD = pytest.mark.xdist_group("load")


@LOAD
def test_no_baseline_is_said(first_release: dict[str, Any]) -> None:
    run = first_release["run"]
    baseline = run.verdict["baseline"]
    assert baseline["configured"] is True and baseline["found"] is False
    assert baseline["reason"].startswith("no baseline found: no PROMOTE verdict of staging in ")
    assert "refs/notes/fixgate" in baseline["reason"]
    assert "fixgate baseline: no baseline found" in run.output
    html = run.files["html"].read_text()
    assert "id='fixgate-baseline'" in html and "no baseline found: no PROMOTE verdict" in html
    assert all("baseline" not in g["evidence"] for g in run.verdict["gates"])


@LOAD
def test_regression_beyond_tolerance_is_warn(
    first_release: dict[str, Any], reference: Any, tmp_path: Path
) -> None:
    verdict = first_release["run"].verdict
    pinned = write(tmp_path / "pinned.json", slower_baseline(verdict, 0.25))
    run = run_gate(
        tmp_path / "second",
        baseline_config(reference.base_url, TOLERANCE),
        f"--gate-baseline={pinned}",
        environ={**FLAT_OUT, "FIXGATE_COMMIT": first_release["commit"]},
    )
    assert run.exit_code == 0, run.output  # a WARN still promotes
    outcomes = run.outcomes()
    assert outcomes["load.p(95)"] == "WARN", run.gate("load.p(95)")
    assert outcomes["load.error_rate"] == "PASS"  # 0 errors then, 0 now: no regression
    p95 = run.gate("load.p(95)")
    entry = p95["evidence"]["baseline"]
    assert entry["status"] == "regression" and entry["baseline_commit"] == verdict["commit"]
    assert entry["baseline_finished"] == verdict["finished"]
    assert p95["reason"].startswith("regression against the last promoted release (commit ")
    assert "beyond the tolerance +20%" in p95["reason"]
    summary = run.verdict["baseline"]
    assert summary["found"] and summary["source"] == f"pinned file {pinned}"
    assert summary["regressions"] == ["load.p(95)"]
    assert run.gate("load.error_rate")["evidence"]["baseline"]["status"] == "within"
    html = run.files["html"].read_text()
    assert "regression against the last promoted release" in html
    assert verdict["commit"] in html


@LOAD
def test_regression_is_fail_when_configured_with_the_baseline_from_tag_notes(
    first_release: dict[str, Any], reference: Any, tmp_path: Path
) -> None:
    # The baseline lives where CI keeps it: the note of the newest release tag.
    repo = clone(first_release["template"], tmp_path / "repo")
    slower = write(tmp_path / "v1.json", slower_baseline(first_release["run"].verdict, 0.25))
    assert main(["tag", "v1.0.0", "--report", str(slower), "--attach", "-C", str(repo)]) == 0
    (repo / "app.txt").write_text("next release candidate\n")
    sh_git(repo, "commit", "-qam", "next")
    run = run_gate(
        repo,
        baseline_config(reference.base_url, TOLERANCE + '\non_regression = "fail"'),
        environ={**FLAT_OUT, "FIXGATE_COMMIT": sh_git(repo, "rev-parse", "HEAD")},
    )
    assert run.exit_code == 1, run.output
    assert run.outcomes()["load.p(95)"] == "FAIL"
    assert run.verdict["decision"] == "HOLD" and "load.p(95) FAIL" in run.verdict["reason"]
    assert run.verdict["baseline"]["source"] == "note of tag v1.0.0"


@LOAD
def test_a_baseline_from_the_future_is_never_chosen(
    first_release: dict[str, Any], reference: Any, tmp_path: Path
) -> None:
    # A real regression against the last release, and beside it a re-hashed PROMOTE
    # stamped 2099 (as fast as this run): chosen as "the newest", it hid the regression.
    verdict = first_release["run"].verdict
    reports = tmp_path / "second" / "reports"
    reports.mkdir(parents=True)
    write(reports / "staging-20260101T000000Z.json", slower_baseline(verdict, 0.25))
    future = variant(slower_baseline(verdict, 1.0), finished="2099-01-01T00:00:00+00:00")
    write(reports / "staging-20990101T000000Z.json", future)
    run = run_gate(
        tmp_path / "second",
        baseline_config(reference.base_url, TOLERANCE),
        environ={**FLAT_OUT, "FIXGATE_COMMIT": first_release["commit"]},
    )
    # The planted files are staging-*.json too: the run's own verdict is the latest.
    mine = json.loads(run.files["latest"].read_text(encoding="utf-8"))
    summary = mine["baseline"]
    assert summary["found"], summary
    assert summary["source"].endswith("staging-20260101T000000Z.json"), summary
    p95 = next(g for g in mine["gates"] if g["id"] == "load.p(95)")
    assert p95["outcome"] == "WARN", p95
    assert any(
        s.startswith("staging-20990101T000000Z.json: it finished in the future")
        for s in summary["skipped"]
    ), summary


def test_the_newest_promote_in_the_reports_folder(tmp_path: Path) -> None:
    verdict = minimal_verdict()
    folder = tmp_path / "reports"
    folder.mkdir()
    older = variant(verdict, finished="2026-01-01T10:00:00+00:00", commit="a" * 40)
    newer = variant(verdict, finished="2026-01-02T10:00:00+00:00", commit="b" * 40)
    hold = variant(verdict, finished="2026-01-03T10:00:00+00:00", decision="HOLD")
    tampered = variant(newer, resign=False, finished="2026-01-04T10:00:00+00:00")
    other_env = variant(verdict, env="prod", finished="2026-01-05T10:00:00+00:00")
    failed_gate = [{"id": "load.p(95)", "outcome": "FAIL", "required": True, "evidence": {}}]
    edited = variant(verdict, finished="2026-01-06T10:00:00+00:00", gates=failed_gate)
    for name, data in [
        ("staging-20260101T100000Z.json", older),
        ("staging-20260102T100000Z.json", newer),
        ("staging-20260103T100000Z.json", hold),
        ("staging-20260104T100000Z.json", tampered),
        ("staging-20260105T100000Z.json", other_env),
        ("staging-20260106T100000Z.json", edited),  # a hand-edited PROMOTE, re-signed
    ]:
        write(folder / name, data)
    (folder / "staging-notes.json").write_text("not json")
    found, searched, skipped = find_baseline(
        "staging", pinned=None, report_dir=folder, repo=tmp_path
    )
    assert found is not None and found.verdict.commit == "b" * 40
    assert skipped == ["staging-20260104T100000Z.json: its sha256 does not verify (modified "
                       "after the run)"]  # fmt: skip
    assert searched[0] == f"{folder}/staging-*.json"
    none, _, _ = find_baseline("prod-eu", pinned=None, report_dir=folder, repo=tmp_path)
    assert none is None


def test_a_pinned_file_that_cannot_be_a_baseline_is_a_usage_error(tmp_path: Path) -> None:
    hold = write(tmp_path / "hold.json", variant(minimal_verdict(), decision="HOLD"))
    run = run_gate(tmp_path / "w", staging_config("http://127.0.0.1:9"), f"--gate-baseline={hold}")
    assert run.exit_code == 4, run.output
    assert "cannot be a baseline: it is a HOLD, not a PROMOTE" in run.output
    assert os.path.exists(hold)
