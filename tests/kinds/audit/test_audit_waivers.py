"""Audit waivers: a live waiver turns a FAIL into a PASS (listed as waived), an expired one
does not and is reported, one that matches nothing is reported, a malformed file is a
config error (exit 4, one line)."""

from __future__ import annotations

import datetime as _dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from audit_helpers import TODAY, audit, audit_spec, node_app
from gaterun import GATES, run_gate, staging_config
from osv_standin import osv_standin

from pytest_fixgate.errors import ConfigError
from pytest_fixgate.kinds.audit.findings import AuditFinding
from pytest_fixgate.kinds.audit.waivers import Waiver, load_waivers, match_waivers
from pytest_fixgate.outcomes.model import Outcome
from pytest_fixgate.reference import free_port
from pytest_fixgate.reference.advisory_server import AdvisoryServer, advisory_server

SUITE = GATES / "test_audit.py"


@pytest.fixture(scope="module")
def osv() -> Iterator[AdvisoryServer]:
    with osv_standin() as server:
        yield server


def waivers(tmp_path: Path, *entries: tuple[str, str, str]) -> Path:
    """``(id, package, expires)`` entries."""
    text = "".join(
        f'[[waiver]]\nid = "{i}"\npackage = "{p}"\nreason = "proxy auth is not used"\n'
        f"expires = {e}\n\n"
        for i, p, e in entries
    )
    path = tmp_path / "audit-waivers.toml"
    path.write_text(text, encoding="utf-8")
    return path


def requests_audit(tmp_path: Path, osv: AdvisoryServer, pin: str = "requests==2.19.1"):
    (tmp_path / "requirements.txt").write_text(pin + "\n", encoding="utf-8")
    return audit_spec(
        tmp_path,
        tool="pip-audit",
        requirements=["requirements.txt"],
        osv_url=osv.base_url,
        waivers="audit-waivers.toml",
    )


def test_live_waivers_turn_the_fail_into_a_pass_listed_as_waived(
    tmp_path: Path, osv: AdvisoryServer
) -> None:
    # By alias: the CVE of one advisory, the GHSA of the other (pip-audit names PYSEC ids).
    waivers(
        tmp_path,
        ("CVE-2018-18074", "requests", "2027-01-31"),
        ("GHSA-j8r2-6x86-q33q", "Requests", "2026-11-29"),  # through today, inclusive
    )
    finding = audit(requests_audit(tmp_path, osv), tmp_path / "r")
    assert finding.outcome is Outcome.PASS
    assert finding.evidence.reason == "no finding at or above high (2 waived)"
    rows = finding.evidence.details["findings"]
    assert [(r["id"], r["status"]) for r in rows] == [
        ("PYSEC-2018-28", "waived"),
        ("PYSEC-2023-74", "waived"),
    ]
    assert rows[0]["waiver"]["reason"] == "proxy auth is not used"
    assert rows[0]["waiver"]["expires"] == "2027-01-31"


def test_an_expired_waiver_no_longer_applies_and_is_reported(
    tmp_path: Path, osv: AdvisoryServer
) -> None:
    waivers(tmp_path, ("GHSA-x84v-xcm2-53pg", "requests", "2026-11-28"))
    finding = audit(requests_audit(tmp_path, osv), tmp_path / "r")
    assert finding.outcome is Outcome.FAIL
    assert "PYSEC-2018-28" in finding.evidence.reason
    assert "waiver GHSA-x84v-xcm2-53pg for requests expired on 2026-11-28" in (
        finding.evidence.reason
    )
    assert finding.evidence.details["findings"][0]["expired_waiver"]["expires"] == "2026-11-28"


def test_a_waiver_for_another_package_does_not_apply(tmp_path: Path, osv: AdvisoryServer) -> None:
    waivers(tmp_path, ("GHSA-x84v-xcm2-53pg", "urllib3", "2027-01-31"))
    finding = audit(requests_audit(tmp_path, osv), tmp_path / "r")
    assert finding.outcome is Outcome.FAIL
    assert "waiver GHSA-x84v-xcm2-53pg for urllib3 matches no finding (stale)" in (
        finding.evidence.reason
    )


def test_a_waiver_matching_nothing_is_reported_as_stale(
    tmp_path: Path, osv: AdvisoryServer
) -> None:
    waivers(tmp_path, ("GHSA-x84v-xcm2-53pg", "requests", "2027-01-31"))
    finding = audit(requests_audit(tmp_path, osv, "requests==2.32.3"), tmp_path / "r")
    assert finding.outcome is Outcome.WARN
    assert finding.evidence.reason == (
        "waiver GHSA-x84v-xcm2-53pg for requests matches no finding (stale)"
    )
    assert finding.evidence.details["stale_waivers"][0]["where"] == "audit-waivers.toml: waiver[0]"


