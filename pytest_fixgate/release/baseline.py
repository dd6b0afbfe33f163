"""Comparing a gate run with the last promoted release of its environment.

The baseline is the newest PROMOTE verdict of the same environment (verified
sha256, not advisory) found in, by priority: a file pinned with
``--gate-baseline FILE``; else the newest of the reports directory's verdicts
and the notes of the release tags (``refs/notes/fixgate``, newest tag first).

For each gate named in ``[env.X.baseline] tolerance`` both runs carry a 95%
interval (order-statistic intervals for percentiles, Wilson intervals for
error rates). The change is a regression only when the current interval's
LOW end lies above the tolerance applied to the baseline interval's HIGH end:
a shift that the noise of either run could explain is not one. A regression
makes the gate WARN (``on_regression = "warn"``) or FAIL; never better than
it already was. No baseline found is said in the verdict, never passed over.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_fixgate import timing
from pytest_fixgate.kinds.baseline.config import BaselineConfig, Tolerance
from pytest_fixgate.outcomes.model import GateResult, Outcome
from pytest_fixgate.release.git import GitError, git
from pytest_fixgate.release.notes import NOTES_REF, NoteProblem, read_record
from pytest_fixgate.release.signing import SigningKey, signature_problem
from pytest_fixgate.release.verdicts import (
    CLOCK_SKEW_S,
    Verdict,
    VerdictUnreadable,
    gates_disagree,
    read_verdict,
)

if TYPE_CHECKING:
    from pytest_fixgate.gate_run import GateRun

__all__ = [
    "Baseline",
    "Interval",
    "apply_baseline",
    "baseline_file_arg",
    "compare",
    "find_baseline",
]

_MAX_TAGS = 20  # release tags searched for a note, newest first
# Problems worth listing in ``baseline.skipped`` (the others are ordinary: a HOLD, ...).
_SAID = (
    "it finished in the future",
    "it is not signed",
    "its HMAC",
    "its signature",
    "it was signed",
)


@dataclass(frozen=True)
class Baseline:
    verdict: Verdict
    source: str  # "pinned file ...", "reports/staging-...json", "note of tag v1.2.0"

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "commit": self.verdict.commit,
            "finished": self.verdict.data["finished"],
            "sha256": self.verdict.sha256,
        }


@dataclass(frozen=True)
class Interval:
    """A measured value and its 95% interval; ``rate``: a fraction, not milliseconds."""

    value: float
    low: float
    high: float
    rate: bool

    def show(self, value: float | None = None) -> str:
        v = self.value if value is None else value
        return f"{v * 100:.2f}%" if self.rate else f"{v:.1f} ms"

    def as_dict(self) -> dict[str, Any]:
        high = None if math.isinf(self.high) else self.high
        return {"value": self.value, "low": self.low, "high": high, "unit": self._unit}

    @property
    def _unit(self) -> str:
        return "fraction" if self.rate else "ms"


def interval_of(details: dict[str, Any]) -> Interval | None:
    """The 95% interval a load gate's evidence carries, if any."""
    est = details.get("estimate")
    if isinstance(est, dict) and est.get("value_ms") is not None:
        high = est.get("high_ms")
        return Interval(
            float(est["value_ms"]),
            float(est["low_ms"]),
            math.inf if high is None else float(high),
            rate=False,
        )
    er = details.get("error_rate")
    if isinstance(er, dict) and er.get("rate") is not None:
        return Interval(float(er["rate"]), float(er["low"]), float(er["high"]), rate=True)
    return None


# -- finding the baseline --------------------------------------------------------------


def baseline_file_arg(value: str) -> Path:
    """``--gate-baseline FILE``: checked when options are parsed (a usage error, exit 4)."""
    path = Path(value)
    try:
        verdict = read_verdict(path)
    except VerdictUnreadable as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    problem = _unusable(verdict)
    if problem:
        raise argparse.ArgumentTypeError(f"{value} cannot be a baseline: {problem}")
    return path


