"""Runbook, "Index Management" and "Database Slow Queries": the indexes the queries
need exist (exact keys, in order), and a query is planned on one (IXSCAN, no COLLSCAN)."""

from __future__ import annotations

import pytest

from pytest_fixgate.kinds.indexes.judge import judge_index
from pytest_fixgate.kinds.indexes.measurement import read_indexes
from pytest_fixgate.measurements.secrets import read_secret


@pytest.mark.gate(
    id="index.{index_spec.collection}.{index_spec.index_label}",
    title="The index the queries need exists",
    severity="major",
    needs="indexes",
)
def test_index(gate, gate_env, index_spec):
    uri = read_secret(index_spec.mongodb_uri_env, f"env.{gate_env.name}.indexes.mongodb_uri_env")
    method = f"listIndexes on {index_spec.collection}"
    if index_spec.query is not None:
        method += f"; explain(find({dict(index_spec.query)})) at queryPlanner verbosity"
    gate.measuring(method, threshold=f"an index on {index_spec.keys_doc}")
    reading = read_indexes(
        uri,
        index_spec.database,
        index_spec.collection,
        query=index_spec.query,
        timeout_s=gate_env.timeout_s,
    )
    gate.record(judge_index(index_spec, reading))
