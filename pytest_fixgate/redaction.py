"""Redaction: secret values never reach a report, a log line, an exception or the terminal.

The config names environment variables; their values are the secrets. A
:class:`Redactor` knows those values (and, for URIs, their password and
user parts, plain and percent-encoded; for a multi-line value such as a PEM
key, each of its lines, since process output is redacted line by line) and
replaces each with ``***``.

Two rules keep the reports readable without letting a secret through:

- values *found* in files (a dotenv file's every value) are masked only when
  they can be secrets: :func:`maskable_values` skips values shorter than
  :data:`MIN_FOUND` characters and common words (:data:`COMMON_WORDS`: the
  outcome and decision words, log levels, switches, environment names).
  Values *named* as secrets (``token_env``, ``secret_env``, ...) are always
  masked, whatever they are;
- the verdict's structure (:data:`STRUCTURAL_KEYS`: outcome, decision, ids,
  severity, the counts' outcome keys) is never redacted: those fields hold
  only the fixed vocabulary or config ids, never a value read at run time.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, unquote, urlsplit

__all__ = [
    "COMMON_WORDS",
    "MASK",
    "MIN_FOUND",
    "STRUCTURAL_KEYS",
    "Redactor",
    "clip",
    "mask_uri_password",
    "maskable_values",
]

MASK = "***"

#: Values found in files shorter than this are not masked ("1", "dev"): masking them
#: would garble every report and hides nothing.
MIN_FOUND = 4
#: A line of a multi-line secret shorter than this is not masked on its own (a PEM's
#: blank line or its last few base64 characters); the whole value still is.
MIN_LINE = 4

#: Words that are never a secret when found in a file (compared case-insensitively):
#: the verdict's own vocabulary, log levels, switches and environment names.
COMMON_WORDS = frozenset(
    {
        # outcomes, decisions, severities
        "pass", "warn", "inconclusive", "fail", "error", "promote", "hold", "rollback",
        "critical", "major", "minor", "skipped", "passed", "failed",
        # log levels
        "trace", "debug", "info", "notice", "warning", "fatal", "silent", "verbose", "none",
        "null", "undefined",
        # switches
        "true", "false", "yes", "no", "on", "off", "enabled", "disabled",
        # environments
        "production", "prod", "staging", "stage", "development", "dev", "test", "testing",
        "preview", "local",
        # a payment provider's modes (Tap's TAP_ENVIRONMENT: test or live)
        "live", "sandbox",
    }
)  # fmt: skip

#: Keys of the verdict (and of a gate's entry) whose values are never redacted: the fixed
#: vocabulary and config-given ids, which no run-time value ever reaches.
STRUCTURAL_KEYS = frozenset(
    {"schema", "outcome", "decision", "mode", "severity", "required", "id", "nodeid", "env"}
)
_OUTCOME_KEYS = frozenset({"PASS", "WARN", "INCONCLUSIVE", "FAIL", "ERROR"})


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

    @property
    def longest(self) -> int:
        """The length of the longest text it masks (to read enough before cutting)."""
        return len(self._secrets[0]) if self._secrets else 0

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def text(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def data(self, value: Any) -> Any:
        """A copy of ``value`` (JSON-like data) with every string redacted, but for the
        structure (:data:`STRUCTURAL_KEYS`, outcome words as keys): a secret equal to
        "FAIL" must not turn an outcome into ``***``."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {
                (k if k in _OUTCOME_KEYS else self.data(k)): (
                    v if k in STRUCTURAL_KEYS and isinstance(v, str | bool) else self.data(v)
                )
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value


#: Characters a token, key or password is made of: a cut inside a run of them would show
#: the secret's prefix, which no redactor recognises any more.
_TOKEN_RUN = re.compile(r"[A-Za-z0-9_\-+/=.%~]+$")


def clip(text: str, limit: int, redactor: Redactor | None = None, *, marker: str = "...") -> str:
    """``text`` cut to at most ``limit`` characters, *after* redaction, and never inside a
    word: a cut that falls inside a run of token characters drops the whole run, so even
    a secret no redactor knows (a token in a response body) shows no prefix. Every
    excerpt of text that may hold a secret is cut with this, never with ``text[:n]``."""
    if redactor is not None:
        text = redactor.text(text)
    if len(text) <= limit:
        return text
    keep = max(limit - len(marker), 0)
    head = text[:keep]
    if keep < len(text) and _TOKEN_RUN.search(text[keep]) and (run := _TOKEN_RUN.search(head)):
        head = head[: run.start()]
    return head + marker


def maskable_values(values: Iterable[str], public: Iterable[str] = ()) -> tuple[list[str], int]:
    """The values found in a file that are worth masking, and how many were not: shorter
    than :data:`MIN_FOUND` characters, a :data:`COMMON_WORDS` word, or one of ``public``
    (listed placeholders, environment names). Compared stripped and case-insensitively."""
    skip = COMMON_WORDS | {p.strip().lower() for p in public}
    out: list[str] = []
    skipped = 0
    for value in values:
        text = value.strip()
        if not text:
            continue
        if len(text) < MIN_FOUND or text.lower() in skip:
            skipped += 1
            continue
        out.append(value)
    return out, skipped


def _variants(value: str) -> set[str]:
    """The value, and for a URI its password, as they may appear in messages.

    The user name is left alone: it is not a secret and masking it would
    garble ordinary text ("admin" in "/api/admin").
    """
    out = {value, quote(value, safe=""), unquote(value)}
    if "\n" in value or "\r" in value:
        # Process output is redacted line by line: each line of a PEM key, stripped.
        out.update(line.strip() for line in value.splitlines() if len(line.strip()) >= MIN_LINE)
    if value.strip() != value:
        out.add(value.strip())
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
