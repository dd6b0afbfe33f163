"""The backup gate kind: ``[env.X.backup]``, the runbook's "ALWAYS backup before migrations!".

One gate, ``backup.fresh``: the newest mongodump folder under ``directory``
is younger than ``max_age`` and holds ``<database>/<collection>.bson`` (and
``.metadata.json``) for every collection named.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pytest_fixgate.config.data_sources import database_name
from pytest_fixgate.config.table import ConfigTable
from pytest_fixgate.kinds import GateKind, KindContext

__all__ = ["BACKUP_GATE_ID", "KIND", "BackupConfig", "parse_backup"]

BACKUP_GATE_ID = "backup.fresh"


@dataclass(frozen=True)
class BackupConfig:
    """Where mongodump output folders are, how old the newest may be, what it must hold."""

    directory: Path
    database: str
    collections: tuple[str, ...]
    max_age_s: float = 86400.0
    # Which folders under `directory` are backups (a glob on the folder name).
    pattern: str = "*"


def parse_backup(table: ConfigTable, ctx: KindContext) -> BackupConfig:
    directory = Path(table.get("directory", str, expected="the folder holding mongodump output"))
    if not directory.is_absolute():
        directory = ctx.base_dir / directory
    database = database_name(table)
    if database is None:
        raise table.error("database", None, "the database name mongodump wrote (<folder>/<db>/)")
    collections = table.get(
        "collections", list, expected="a list of collection names the backup must hold"
    )
    if not collections or not all(isinstance(c, str) and c for c in collections):
        raise table.error("collections", collections, "a non-empty list of collection names")
    max_age_s = table.duration("max_age", "24h")
    if max_age_s <= 0:
        raise table.error("max_age", max_age_s, "a positive duration")
    pattern = table.get("pattern", str, "*", expected="a glob on backup folder names")
    backup = BackupConfig(
        directory=directory,
        database=database,
        collections=tuple(dict.fromkeys(collections)),
        max_age_s=max_age_s,
        pattern=pattern or "*",
    )
    table.finish()
    return backup


KIND = GateKind(
    section="backup",
    parse=parse_backup,
    gate_ids=lambda backup, env: [BACKUP_GATE_ID],
    title="backup before migrations",
)
