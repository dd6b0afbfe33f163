"""Migration 001 (applied: the seeded changelog records it): the work orders' indexes.

Usage: python 001_create_work_order_indexes.py [--dry-run] [--uri-env NAME] [--database DB]
"""

from __future__ import annotations

import sys

from pytest_fixgate.reference.migration_cli import open_database

NAME = "001_create_work_order_indexes.py"


def main() -> int:
    args, db = open_database(__doc__)
    wanted = [[("organizationId", 1), ("status", 1)], [("organizationId", 1), ("createdAt", -1)]]
    have = [list(spec["key"].items()) for spec in db.workOrders.list_indexes()]
    missing = [keys for keys in wanted if keys not in have]
    if args.dry_run:
        print(f"dry run: would create {len(missing)} index(es) on workOrders: {missing}")
        return 0
    for keys in missing:
        db.workOrders.create_index(keys)
    db.changelog.update_one({"fileName": NAME}, {"$set": {"fileName": NAME}}, upsert=True)
    print(f"created {len(missing)} index(es)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
