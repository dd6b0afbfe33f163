"""Reading a project's transaction failure rate back from Sentry's Discover API.

The one query, as Sentry documents it::

    GET {base_url}/api/0/organizations/{org}/events/?field=failure_rate()&field=count()
        &project={project id}&environment={env}&statsPeriod={period}&dataset=transactions
    Authorization: Bearer <token>
    -> 200 {"data": [{"failure_rate()": 0.0123, "count()": 1500}], "meta": {...}}

When the configured project is a slug rather than a numeric id, one lookup
comes first: ``GET {base_url}/api/0/projects/{org}/{slug}/`` -> ``{"id": "4505", ...}``.

httpx's exceptions and Sentry's error statuses are translated in one place
(:func:`_get_json`), to the most specific class, each message one sentence:

    ProbeError
    ├── ProbeConnectError        Sentry unreachable
    ├── ProbeTimeout             no answer within the timeout
    ├── ProbeBadResponse         HTTP 200, but not the documented shape
    └── SentryStatusError        any other status than 200 and 429 (``.status``)
        ├── SentryAuthError      401 / 403: the token is invalid or lacks access
        └── SentryNotFound       404: no such organization, project or environment

HTTP 429 is not an error: Sentry answered "not now", and the read returns a
:class:`SentryRateLimited` for the judge (INCONCLUSIVE) instead of a
:class:`SentryErrorRate`. The token travels in the ``Authorization`` header
only; it is never part of a URL, a message, a repr or a result.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from pytest_fixgate.errors import ProbeBadResponse, ProbeConnectError, ProbeError, ProbeTimeout
from pytest_fixgate.measurements.http_probe import shared_ssl_context
from pytest_fixgate.measurements.secrets import read_secret
from pytest_fixgate.measurements.stats import ErrorRate
from pytest_fixgate.redaction import MASK, Redactor

if TYPE_CHECKING:
    import httpx

    from pytest_fixgate.config.schema import EnvConfig
    from pytest_fixgate.measurements.stats import ErrorRate

__all__ = [
    "SentryAuthError",
    "SentryErrorRate",
    "SentryNotFound",
    "SentryQuery",
    "SentryRateLimited",
    "SentryReading",
    "SentryStatusError",
    "read_sentry_error_rate",
    "sentry_query",
    "stats_period",
]

_FAILURE_RATE = "failure_rate()"
_COUNT = "count()"
_NUMERIC_ID = re.compile(r"[0-9]+")
# What an HTTP header value may carry: visible ASCII, no spaces or control characters.
_TOKEN_CHARS = re.compile(r"[\x21-\x7e]+")
_DETAIL_MAX = 160
_BODY_READ = 65_536  # masked whole before an excerpt is cut from it


class SentryStatusError(ProbeError):
    """Sentry answered with an error status (other than 429); ``status`` is the code."""

    def __init__(self, message: str, *, target: str = "", status: int) -> None:
        self.status = status
        super().__init__(message, target=target)


class SentryAuthError(SentryStatusError):
    """Sentry refused the token (401) or its access to the organization or project (403)."""


class SentryNotFound(SentryStatusError):
    """Sentry knows no such organization, project or environment (404)."""


def stats_period(seconds: float) -> str:
    """Sentry's ``statsPeriod`` for a trailing window: ``300`` -> ``"5m"``, ``3600`` -> ``"1h"``.

    The largest unit of d, h, m, s that divides the window; Sentry counts in
    whole seconds, so a fraction rounds up (at least ``"1s"``).
    """
    whole = max(1, math.ceil(seconds))
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"


@dataclass(frozen=True)
class SentryQuery:
    """Everything one read needs: where, which org/project/environment, the window, the token.

    ``project`` is as configured, a slug or a numeric id. ``token_env`` is the
    *name* of the variable the token came from, for messages; the token itself
    is kept out of ``repr`` and equality.
    """

    base_url: str
    org: str
    project: str
    environment: str
    period: str  # Sentry's statsPeriod, e.g. "5m"
    timeout_s: float
    token_env: str
    token: str = field(repr=False, compare=False)

    def __post_init__(self) -> None:
        if not _TOKEN_CHARS.fullmatch(self.token):
            # Not echoed: a header that cannot carry it would put it in httpx's error text.
            raise ProbeError(
                f"the Sentry token in {self.token_env} holds spaces or characters an HTTP "
                "header cannot carry"
            )

    @property
    def project_is_id(self) -> bool:
        """True when the configured project is a numeric id (no lookup needed)."""
        return bool(_NUMERIC_ID.fullmatch(self.project))

    @property
    def project_url(self) -> str:
        """The lookup of a project slug: ``/api/0/projects/{org}/{slug}/``."""
        return (
            f"{self.base_url}/api/0/projects/{quote(self.org, safe='')}/"
            f"{quote(self.project, safe='')}/"
        )

    def events_url(self, project_id: str) -> str:
        """The Discover query for ``project_id`` (the URL sent, without the token)."""
        params = [
            ("field", _FAILURE_RATE),
            ("field", _COUNT),
            ("project", project_id),
            ("environment", self.environment),
            ("statsPeriod", self.period),
            ("dataset", "transactions"),
        ]
        query = urlencode(params, safe="()", quote_via=quote)
        return f"{self.base_url}/api/0/organizations/{quote(self.org, safe='')}/events/?{query}"

    def describe(self, project_id: str | None = None) -> str:
        """How the gate measures, for evidence (the token as ``***``); ``project_id`` is the
        id a slug resolved to, once known."""
        auth = f"with header Authorization: Bearer {MASK}, timeout {self.timeout_s:g} s"
        if self.project_is_id:
            return f"GET {self.events_url(self.project)} {auth}"
        if project_id is None:
            events = self.events_url("0").replace("&project=0&", "&project=<id>&")
            return f"GET {self.project_url} (the project's id), then GET {events} {auth}"
        return (
            f"GET {self.project_url} (id {project_id}), then "
            f"GET {self.events_url(project_id)} {auth}"
        )


def sentry_query(env: EnvConfig, environ: Mapping[str, str] | None = None) -> SentryQuery:
    """The query ``[env.X.sentry]`` describes; the org, project and token are read from the
    variables it names (unset: :class:`~pytest_fixgate.measurements.secrets.MissingSecret`)."""
    sentry = env.section("sentry")
    if sentry is None:
        raise ValueError(f"env.{env.name} has no [sentry] table")
    key = f"env.{env.name}.sentry"
    return SentryQuery(
        base_url=sentry.base_url.rstrip("/"),
        org=read_secret(sentry.org_env, f"{key}.org_env", environ).strip(),
        project=read_secret(sentry.project_env, f"{key}.project_env", environ).strip(),
        environment=sentry.environment or env.name,
        period=stats_period(sentry.period_s),
        timeout_s=sentry.timeout_s,
        token_env=sentry.token_env,
        token=read_secret(sentry.token_env, f"{key}.token_env", environ).strip(),
    )


@dataclass(frozen=True)
class SentryErrorRate:
    """What Sentry answered: the failure rate and count of transactions in the window.

    ``failure_rate`` is Sentry's ``failure_rate()``: the share of transactions
    whose status is not ok, cancelled or unknown. ``project_id`` is the id the
    query used (resolved from the slug when ``project`` is one).
    """

    url: str  # the Discover request, without the token
    org: str
    project: str
    project_id: str
    environment: str
    period: str
    failure_rate: float
    count: int
    method: str = ""  # how it was read, for evidence

    @property
    def failures(self) -> int:
        """Failed transactions: ``round(failure_rate * count)``."""
        return min(self.count, max(0, round(self.failure_rate * self.count)))

    def error_rate(self, confidence: float = 0.95) -> ErrorRate:
        """The failure proportion with its Wilson score interval."""
        return ErrorRate.from_counts(self.failures, self.count, confidence)

    def details(self) -> dict[str, Any]:
        """JSON-ready evidence details."""
        return {
            "org": self.org,
            "project": self.project,
            "project_id": self.project_id,
            "environment": self.environment,
            "period": self.period,
            "failure_rate": self.failure_rate,
            "count": self.count,
        }


@dataclass(frozen=True)
class SentryRateLimited:
    """Sentry answered HTTP 429: no figures this time. ``retry_after`` is its header, as sent."""

    url: str
    retry_after: str | None
    method: str = ""

    def details(self) -> dict[str, Any]:
        return {"status": 429, "url": self.url, "retry_after": self.retry_after}


#: What one read ends in (errors are raised).
SentryReading = SentryErrorRate | SentryRateLimited


class _RateLimited(Exception):
    def __init__(self, url: str, retry_after: str | None) -> None:
        super().__init__(url)
        self.url = url
        self.retry_after = retry_after


def read_sentry_error_rate(
    query: SentryQuery, *, client: httpx.Client | None = None
) -> SentryReading:
    """Resolve the project (when a slug) and read its failure rate and count.

    Raises a :class:`~pytest_fixgate.errors.ProbeError` when Sentry cannot be
    read; returns :class:`SentryRateLimited` on HTTP 429.
    """
    if client is None:
        # deferred: httpx loads only when a request is made, not at a gate run's start
        import httpx  # ~0.1 s to import: only when a Sentry gate runs

        with httpx.Client(follow_redirects=False, verify=shared_ssl_context()) as own:
            return read_sentry_error_rate(query, client=own)
    # The plugin masks the token too; this read does not rely on it.
    redactor = Redactor([query.token])
    try:
        project_id = (
            query.project if query.project_is_id else _resolve_project(client, query, redactor)
        )
        url = query.events_url(project_id)
        subject = (
            f"organization {query.org!r}, project {project_id} or environment {query.environment!r}"
        )
        body = _get_json(client, query, url, subject, redactor)
    except _RateLimited as limited:
        return SentryRateLimited(limited.url, limited.retry_after, method=query.describe())
    failure_rate, count = _parse_events(body, url, redactor)
    return SentryErrorRate(
        url=url,
        org=query.org,
        project=query.project,
        project_id=project_id,
        environment=query.environment,
        period=query.period,
        failure_rate=failure_rate,
        count=count,
        method=query.describe(project_id),
    )


def _resolve_project(client: httpx.Client, query: SentryQuery, redactor: Redactor) -> str:
    url = query.project_url
    subject = f"project {query.project!r} in organization {query.org!r}"
    body = _get_json(client, query, url, subject, redactor)
    project_id = body.get("id") if isinstance(body, dict) else None
    if isinstance(project_id, int) and not isinstance(project_id, bool) and project_id >= 0:
        project_id = str(project_id)
    if not isinstance(project_id, str) or not _NUMERIC_ID.fullmatch(project_id):
        raise ProbeBadResponse(
            f"Sentry's project lookup {url} answered without a numeric 'id' "
            f"(got {_excerpt(project_id, redactor)})",
            target=url,
        )
    return project_id


@contextmanager
def _translate(url: str, query: SentryQuery, redactor: Redactor) -> Iterator[None]:
    """httpx's exceptions -> the most specific ProbeError, with the token masked."""
    # deferred: httpx loads only when a request is made, not at a gate run's start
    import httpx

    try:
        yield
    except httpx.TimeoutException as exc:
        raise ProbeTimeout(
            f"Sentry at {url} gave no answer within {query.timeout_s:g} s ({type(exc).__name__})",
            target=url,
        ) from None
    except httpx.ConnectError as exc:
        raise ProbeConnectError(
            f"cannot connect to Sentry at {url} "
            f"({_clip(redactor.text(str(exc))) or type(exc).__name__})",
            target=url,
        ) from None
    except httpx.HTTPError as exc:
        raise ProbeError(
            f"Sentry at {url} broke off the exchange "
            f"({type(exc).__name__}: {_clip(redactor.text(str(exc)))})",
            target=url,
        ) from None


