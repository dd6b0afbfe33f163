"""A real Prometheus on 127.0.0.1 scraping given targets: the launcher the tests and demo use.

::

    with prometheus_server([ref.base_url], rules=Path("alerts.yml")) as prom:
        httpx.get(prom.base_url + "/api/v1/query", params={"query": "up"})

A free port, a temporary TSDB, scrape and rule evaluation every
``interval_s`` (1 s by default), and a bounded life: the server runs under
``timeout -s KILL`` so it dies after ``max_life_s`` even if nobody stops it
(a killed test run); the context manager stops it (its whole process group)
on exit. Needs the ``prometheus`` binary (Debian's package, 2.42 here).
Measured here: ready in 0.1 s, first successful scrape about 5.5 s after the
start (2.42's scrape manager applies new targets on a 5 s ticker); wait with
:meth:`PrometheusServer.wait_scraped`.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pytest_fixgate import timing
from pytest_fixgate.reference.processes import HOST, ProcessStartError, _running

__all__ = ["PrometheusServer", "prometheus_binary", "prometheus_server"]

#: Job name of the scraped targets: the ``job`` label of every scraped series.
JOB = "reference"


@dataclass(frozen=True)
class PrometheusServer:
    base_url: str
    port: int
    config_path: Path
    interval_s: float

    def targets_up(self) -> bool:
        """Whether every target has been scraped successfully at least once."""
        body = _get_json(self.port, "/api/v1/targets")
        active = (body or {}).get("data", {}).get("activeTargets", [])
        return bool(active) and all(t.get("health") == "up" for t in active)

    def wait_scraped(self, timeout_s: float = 30.0) -> None:
        """Until every target was scraped once; RuntimeError after ``timeout_s``."""
        deadline = timing.monotonic() + timeout_s
        while not self.targets_up():
            if timing.monotonic() > deadline:
                raise RuntimeError(f"prometheus: targets not up within {timeout_s:g} s")
            timing.sleep(0.1)


def prometheus_binary() -> str | None:
    return shutil.which("prometheus")


def _yaml_list(items: Sequence[str]) -> str:
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"  # JSON strings are YAML


@contextlib.contextmanager
def prometheus_server(
    targets: Sequence[str],
    *,
    rules: Sequence[Path] = (),
    interval_s: float = 1.0,
    max_life_s: float = 900.0,
    startup_timeout: float = 30.0,
) -> Iterator[PrometheusServer]:
    """Prometheus scraping ``targets`` (base URLs; their ``/metrics``) with ``rules`` loaded."""
    binary = prometheus_binary()
    if binary is None:
        raise ProcessStartError(
            "prometheus",
            "is not on PATH",
            "install it with: apt-get install -y --no-install-recommends prometheus",
        )
    hosts = [urlsplit(t).netloc for t in targets]
    config_holder: list[Path] = []

    def argv(port: int, workdir: Path) -> list[str]:
        config = workdir / "prometheus.yml"
        rule_files = [str(Path(r).resolve()) for r in rules]
        config.write_text(
            "global:\n"
            f"  scrape_interval: {interval_s:g}s\n"
            f"  scrape_timeout: {interval_s:g}s\n"
            f"  evaluation_interval: {interval_s:g}s\n"
            f"rule_files: {_yaml_list(rule_files)}\n"
            "scrape_configs:\n"
            f"  - job_name: {JOB}\n"
            "    static_configs:\n"
            f"      - targets: {_yaml_list(hosts)}\n",
            encoding="utf-8",
        )
        config_holder[:] = [config]
        return [
            *("timeout", "-s", "KILL", f"{max_life_s:g}", binary),
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address={HOST}:{port}",
            "--storage.tsdb.retention.time=1h",
        ]

    with _running("prometheus", argv, _ready, timeout=startup_timeout) as (port, _proc):
        yield PrometheusServer(f"http://{HOST}:{port}", port, config_holder[0], interval_s)


def _get_json(port: int, path: str) -> dict[str, object] | None:
    conn = http.client.HTTPConnection(HOST, port, timeout=2)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return json.loads(response.read()) if response.status == 200 else None
    except (OSError, http.client.HTTPException, ValueError):
        return None
    finally:
        conn.close()


def _ready(port: int) -> bool:
    conn = http.client.HTTPConnection(HOST, port, timeout=1)
    try:
        conn.request("GET", "/-/ready")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()