def _unusable(verdict: Verdict, key: SigningKey | None = None) -> str | None:
    if not verdict.digest_ok:
        return "its sha256 does not verify (modified after the run)"
    unsigned = signature_problem(verdict.data, key)
    if unsigned:
        return unsigned
    if verdict.decision != "PROMOTE":
        return f"it is a {verdict.decision}, not a PROMOTE"
    disagreement = gates_disagree(verdict)
    if disagreement:
        return f"it says PROMOTE but {disagreement}"
    if verdict.advisory:
        return "it is from an advisory run"
    if verdict.mode != "gate":
        return f"it is a post-promotion watch's verdict ({verdict.mode}), not a gate run's"
    # A verdict stamped ahead of now (a skewed clock, or a hand-made `finished = 2099`)
    # would win "the newest" forever and hide every real regression behind it.
    ahead = (verdict.finished - timing.utcnow()).total_seconds()
    if ahead > CLOCK_SKEW_S:
        return (
            f"it finished in the future ({verdict.data['finished']}, more than "
            f"{CLOCK_SKEW_S:g} s ahead of this clock)"
        )
    return None


def _from_reports(
    env: str, folder: Path, key: SigningKey | None = None
) -> tuple[Baseline | None, list[str]]:
    skipped: list[str] = []
    best: Baseline | None = None
    for path in sorted(folder.glob(f"{env}-*.json")) if folder.is_dir() else []:
        try:
            verdict = read_verdict(path)
        except VerdictUnreadable:
            continue
        problem = _unusable(verdict, key) if verdict.env == env else "another environment"
        if problem:
            if not verdict.digest_ok or problem.startswith(_SAID):
                skipped.append(f"{path.name}: {problem}")
            continue
        if best is None or verdict.finished > best.verdict.finished:
            best = Baseline(verdict, str(path))
    return best, skipped


def _from_notes(
    env: str, repo: Path, key: SigningKey | None = None
) -> tuple[Baseline | None, list[str]]:
    skipped: list[str] = []
    try:
        noted = set(git(repo, "notes", f"--ref={NOTES_REF}", "list", check=False).split())
        if not noted:
            return None, skipped
        refs = git(
            repo,
            "for-each-ref",
            "--sort=-creatordate",
            f"--count={_MAX_TAGS}",
            "--format=%(refname:short) %(objectname)",
            "refs/tags",
        ).splitlines()
    except GitError:
        return None, skipped
    for line in refs:
        tag, _, obj = line.partition(" ")
        if obj not in noted:
            continue
        try:
            record = read_record(repo, tag, key)
        except (NoteProblem, GitError) as exc:
            skipped.append(f"tag {tag}: {exc}")
            continue
        verdict = record.verdict
        problem = _unusable(verdict, key) if verdict.env == env else "another environment"
        if problem is None:
            return Baseline(verdict, f"note of tag {tag}"), skipped
        if problem.startswith(_SAID):
            skipped.append(f"tag {tag}: {problem}")
    return None, skipped


def find_baseline(
    env: str,
    *,
    pinned: Path | None,
    report_dir: Path,
    repo: Path,
    key: SigningKey | None = None,
) -> tuple[Baseline | None, list[str], list[str]]:
    """The baseline, the places searched, and the candidates skipped (tampered)."""
    if pinned is not None:
        verdict = read_verdict(pinned)
        if verdict.env != env:
            return None, [f"pinned file {pinned} (a verdict of {verdict.env!r})"], []
        unsigned = signature_problem(verdict.data, key)
        if unsigned:
            return None, [f"pinned file {pinned}"], [f"pinned file {pinned}: {unsigned}"]
        return Baseline(verdict, f"pinned file {pinned}"), [f"pinned file {pinned}"], []
    searched = [f"{report_dir}/{env}-*.json", f"{NOTES_REF} of the newest release tags"]
    in_dir, skipped = _from_reports(env, report_dir, key)
    in_notes, skipped_notes = _from_notes(env, repo, key)
    found = [b for b in (in_dir, in_notes) if b is not None]
    best = max(found, key=lambda b: b.verdict.finished) if found else None
    return best, searched, skipped + skipped_notes


# -- comparing ---------------------------------------------------------------------------


def _change(base: Interval, now: Interval) -> str:
    rel = f"{(now.value / base.value - 1) * 100:+.1f}%" if base.value else "from zero"
    if base.rate:
        return f"{(now.value - base.value) * 100:+.2f}pp ({rel})"
    return f"{now.value - base.value:+.1f} ms ({rel})"


def compare_one(gate_id: str, tol: Tolerance, base: Interval, now: Interval) -> dict[str, Any]:
    """One gate against its baseline: ``status`` regression, noise or within."""
    limit = tol.limit(base.high)
    if now.low > limit:
        status = "regression"
    elif now.value > tol.limit(base.value):
        status = "noise"  # the point moved past the tolerance, the intervals do not show it
    else:
        status = "within"
    return {
        "gate": gate_id,
        "status": status,
        "tolerance": str(tol),
        "baseline": base.as_dict(),
        "current": now.as_dict(),
        "change": _change(base, now),
        "limit": limit,
        "limit_shown": base.show(limit),
    }