def _get_json(
    client: httpx.Client, query: SentryQuery, url: str, subject: str, redactor: Redactor
) -> Any:
    """GET ``url`` with the token: the body as JSON on 200, else the error its status means.

    The one place where statuses become outcomes; ``subject`` names what a
    404 says is missing.
    """
    with _translate(url, query, redactor):
        response = client.get(
            url,
            headers={"Authorization": f"Bearer {query.token}", "Accept": "application/json"},
            timeout=query.timeout_s,
        )
        raw = response.content
    status = response.status_code
    if status == 200:
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            ctype = response.headers.get("content-type", "no content-type")
            raise ProbeBadResponse(
                f"Sentry answered {url} with a body that is not JSON "
                f"({_clip(redactor.text(ctype))}): {_body_text(raw, redactor)!r}",
                target=url,
            ) from None
    if status == 429:
        retry_after = response.headers.get("retry-after")
        raise _RateLimited(url, _clip(redactor.text(retry_after)) if retry_after else None)
    detail = _detail(raw, redactor)
    said = f"{url} answered HTTP {status}" + (f" ({detail})" if detail else "")
    if status == 401:
        message = f"Sentry rejected the token in {query.token_env}: {said}"
        raise SentryAuthError(message, target=url, status=status)
    if status == 403:
        message = (
            f"Sentry refused the token in {query.token_env} access to {subject} (check its "
            f"scopes, org:read and project:read, and its teams): {said}"
        )
        raise SentryAuthError(message, target=url, status=status)
    if status == 404:
        raise SentryNotFound(f"Sentry knows no {subject}: {said}", target=url, status=status)
    if status >= 500:
        raise SentryStatusError(f"Sentry failed: {said}", target=url, status=status)
    message = f"Sentry did not answer the query: {said}, expected HTTP 200"
    raise SentryStatusError(message, target=url, status=status)


