"""A bad migration: its dry run finds that the data breaks its precondition, and exits 1.

It would rename ``status`` to ``state``, but only when no work order has a
``state`` already and every status is one it knows; the seeded data has
"in_progress", which it does not map.

Usage: python 003_rename_status.py [--dry-run] [--uri-env NAME] [--database DB]
"""

from __future__ import annotations

import sys

from pytest_fixgate.reference.migration_cli import open_database

KNOWN = {"open", "closed"}


def main() -> int:
    args, db = open_database(__doc__)
    unknown = sorted(set(db.workOrders.distinct("status")) - KNOWN)
    if unknown:
        print(f"precondition failed: statuses {unknown} have no mapping", file=sys.stderr)
        return 1
    if args.dry_run:
        print("dry run: would rename status to state")
        return 0
    db.workOrders.update_many({}, {"$rename": {"status": "state"}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
