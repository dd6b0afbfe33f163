"""Advisory severity from OSV (``GET {osv_url}/v1/vulns/{id}``), when the tool gives none.

pip-audit reports no severity. For each advisory the look-up fetches the
record of its id and of every alias (the tool's and the records' own), and
takes the highest of:

- each ``severity[]`` entry of type ``CVSS_V3``: the base score computed from
  the vector (:mod:`.cvss`), 9.0+ critical, 7.0+ high, 4.0+ moderate, else low;
- ``database_specific.severity`` (GitHub's LOW / MODERATE / HIGH / CRITICAL).

Each id is fetched once per gate session (concurrently; the gates share what
was fetched), not once per finding. A 404 is "no such record"; an unreachable server, a
status other than 200/404 or a body that is not an OSV record raise
:class:`~pytest_fixgate.errors.ProbeError`: the gate cannot decide.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

from pytest_fixgate.errors import ProbeBadResponse, ProbeConnectError, ProbeTimeout
from pytest_fixgate.kinds.audit.cvss import CvssError, base_score, severity_of_score
from pytest_fixgate.kinds.audit.findings import AuditFinding, Severity

__all__ = ["AdvisorySeverity", "OsvLookup", "severity_from_records"]

_WORKERS = 8


@dataclass(frozen=True)
class AdvisorySeverity:
    severity: Severity | None
    cvss_score: float | None
    source: str  # "GHSA-...: CVSS:3.1/... = 7.5 (high)" or "severity unknown: ..."


class OsvLookup:
    """Fetches OSV records by id, each at most once."""

    def __init__(
        self,
        osv_url: str,
        *,
        timeout_s: float = 10.0,
        shared: dict[tuple[str, str], dict[str, Any] | None] | None = None,
    ) -> None:
        """``shared``: records already fetched in this gate session, by (OSV URL, id), so
        that two audit gates naming one advisory fetch it once."""
        self.base_url = osv_url.rstrip("/")
        self.timeout_s = timeout_s
        self._records: dict[str, dict[str, Any] | None] = {}
        self._shared = shared if shared is not None else {}
        self.fetches = 0  # how many GETs were made, for the evidence and the benchmark

    def records(self, ids: Iterable[str]) -> dict[str, dict[str, Any] | None]:
        """The record of each id (``None``: OSV has none), fetched concurrently."""
        ids = list(ids)
        for vuln_id in ids:
            key = (self.base_url, vuln_id)
            if vuln_id not in self._records and key in self._shared:
                self._records[vuln_id] = self._shared[key]
        wanted = [i for i in dict.fromkeys(ids) if i not in self._records]
        if wanted:
            with ThreadPoolExecutor(max_workers=min(_WORKERS, len(wanted))) as pool:
                for vuln_id, record in zip(wanted, pool.map(self._get, wanted), strict=True):
                    self._records[vuln_id] = record
                    self._shared[(self.base_url, vuln_id)] = record
        return {i: self._records[i] for i in ids}

    def _get(self, vuln_id: str) -> dict[str, Any] | None:
        url = f"{self.base_url}/v1/vulns/{quote(vuln_id, safe='')}"
        self.fetches += 1
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise ProbeBadResponse(
                f"OSV answered HTTP {exc.code} for GET {url}", target=self.base_url
            ) from None
        except TimeoutError:
            raise ProbeTimeout(
                f"OSV did not answer GET {url} within {self.timeout_s:g} s", target=self.base_url
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            why = getattr(exc, "reason", exc)
            raise ProbeConnectError(
                f"OSV unreachable at {self.base_url}: {why}", target=self.base_url
            ) from None
        try:
            record = json.loads(body)
        except ValueError:
            raise ProbeBadResponse(
                f"OSV answered GET {url} with something that is not JSON", target=self.base_url
            ) from None
        if not isinstance(record, dict) or not isinstance(record.get("id"), str):
            raise ProbeBadResponse(
                f"OSV answered GET {url} with JSON that is not an OSV record",
                target=self.base_url,
            )
        return record

    def rate(self, findings: Iterable[AuditFinding]) -> list[AuditFinding]:
        """Each finding with its severity decided over its record and all aliases."""
        findings = list(findings)
        first = self.records({i for f in findings for i in (f.id, *f.aliases)})
        more = {
            alias
            for record in first.values()
            if record
            for alias in record.get("aliases", []) or []
            if isinstance(alias, str)
        }
        self.records(more)
        out = []
        for finding in findings:
            group = _closure((finding.id, *finding.aliases), self._records)
            verdict = severity_from_records({i: self._records.get(i) for i in group})
            out.append(finding.with_severity(verdict.severity, verdict.cvss_score, verdict.source))
        return out

    def with_aliases(self, findings: Iterable[AuditFinding]) -> list[AuditFinding]:
        """Each finding with the aliases its OSV record names added (for waiver matching)."""
        findings = list(findings)
        self.records({f.id for f in findings})
        out = []
        for finding in findings:
            group = _closure((finding.id, *finding.aliases), self._records)
            extra = tuple(i for i in group if i not in (finding.id, *finding.aliases))
            out.append(replace(finding, aliases=(*finding.aliases, *extra)) if extra else finding)
        return out


def _closure(ids: Iterable[str], records: Mapping[str, dict[str, Any] | None]) -> list[str]:
    """The ids, plus the aliases their fetched records name."""
    out = list(dict.fromkeys(ids))
    for vuln_id in list(out):
        record = records.get(vuln_id)
        for alias in (record or {}).get("aliases", []) or []:
            if isinstance(alias, str) and alias not in out:
                out.append(alias)
    return out


def severity_from_records(records: Mapping[str, dict[str, Any] | None]) -> AdvisorySeverity:
    """The highest severity any of these records states; unknown when none does."""
    best: Severity | None = None
    best_score: float | None = None
    reasons: list[str] = []
    for vuln_id, record in records.items():
        if not record:
            continue
        for entry in record.get("severity", []) or []:
            if not isinstance(entry, dict) or entry.get("type") != "CVSS_V3":
                continue
            vector = str(entry.get("score", ""))
            try:
                score = base_score(vector)
            except CvssError:
                continue
            level = Severity.parse(severity_of_score(score))
            reasons.append(f"{vuln_id}: {vector} = {score:.1f} ({severity_of_score(score)})")
            best_score = score if best_score is None else max(best_score, score)
            best = level if best is None or (level and level > best) else best
        db = record.get("database_specific")
        text = db.get("severity") if isinstance(db, dict) else None
        level = Severity.parse(text) if isinstance(text, str) else None
        if level is not None:
            reasons.append(f"{vuln_id}: database_specific.severity {text}")
            best = level if best is None or level > best else best
    if best is None:
        looked = ", ".join(records) or "no ids"
        found = [i for i, r in records.items() if r]
        why = f"no CVSS v3 vector or database severity in OSV for {looked}"
        if not found:
            why = f"OSV has no record for {looked}"
        return AdvisorySeverity(None, None, f"severity unknown: {why}")
    return AdvisorySeverity(best, best_score, "; ".join(reasons))
