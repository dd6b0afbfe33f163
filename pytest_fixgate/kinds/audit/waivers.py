"""Audit waivers: a TOML file of accepted advisories, each with a reason and an expiry.

::

    [[waiver]]
    id = "GHSA-j8r2-6x86-q33q"   # an advisory id or any of its aliases (CVE, PYSEC, GHSA)
    package = "requests"
    reason = "proxy auth is not used"
    expires = 2027-01-31         # after this date the waiver no longer applies

Every key is required: a waiver without an expiry or a reason rots unseen. A
malformed file is a :class:`~pytest_fixgate.errors.ConfigError` (exit 4, one
line naming the file and the key). Matching is on the advisory id or any alias
(case-insensitive) and the package name (PyPI-normalized). A waiver applies
through its ``expires`` day, and not after.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_fixgate.errors import ConfigError
from pytest_fixgate.kinds.audit.findings import AuditFinding
from pytest_fixgate.measurements.files import FileReadError, read_text

__all__ = ["Waiver", "WaiverMatch", "load_waivers", "match_waivers", "package_key"]

_KEYS = ("id", "package", "reason", "expires")


@dataclass(frozen=True)
class Waiver:
    id: str
    package: str
    reason: str
    expires: _dt.date
    where: str  # "audit-waivers.toml: waiver[0]", for the evidence

    def expired(self, today: _dt.date) -> bool:
        return today > self.expires

    def matches(self, finding: AuditFinding) -> bool:
        return self.id.upper() in finding.ids and package_key(self.package) == package_key(
            finding.package
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "package": self.package,
            "reason": self.reason,
            "expires": self.expires.isoformat(),
            "where": self.where,
        }


@dataclass(frozen=True)
class WaiverMatch:
    """How the waivers met the findings."""

    waived: dict[int, Waiver]  # finding index -> the live waiver that applies
    expired: dict[int, Waiver]  # finding index -> an expired waiver that would have matched
    stale: tuple[Waiver, ...]  # live waivers that match no finding
    expired_unused: tuple[Waiver, ...]  # expired waivers that match no finding either


def package_key(name: str) -> str:
    """PEP 503 normalization; harmless for npm names."""
    return re.sub(r"[-_.]+", "-", name).lower()


def load_waivers(path: Path) -> tuple[Waiver, ...]:
    """Parse a waivers file; raise ConfigError naming the file and key."""
    file = str(path)
    try:
        data = tomllib.loads(read_text(path, max_bytes=4 * 1024 * 1024))
    except FileNotFoundError:
        raise ConfigError("waivers file not found", file=file) from None
    except FileReadError as exc:
        raise ConfigError(f"waivers file not read: {exc.problem}", file=file) from None
    except OSError as exc:
        raise ConfigError(f"cannot read waivers file: {exc.strerror or exc}", file=file) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", file=file) from None
    unknown = sorted(set(data) - {"waiver"})
    if unknown:
        raise ConfigError("unknown table (known: [[waiver]])", file=file, key=unknown[0])
    entries = data.get("waiver", [])
    if not isinstance(entries, list):
        raise ConfigError("", file=file, key="waiver", expected="an array of tables [[waiver]]")
    return tuple(_waiver(entry, i, file) for i, entry in enumerate(entries))


def _waiver(entry: object, index: int, file: str) -> Waiver:
    key = f"waiver[{index}]"
    if not isinstance(entry, dict):
        raise ConfigError("", file=file, key=key, expected="a table")
    for name in entry:
        if name not in _KEYS:
            raise ConfigError(
                f"unknown key (known keys: {', '.join(_KEYS)})", file=file, key=f"{key}.{name}"
            )
    values: dict[str, Any] = {}
    for name in ("id", "package", "reason"):
        value = entry.get(name)
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(
                "missing or empty" if value is None else "",
                file=file,
                key=f"{key}.{name}",
                value=value,
                expected="a non-empty string",
            )
        values[name] = value.strip()
    expires = entry.get("expires")
    if isinstance(expires, str):
        with contextlib.suppress(ValueError):
            expires = _dt.date.fromisoformat(expires)
    if isinstance(expires, _dt.datetime):
        expires = expires.date()
    if not isinstance(expires, _dt.date):
        raise ConfigError(
            "missing" if expires is None else "",
            file=file,
            key=f"{key}.expires",
            value=expires,
            expected="a date such as 2027-01-31",
        )
    return Waiver(**values, expires=expires, where=f"{Path(file).name}: {key}")


def match_waivers(
    findings: Iterable[AuditFinding], waivers: Iterable[Waiver], today: _dt.date
) -> WaiverMatch:
    """Which live waiver covers which finding; which waivers expired; which match nothing."""
    findings = list(findings)
    waivers = list(waivers)
    waived: dict[int, Waiver] = {}
    expired: dict[int, Waiver] = {}
    used: set[int] = set()
    for i, finding in enumerate(findings):
        for w_index, waiver in enumerate(waivers):
            if not waiver.matches(finding):
                continue
            used.add(w_index)
            if waiver.expired(today):
                expired.setdefault(i, waiver)
            elif i not in waived:
                waived[i] = waiver
    unused = [w for j, w in enumerate(waivers) if j not in used]
    return WaiverMatch(
        waived=waived,
        expired={i: w for i, w in expired.items() if i not in waived},
        stale=tuple(w for w in unused if not w.expired(today)),
        expired_unused=tuple(w for w in unused if w.expired(today)),
    )