def _sentence(entry: dict[str, Any], base: Interval, now: Interval, bl: Baseline) -> str:
    when = bl.verdict.data["finished"]
    return (
        f"regression against the last promoted release (commit {bl.verdict.commit[:12]}, "
        f"{when}): {now.show()} [95% CI {now.show(now.low)} to {now.show(now.high)}] vs "
        f"{base.show()} [{base.show(base.low)} to {base.show(base.high)}], {entry['change']}, "
        f"beyond the tolerance {entry['tolerance']} (even the low end is over "
        f"{entry['limit_shown']})"
    )


def compare(
    results: list[GateResult], baseline: Baseline, cfg: BaselineConfig
) -> tuple[list[GateResult], list[dict[str, Any]]]:
    """Results with regressions applied, and one comparison entry per tolerance key."""
    by_id = {g["id"]: g for g in baseline.verdict.gates}
    target = Outcome.FAIL if cfg.on_regression == "fail" else Outcome.WARN
    comparisons: list[dict[str, Any]] = []
    out: list[GateResult] = []
    current = {r.info.id: r for r in results}
    for gate_id in cfg.tolerance:
        if gate_id not in current:
            comparisons.append({"gate": gate_id, "status": "not compared: not in this run"})
    for result in results:
        tol = cfg.tolerance.get(result.info.id)
        if tol is None:
            out.append(result)
            continue
        now = interval_of(result.evidence.details)
        old_gate = by_id.get(result.info.id)
        base = interval_of(dict(old_gate.get("evidence") or {})) if old_gate else None
        if now is None or base is None:
            why = "this run measured no interval" if now is None else "not in the baseline"
            comparisons.append({"gate": result.info.id, "status": f"not compared: {why}"})
            out.append(result)
            continue
        entry = compare_one(result.info.id, tol, base, now)
        entry["baseline_commit"] = baseline.verdict.commit
        entry["baseline_finished"] = baseline.verdict.data["finished"]
        comparisons.append(entry)
        ev = result.evidence
        details = {**ev.details, "baseline": entry}
        if entry["status"] != "regression":
            out.append(replace(result, evidence=replace(ev, details=details)))
            continue
        outcome = result.outcome if result.outcome.rank >= target.rank else target
        reason = f"{_sentence(entry, base, now, baseline)}; {ev.reason}"
        out.append(
            replace(result, outcome=outcome, evidence=replace(ev, reason=reason, details=details))
        )
    return out, comparisons


# -- the glue the reporter calls ---------------------------------------------------------


def apply_baseline(run: GateRun, *, pinned: Path | None, report_dir: Path, repo: Path) -> None:
    """Compare ``run``'s results with the baseline, before the decision; set ``run.baseline``."""
    cfg: BaselineConfig | None = run.env.section("baseline")
    if cfg is None:
        run.baseline = {"configured": False}
        return
    baseline, searched, skipped = find_baseline(
        run.env.name, pinned=pinned, report_dir=report_dir, repo=repo, key=run.signing_key
    )
    summary: dict[str, Any] = {
        "configured": True,
        "on_regression": cfg.on_regression,
        "tolerance": {k: str(v) for k, v in cfg.tolerance.items()},
        "skipped": skipped,
    }
    if baseline is None:
        summary.update(
            found=False,
            reason=f"no baseline found: no PROMOTE verdict of {run.env.name} in "
            f"{' or '.join(searched)}; nothing was compared",
        )
        run.baseline = summary
        return
    results = list(run.results.values())
    compared, comparisons = compare(results, baseline, cfg)
    for result in compared:
        run.results[result.nodeid] = result
    regressions = [c["gate"] for c in comparisons if c["status"] == "regression"]
    summary.update(
        found=True,
        **baseline.as_dict(),
        comparisons=comparisons,
        regressions=regressions,
        reason=(
            f"{len(regressions)} regression(s) against {baseline.source}: {', '.join(regressions)}"
            if regressions
            else f"no regression against {baseline.source} "
            f"({len([c for c in comparisons if 'change' in c])} gates compared)"
        ),
    )
    run.baseline = summary
