"""Reading every environment's variables for the secrets-parity gates, keeping only facts.

Each source is read once; its values are given to the run's redaction at once
(they are secrets too), then reduced to facts about names: defined, empty, a
placeholder, pointing at localhost, and, for ``must_differ`` names, a salted
fingerprint. The fingerprint is an HMAC-SHA256 of the value under a salt made
fresh for each reading (``secrets.token_bytes``): equal values in two
environments have equal fingerprints within one reading and nothing else can
be learnt from one. Fingerprints live only in memory, are never printed, and
are not part of any evidence. No value survives the reading.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from pytest_fixgate.errors import ProbeError
from pytest_fixgate.kinds.secrets_parity.config import PLACEHOLDER_SHAPE, SecretsConfig
from pytest_fixgate.measurements.dotenv import (
    PROCESS_SOURCE,
    manifest_sections,
    parse_dotenv,
    read_dotenv_text,
    read_source,
)
from pytest_fixgate.redaction import COMMON_WORDS, MIN_FOUND, Redactor, maskable_values

__all__ = [
    "BOOLEAN_WORDS",
    "MIN_REDACTED",
    "EnvFacts",
    "SecretsReading",
    "is_local_uri",
    "placeholder_kind",
    "read_secrets",
    "redactable_values",
]

#: Kept for callers: the run's one rule lives in :mod:`pytest_fixgate.redaction`.
BOOLEAN_WORDS = COMMON_WORDS
MIN_REDACTED = MIN_FOUND
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0", "[::1]"})


@dataclass(frozen=True)
class EnvFacts:
    """What one environment defines, reduced to facts about names (no values)."""

    env: str
    source: str  # the file as configured, or "process:"
    process: bool
    names: frozenset[str]  # defined names (for "process:", only the names the checks ask about)
    empty: frozenset[str]
    placeholders: Mapping[str, str]  # name -> "a listed placeholder" | "<...>-shaped"
    local: Mapping[str, str]  # name -> the local host it points at
    # name -> the forbidden value (from the config: public text) it is set to.
    forbidden_values: Mapping[str, str] = field(default_factory=dict)
    # name -> salted fingerprint, for must_differ names only; in memory, never shown.
    fingerprints: Mapping[str, bytes] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class SecretsReading:
    """Every environment's facts, and the reference set of names they are held to."""

    config: SecretsConfig
    manifest: frozenset[str] | None  # the manifest's names; None without a manifest
    required: frozenset[str]  # names every environment must define (manifest - optional)
    envs: tuple[EnvFacts, ...]

    def describe(self) -> str:
        parts = [f"{e.env} from {e.source}" for e in self.envs]
        manifest = self.config.manifest or "none (the union of every environment's names)"
        return (
            f"names compared across {', '.join(parts)}; manifest: {manifest}; values never "
            "shown: must_differ compared on HMAC-SHA256 fingerprints under a salt made for "
            "this run"
        )


def placeholder_kind(value: str, placeholders: Iterable[str], match: str = "exact") -> str | None:
    """How ``value`` is a placeholder ("a listed placeholder", "contains a listed
    placeholder", "<...>-shaped"), or None. ``match="substring"`` is the application's
    ``value.toLowerCase().includes(p)``."""
    text = value.strip()
    placeholders = tuple(placeholders)
    literal = {p.lower() for p in placeholders if p != PLACEHOLDER_SHAPE}
    if text.lower() in literal:
        return "a listed placeholder"
    if match == "substring" and any(p in value.lower() for p in literal):
        return "contains a listed placeholder"
    if PLACEHOLDER_SHAPE in placeholders and len(text) >= 3 and text[0] == "<" and text[-1] == ">":
        return "<...>-shaped"
    return None


def _hosts(value: str) -> list[str]:
    """The hosts of a URI (a MongoDB URI may list several: ``h1:27017,h2:27017``)."""
    try:
        netloc = urlsplit(value.strip()).netloc
    except ValueError:
        return []
    hostpart = netloc.rpartition("@")[2]
    out: list[str] = []
    for host in hostpart.split(","):
        host = host.strip()
        if host.startswith("["):  # [::1]:27017
            out.append(host[1 : host.find("]")] if "]" in host else host[1:])
        else:
            out.append(host.rsplit(":", 1)[0] if host.count(":") == 1 else host)
    return [h.lower() for h in out if h]


def _local_address(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])  # fe80::1%eth0
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1
    return address.is_loopback or address.is_unspecified


def is_local_uri(value: str) -> str | None:
    """The local host a URI points at (localhost, 127.x, ::1, [::1], ::, 0.0.0.0, and
    their IPv4-mapped forms), or None."""
    for host in _hosts(value):
        if host in _LOCAL_HOSTS or host.endswith(".localhost") or _local_address(host):
            return host
    return None


