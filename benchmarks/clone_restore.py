"""Clone cost of the migrations gate: starting its SecantusDB and restoring a backup.

1. The demo database (reference.app.seed), dumped in mongodump's layout, restored
   into a fresh clone server N times (default 5): server start and restore times.
2. A larger dump (DOCUMENTS work-order-like documents, default 100,000, one index):
   restore time, documents/s, and the fingerprint of the clone afterwards.

Usage: python benchmarks/clone_restore.py [RUNS] [DOCUMENTS]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import pymongo

from pytest_fixgate.kinds.migrations.clone import clone_server, restore_dump
from pytest_fixgate.kinds.migrations.fingerprint import fingerprint_server
from pytest_fixgate.measurements.mongo_client import mongo_database
from pytest_fixgate.reference import mongo_server
from pytest_fixgate.reference.app import DEFAULT_DB, seed
from pytest_fixgate.reference.dump import dump_database


def _restore_once(folder: Path, database: str) -> tuple[float, float, int]:
    with clone_server(clone_uri=None, staging_uri=None, databases=[database], timeout_s=600) as s:
        client: pymongo.MongoClient = pymongo.MongoClient(s.uri)
        try:
            restored = restore_dump(client, folder, timeout_s=600)
        finally:
            client.close()
        return s.started_s, restored.duration_s, restored.documents


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    documents = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    with tempfile.TemporaryDirectory() as tmp, mongo_server() as source:
        client: pymongo.MongoClient = pymongo.MongoClient(source.uri)
        seed(client[DEFAULT_DB])
        demo = Path(tmp) / "demo"
        dump_database(source.uri, DEFAULT_DB, demo)
        starts, restores = [], []
        for _ in range(runs):
            started, restored, docs = _restore_once(demo, DEFAULT_DB)
            starts.append(started)
            restores.append(restored)
        print(
            f"demo database ({docs} documents): server start median "
            f"{statistics.median(starts):.2f} s (min {min(starts):.2f}, max {max(starts):.2f}); "
            f"restore median {statistics.median(restores) * 1000:.0f} ms "
            f"(min {min(restores) * 1000:.0f}, max {max(restores) * 1000:.0f}) over {runs} runs"
        )
        big = client["bench"]
        for first in range(0, documents, 20_000):
            big.workorders.insert_many(
                [
                    {
                        "_id": i,
                        "orgId": f"org-{i % 50}",
                        "status": ("open", "closed")[i % 2],
                        "title": f"Work order {i}: replace the filter in unit {i % 400}",
                    }
                    for i in range(first, min(first + 20_000, documents))
                ]
            )
        big.workorders.create_index([("orgId", 1), ("status", 1)])
        dump_database(source.uri, "bench", Path(tmp) / "big")
        with clone_server(
            clone_uri=None, staging_uri=None, databases=["bench"], timeout_s=600
        ) as server:
            clone: pymongo.MongoClient = pymongo.MongoClient(server.uri)
            restored = restore_dump(clone, Path(tmp) / "big", timeout_s=600)
            clone.close()
            with mongo_database(f"{server.uri}bench", None, timeout_s=600) as target:
                t = time.perf_counter()
                fingerprint_server(target, timeout_s=600, keep_documents=True)
                fp = time.perf_counter() - t
        print(
            f"{restored.documents} documents: restore {restored.duration_s:.2f} s "
            f"({restored.documents / restored.duration_s:,.0f} documents/s); per-document "
            f"fingerprint of the clone {fp:.2f} s"
        )


if __name__ == "__main__":
    main()
