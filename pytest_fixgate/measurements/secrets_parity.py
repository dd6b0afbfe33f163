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
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from pytest_fixgate.config.secrets_parity import PLACEHOLDER_SHAPE, SecretsConfig
from pytest_fixgate.measurements.dotenv import PROCESS_SOURCE, read_dotenv, read_source
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


def placeholder_kind(value: str, placeholders: Iterable[str]) -> str | None:
    """How ``value`` is a placeholder ("a listed placeholder", "<...>-shaped"), or None."""
    text = value.strip()
    literal = {p.lower() for p in placeholders if p != PLACEHOLDER_SHAPE}
    if text.lower() in literal:
        return "a listed placeholder"
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


def is_local_uri(value: str) -> str | None:
    """The local host a URI points at (localhost, 127.x, ::1, 0.0.0.0), or None."""
    for host in _hosts(value):
        if host in _LOCAL_HOSTS or host.startswith("127.") or host.endswith(".localhost"):
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
    if config.manifest is not None:
        path = Path(config.manifest)
        # Only names: the example values of a committed .env.example are public text,
        # and masking "3000" or "development" would garble the reports for nothing.
        path = path if path.is_absolute() else config.base_dir / path
        manifest = frozenset(read_dotenv(path, label=config.manifest))
    raw: dict[str, Mapping[str, str]] = {}
    for env, spec in config.sources.items():
        source = read_source(spec, config.base_dir, environ)
        raw[env] = source.values
    # What "process:" environments are asked about: the job's environment holds many
    # unrelated variables (PATH, HOME), which are neither extras nor placeholders.
    asked = set(manifest or ()) | set(config.must_differ) | set(config.no_localhost)
    for names in config.forbidden.values():
        asked.update(names)
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
    if manifest is not None:
        required = manifest - set(config.optional)
    else:
        union: set[str] = set()
        for f in facts:
            union.update(f.names)
        required = frozenset(union - set(config.optional))
    return SecretsReading(config=config, manifest=manifest, required=required, envs=facts)


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
        if v.strip() and (kind := placeholder_kind(v, config.placeholders)) is not None
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
        fingerprints=fingerprints,
    )
