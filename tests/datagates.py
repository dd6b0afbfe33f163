"""Helpers for the data gates' tests: mongodump-shaped backup folders and their configs."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path

import bson

from pytest_fixgate.reference.app import DEFAULT_DB

REPO = Path(__file__).resolve().parent.parent
MIGRATIONS = REPO / "pytest_fixgate" / "reference" / "migrations"
FAULTY = MIGRATIONS / "faulty"
# The dry-run convention of the reference migrations (reference/migration_cli.py).
DRY_RUN = f"{sys.executable} {{file}} --dry-run --uri-env {{uri_env}} --database {{database}}"


def write_backup(
    root: Path,
    folder: str,
    collections: Iterable[str],
    *,
    database: str = DEFAULT_DB,
    docs: int = 2,
    age_s: float = 0.0,
) -> Path:
    """A folder as ``mongodump --out=root/folder`` writes it, its files ``age_s`` old."""
    db_dir = root / folder / database
    db_dir.mkdir(parents=True, exist_ok=True)
    for name in collections:
        data = b"".join(bson.encode({"_id": i, "name": f"{name}-{i}"}) for i in range(docs))
        (db_dir / f"{name}.bson").write_bytes(data)
        (db_dir / f"{name}.metadata.json").write_text(
            '{"indexes": [{"v": 2, "key": {"_id": 1}, "name": "_id_"}]}', encoding="utf-8"
        )
    set_age(root / folder, age_s)
    return root / folder


def dump_backup(
    root: Path, folder: str, uri: str, *, database: str = DEFAULT_DB, age_s: float = 0.0
) -> Path:
    """A real dump of ``database`` at ``uri`` (what the clone target restores), ``age_s`` old."""
    from pytest_fixgate.reference.dump import dump_database

    dump_database(uri, database, root / folder)
    set_age(root / folder, age_s)
    return root / folder


def set_age(folder: Path, age_s: float) -> None:
    """Date every file of ``folder`` (and the folder) ``age_s`` seconds ago."""
    import time

    when = time.time() - age_s
    for path in [folder, *folder.rglob("*")]:
        os.utime(path, (when, when))


def data_sections(
    *,
    backup_dir: Path,
    backup_collections: Iterable[str] = ("workOrders", "changelog"),
    migrations_dir: Path = MIGRATIONS,
    migration_files: Iterable[str] | None = None,
    database: str = DEFAULT_DB,
    index_collection: str = "workOrders",
    queue_max: int = 1000,
    jobs_max: int = 10,
    redis_url_env: str | None = None,
    migrations_extra: str = "",
) -> str:
    """The [backup], [migrations], [[indexes]] and [[queues]] tables of a staging config."""
    files = ""
    if migration_files is not None:
        files = "files = [" + ", ".join(f'"{f}"' for f in migration_files) + "]\n"
    redis_key = f'redis_url_env = "{redis_url_env}"\n' if redis_url_env else ""
    return f"""
[env.staging.backup]
directory = "{backup_dir}"
database = "{database}"
collections = [{", ".join(f'"{c}"' for c in backup_collections)}]
max_age = "1h"

[env.staging.migrations]
directory = "{migrations_dir}"
database = "{database}"
dry_run = "{DRY_RUN}"
timeout = "30s"
{files}{migrations_extra}
[[env.staging.indexes]]
collection = "{index_collection}"
database = "{database}"
keys = {{ organizationId = 1, status = 1 }}
query = {{ organizationId = "org-alpha", status = "open" }}

[[env.staging.queues]]
id = "notifications"
redis_list = "queue:notifications"
{redis_key}max = {queue_max}

[[env.staging.queues]]
id = "jobs"
collection = "background_jobs"
database = "{database}"
filter = {{ status = "queued" }}
max = {jobs_max}
"""
