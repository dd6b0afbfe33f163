"""Judging a health endpoint's answer against what the config expects."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pytest_fixgate.kinds.health.config import HealthCheck
from pytest_fixgate.measurements.http_probe import HttpResponse
from pytest_fixgate.outcomes.model import Evidence, Finding, Outcome
from pytest_fixgate.redaction import clip

__all__ = ["json_mismatches", "judge_health"]

_MISSING = object()


def json_mismatches(expected: Mapping[str, Any], actual: Any, prefix: str = "") -> list[str]:
    """Where ``actual`` differs from the nested subset ``expected`` (one line each).

    A table in ``expected`` matches an object with at least those keys; other
    values must be equal, and a boolean only ever equals a boolean.
    """
    if not isinstance(actual, Mapping):
        return [f"{prefix or 'body'} is {_short(actual)}, expected an object"]
    problems: list[str] = []
    for key, want in expected.items():
        path = f"{prefix}.{key}" if prefix else key
        got = actual.get(key, _MISSING)
        if got is _MISSING:
            problems.append(f"{path} is missing, expected {_short(want)}")
        elif isinstance(want, Mapping):
            problems += json_mismatches(want, got, path)
        elif got != want or isinstance(got, bool) != isinstance(want, bool):
            problems.append(f"{path} is {_short(got)}, expected {_short(want)}")
    return problems


def _short(value: Any) -> str:
    text = json.dumps(value, default=str) if value is not _MISSING else "missing"
    # Never a plain text[:57]: the value may hold a secret, redacted only later.
    return clip(text, 60)


def expected_text(check: HealthCheck) -> str:
    """The check's expectation as the evidence shows it: ``HTTP 200 with JSON ⊇ {...}``."""
    text = f"HTTP {check.expect_status}"
    if check.expect_json:
        text += f" with JSON ⊇ {json.dumps(check.expect_json, default=str)}"
    return text


def judge_health(check: HealthCheck, response: HttpResponse) -> Finding:
    """PASS when the status and the JSON subset match; 429 is INCONCLUSIVE, never a pass.

    A body that is not JSON raises :class:`ProbeBadResponse` (the gate ERRORs).
    """
    details: dict[str, Any] = {
        "status": response.status,
        "elapsed_ms": round(response.elapsed_ms, 1),
        "body_excerpt": response.body_text,
    }
    threshold = expected_text(check)
    if response.status == 429:
        retry = response.headers.get("retry-after")
        return Finding(
            Outcome.INCONCLUSIVE,
            Evidence(
                reason="rate-limited (HTTP 429): the target refused to answer, so its health "
                f"is unknown{f'; Retry-After {retry}' if retry else ''}; probe less often",
                measured="HTTP 429",
                threshold=threshold,
                samples=1,
                details=details,
            ),
        )
    if response.status != check.expect_status:
        return Finding(
            Outcome.FAIL,
            Evidence(
                reason=f"answered HTTP {response.status}, expected {check.expect_status}",
                measured=f"HTTP {response.status}",
                threshold=threshold,
                samples=1,
                details=details,
            ),
        )
    if check.expect_json is not None:
        problems = json_mismatches(check.expect_json, response.json())
        if problems:
            return Finding(
                Outcome.FAIL,
                Evidence(
                    reason="body does not match: " + "; ".join(problems),
                    measured=f"HTTP {response.status}, {problems[0]}",
                    threshold=threshold,
                    samples=1,
                    details={**details, "mismatches": problems},
                ),
            )
    return Finding(
        Outcome.PASS,
        Evidence(
            reason=f"answered HTTP {response.status}"
            f"{' with the expected JSON' if check.expect_json else ''} "
            f"in {response.elapsed_ms:.0f} ms",
            measured=f"HTTP {response.status} in {response.elapsed_ms:.0f} ms",
            threshold=threshold,
            samples=1,
            details=details,
        ),
    )
