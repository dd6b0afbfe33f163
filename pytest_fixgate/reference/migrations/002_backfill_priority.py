"""Migration 002 (pending, well behaved): give every work order a ``priority``.

With ``--dry-run`` it only counts what it would change, and changes nothing.

Usage: python 002_backfill_priority.py [--dry-run] [--uri-env NAME] [--database DB]
"""

from __future__ import annotations

import sys

from pytest_fixgate.reference.migration_cli import open_database

NAME = "002_backfill_priority.py"


def main() -> int:
    args, db = open_database(__doc__)
    query = {"priority": {"$exists": False}}
    todo = db.workOrders.count_documents(query)
    if args.dry_run:
        print(f"dry run: would set priority='normal' on {todo} work order(s); nothing written")
        return 0
    result = db.workOrders.update_many(query, {"$set": {"priority": "normal"}})
    db.changelog.update_one({"fileName": NAME}, {"$set": {"fileName": NAME}}, upsert=True)
    print(f"set priority on {result.modified_count} work order(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
