"""Fingerprint speed: documents per second over a collection of a few hundred thousand.

Starts SecantusDB (in memory), fills one collection with N work-order-like
documents (default 300,000) and a second, small one, then fingerprints the
database three times and prints the documents per second of each run and
whether the three digests agree (they must: the fingerprint is deterministic).
Peak memory of this process is printed too: documents are streamed, never
held (RSS should not grow with N).

Usage: python benchmarks/fingerprint.py [DOCUMENTS]   (default 300000)
"""

from __future__ import annotations

import resource
import sys
import time
from datetime import UTC, datetime, timedelta

import pymongo

from pytest_fixgate.kinds.migrations.fingerprint import fingerprint_database
from pytest_fixgate.reference import mongo_server

BATCH = 20_000


def fill(db: pymongo.database.Database, n: int) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for first in range(0, n, BATCH):
        db.workOrders.insert_many(
            [
                {
                    "_id": i,
                    "organizationId": f"org-{i % 50}",
                    "status": ("open", "in_progress", "closed")[i % 3],
                    "title": f"Work order {i}: replace the filter in unit {i % 400}",
                    "createdAt": start + timedelta(minutes=i),
                    "tags": ["hvac", "priority"] if i % 7 == 0 else [],
                }
                for i in range(first, min(first + BATCH, n))
            ],
            ordered=False,
        )
    db.workOrders.create_index([("organizationId", 1), ("status", 1)])
    db.changelog.insert_many([{"fileName": f"{i:03d}-m.js"} for i in range(20)])


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300_000
    with mongo_server() as mongo:
        client: pymongo.MongoClient = pymongo.MongoClient(mongo.uri)
        started = time.perf_counter()
        fill(client.bench, n)
        print(f"filled {n:,} documents in {time.perf_counter() - started:.1f} s")
        digests = set()
        for run in range(3):
            fp = fingerprint_database(mongo.uri, "bench", timeout_s=300)
            rate = fp.documents / fp.duration_s
            digests.add(fp.digest)
            print(
                f"run {run + 1}: {fp.documents:,} documents in {fp.duration_s:.2f} s "
                f"= {rate:,.0f} documents/s"
            )
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"digests agree: {len(digests) == 1}; peak RSS of this process {peak_mb:.0f} MB")
        client.close()


if __name__ == "__main__":
    main()
