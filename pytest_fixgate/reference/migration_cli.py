"""The command line the reference migrations share (``reference/migrations/``).

Each migration is a script run by path, as real ones are: ``python FILE
[--dry-run] [--uri-env NAME] [--database DB]``. The URI is read from the
variable named by ``--uri-env`` (never from argv); the database defaults to
the URI's own, else the reference service's default.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import pymongo
from pymongo.database import Database

# app.DEFAULT_DB, not imported: the web stack would triple a dry run's start-up time.
DEFAULT_DB = "fixgate"

__all__ = ["open_database"]


def open_database(description: str | None) -> tuple[argparse.Namespace, Database[Any]]:
    """Parse the migration's arguments and open its database."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--dry-run", action="store_true", help="say what would change, change nothing"
    )
    parser.add_argument("--uri-env", default="MONGODB_URI", help="variable holding the MongoDB URI")
    parser.add_argument("--database", default=None, help="database (default: the URI's)")
    args = parser.parse_args()
    client: pymongo.MongoClient[Any] = pymongo.MongoClient(
        os.environ[args.uri_env], serverSelectionTimeoutMS=3000
    )
    db = client[args.database] if args.database else client.get_default_database(DEFAULT_DB)
    return args, db
