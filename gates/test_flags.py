"""Runbook, "Promotion checklist": feature flags match the intended rollout
(``lib/feature-flags.ts`` + env overrides). The live flags are read (GET only,
never PUT or PATCH), the ``FEATURE_*`` overrides applied the way the application
applies them, and the result compared with [env.X.flags].intended."""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest

from pytest_fixgate.kinds.flags.judge import judge_flags_overrides, judge_flags_rollout
from pytest_fixgate.kinds.flags.measurement import (
    FlagsRateLimited,
    LiveFlags,
    Override,
    flags_request,
    read_live_flags,
    read_overrides,
)

Reading = tuple[LiveFlags | FlagsRateLimited, list[Override]]


@pytest.fixture(scope="module")
def flags_reading(gate_env, gate_redactor) -> Callable[[], Reading]:
    """One GET and one read of the override sources for both flag gates; a failed read
    is not cached: it raises again in each gate, so each ends in ERROR."""

    def read() -> Reading:
        config = gate_env.section("flags")
        # Overrides first: their values join the redaction before any answer is shown.
        overrides = read_overrides(config, gate_redactor)
        request = flags_request(config, gate_env.base_url)
        env_key = {"bearer": "token_env", "header": "header_env", "cookie": "cookie_env"}
        key = f"env.{gate_env.name}.flags.{env_key[config.auth.mode]}"
        return read_live_flags(request, gate_redactor, key=key), overrides

    return functools.cache(read)


@pytest.mark.gate(
    id="flags.{flags_check}",
    title="Feature flags match the intended rollout",
    severity="critical",
    needs="flags",
)
def test_flags(gate, gate_env, flags_reading, flags_check):
    config = gate_env.section("flags")
    request = flags_request(config, gate_env.base_url)
    sources = ", ".join(config.env_sources) or "none"
    method = (
        f"{request.description}; {config.override_prefix}* overrides from {sources} "
        f"(name: {config.override_case}-case, '_' -> '{config.override_separator}'; "
        f"on when the value is {' or '.join(config.override_true)}, any case)"
    )
    gate.measuring(method)
    live, overrides = flags_reading()
    judge = judge_flags_rollout if flags_check == "rollout" else judge_flags_overrides
    gate.record(judge(config, live, overrides, method))
