"""The index gate kind: ``[[env.X.indexes]]``, the runbook's "Index Management".

One gate per entry, ``index.<collection>.<name or keys>``: the collection has
an index with exactly ``keys``, in that order (the index's name need not
match); with ``query``, ``explain()`` of that filter shows an index scan, not
a ``COLLSCAN``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pytest_fixgate.config.data_sources import database_name, mongo_uri_env
from pytest_fixgate.config.table import ConfigTable
from pytest_fixgate.kinds import GateKind, KindContext

__all__ = ["KIND", "IndexSpec", "parse_indexes"]

# 1 / -1, or a special index type as MongoDB spells it.
_KEY_TYPES = ("text", "2d", "2dsphere", "hashed")
_NAME = re.compile(r"^[A-Za-z0-9_.$-]+$")


@dataclass(frozen=True)
class IndexSpec:
    """One index a collection must have."""

    collection: str
    keys: tuple[tuple[str, int | str], ...]  # in order, as MongoDB orders them
    mongodb_uri_env: str
    database: str | None = None
    name: str | None = None  # only names the gate; the index may be named otherwise
    query: Mapping[str, Any] | None = None

    @property
    def keys_text(self) -> str:
        """MongoDB's default index name for these keys: ``organizationId_1_status_1``."""
        return "_".join(f"{k}_{v}" for k, v in self.keys)

    @property
    def keys_doc(self) -> str:
        """``{organizationId: 1, status: 1}``, for messages."""
        inner = ", ".join(
            f"{k}: {v!r}" if isinstance(v, str) else f"{k}: {v}" for k, v in self.keys
        )
        return "{" + inner + "}"

    @property
    def index_label(self) -> str:
        """The gate id's last part: the configured name, else the keys."""
        return self.name or self.keys_text

    @property
    def gate_id(self) -> str:
        return f"index.{self.collection}.{self.index_label}"


def _parse_one(table: ConfigTable, ctx: KindContext) -> IndexSpec:
    collection = table.get("collection", str, expected="a collection name")
    if not collection or not _NAME.match(collection):
        raise table.error("collection", collection, "a collection name")
    expected_keys = 'an ordered table of field = 1 | -1 | "text" | "hashed" | "2dsphere" | "2d"'
    keys = table.get("keys", dict, expected=expected_keys)
    if not keys:
        raise table.error("keys", keys, expected_keys)
    for field_name, direction in keys.items():
        ok = not isinstance(direction, bool) and (
            direction in (1, -1) if isinstance(direction, int) else direction in _KEY_TYPES
        )
        if not ok:
            raise table.error(f"keys.{field_name}", direction, expected_keys)
    name = table.get("name", str, None, expected="a name for the gate id")
    if name is not None and not _NAME.match(name):
        raise table.error("name", name, "letters, digits, _ . $ -")
    query = table.get("query", dict, None, expected='a filter table, e.g. { status = "open" }')
    spec = IndexSpec(
        collection=collection,
        keys=tuple(keys.items()),
        mongodb_uri_env=mongo_uri_env(table, ctx),
        database=database_name(table),
        name=name,
        query=query,
    )
    table.finish()
    return spec


def parse_indexes(tables: list[ConfigTable], ctx: KindContext) -> tuple[IndexSpec, ...]:
    specs: list[IndexSpec] = []
    for table in tables:
        spec = _parse_one(table, ctx)
        if any(s.gate_id == spec.gate_id for s in specs):
            raise table.error("keys", dict(spec.keys), f"one entry per gate id ({spec.gate_id})")
        specs.append(spec)
    return tuple(specs)


KIND = GateKind(
    section="indexes",
    array=True,
    parse=parse_indexes,
    gate_ids=lambda specs, env: [s.gate_id for s in specs],
    params={"index_spec": lambda specs, env: [(s.gate_id, s) for s in specs]},
    secret_envs=lambda specs: sorted({s.mongodb_uri_env for s in specs}),
    title="indexes",
)
