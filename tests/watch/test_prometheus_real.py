"""The reference service's /metrics, scraped by a real Prometheus, read by the watch's
``prometheus`` source through the HTTP API, end to end (`pytest --gate --watch`)."""

from __future__ import annotations

from pathlib import Path

import httpx
from gaterun import run_gate
from prometheus_client.parser import text_string_to_metric_families
from prometheus_real import needs_prometheus, query, reference_with_prometheus, wait_for_value

from pytest_fixgate.rules.promql import error_rate, latency_quantile, queue_depth


def _families(text: str) -> dict[str, list]:
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def test_metrics_counts_requests_by_path_and_status_and_times_them(reference) -> None:
    with httpx.Client(base_url=reference.base_url, timeout=5) as client:
        before = _families(client.get("/metrics").text)
        reference.set_faults(error_ratio=1.0, paths=["/api/health"])
        for _ in range(3):
            assert client.get("/api/health").status_code == 500  # injected: counted too
        reference.set_faults()
        client.get("/api/health/ready")
        client.get("/no/such/route/" + "x" * 50)
        response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=")
    after = _families(response.text)

    def count(families: dict, path: str, status: str) -> float:
        return sum(
            s.value
            for s in families.get("fixgate_http_requests", [])
            if s.name == "fixgate_http_requests_total"
            and s.labels["path"] == path
            and s.labels["status"] == status
        )

    assert count(after, "/api/health", "500") - count(before, "/api/health", "500") == 3
    assert count(after, "/api/health/ready", "200") - count(before, "/api/health/ready", "200") == 1
    assert count(after, "other", "404") >= 1  # an unknown path is one series, not one a URL
    assert not any("/no/such" in line for line in response.text.splitlines())
    durations = after["fixgate_http_request_duration_seconds"]
    buckets = [s for s in durations if s.name.endswith("_bucket")]
    assert {s.labels["le"] for s in buckets} >= {"1.5", "2.5", "+Inf"}
    assert [s.value for s in after["fixgate_queue_depth"]] == [3.0]  # the seeded queue


def test_queue_depth_has_no_sample_while_redis_is_down(reference) -> None:
    reference.set_faults(redis_down=True)
    text = httpx.get(reference.base_url + "/metrics", timeout=5).text
    assert _families(text)["fixgate_queue_depth"] == []  # a gap, never a stale or 0 value


WATCH = """
[env.production]
base_url = "{base_url}"
[env.production.watch]
interval = "1s"
[env.production.watch.prometheus]
url = "{prom_url}"
[env.production.watch.prometheus.queries]
error_rate = {{ query = '{error_rate}', kind = "ratio" }}
p95 = {{ query = '{p95}', kind = "duration" }}
queue_depth = '{queue}'

[[env.production.watch.rules]]
id = "error-rate-sev1"
severity = "SEV-1"
source = "prometheus"
when = "error_rate > 5%"
for = "2s"

[[env.production.watch.rules]]
id = "queue-depth"
severity = "SEV-3"
source = "prometheus"
when = "queue_depth > 1000"
for = "3s"
"""


def _watch_config(stack) -> str:
    return WATCH.format(
        base_url=stack.reference.base_url,
        prom_url=stack.prometheus.base_url,
        error_rate=error_rate(5),
        p95=latency_quantile(0.95, 5),
        queue=queue_depth(),
    )


@needs_prometheus
def test_watch_through_prometheus_rolls_back_on_errors(tmp_path: Path, mongo, redis_srv) -> None:
    with reference_with_prometheus(mongo.uri, redis_srv.url, error_ratio=0.5) as stack:
        assert wait_for_value(stack.prometheus, error_rate(5)) > 0.05
        result = run_gate(tmp_path, _watch_config(stack), "--watch=20s", env_name="production")
    assert result.exit_code == 10, result.output
    gate = result.gate("watch")
    assert result.verdict["decision"] == "ROLLBACK"
    assert [a["rule"] for a in gate["evidence"]["alerts"]] == ["error-rate-sev1"]
    series = gate["evidence"]["series"]["prometheus.error_rate"]
    assert all(0.3 < value < 0.7 for _, value in series), series  # Prometheus's own rate
    assert "/api/v1/query" in gate["evidence"]["method"]


@needs_prometheus
def test_watch_through_prometheus_promotes_a_healthy_service(
    tmp_path: Path, mongo, redis_srv
) -> None:
    with reference_with_prometheus(mongo.uri, redis_srv.url) as stack:
        assert wait_for_value(stack.prometheus, error_rate(5)) == 0.0
        result = run_gate(tmp_path, _watch_config(stack), "--watch=4s", env_name="production")
        assert query(stack.prometheus, queue_depth())[0]["value"][1] == "3"
    assert result.exit_code == 0, result.output
    gate = result.gate("watch")
    assert result.verdict["decision"] == "PROMOTE"
    assert gate["evidence"]["alerts"] == []
    assert [v for _, v in gate["evidence"]["series"]["prometheus.queue_depth"]] == [3.0] * 5


@needs_prometheus
def test_p95_from_the_histogram_sees_injected_latency(mongo, redis_srv) -> None:
    with reference_with_prometheus(mongo.uri, redis_srv.url, latency_ms=300) as stack:
        p95 = wait_for_value(stack.prometheus, latency_quantile(0.95, 5))
    # 300 ms injected: inside the (0.25, 0.5] bucket, interpolated by histogram_quantile.
    assert 0.25 < p95 <= 0.5
