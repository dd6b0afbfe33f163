"""The replica's tsx: run a migration of scripts/migrations/ as the application's do.

The file's ``// replica: {json}`` line declares its dry-run convention and its write;
the builder installs this file as ``node_modules/.bin/tsx`` behind a shebang.
"""

import json
import os
import sys

import pymongo

MARK = "// replica: "


def main(path: str, argv: list[str]) -> int:
    spec = None
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.startswith(MARK):
                spec = json.loads(line[len(MARK) :])
    if spec is None:
        print(f"{path}: not a replica migration", file=sys.stderr)
        return 1
    dry = {
        "env": os.environ.get("DRY_RUN") != "false",
        "flag": "--dry-run" in argv,
        "apply": "--apply" not in argv,
        "none": False,
    }[spec["dry_run"]]
    uri = os.environ.get("MONGODB_URI") or os.environ.get("MONGO_URI")
    if not uri:
        print("MONGODB_URI or MONGO_URI environment variable is required", file=sys.stderr)
        return 1
    client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(
        uri, serverSelectionTimeoutMS=5000
    )
    coll = client.get_default_database()[spec["collection"]]
    print("DRY RUN MODE - no changes will be applied" if dry else "WRITE MODE", path)
    index = spec.get("index")
    if index and (not dry or spec.get("index_in_dry_run")):
        coll.create_index([tuple(k) for k in index["keys"]], name=index["name"])
        print("created index", index["name"])
    update = {f"${op}": spec[op] for op in ("set", "inc") if op in spec}
    if update:
        if dry and not spec.get("writes_in_dry_run"):
            matched = coll.count_documents(spec["filter"])
            print(f"would update {matched} document(s) in {spec['collection']}")
        else:
            done = coll.update_many(spec["filter"], update)
            print(f"updated {done.modified_count} document(s) in {spec['collection']}")
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
