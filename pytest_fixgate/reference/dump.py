"""A mongodump-shaped backup of a database, written with pymongo (no mongodump needed).

The layout is mongodump's own: ``<out>/<database>/<collection>.bson`` (the raw
BSON documents, one after another) and ``<collection>.metadata.json`` (the
indexes, in extended JSON). ``fixgate demo`` makes one before its gates run,
so the backup gate (and the dry run's "ALWAYS backup" rule) has a real backup
to judge. It reads the database only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["dump_database"]


def dump_database(uri: str, database: str, out: Path) -> list[str]:
    """Dump every collection of ``database`` (not ``system.*``) under ``out``; the names."""
    # deferred: pymongo loads only when a MongoDB reader runs
    import pymongo
    from bson import CodecOptions, json_util
    from bson.raw_bson import RawBSONDocument

    client: pymongo.MongoClient[Any] = pymongo.MongoClient(uri, serverSelectionTimeoutMS=3000)
    try:
        db = client.get_database(database, codec_options=CodecOptions(RawBSONDocument))
        folder = out / database
        folder.mkdir(parents=True, exist_ok=True)
        names = sorted(n for n in db.list_collection_names() if not n.startswith("system."))
        for name in names:
            with (folder / f"{name}.bson").open("wb") as fh:
                for doc in db[name].find({}, sort=[("_id", 1)]):
                    fh.write(doc.raw)
            plain = client[database][name]
            metadata = {
                "indexes": [dict(spec) for spec in plain.list_indexes()],
                "collectionName": name,
                "type": "collection",
            }
            (folder / f"{name}.metadata.json").write_text(
                json.dumps(json.loads(json_util.dumps(metadata))), encoding="utf-8"
            )
        return names
    finally:
        client.close()
