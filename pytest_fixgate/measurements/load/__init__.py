"""Load runs: Locust in its own processes, exact latency capture, and the figures gates judge.

The public API::

    spec = LoadSpec(host=..., locustfile=Path("locustfiles/ready.py"), users=20,
                    spawn_rate=5, duration_s=300, results_dir=Path("reports/load"))
    run = LoadRunner(spec).run(on_progress=ProgressLine())
    run.overall.p95          # PercentileEstimate with its confidence interval
    run.overall.error_rate   # ErrorRate with its Wilson interval

Nothing here imports Locust: ``capture.py`` runs inside the Locust process.
"""

from __future__ import annotations

from .failures import FailureKind
from .progress import LoadProgress, ProgressLine
from .results import CpuUsage, EndpointStats, LoadRun, WindowStats
from .runner import LoadRunError, LoadRunner, LoadState
from .spec import LoadSpec

__all__ = [
    "CpuUsage",
    "EndpointStats",
    "FailureKind",
    "LoadProgress",
    "LoadRun",
    "LoadRunError",
    "LoadRunner",
    "LoadSpec",
    "LoadState",
    "ProgressLine",
    "WindowStats",
]
