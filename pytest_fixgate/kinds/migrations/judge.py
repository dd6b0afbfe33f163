"""Judging pending migrations and their dry runs (with the fingerprint proof)."""

from __future__ import annotations

from typing import Any

from pytest_fixgate.kinds.migrations.fingerprint import CollectionChange
from pytest_fixgate.kinds.migrations.measurement import DryRun, DryRunReport, Pending
from pytest_fixgate.outcomes.model import Evidence, Finding, Outcome

__all__ = ["judge_dry_run", "judge_pending", "no_fresh_backup"]

DRY_RUN_THRESHOLD = "every dry run exits 0 and the database fingerprint is unchanged"


def judge_pending(pending: Pending, directory: str, *, dry_run_required: bool = True) -> Finding:
    """PASS when no file is pending; WARN listing them otherwise (the dry-run gate judges
    them); INCONCLUSIVE when the folder holds no migration file at all (a wrong glob?), or
    when files are pending but ``migrations.dry_run`` is not required: its WARN would then
    promote migrations that no dry run vouches for."""
    names = [p.name for p in pending.pending]
    details = {
        "directory": directory,
        "database": pending.database,
        "files": len(pending.files),
        "pending": names,
        "applied_recorded": len(pending.applied_names),
    }
    if pending.recorded and not pending.record_exists:
        details["applied_collection"] = "missing"
    if pending.applied_without_file:
        details["applied_without_file"] = pending.applied_without_file
    threshold = "no pending migration"
    if not pending.files:
        return Finding(
            Outcome.INCONCLUSIVE,
            Evidence(
                reason=f"no migration file in {directory} matches the include globs (less exclude)",
                measured="0 files",
                threshold=threshold,
                details=details,
            ),
        )
    if not names:
        return Finding(
            Outcome.PASS,
            Evidence(
                reason=f"all {len(pending.files)} migration(s) are recorded as applied",
                measured="0 pending",
                threshold=threshold,
                samples=len(pending.files),
                details=details,
            ),
        )
    if not pending.recorded:
        how = (
            "known as applied: nothing records applied migrations (applied = false), "
            "so every file counts as pending"
        )
    elif not pending.record_exists:
        how = f"recorded as applied (the applied collection does not exist in {pending.database})"
    else:
        how = "recorded as applied"
    shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    judged = (
        "migrations.dry_run judges them"
        if dry_run_required
        else "migrations.dry_run is not required, so no dry run vouches for them"
    )
    return Finding(
        Outcome.WARN if dry_run_required else Outcome.INCONCLUSIVE,
        Evidence(
            reason=f"{len(names)} of {len(pending.files)} migration(s) not {how}: {shown}; "
            + judged,
            measured=f"{len(names)} pending",
            threshold=threshold,
            samples=len(pending.files),
            details=details,
        ),
    )


def no_fresh_backup(why: str, pending: list[str]) -> Finding:
    """The runbook's "ALWAYS backup before migrations!": no dry run without a fresh backup."""
    return Finding(
        Outcome.INCONCLUSIVE,
        Evidence(
            reason=f"no fresh backup, so no dry run was made (ALWAYS backup before migrations): "
            f"{why}",
            threshold=DRY_RUN_THRESHOLD,
            details={"pending": pending, "backup": why},
        ),
    )


def _change_line(changes: list[CollectionChange] | tuple[CollectionChange, ...]) -> str:
    return ", ".join(c.describe() for c in changes)


def _what_changed(run: DryRun) -> str:
    """``workOrders: 3 changed, 1 inserted; index orgId_1 created`` for a real run."""
    parts = []
    for c in run.changes:
        bits = []
        if c.documents is not None:
            d = c.documents
            bits += [
                f"{n} {w}"
                for n, w in (
                    (d.changed, "changed"),
                    (d.inserted, "inserted"),
                    (d.deleted, "deleted"),
                )
                if n
            ]
        if "added" in c.what:
            bits.append("created")
        if "dropped" in c.what:
            bits.append("dropped")
        bits += [f"index {i.split(' ')[0]} created" for i in c.indexes_created]
        bits += [f"index {i.split(' ')[0]} dropped" for i in c.indexes_dropped]
        if "options" in c.what:
            bits.append("options changed")
        parts.append(f"{c.name}: {', '.join(bits) or ', '.join(c.what)}")
    return "; ".join(parts) or "nothing"


