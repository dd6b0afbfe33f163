"""Reading feature flags: the live endpoint (one GET, never a write) and the ``FEATURE_*``
overrides of the environment's sources.

The live answer may come in any of the shapes the runbook and the real
application use::

    {"flags": [{"id": "ui.new_dashboard", "enabled": false, ...}], ...}   the application
    {"features": [{"feature": "new_dashboard", "enabled": false}], ...}   the runbook's service
    [{"feature": "new_dashboard", "enabled": false}, ...]                 a bare list
    {"new_dashboard": false, "work_order_export": true}                   an object of flags

Anything else is :class:`~pytest_fixgate.errors.ProbeBadResponse` (ERROR).
HTTP 401/403 is an ERROR naming the token variable; 429 is a reading of its
own (:class:`FlagsRateLimited`), judged INCONCLUSIVE.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pytest_fixgate.config.flags import FlagsConfig
from pytest_fixgate.errors import ProbeBadResponse, ProbeError
from pytest_fixgate.measurements.dotenv import PROCESS_SOURCE, read_source
from pytest_fixgate.measurements.http_probe import http_get
from pytest_fixgate.measurements.secrets import read_secret
from pytest_fixgate.measurements.secrets_parity import redactable_values
from pytest_fixgate.redaction import MASK, Redactor

__all__ = [
    "FlagsRateLimited",
    "FlagsRequest",
    "LiveFlags",
    "Override",
    "flags_request",
    "parse_flags_body",
    "read_live_flags",
    "read_overrides",
]

_ID_KEYS = ("id", "feature", "name", "key")


@dataclass(frozen=True)
class FlagsRequest:
    url: str
    token_env: str
    timeout_s: float

    @property
    def description(self) -> str:
        return f"GET {self.url} with Authorization: Bearer {MASK} (${self.token_env}), read only"


@dataclass(frozen=True)
class LiveFlags:
    """What the service says each flag is."""

    url: str
    status: int
    shape: str  # which of the known shapes the answer had
    flags: Mapping[str, bool]


@dataclass(frozen=True)
class FlagsRateLimited:
    url: str
    retry_after: str | None


@dataclass(frozen=True)
class Override:
    """One ``FEATURE_*`` variable: the flag id it maps to and what it sets (not its text)."""

    variable: str
    source: str
    flag: str
    enabled: bool


def flags_request(config: FlagsConfig, base_url: str) -> FlagsRequest:
    base = (config.base_url or base_url).rstrip("/")
    return FlagsRequest(f"{base}{config.endpoint}", config.token_env, config.timeout_s)


def read_live_flags(
    request: FlagsRequest, redactor: Redactor, *, key: str
) -> LiveFlags | FlagsRateLimited:
    """GET the flags; ``key`` is the config key naming the token variable (for errors)."""
    token = read_secret(request.token_env, key)
    response = http_get(
        request.url,
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        timeout_s=request.timeout_s,
        redactor=redactor,
    )
    if response.status == 429:
        return FlagsRateLimited(request.url, response.headers.get("retry-after"))
    if response.status in (401, 403):
        raise ProbeError(
            f"{request.url} refused the token in ${request.token_env} (named by {key}): "
            f"HTTP {response.status}; check that variable holds an admin token",
            target=request.url,
        )
    if response.status != 200:
        raise ProbeBadResponse(
            f"{request.url} answered HTTP {response.status}: {response.body_text[:120]!r}",
            target=request.url,
        )
    shape, flags = parse_flags_body(response.json(), request.url)
    return LiveFlags(request.url, response.status, shape, flags)


def _from_list(items: list[Any], url: str) -> dict[str, bool]:
    out: dict[str, bool] = {}
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ProbeBadResponse(f"{url}: flag entry {i} is not an object", target=url)
        flag_id = next((item[k] for k in _ID_KEYS if isinstance(item.get(k), str)), None)
        enabled = item.get("enabled")
        if flag_id is None or not isinstance(enabled, bool):
            raise ProbeBadResponse(
                f"{url}: flag entry {i} has no string id/feature or no boolean enabled",
                target=url,
            )
        out[flag_id] = enabled
    return out


def parse_flags_body(body: Any, url: str) -> tuple[str, dict[str, bool]]:
    """(shape, flag -> enabled) from any known answer shape; ProbeBadResponse otherwise."""
    if isinstance(body, list):
        return "[{feature, enabled}]", _from_list(body, url)
    if isinstance(body, dict):
        for key in ("flags", "features"):
            if isinstance(body.get(key), list):
                return f"{{{key}: [...]}}", _from_list(body[key], url)
        if body and all(isinstance(v, bool) for v in body.values()):
            return "{flag: enabled}", {str(k): v for k, v in body.items()}
    raise ProbeBadResponse(
        f"{url}: not a flags answer (expected {{flags: [{{id, enabled}}]}}, "
        "{features: [{feature, enabled}]}, a list of those, or {flag: true|false})",
        target=url,
    )


def read_overrides(
    config: FlagsConfig, redactor: Redactor, environ: Mapping[str, str] | None = None
) -> list[Override]:
    """Every override variable of ``env_sources`` (a later source wins for the same name).

    Only the prefixed variables are kept. A dotenv file's values all join the
    redaction (but for switches such as "true"): the file holds secrets too; of
    this job's environment ("process:") only the prefixed ones do."""
    found: dict[str, Override] = {}
    for spec in config.env_sources:
        source = read_source(spec, config.base_dir, environ)
        picked = {k: v for k, v in source.values.items() if k.startswith(config.override_prefix)}
        seen = picked if spec == PROCESS_SOURCE else source.values
        redactor.add(redactable_values(seen.values(), (), ()))
        for variable, value in sorted(picked.items()):
            found[variable] = Override(
                variable, spec, config.flag_id(variable), config.override_value(value)
            )
    return [found[k] for k in sorted(found)]
