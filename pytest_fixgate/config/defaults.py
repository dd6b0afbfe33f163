"""The runbook's own values, used wherever the config is silent.

Runbook "Monitoring & Alerts" -> health endpoints; "Staging Promotion Flow"
-> readiness p95 < 1.5 s for 5 minutes, error rate < 1%.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: Locust scenarios shipped inside the package (the readiness one is the default).
BUILTIN_LOCUSTFILES = Path(__file__).resolve().parent.parent / "locustfiles"

__all__ = ["DEFAULT_HEALTH", "DEFAULT_LOAD", "DEFAULT_TIMEOUT_S"]

DEFAULT_TIMEOUT_S = 5.0

DEFAULT_HEALTH: tuple[dict[str, Any], ...] = (
    {"path": "/api/health", "expect_status": 200, "expect_json": {"status": "ok"}},
    {"path": "/api/health/db", "expect_status": 200, "expect_json": {"mongodb": "connected"}},
    {"path": "/api/health/redis", "expect_status": 200, "expect_json": {"redis": "connected"}},
    {"path": "/api/health/ready", "expect_status": 200, "expect_json": {"ready": True}},
)

DEFAULT_LOAD: dict[str, Any] = {
    "locustfile": str(BUILTIN_LOCUSTFILES / "ready.py"),
    "users": 20,
    "spawn_rate": 5,
    "duration": "5m",
    "thresholds": ["p(95) < 1500ms", "error_rate < 1%"],
    "min_samples": 100,
}
