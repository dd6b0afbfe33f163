"""Judging the newest backup: fresh enough, and holding every collection named."""

from __future__ import annotations

from pytest_fixgate.kinds.backup.config import BackupConfig
from pytest_fixgate.kinds.backup.measurement import BackupFolder
from pytest_fixgate.outcomes.model import Evidence, Finding, Outcome

__all__ = ["human_age", "judge_backup"]


def human_age(seconds: float) -> str:
    """``3h 12m``, ``45 s``, ``2d 4h``."""
    s = max(0, int(seconds))
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min"
    if s < 172800:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def judge_backup(config: BackupConfig, folder: BackupFolder | None) -> Finding:
    """PASS when the newest backup is younger than ``max_age`` and every named collection's
    ``.bson`` holds documents (with its ``.metadata.json``); FAIL otherwise."""
    threshold = f"newest backup younger than {human_age(config.max_age_s)}, holding " + ", ".join(
        f"{config.database}.{c}" for c in config.collections
    )
    if folder is None:
        return Finding(
            Outcome.FAIL,
            Evidence(
                reason=f"no backup folder under {config.directory}"
                + (f" matching {config.pattern!r}" if config.pattern != "*" else ""),
                measured="no backup",
                threshold=threshold,
                details={"directory": str(config.directory)},
            ),
        )
    details = {
        "folder": folder.path.name,
        "path": str(folder.path),
        "modified": folder.modified.isoformat(timespec="seconds"),
        "age": human_age(folder.age_s),
        "age_s": round(folder.age_s, 1),
        "max_age_s": config.max_age_s,
        "backup_folders_found": folder.candidates,
        "collections": [d.as_dict() for d in folder.dumps],
        "size_bytes": sum(d.bson_bytes or 0 for d in folder.dumps),
    }
    measured = f"{folder.path.name}, {human_age(folder.age_s)} old"
    problems = []
    if folder.age_s > config.max_age_s:
        problems.append(
            f"the newest backup {folder.path.name} is {human_age(folder.age_s)} old "
            f"(limit {human_age(config.max_age_s)})"
        )
    if folder.age_s < -300:
        problems.append(f"the newest backup {folder.path.name} is dated in the future")
    problems += [f"{config.database}.{p}" for p in folder.problems]
    if problems:
        return Finding(
            Outcome.FAIL,
            Evidence(
                reason="; ".join(problems),
                measured=measured,
                threshold=threshold,
                samples=len(folder.dumps),
                details=details,
            ),
        )
    docs = sum(d.documents or 0 for d in folder.dumps)
    return Finding(
        Outcome.PASS,
        Evidence(
            reason=f"{folder.path.name} is {human_age(folder.age_s)} old and holds "
            f"{len(folder.dumps)} collection(s), {docs} document(s)",
            measured=measured,
            threshold=threshold,
            samples=len(folder.dumps),
            details=details,
        ),
    )
