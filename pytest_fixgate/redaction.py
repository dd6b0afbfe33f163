"""Redaction: secret values never reach a report, a log line, an exception or the terminal.

The config names environment variables; their values are the secrets. A
:class:`Redactor` knows those values (and, for URIs, their password and
user parts, plain and percent-encoded) and replaces each with ``***``.
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, unquote, urlsplit

__all__ = ["MASK", "Redactor", "mask_uri_password"]

MASK = "***"


class Redactor:
    """Replaces every known secret value in text and in nested data."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        found: set[str] = set()
        for value in secrets:
            found.update(_variants(value))
        # Longest first, so a URI is masked whole before its password part. No minimum
        # length: a too-short secret garbles the reports, but it never leaks.
        self._secrets = sorted((s for s in found if s), key=len, reverse=True)

    @classmethod
    def from_env(cls, names: Iterable[str], environ: Mapping[str, str] | None = None) -> Redactor:
        env = os.environ if environ is None else environ
        return cls(env[name] for name in names if env.get(name))

    def add(self, secrets: Iterable[str]) -> None:
        """Learn more secret values met during the run (e.g. read from dotenv files);
        everything redacted from now on masks them too."""
        found = set(self._secrets)
        for value in secrets:
            found.update(_variants(value))
        self._secrets = sorted((s for s in found if s), key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def text(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def data(self, value: Any) -> Any:
        """A copy of ``value`` (JSON-like data) with every string redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.data(k): self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value


def _variants(value: str) -> set[str]:
    """The value, and for a URI its password, as they may appear in messages.

    The user name is left alone: it is not a secret and masking it would
    garble ordinary text ("admin" in "/api/admin").
    """
    out = {value, quote(value, safe=""), unquote(value)}
    try:
        parts = urlsplit(value)
    except ValueError:
        return out
    if parts.scheme and parts.netloc and "@" in parts.netloc:
        password = parts.netloc.rsplit("@", 1)[0].partition(":")[2]
        if password:
            out.update({password, unquote(password)})
    # As they stand in HTML a gate attached (a chart, a table): escaped before redaction.
    out.update({html.escape(v) for v in out} | {html.escape(v, quote=False) for v in out})
    return out


def mask_uri_password(uri: str) -> str:
    """``uri`` with the password of its user part masked, for evidence lines."""
    scheme, sep, rest = uri.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in userinfo:
        return uri
    return f"{scheme}{sep}{userinfo.partition(':')[0]}:{MASK}@{host}"