def test_matching_is_on_any_alias_and_the_normalized_package_name() -> None:
    findings = [AuditFinding("zope.interface", "5.0", "PYSEC-1", aliases=("GHSA-aaaa-bbbb-cccc",))]
    waiver = Waiver("ghsa-AAAA-bbbb-cccc", "Zope_Interface", "r", TODAY, "w")
    assert match_waivers(findings, [waiver], TODAY).waived == {0: waiver}
    later = TODAY + _dt.timedelta(days=1)
    assert match_waivers(findings, [waiver], later).expired == {0: waiver}


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[[waiver]\n", "not valid TOML"),
        ('[[waiver]]\nid = "X"\npackage = "p"\nreason = "r"\n', "waiver[0].expires: missing"),
        ('[[waiver]]\nid = "X"\npackage = "p"\nexpires = 2027-01-01\n', "waiver[0].reason"),
        (
            '[[waiver]]\nid = "X"\npackage = "p"\nreason = "r"\nexpires = "soon"\n',
            "expected a date such as 2027-01-31",
        ),
        (
            '[[waiver]]\nid = "X"\npackage = "p"\nreason = "r"\nexpires = 2027-01-01\nwhy = 1\n',
            "waiver[0].why: unknown key",
        ),
        ('[[waivers]]\nid = "X"\n', "waivers: unknown table"),
        ('waiver = "x"\n', "an array of tables"),
    ],
)
def test_a_malformed_waivers_file_is_a_config_error(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "w.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_waivers(path)
    assert words in str(err.value) and str(path) in str(err.value)


def test_a_malformed_waivers_file_stops_the_gate_run_with_exit_4(
    tmp_path: Path, osv: AdvisoryServer
) -> None:
    (tmp_path / "requirements.txt").write_text("requests==2.19.1\n", encoding="utf-8")
    (tmp_path / "audit-waivers.toml").write_text(
        '[[waiver]]\nid = "GHSA-x84v-xcm2-53pg"\npackage = "requests"\n', encoding="utf-8"
    )
    config = staging_config(
        f"http://127.0.0.1:{free_port()}",
        "[[env.staging.audit]]\n"
        'id = "python"\ntool = "pip-audit"\nrequirements = ["requirements.txt"]\n'
        f'osv_url = "{osv.base_url}"\nwaivers = "audit-waivers.toml"\n',
    )
    result = run_gate(tmp_path, config, suite=SUITE)
    assert result.exit_code == 4
    lines = [ln for ln in result.output.splitlines() if "audit-waivers.toml" in ln]
    assert len(lines) == 1 and "waiver[0].reason" in lines[0]
    assert "Traceback" not in result.output


def test_a_missing_waivers_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="waivers file not found"):
        audit_spec(tmp_path, tool="pip-audit", requirements=["r.txt"], waivers="audit-waivers.toml")


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")
def test_an_npm_finding_is_waived_by_its_cve_through_osv_aliases(tmp_path: Path) -> None:
    # npm names the advisory GHSA-jf85-cpcp-j695 only; the waiver names its CVE.
    node_app(tmp_path / "app", "4.17.11")
    waivers(tmp_path, ("CVE-2019-10744", "lodash", "2027-01-31"))
    with advisory_server() as server:  # the npm bulk API and OSV, as the real services
        spec = audit_spec(
            tmp_path,
            tool="npm",
            directory="app",
            registry=server.registry_url,
            osv_url=server.base_url,
            waivers="audit-waivers.toml",
        )
        finding = audit(spec, tmp_path / "r")
        assert "/v1/vulns/GHSA-jf85-cpcp-j695" in server.paths()
    assert finding.outcome is Outcome.PASS, finding.evidence.reason
    (row,) = finding.evidence.details["findings"]
    assert row["status"] == "waived" and "CVE-2019-10744" in row["aliases"]


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")
def test_without_osv_a_cve_waiver_cannot_match_and_the_finding_stays(tmp_path: Path) -> None:
    node_app(tmp_path / "app", "4.17.11")
    waivers(tmp_path, ("CVE-2019-10744", "lodash", "2027-01-31"))
    with advisory_server(routes=("npm",)) as server:
        spec = audit_spec(
            tmp_path,
            tool="npm",
            directory="app",
            registry=server.registry_url,
            osv_url=f"http://127.0.0.1:{free_port()}",
            waivers="audit-waivers.toml",
        )
        finding = audit(spec, tmp_path / "r")
    assert finding.outcome is Outcome.FAIL
    assert "OSV unreachable" in finding.evidence.details["aliases_unavailable"]
    assert "waiver CVE-2019-10744 for lodash matches no finding (stale)" in (
        finding.evidence.reason
    )
