"""Advisory severity: CVSS v3 base scores computed from the vector, OSV look-ups over a
record and its aliases (each id fetched once), and unknown severity failing closed."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from osv_standin import osv_standin

from pytest_fixgate.errors import ProbeBadResponse, ProbeConnectError
from pytest_fixgate.kinds.audit.cvss import CvssError, base_score, severity_of_score
from pytest_fixgate.kinds.audit.findings import AuditFinding, Severity
from pytest_fixgate.kinds.audit.osv import OsvLookup, severity_from_records
from pytest_fixgate.reference import free_port
from pytest_fixgate.reference.advisory_server import AdvisoryServer


@pytest.mark.parametrize(
    ("vector", "score"),
    [
        # the two records, as GitHub and NVD score them
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5),  # GHSA-x84v-xcm2-53pg
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:H", 9.1),  # GHSA-jf85-cpcp-j695
        ("CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N", 6.1),  # GHSA-j8r2-6x86-q33q
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
        ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", 6.4),  # scope changed, PR:L 0.68
        ("CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:C/C:H/I:H/A:H", 9.1),  # PR:H with S:C is 0.5
        ("CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.6),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
        ("CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N/E:U/RL:O", 7.5),  # temporal ignored
    ],
)
def test_base_scores_match_the_specification(vector: str, score: float) -> None:
    assert base_score(vector) == score


@pytest.mark.parametrize(
    "vector",
    [
        "CVSS:2.0/AV:N/AC:L/Au:N/C:P/I:P/A:P",
        "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N",  # no A
        "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
        "CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
    ],
)
def test_vectors_that_are_not_cvss_v3_base_vectors_are_refused(vector: str) -> None:
    with pytest.raises(CvssError):
        base_score(vector)


def test_the_score_scale() -> None:
    assert [severity_of_score(s) for s in (9.0, 8.9, 7.0, 6.9, 4.0, 3.9, 0.0)] == [
        "critical",
        "high",
        "high",
        "moderate",
        "moderate",
        "low",
        "low",
    ]


def test_the_highest_of_score_and_database_severity_wins() -> None:
    records = {
        "A": {
            "id": "A",
            "severity": [
                {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N"}
            ],
        },
        "B": {"id": "B", "database_specific": {"severity": "HIGH"}},
        "C": None,
    }
    verdict = severity_from_records(records)
    assert verdict.severity is Severity.HIGH and verdict.cvss_score == 6.1
    assert (
        "A: CVSS:3.1/" in verdict.source and "B: database_specific.severity HIGH" in verdict.source
    )


def test_no_severity_anywhere_is_unknown() -> None:
    verdict = severity_from_records(
        {"X": {"id": "X", "severity": [{"type": "CVSS_V4", "score": "CVSS:4.0/AV:N"}]}}
    )
    assert verdict.severity is None and verdict.source.startswith("severity unknown")


@pytest.fixture(scope="module")
def _osv() -> Iterator[AdvisoryServer]:
    with osv_standin() as server:
        yield server


@pytest.fixture
def osv(_osv: AdvisoryServer) -> AdvisoryServer:
    return _osv.reset()


def finding(vuln_id: str, *aliases: str, package: str = "requests") -> AuditFinding:
    return AuditFinding(package=package, version="2.19.1", id=vuln_id, aliases=aliases)


def test_a_pysec_record_without_severity_takes_its_ghsa_aliases(osv: AdvisoryServer) -> None:
    lookup = OsvLookup(osv.base_url)
    (rated,) = lookup.rate([finding("PYSEC-2018-28", "CVE-2018-18074", "GHSA-x84v-xcm2-53pg")])
    assert rated.severity is Severity.HIGH and rated.cvss_score == 7.5
    assert "GHSA-x84v-xcm2-53pg: CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N = 7.5" in (
        rated.severity_source
    )


def test_aliases_named_only_by_the_record_are_followed(osv: AdvisoryServer) -> None:
    # The tool named no alias: the PYSEC record's own aliases lead to the GHSA record.
    (rated,) = OsvLookup(osv.base_url).rate([finding("PYSEC-2023-74")])
    assert rated.severity is Severity.MODERATE and rated.cvss_score == 6.1
    assert "/v1/vulns/GHSA-j8r2-6x86-q33q" in osv.paths()


def test_each_advisory_is_fetched_once_however_many_findings_name_it(
    osv: AdvisoryServer,
) -> None:
    lookup = OsvLookup(osv.base_url)
    same = [
        finding("PYSEC-2018-28", "GHSA-x84v-xcm2-53pg", package=p) for p in ("requests", "Requests")
    ]
    lookup.rate(same)
    lookup.rate([finding("PYSEC-2018-28")])  # again, later in the same gate
    paths = osv.paths()
    assert sorted(paths) == sorted(set(paths)), paths
    assert lookup.fetches == len(paths) == 3  # PYSEC-2018-28, its GHSA and its CVE


def test_an_advisory_osv_does_not_know_is_severity_unknown(osv: AdvisoryServer) -> None:
    (rated,) = OsvLookup(osv.base_url).rate([finding("PYSEC-2099-1")])
    assert rated.severity is None
    assert rated.severity_source == "severity unknown: OSV has no record for PYSEC-2099-1"


def test_osv_down_or_broken_is_a_probe_error(osv: AdvisoryServer) -> None:
    with pytest.raises(ProbeConnectError, match="OSV unreachable"):
        OsvLookup(f"http://127.0.0.1:{free_port()}").rate([finding("PYSEC-2018-28")])
    osv.fault = "500"
    with pytest.raises(ProbeBadResponse, match="HTTP 500"):
        OsvLookup(osv.base_url).rate([finding("PYSEC-2018-28")])
    osv.fault = "garbage"
    with pytest.raises(ProbeBadResponse, match="not JSON"):
        OsvLookup(osv.base_url).rate([finding("PYSEC-2018-28")])


def test_the_build_gate_modules_import_neither_pytest_nor_httpx() -> None:
    modules = [
        f"pytest_fixgate.{m}"
        for m in (
            "kinds.commands.config",
            "kinds.bundle.config",
            "kinds.audit.config",
            "kinds.commands.measurement",
            "kinds.bundle.measurement",
            "kinds.audit.run",
            "kinds.commands.judge",
            "kinds.bundle.judge",
            "kinds.audit.judge",
        )
    ]
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in modules)
        + "print(sorted({'pytest', 'httpx', '_pytest'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_lookups_sharing_a_session_cache_fetch_each_advisory_once(osv: AdvisoryServer) -> None:
    shared: dict = {}
    first = OsvLookup(osv.base_url, shared=shared)
    first.rate([finding("PYSEC-2018-28")])
    second = OsvLookup(osv.base_url, shared=shared)
    (rated,) = second.rate([finding("PYSEC-2018-28", "GHSA-x84v-xcm2-53pg")])
    assert rated.severity is Severity.HIGH
    assert (first.fetches, second.fetches) == (3, 0)
    assert len(osv.paths()) == 3
