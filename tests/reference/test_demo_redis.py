"""`fixgate demo --redis-url`: the demo uses a Redis you already run, and installs nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from pytest_fixgate import demo
from pytest_fixgate.reference import free_port


def test_demo_stack_uses_the_given_redis_and_starts_none(
    monkeypatch: pytest.MonkeyPatch, redis_srv: Any
) -> None:
    import pytest_fixgate.reference as reference

    def no_redis_server(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("redis-server must not be started with --redis-url")

    monkeypatch.setattr(reference, "redis_server", no_redis_server)
    with demo.demo_stack(demo.FAULTS["none"], redis_srv.url) as (base_url, env):
        assert env[demo.REDIS_URL_ENV] == redis_srv.url
        token = {"X-Health-Token": env[demo.HEALTH_TOKEN_ENV]}
        answer = httpx.get(base_url + "/api/health/redis", headers=token, timeout=5)
        assert answer.status_code == 200 and answer.json()["redis"] == "connected"


def test_demo_with_an_unreachable_redis_url_stops_in_one_line(tmp_path: Path) -> None:
    url = f"redis://gate:pw-Planted7@127.0.0.1:{free_port()}/0"
    done = subprocess.run(
        [sys.executable, "-m", "pytest_fixgate.cli", "demo", "--redis-url", url],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 3, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fixgate demo: --redis-url: the Redis at ")
    assert "did not answer PING" in lines[0]
    assert "pw-Planted7" not in done.stdout + done.stderr
    assert "installing redis-server" not in done.stdout
