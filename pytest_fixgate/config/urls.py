"""The one validator of every URL key of the config (``base_url`` of an environment,
``[flags]``, ``[sentry]``, an audit's ``registry``/``osv_url``, a watch source's ``url``,
and any key a gate kind adds).

A URL key names a place, never a credential: a user part (``user:token@``, also
percent-encoded or without a password) or a query string (``?token=...``) is refused,
and the value is then not echoed, since it may be the secret. Credentials are named
with a ``*_env`` key (``token_env``) or live in the tool's own file (``.npmrc``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pytest_fixgate.errors import ConfigError

if TYPE_CHECKING:
    from pytest_fixgate.config.table import ConfigTable

__all__ = ["URL_EXPECTED", "check_url", "url_key"]

URL_EXPECTED = "an http(s) URL without credentials or a query, e.g. https://host.example"
_NOT_SHOWN = "(not shown: it may hold a credential)"


def check_url(value: str, *, file: str, key: str, credentials_hint: str = "") -> str:
    """``value`` if it is an http(s) URL with a host and no credentials or query; else a
    one-line :class:`ConfigError` naming ``key`` (and the value only when it is safe)."""
    hint = f"; {credentials_hint}" if credentials_hint else ""
    risky = "@" in value or "?" in value or "#" in value
    shown = _NOT_SHOWN if risky else value
    try:
        parts = urlsplit(value.strip())
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        raise ConfigError("", file=file, key=key, value=shown, expected=URL_EXPECTED) from None
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise ConfigError(f"must not carry credentials (the value is not shown){hint}",
                          file=file, key=key)  # fmt: skip
    if parts.query or parts.fragment or "?" in value or "#" in value:
        raise ConfigError(f"must not carry a query or fragment (the value is not shown){hint}",
                          file=file, key=key)  # fmt: skip
    if "@" in value:  # a user part urlsplit did not see (no "//"): still never echoed
        raise ConfigError("", file=file, key=key, value=shown, expected=URL_EXPECTED)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or not port_ok
        or value != value.strip()
        or any(ch.isspace() or ord(ch) < 32 for ch in value)
    ):
        raise ConfigError("", file=file, key=key, value=shown, expected=URL_EXPECTED)
    return value


def url_key(
    table: ConfigTable, name: str, default: Any, *, credentials_hint: str = ""
) -> str | None:
    """Read URL key ``name`` of ``table`` (``default`` when absent, may be None) and check
    it with :func:`check_url`."""
    value = table.get(name, str, default, expected=URL_EXPECTED)
    if value is None:
        return None
    return check_url(
        value, file=table.file, key=table.path(name), credentials_hint=credentials_hint
    )
