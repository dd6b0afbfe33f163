"""Verdict signatures: HMAC-SHA256 under a key held in an environment variable.

The ``sha256`` field of a verdict detects accidents (a truncated copy, a stray edit):
anyone can recompute it, so it proves nothing against a deliberate edit. The
``signature`` field proves more: only a holder of the key can make it verify, so a
verdict whose signature verifies was written by a gate run that had the key and was
not changed since. It proves nothing about a run made by someone holding the key.

The key is the value of ``FIXGATE_SIGNING_KEY`` (or of the variable named with
``--gate-sign-key-env`` / ``--sign-key-env``): at least :data:`MIN_KEY_CHARS`
characters, never printed. When a key is configured, the reporter signs every verdict
and ``fixgate tag``, ``attach``, ``show`` and the baseline search refuse a verdict that
is unsigned or whose signature does not verify.

Signed bytes: the verdict without its ``sha256`` and ``signature`` keys, as
``json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` in UTF-8
(the same canonical form the ``sha256`` is taken over).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from typing import Any

from pytest_fixgate.errors import FixgateError

__all__ = [
    "ALGORITHM",
    "DEFAULT_KEY_ENV",
    "MIN_KEY_CHARS",
    "SigningKey",
    "SigningKeyError",
    "canonical_body",
    "sign",
    "signature_problem",
    "signing_key",
]

DEFAULT_KEY_ENV = "FIXGATE_SIGNING_KEY"
ALGORITHM = "HMAC-SHA256"
MIN_KEY_CHARS = 32
_UNSIGNED_KEYS = ("sha256", "signature")


class SigningKeyError(FixgateError):
    """The signing key is configured but unusable (unset, too short); never echoes it."""


class SigningKey:
    """A key and the variable it came from; its repr never shows the key."""

    def __init__(self, env_name: str, value: str) -> None:
        self.env_name = env_name
        self._key = value.encode("utf-8")
        self.value = value  # for the run's redaction only

    @property
    def key_id(self) -> str:
        """Names the key without revealing it (which key signed this verdict?)."""
        return hmac.new(self._key, b"fixgate key id", hashlib.sha256).hexdigest()[:16]

    def mac(self, data: Mapping[str, Any]) -> str:
        return hmac.new(self._key, canonical_body(data), hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return f"SigningKey({self.env_name}, not shown)"


def canonical_body(data: Mapping[str, Any]) -> bytes:
    body = {k: v for k, v in data.items() if k not in _UNSIGNED_KEYS}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signing_key(
    env_name: str | None, environ: Mapping[str, str] | None = None
) -> SigningKey | None:
    """The configured key: the variable ``env_name`` names (it must be set), else
    ``FIXGATE_SIGNING_KEY`` when set; ``None`` when no key is configured."""
    env = os.environ if environ is None else environ
    name = env_name or DEFAULT_KEY_ENV
    value = env.get(name, "")
    if not value:
        if env_name:
            raise SigningKeyError(f"the signing key variable {name} is not set or empty")
        return None
    if len(value) < MIN_KEY_CHARS:
        raise SigningKeyError(
            f"the signing key in {name} is shorter than {MIN_KEY_CHARS} characters "
            "(not shown); make one with `openssl rand -hex 32`"
        )
    return SigningKey(name, value)


def sign(data: dict[str, Any], key: SigningKey) -> dict[str, Any]:
    """``data`` with its ``signature`` set (call before the ``sha256`` is taken or after:
    neither covers the other)."""
    data["signature"] = {"alg": ALGORITHM, "key_id": key.key_id, "value": key.mac(data)}
    return data


def signature_problem(data: Mapping[str, Any], key: SigningKey | None) -> str | None:
    """Why ``data`` fails the signature check under ``key``; None when it passes, or when
    no key is configured (then only the sha256 is checked: accidents, not forgery)."""
    if key is None:
        return None
    sig = data.get("signature")
    if not isinstance(sig, dict) or not sig.get("value"):
        return f"it is not signed, and a signing key is configured ({key.env_name})"
    if sig.get("alg") != ALGORITHM:
        return f"its signature is {str(sig.get('alg'))[:20]!r}, not {ALGORITHM}"
    if sig.get("key_id") != key.key_id:
        return f"it was signed with another key (key id {str(sig.get('key_id'))[:16]})"
    if not hmac.compare_digest(str(sig["value"]), key.mac(data)):
        return f"its {ALGORITHM} signature does not verify (changed after it was signed)"
    return None