def judge_dry_run(report: DryRunReport) -> Finding:
    """ERROR when a dry run could not start; FAIL when one exited non-zero or timed out, or
    changed the database (on the clone: its own fingerprint diff; on staging: the prints
    before and after all of them), or when a real run on the clone failed; INCONCLUSIVE
    when all passed on a database without any collection (nothing proved)."""
    runs = report.runs
    changes = report.before.changes(report.after)
    details: dict[str, Any] = {
        "target": report.target,
        "runs": [r.as_dict() for r in runs],
        "logs": [r.log for r in runs] + [r.log for r in report.applied],
        "fingerprint_before": report.before.summary(),
        "fingerprint_after": {
            "digest": report.after.digest[:16],
            "documents": report.after.documents,
            "duration_s": round(report.after.duration_s, 3),
        },
    }
    not_started = [r for r in (*runs, *report.applied) if r.result.start_error is not None]
    failed = [r for r in runs if r.result.start_error is None and not r.result.ok]
    problems = [f"{r.file.name}: {r.result.describe()}" for r in not_started + failed]
    if report.target == "clone":
        writers = [r for r in runs if r.changes]
        details["clone"] = report.clone.as_dict() if report.clone is not None else None
        details["dry_run_changes"] = {
            r.file.name: [c.as_dict() for c in r.changes] for r in writers
        }
        details["real_runs"] = [
            {**r.as_dict(), "changed": [c.as_dict() for c in r.changes]} for r in report.applied
        ]
        details["changed_collections"] = [c.as_dict() for c in changes]
        problems += [
            f"{r.file.name}: its dry run changed the clone: {_change_line(r.changes)}"
            for r in writers
        ]
        real_failed = [
            r for r in report.applied if r.result.start_error is None and not r.result.ok
        ]
        problems += [
            f"{r.file.name}: real run on the clone: {r.result.describe()}" for r in real_failed
        ]
        changed = bool(writers)
        failed = failed + real_failed
    else:
        details["changed_collections"] = [c.as_dict() for c in changes]
        changed = bool(changes)
        if changes:
            problems.append("the database changed during the dry runs: " + _change_line(changes))
    unchecked = False
    if report.no_dry_run:
        details["no_dry_run"] = list(report.no_dry_run)
        unrehearsed = sorted(set(report.no_dry_run) - {r.file.name for r in report.applied})
        if report.target == "clone" and unrehearsed:
            # No dry run and no real run: nothing ran it at all.
            unchecked = True
            problems.append(
                f"{', '.join(unrehearsed)}: no dry-run mode and no apply command, so "
                "nothing rehearsed it on the clone"
            )
        if report.target != "clone":
            unchecked = True
            problems.append(
                f"{', '.join(report.no_dry_run)}: no dry-run mode (overrides dry_run = false), "
                'so nothing checked it: only target = "clone" can rehearse it'
            )
    if report.before.not_covered:
        details["not_covered"] = list(report.before.not_covered)
    exited_0 = sum(1 for r in runs if r.result.ok)
    measured = f"{exited_0}/{len(runs)} exited 0; fingerprint " + (
        "changed" if changed else "unchanged"
    )
    outcome = Outcome.PASS
    if failed or changed:
        outcome = Outcome.FAIL
    if not_started:
        outcome = Outcome.ERROR
    if outcome is Outcome.PASS and unchecked:
        outcome = Outcome.INCONCLUSIVE
    if outcome is Outcome.PASS and not report.before.primary_collections:
        # Nothing to compare: a wrong database name reads as an empty database, and a
        # migration writing to the real one would leave this empty print unchanged.
        outcome = Outcome.INCONCLUSIVE
        problems.append(
            f"the database {report.before.database} holds no collection, so an unchanged "
            "fingerprint proves nothing (the wrong database?)"
        )
    if outcome is not Outcome.PASS:
        reason = "; ".join(problems)
    elif report.target == "clone" and report.clone is not None:
        restored = report.clone.restored
        reason = (
            f"{len(runs)} dry run(s) exited 0 and changed nothing on a clone of backup "
            f"{restored.folder} ({restored.documents} document(s) in {restored.collections} "
            f"collection(s), restored in {restored.duration_s:.2f} s); staging was not touched"
        )
        if report.no_dry_run:
            reason += (
                f"; {', '.join(report.no_dry_run)}: no dry-run mode, rehearsed by the real run only"
            )
        if report.applied:
            reason += "; the real runs changed: " + "; ".join(
                f"{r.file.name}: {_what_changed(r)}" for r in report.applied
            )
        elif not report.apply_configured:
            reason += "; no real run was rehearsed (set `apply`)"
    else:
        reason = (
            f"{len(runs)} dry run(s) exited 0 and changed nothing: fingerprint "
            f"{report.before.digest[:12]} of {report.before.documents} document(s) in "
            f"{len(report.before.collections)} collection(s), equal before and after"
        )
    return Finding(
        outcome,
        Evidence(
            reason=reason,
            measured=measured,
            threshold=DRY_RUN_THRESHOLD,
            samples=len(runs),
            details=details,
        ),
    )
