"""Runbook, "Monitoring & Alerts": queue depth (>1000 jobs is an alert). Each queue's
depth, a Redis LLEN or a MongoDB count, is within its max before promotion."""

from __future__ import annotations

import pytest

from pytest_fixgate.kinds.queues.judge import judge_queue
from pytest_fixgate.kinds.queues.measurement import mongo_queue_depth, redis_queue_depth
from pytest_fixgate.measurements.secrets import read_secret


@pytest.mark.gate(
    id="queue.{queue_spec.id}",
    title="Queue depth within its limit",
    severity="major",
    needs="queues",
)
def test_queue_depth(gate, gate_env, queue_spec):
    gate.measuring(queue_spec.source, threshold=f"depth <= {queue_spec.max}")
    key = f"env.{gate_env.name}.queues"
    if queue_spec.redis_list is not None:
        url = read_secret(queue_spec.redis_url_env, f"{key}.redis_url_env")
        reading = redis_queue_depth(url, queue_spec.redis_list, timeout_s=gate_env.timeout_s)
    else:
        uri = read_secret(queue_spec.mongodb_uri_env, f"{key}.mongodb_uri_env")
        reading = mongo_queue_depth(
            uri,
            queue_spec.database,
            queue_spec.collection,
            queue_spec.filter,
            timeout_s=gate_env.timeout_s,
        )
    gate.record(judge_queue(queue_spec, reading))
