"""The HTTP probe: one GET, timed, with httpx errors translated in one place."""

from __future__ import annotations

import functools
import json
import ssl
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_fixgate import timing
from pytest_fixgate.errors import ProbeBadResponse, ProbeConnectError, ProbeError, ProbeTimeout
from pytest_fixgate.redaction import Redactor, clip

if TYPE_CHECKING:
    import httpx

__all__ = ["HttpResponse", "http_get", "shared_ssl_context", "translate_errors"]

_BODY_EXCERPT = 300


@dataclass(frozen=True)
class HttpResponse:
    url: str
    status: int
    elapsed_ms: float
    body_text: str  # an excerpt, redacted
    headers: Mapping[str, str]
    _raw: bytes

    def raw_body(self) -> bytes:
        """The whole body as received (never shown as it is: it may hold secrets)."""
        return self._raw

    def json(self) -> Any:
        """The body as JSON, or :class:`ProbeBadResponse` naming what came instead."""
        try:
            return json.loads(self._raw)
        except (ValueError, UnicodeDecodeError):
            ctype = self.headers.get("content-type", "no content-type")
            raise ProbeBadResponse(
                f"{self.url} answered {self.status} with a body that is not JSON "
                f"({ctype}): {self.body_text[:80]!r}",
                target=self.url,
            ) from None


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    """One SSL context for every probe of the run: building one (certifi's CA bundle)
    takes ~80 ms, and httpx would build one per call."""
    # deferred: httpx loads only when a request is made, not at a gate run's start
    import httpx

    return httpx.create_ssl_context()


@contextmanager
def translate_errors(url: str, timeout_s: float, redactor: Redactor) -> Iterator[None]:
    """Map httpx's exceptions to the most specific ProbeError, with redacted text."""
    # deferred: httpx loads only when a request is made, not at a gate run's start
    import httpx

    try:
        yield
    except httpx.TimeoutException as exc:
        raise ProbeTimeout(
            f"{url}: no answer within {timeout_s:g} s ({type(exc).__name__})", target=url
        ) from None
    except httpx.ConnectError as exc:
        raise ProbeConnectError(
            f"{url}: cannot connect ({redactor.text(str(exc)) or type(exc).__name__})",
            target=url,
        ) from None
    except httpx.HTTPError as exc:
        raise ProbeError(
            f"{url}: {type(exc).__name__}: {redactor.text(str(exc))}", target=url
        ) from None


def http_get(
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    timeout_s: float,
    redactor: Redactor | None = None,
    client: httpx.Client | None = None,
) -> HttpResponse:
    """GET ``url`` once; the whole exchange must finish within ``timeout_s``."""
    # deferred: httpx loads only when a request is made, not at a gate run's start
    import httpx  # ~0.1 s to import: only when an HTTP gate runs

    redactor = redactor or Redactor()
    with translate_errors(url, timeout_s, redactor):
        started = timing.perf_counter()
        if client is None:
            response = httpx.get(
                url, headers=dict(headers or {}), timeout=timeout_s, verify=shared_ssl_context()
            )
        else:
            response = client.get(url, headers=dict(headers or {}), timeout=timeout_s)
        elapsed_ms = (timing.perf_counter() - started) * 1000
    raw = response.content
    # Redact, then cut: a secret across the excerpt's end is masked whole, not shown up to
    # the cut. Read enough past the end for the longest secret to lie inside.
    window = raw[: _BODY_EXCERPT + redactor.longest * 4 + 4].decode("utf-8", errors="replace")
    return HttpResponse(
        url=url,
        status=response.status_code,
        elapsed_ms=elapsed_ms,
        body_text=clip(window, _BODY_EXCERPT, redactor, marker=""),
        headers={k.lower(): redactor.text(v) for k, v in response.headers.items()},
        _raw=raw,
    )