def redactable_values(
    values: Iterable[str], placeholders: Iterable[str], env_names: Iterable[str]
) -> list[str]:
    """The values to add to the run's redaction, by the run's one rule
    (:func:`pytest_fixgate.redaction.maskable_values`): every one but values shorter than
    4 characters, common words (true, ERROR, production, ...), listed placeholders
    ("change-me" is public text) and the environments' own names (NODE_ENV=production
    must not mask "production" in every report). The run's redactor already knows the
    dotenv files' values from the start; this adds what a "process:" source held.
    A multi-line value (a PEM key) is masked line by line by the redactor itself."""
    public = [p for p in placeholders if p != PLACEHOLDER_SHAPE]
    masked, _ = maskable_values(values, [*public, *env_names])
    return masked


def read_secrets(
    config: SecretsConfig, redactor: Redactor, environ: Mapping[str, str] | None = None
) -> SecretsReading:
    """Read the manifest and every source; a missing file or a bad line raises ProbeError."""
    manifest: frozenset[str] | None = None
    examples: dict[str, str] = {}
    sections: dict[str, tuple[str, ...]] = {}
    if config.manifest is not None:
        path = Path(config.manifest)
        # Names, whether each has an example value, and its sections: the example values
        # of a committed .env.example are public text, never added to the redaction.
        path = path if path.is_absolute() else config.base_dir / path
        text = read_dotenv_text(path, label=config.manifest)
        examples = parse_dotenv(text, label=config.manifest)
        sections = manifest_sections(text)
        manifest = frozenset(examples)
    raw: dict[str, Mapping[str, str]] = {}
    for env, spec in config.sources.items():
        source = read_source(spec, config.base_dir, environ)
        raw[env] = source.values
    # What "process:" environments are asked about: the job's environment holds many
    # unrelated variables (PATH, HOME), which are neither extras nor placeholders.
    asked = set(manifest or ()) | set(config.must_differ) | set(config.no_localhost)
    for names in config.forbidden.values():
        asked.update(names)
    for valued in config.forbidden_values.values():
        asked.update(valued)
    if isinstance(config.required, tuple):
        asked.update(config.required)
    if manifest is None:
        for env, spec in config.sources.items():
            if spec != PROCESS_SOURCE:
                asked.update(raw[env])
    for env, values in raw.items():
        scoped = (
            values
            if config.sources[env] != PROCESS_SOURCE
            else {k: v for k, v in values.items() if k in asked}
        )
        redactor.add(redactable_values(scoped.values(), config.placeholders, config.sources))
    salt = secrets.token_bytes(32)
    facts = tuple(
        _facts(env, config.sources[env], raw[env], asked, config, salt) for env in config.sources
    )
    union: set[str] = set()
    for f in facts:
        union.update(f.names)
    required = _required(config, manifest, examples, sections, frozenset(union))
    return SecretsReading(config=config, manifest=manifest, required=required, envs=facts)


def _required(
    config: SecretsConfig,
    manifest: frozenset[str] | None,
    examples: Mapping[str, str],
    sections: Mapping[str, tuple[str, ...]],
    union: frozenset[str],
) -> frozenset[str]:
    """The names every environment must define: ``required`` (all / non-empty / none /
    a list), plus every name under one of ``required_sections``, less ``optional``."""
    if isinstance(config.required, tuple):
        names = set(config.required)
    elif config.required == "all":
        names = set(manifest if manifest is not None else union)
    elif config.required == "non-empty":
        names = {k for k, v in examples.items() if v.strip()}
    else:
        names = set()
    if config.required_sections:
        titles = {t for ts in sections.values() for t in ts}
        by_fold = {t.casefold(): t for t in titles}
        unknown = [t for t in config.required_sections if t.casefold() not in by_fold]
        if unknown:
            known = "; ".join(sorted(titles))[:600]
            raise ProbeError(
                f"required_sections: {', '.join(repr(t) for t in unknown)} is no section "
                f"of {config.manifest} (its sections: {known})"
            )
        wanted = {t.casefold() for t in config.required_sections}
        names.update(n for n, ts in sections.items() if any(t.casefold() in wanted for t in ts))
    return frozenset(names - set(config.optional))


def _facts(
    env: str,
    spec: str,
    values: Mapping[str, str],
    asked: set[str],
    config: SecretsConfig,
    salt: bytes,
) -> EnvFacts:
    process = spec == PROCESS_SOURCE
    scoped = {k: v for k, v in values.items() if not process or k in asked}
    empty = frozenset(k for k, v in scoped.items() if not v.strip())
    placeholders = {
        k: kind
        for k, v in scoped.items()
        if v.strip()
        and (kind := placeholder_kind(v, config.placeholders_for(k), config.placeholder_match))
        is not None
    }
    forbidden_values = {
        k: v
        for k, values in config.forbidden_values.get(env, {}).items()
        if k in scoped and (v := scoped[k]) in values
    }
    local = {
        k: host
        for k in config.no_localhost
        if scoped.get(k, "").strip() and (host := is_local_uri(scoped[k])) is not None
    }
    fingerprints = {
        k: hmac.new(salt, scoped[k].encode("utf-8"), hashlib.sha256).digest()
        for k in config.must_differ
        if scoped.get(k, "").strip()
    }
    return EnvFacts(
        env=env,
        source=spec,
        process=process,
        names=frozenset(scoped),
        empty=empty,
        placeholders=placeholders,
        local=local,
        forbidden_values=forbidden_values,
        fingerprints=fingerprints,
    )
