"""A lying migration: it says "dry run", and writes anyway.

It honours ``--dry-run`` in its message only: the update runs either way (the
bug a fingerprint before and after a dry run catches, and no migration tool
does).

Usage: python 003_normalise_titles.py [--dry-run] [--uri-env NAME] [--database DB]
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from pytest_fixgate.reference.migration_cli import open_database


def main() -> int:
    args, db = open_database(__doc__)
    # The bug: the write is outside the dry-run check (it stamps every run, so it
    # changes the data each time it is dry-run).
    result = db.workOrders.update_many(
        {}, {"$set": {"titleNormalisedAt": datetime.now(UTC)}, "$inc": {"normaliseRuns": 1}}
    )
    if args.dry_run:
        print(f"dry run: would normalise {result.matched_count} title(s); nothing written")
    else:
        print(f"normalised {result.modified_count} title(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
