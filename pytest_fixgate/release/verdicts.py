"""Reading a JSON verdict back, and the rules for tagging one.

A verdict may be tagged only when every one of these holds (checked in this
order, the first that fails is the reason given):

1. its ``sha256`` verifies (no accident changed the file), and, when a signing key
   is configured, its HMAC-SHA256 ``signature`` verifies (no one without the key
   changed it: :mod:`pytest_fixgate.release.signing`);
2. its decision is PROMOTE, and its gates agree (every required gate PASS or WARN);
3. it is not advisory (``--gate-advisory`` is a dry run);
4. its ``commit`` is the commit being tagged;
5. it finished less than ``max_age`` ago (and not in the future).
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_fixgate.errors import FixgateError
from pytest_fixgate.measurements.files import FileReadError, read_text
from pytest_fixgate.release.signing import SigningKey, signature_problem
from pytest_fixgate.reports.verdict import SCHEMA, body_sha256

__all__ = [
    "CLOCK_SKEW_S",
    "Verdict",
    "VerdictUnreadable",
    "gates_disagree",
    "parse_verdict",
    "read_verdict",
    "tag_refusal",
    "verdict_from_data",
]

_REQUIRED = ("schema", "env", "commit", "finished", "decision", "reason", "gates", "sha256")
# A report from a machine whose clock runs a little ahead is not "from the future".
CLOCK_SKEW_S = 300.0


class VerdictUnreadable(FixgateError):
    """The file is missing, not JSON, or not a pytest-fixgate verdict (exit 4)."""


@dataclass(frozen=True)
class Verdict:
    """A verdict as read from disk (or a note): the data and where it came from."""

    data: dict[str, Any]
    source: str

    @property
    def env(self) -> str:
        return str(self.data["env"])

    @property
    def commit(self) -> str:
        return str(self.data["commit"] or "")

    @property
    def decision(self) -> str:
        return str(self.data["decision"])

    @property
    def reason(self) -> str:
        return str(self.data["reason"])

    @property
    def sha256(self) -> str:
        return str(self.data["sha256"])

    @property
    def advisory(self) -> bool:
        return bool(self.data.get("advisory", False))

    @property
    def mode(self) -> str:
        # Verdicts written before the watch existed are all gate runs.
        return str(self.data.get("mode", "gate"))

    @property
    def finished(self) -> _dt.datetime:
        return _parse_time(self.data["finished"], self.source)

    @property
    def digest_ok(self) -> bool:
        return body_sha256(self.data) == self.sha256

    @property
    def gates(self) -> list[dict[str, Any]]:
        return list(self.data["gates"])

    def counts(self) -> dict[str, int]:
        """Gates by outcome, counted from the gates themselves."""
        counts = {o: 0 for o in ("PASS", "WARN", "INCONCLUSIVE", "FAIL", "ERROR")}
        for gate in self.gates:
            counts[gate["outcome"]] = counts.get(gate["outcome"], 0) + 1
        return counts

    def counts_line(self) -> str:
        return ", ".join(f"{n} {o}" for o, n in self.counts().items())

    def html_path(self) -> Path | None:
        """The HTML report the run wrote, when the verdict names one."""
        name = (self.data.get("reports") or {}).get("html")
        return Path(name) if name else None


def read_verdict(path: Path) -> Verdict:
    try:
        text = read_text(path)  # a FIFO among the reports must not block a baseline search
    except FileReadError as exc:
        raise VerdictUnreadable(f"cannot read report {exc}") from exc
    except OSError as exc:
        raise VerdictUnreadable(f"cannot read report {path}: {exc.strerror}") from exc
    return parse_verdict(text, str(path))


def parse_verdict(text: str, source: str) -> Verdict:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise VerdictUnreadable(
            f"{source} is not JSON (line {exc.lineno}, column {exc.colno})"
        ) from exc
    return verdict_from_data(data, source)


def verdict_from_data(data: object, source: str) -> Verdict:
    if not isinstance(data, dict):
        raise VerdictUnreadable(f"{source} is not a pytest-fixgate verdict (not a JSON object)")
    if data.get("schema") != SCHEMA:
        raise VerdictUnreadable(
            f"{source} is not a pytest-fixgate verdict: schema {data.get('schema')!r}, "
            f"expected {SCHEMA!r}"
        )
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise VerdictUnreadable(f"{source}: verdict without {', '.join(missing)}")
    if not isinstance(data["gates"], list) or not all(
        isinstance(g, dict) and {"id", "outcome", "required"} <= g.keys() for g in data["gates"]
    ):
        raise VerdictUnreadable(f"{source}: 'gates' is not a list of gate results")
    verdict = Verdict(data, source)
    verdict.finished  # noqa: B018 - raises VerdictUnreadable on a bad timestamp
    return verdict


def _parse_time(value: object, source: str) -> _dt.datetime:
    try:
        moment = _dt.datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise VerdictUnreadable(f"{source}: 'finished' is not a timestamp: {value!r}") from exc
    if moment.tzinfo is None:
        raise VerdictUnreadable(f"{source}: 'finished' has no time zone: {value!r}")
    return moment


def gates_disagree(verdict: Verdict) -> str | None:
    """A PROMOTE whose own gates say otherwise (a hand-edited file with a fresh checksum)."""
    required = [g for g in verdict.gates if g.get("required")]
    if not required:
        return "it records no required gate"
    bad = [g for g in required if g["outcome"] not in ("PASS", "WARN")]
    if bad:
        return "its gates disagree: " + ", ".join(f"{g['id']} {g['outcome']}" for g in bad)
    return None


def tag_refusal(
    verdict: Verdict,
    *,
    commit: str,
    now: _dt.datetime,
    max_age_s: float,
    key: SigningKey | None = None,
) -> str | None:
    """Why ``verdict`` may not be tagged on ``commit`` now; None when it may."""
    where = verdict.source
    if not verdict.digest_ok:
        return f"{where} was modified after the gate run wrote it (its sha256 does not verify)"
    unsigned = signature_problem(verdict.data, key)
    if unsigned:
        return f"{where}: {unsigned}"
    if verdict.decision != "PROMOTE":
        return f"{where} is not a PROMOTE: {verdict.decision} ({verdict.reason})"
    disagreement = gates_disagree(verdict)
    if disagreement:
        return f"{where} says PROMOTE but {disagreement}"
    if verdict.advisory:
        return f"{where} is from an advisory run (--gate-advisory): a dry run promotes nothing"
    if verdict.mode != "gate":
        return (
            f"{where} is a post-promotion watch's verdict ({verdict.mode}): a watch confirms "
            "a release, it does not promote one; tag on the gate run's verdict"
        )
    if not verdict.commit:
        return f"{where} names no commit: cannot tell what it gated"
    if verdict.commit != commit:
        return (
            f"{where} gated commit {verdict.commit[:12]}, not {commit[:12]} (the commit "
            "being tagged)"
        )
    age = (now - verdict.finished).total_seconds()
    if age < -CLOCK_SKEW_S:
        return f"{where} finished in the future ({verdict.data['finished']}): check the clocks"
    if age > max_age_s:
        return (
            f"{where} is stale: finished {verdict.data['finished']}, "
            f"{_human(age)} ago (--max-age {_human(max_age_s)})"
        )
    return None


def _human(seconds: float) -> str:
    if seconds >= 5400:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 90:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"
