"""Reading feature flags: the live endpoint (one GET, never a write) and the ``FEATURE_*``
overrides of the environment's sources.

The live answer may come in any of the shapes the runbook and the real
application use::

    {"flags": [{"id": "ui.new_dashboard", "enabled": false, ...}], ...}   the application
    {"features": [{"feature": "new_dashboard", "enabled": false}], ...}   the runbook's service
    [{"feature": "new_dashboard", "enabled": false}, ...]                 a bare list
    {"new_dashboard": false, "work_order_export": true}                   an object of flags

    {"features": {"new_dashboard": false, ...}}                         a map under a key

or wherever ``flags_path``/``id_key``/``enabled_key`` say (a list of objects, or
a map of id -> boolean or -> object). Anything else is
:class:`~pytest_fixgate.errors.ProbeBadResponse` (ERROR), and so is an answer
naming one flag twice with different states (the application's ``find()``
would see the first, a map the last: ambiguous). HTTP 401/403 is an ERROR
naming the credential's variable; 429 is a reading of its own
(:class:`FlagsRateLimited`), judged INCONCLUSIVE. A redirect is never
followed (the credential would go with it): ERROR naming where it pointed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from pytest_fixgate.errors import ProbeBadResponse, ProbeError
from pytest_fixgate.kinds.flags.config import FlagsAuth, FlagsConfig, FlagsShape
from pytest_fixgate.kinds.secrets_parity.measurement import redactable_values
from pytest_fixgate.measurements.dotenv import PROCESS_SOURCE, read_source
from pytest_fixgate.measurements.http_probe import HttpResponse, http_get
from pytest_fixgate.measurements.secrets import read_secret
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


# RFC 6265 cookie-octets: a value with ";", "," or a space would add cookies of its own.
_COOKIE_VALUE = re.compile(r"^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]+$")


@dataclass(frozen=True)
class FlagsRequest:
    url: str
    auth: FlagsAuth
    timeout_s: float
    shape: FlagsShape = field(default_factory=FlagsShape)

    @property
    def token_env(self) -> str:
        return self.auth.env

    @property
    def description(self) -> str:
        return f"GET {self.url} with {self.auth.describe(MASK)}, read only, no redirect followed"


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
    # For a variable declared in ``direct`` with a flag: the state its direct reader gives it.
    direct_state: bool | None = None


def flags_request(config: FlagsConfig, base_url: str) -> FlagsRequest:
    base = (config.base_url or base_url).rstrip("/")
    return FlagsRequest(f"{base}{config.endpoint}", config.auth, config.timeout_s, config.shape)


def _auth_headers(auth: FlagsAuth, key: str) -> dict[str, str]:
    value = read_secret(auth.env, key)
    if any(c in value for c in "\r\n\x00"):
        raise ProbeError(f"${auth.env} (named by {key}) holds a line break: not a credential")
    if auth.mode == "bearer":
        return {"Authorization": f"Bearer {value}"}
    if auth.mode == "header":
        return {auth.name: value}
    if not _COOKIE_VALUE.match(value):
        raise ProbeError(
            f"${auth.env} (named by {key}) is not a cookie value (a space, quote, comma, "
            "semicolon or backslash in it); the value is not shown"
        )
    return {"Cookie": f"{auth.name}={value}"}


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or ''}"


def read_live_flags(
    request: FlagsRequest, redactor: Redactor, *, key: str
) -> LiveFlags | FlagsRateLimited:
    """GET the flags; ``key`` is the config key naming the credential's variable (for errors).

    No redirect is followed, to the same origin or another: the credential is sent to
    the configured URL only, and a 3xx is an ERROR naming where it pointed."""
    headers = {**_auth_headers(request.auth, key), "Accept": "application/json"}
    response = http_get(
        request.url, headers=headers, timeout_s=request.timeout_s, redactor=redactor
    )
    if response.status == 429:
        return FlagsRateLimited(request.url, response.headers.get("retry-after"))
    if response.status in (401, 403):
        what = {"bearer": "an admin token", "header": "the header's value"}.get(
            request.auth.mode, f"a session of an admin ({request.auth.name})"
        )
        raise ProbeError(
            f"{request.url} refused the credential in ${request.token_env} (named by {key}): "
            f"HTTP {response.status}; check that variable holds {what}",
            target=request.url,
        )
    if 300 <= response.status < 400:
        location = response.headers.get("location", "")
        target = urljoin(request.url, location) if location else "nowhere (no Location)"
        where = (
            "the same origin"
            if location and _origin(target) == _origin(request.url)
            else "another origin"
        )
        raise ProbeBadResponse(
            f"{request.url} answered HTTP {response.status}, a redirect to {where} "
            f"({target[:200]}); the flags gate follows no redirect, so the credential never "
            "leaves the configured URL: set base_url/endpoint to the final address",
            target=request.url,
        )
    if response.status != 200:
        raise ProbeBadResponse(
            f"{request.url} answered HTTP {response.status}: {response.body_text[:120]!r}",
            target=request.url,
        )
    body = _json_once(response)
    shape, flags = parse_flags_body(body, request.url, request.shape)
    return LiveFlags(request.url, response.status, shape, flags)


class _DuplicateKey(ValueError):
    pass


def _no_conflicting_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out and out[key] != value:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _json_once(response: HttpResponse) -> Any:
    """The answer as JSON, where an object naming one key twice with different values is
    ambiguous (JSON readers disagree on which one wins): ProbeBadResponse."""
    url = response.url
    try:
        return json.loads(response.raw_body(), object_pairs_hook=_no_conflicting_keys)
    except _DuplicateKey as exc:
        raise ProbeBadResponse(
            f"{url}: the answer names key {str(exc)[:80]!r} twice with different values "
            "(ambiguous: which one the application sees depends on the reader)",
            target=url,
        ) from None
    except (ValueError, UnicodeDecodeError):
        return response.json()  # raises the probe's own "not JSON" error


def _add(
    out: dict[str, bool], first: dict[str, int], flag_id: str, enabled: bool, i: int, url: str
) -> None:
    if flag_id in out and out[flag_id] != enabled:
        raise ProbeBadResponse(
            f"{url}: flag {flag_id[:80]!r} is named twice with different states (entries "
            f"{first[flag_id]} and {i}): an ambiguous answer, nothing judged",
            target=url,
        )
    out[flag_id] = enabled
    first.setdefault(flag_id, i)


def _from_list(
    items: list[Any], url: str, id_keys: tuple[str, ...] = _ID_KEYS, enabled_key: str = "enabled"
) -> dict[str, bool]:
    out: dict[str, bool] = {}
    first: dict[str, int] = {}
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ProbeBadResponse(f"{url}: flag entry {i} is not an object", target=url)
        flag_id = next((item[k] for k in id_keys if isinstance(item.get(k), str)), None)
        enabled = item.get(enabled_key)
        if flag_id is None or not isinstance(enabled, bool):
            raise ProbeBadResponse(
                f"{url}: flag entry {i} has no string {'/'.join(id_keys)} or no boolean "
                f"{enabled_key}",
                target=url,
            )
        _add(out, first, flag_id, enabled, i, url)
    return out


def _from_map(found: dict[str, Any], url: str, enabled_key: str) -> dict[str, bool]:
    out: dict[str, bool] = {}
    for flag_id, value in found.items():
        state = value.get(enabled_key) if isinstance(value, dict) else value
        if not isinstance(state, bool):
            raise ProbeBadResponse(
                f"{url}: flag {flag_id[:80]!r} is neither true/false nor an object with a "
                f"boolean {enabled_key}",
                target=url,
            )
        out[str(flag_id)] = state
    return out


def _configured(body: Any, url: str, shape: FlagsShape) -> tuple[str, dict[str, bool]]:
    found = body
    walked: list[str] = []
    for part in (shape.path or "").split(".") if shape.path else ():
        walked.append(part)
        if not isinstance(found, dict) or part not in found:
            raise ProbeBadResponse(
                f"{url}: the answer has no {'.'.join(walked)} (flags_path = {shape.path!r})",
                target=url,
            )
        found = found[part]
    where = shape.path or "the answer"
    if isinstance(found, list):
        flags = _from_list(found, url, (shape.id_key,), shape.enabled_key)
        return f"{where}: [{{{shape.id_key}, {shape.enabled_key}}}]", flags
    if isinstance(found, dict) and found:
        return f"{where}: {{id: {shape.enabled_key}}}", _from_map(found, url, shape.enabled_key)
    raise ProbeBadResponse(
        f"{url}: {where} is neither a list of flags nor a non-empty map of flags "
        f"(flags_path = {shape.path!r})",
        target=url,
    )


def parse_flags_body(
    body: Any, url: str, shape: FlagsShape | None = None
) -> tuple[str, dict[str, bool]]:
    """(shape, flag -> enabled) from the configured shape, or any known answer shape when
    none is configured; ProbeBadResponse otherwise."""
    if shape is not None and shape.configured:
        return _configured(body, url, shape)
    if isinstance(body, list):
        return "[{feature, enabled}]", _from_list(body, url)
    if isinstance(body, dict):
        for key in ("flags", "features"):
            if isinstance(body.get(key), list):
                return f"{{{key}: [...]}}", _from_list(body[key], url)
            value = body.get(key)
            if (
                isinstance(value, dict)
                and value
                and all(isinstance(v, bool) for v in value.values())
            ):
                return f"{{{key}: {{flag: enabled}}}}", dict(value)
        if body and all(isinstance(v, bool) for v in body.values()):
            return "{flag: enabled}", {str(k): v for k, v in body.items()}
    raise ProbeBadResponse(
        f"{url}: not a flags answer (expected {{flags: [{{id, enabled}}]}}, "
        "{features: [{feature, enabled}]}, {features: {flag: true|false}}, a list of "
        "those, or {flag: true|false}; set flags_path, id_key and enabled_key for another)",
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
            direct = config.direct.get(variable)
            found[variable] = Override(
                variable,
                spec,
                config.flag_id(variable),
                config.override_value(value),
                direct.state(value) if direct is not None and direct.flag else None,
            )
    return [found[k] for k in sorted(found)]