def _parse_events(body: Any, url: str, redactor: Redactor) -> tuple[float, int]:
    """``(failure_rate, count)`` from a Discover table answer, or ProbeBadResponse."""

    def bad(why: str) -> ProbeBadResponse:
        return ProbeBadResponse(
            f"Sentry's answer to {url} is not the documented events table: {why}", target=url
        )

    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise bad(f"expected an object with a 'data' list, got {_excerpt(body, redactor)}")
    rows = body["data"]
    if not rows:
        return 0.0, 0  # an empty window
    if len(rows) != 1 or not isinstance(rows[0], dict):
        raise bad(f"expected one row in 'data', got {_excerpt(rows, redactor)}")
    row = rows[0]
    count = row.get(_COUNT)
    if isinstance(count, float) and count.is_integer():
        count = int(count)
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise bad(f"'{_COUNT}' is {_excerpt(count, redactor)}, expected a non-negative integer")
    rate = row.get(_FAILURE_RATE)
    if rate is None and count == 0 and _FAILURE_RATE in row:
        rate = 0.0  # no transactions: nothing to divide
    if (
        isinstance(rate, bool)
        or not isinstance(rate, int | float)
        or not math.isfinite(rate)
        or not 0 <= rate <= 1
    ):
        raise bad(
            f"'{_FAILURE_RATE}' is {_excerpt(rate, redactor)}, expected a proportion in [0, 1]"
        )
    return float(rate), count


# Excerpts are masked whole, then cut: a cut first could leave half a token unmasked.


def _detail(raw: bytes, redactor: Redactor) -> str:
    """Sentry's ``{"detail": ...}`` of an error answer, else an excerpt of the body."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return _body_text(raw, redactor)
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return _clip(redactor.text(" ".join(body["detail"].split())))
    return _body_text(raw, redactor)


def _body_text(raw: bytes, redactor: Redactor) -> str:
    text = raw[:_BODY_READ].decode("utf-8", errors="replace")
    return _clip(" ".join(redactor.text(text).split()))


def _excerpt(value: Any, redactor: Redactor) -> str:
    return _clip(redactor.text(repr(value)), 60)


def _clip(text: str, limit: int = _DETAIL_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
