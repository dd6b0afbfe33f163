"""The JSON verdict: the machine-readable record of one gate run.

Schema ``pytest-fixgate/verdict@1`` (documented in the README). The
``sha256`` field is the SHA-256 of the verdict without that field (and without
``signature``), dumped as
``json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``
and encoded as UTF-8: it detects accidents, not forgery (anyone can recompute
it). With a signing key, ``signature`` is an HMAC-SHA256 over the same bytes
(:mod:`pytest_fixgate.release.signing`).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from pytest_fixgate.gate_run import GateRun
from pytest_fixgate.outcomes.model import Outcome
from pytest_fixgate.release.signing import canonical_body, sign

__all__ = [
    "SCHEMA",
    "SCHEMA_PATH",
    "body_sha256",
    "build_verdict",
    "verdict_text",
    "write_json",
    "write_text",
]

SCHEMA = "pytest-fixgate/verdict@1"
#: The published JSON Schema (draft 2020-12) of ``SCHEMA``, shipped in the package.
SCHEMA_PATH = Path(__file__).with_name("verdict.schema.json")


def build_verdict(run: GateRun) -> dict[str, Any]:
    """The verdict of a finished run, redacted, with its own checksum."""
    if run.decision is None or run.finished is None:
        raise RuntimeError("build_verdict needs a finished run (call run.finish() first)")
    results = run.ordered_results()
    counts = Counter(r.outcome.value for r in results)
    verdict: dict[str, Any] = {
        "schema": SCHEMA,
        "env": run.env.name,
        "target": run.env.base_url,
        "commit": run.commit,
        "started": run.started.isoformat(timespec="seconds"),
        "finished": run.finished.isoformat(timespec="seconds"),
        "decision": run.decision.kind.value,
        "reason": run.decision.reason,
        "blocking": list(run.decision.blocking),
        "advisory": run.advisory,
        "mode": run.mode,
        "config": str(run.config_path),
        "counts": {o.value: counts.get(o.value, 0) for o in Outcome},
        "gates": [r.as_dict() for r in results],
        "not_configured": [n.as_dict() for n in run.not_configured.values()],
        "baseline": run.baseline,
        "reports": {name: str(getattr(run.reports, name)) for name in ("html", "json", "junit")}
        if run.reports
        else {},
    }
    verdict = run.redactor.data(verdict)
    if run.signing_key is not None:
        sign(verdict, run.signing_key)
    verdict["sha256"] = body_sha256(verdict)
    return verdict


def body_sha256(verdict: dict[str, Any]) -> str:
    """SHA-256 of the verdict without ``sha256`` and ``signature``: anyone can recompute it
    (it detects accidents, not forgery; :mod:`pytest_fixgate.release.signing` does)."""
    return hashlib.sha256(canonical_body(verdict)).hexdigest()


def verdict_text(verdict: dict[str, Any]) -> str:
    """The verdict as the JSON file holds it."""
    return json.dumps(verdict, indent=2, ensure_ascii=False) + "\n"


def write_json(path: Path, verdict: dict[str, Any]) -> None:
    """Write atomically: a reader (or a crash) never sees half a verdict."""
    write_text(path, verdict_text(verdict))


def write_text(path: Path, text: str) -> None:
    """Write a report atomically (a temporary file beside it, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        # mkstemp makes the file 0600; a report is read by CI, browsers, web servers.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
