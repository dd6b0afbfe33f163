"""The Python dependency audit: the real pip-audit against a local OSV API serving real
records, severity from OSV, and `pytest --gate` end to end."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from audit_helpers import audit, audit_spec
from gaterun import GATES, run_gate, staging_config
from osv_standin import osv_standin

from pytest_fixgate.errors import ConfigError, ProbeError
from pytest_fixgate.kinds.audit.config import AuditSpec
from pytest_fixgate.kinds.audit.findings import AuditFinding, AuditReport
from pytest_fixgate.kinds.audit.judge import judge_audit
from pytest_fixgate.kinds.audit.pip_audit import parse_pip_audit
from pytest_fixgate.measurements.process import ProcessResult
from pytest_fixgate.outcomes.model import Outcome
from pytest_fixgate.reference import free_port
from pytest_fixgate.reference.advisory_server import AdvisoryServer

SUITE = GATES / "test_audit.py"


@pytest.fixture(scope="module")
def _osv() -> Iterator[AdvisoryServer]:
    with osv_standin() as server:
        yield server


@pytest.fixture
def osv(_osv: AdvisoryServer) -> AdvisoryServer:
    return _osv.reset()


def pinned(tmp_path: Path, *pins: str) -> Path:
    path = tmp_path / "requirements.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(pins) + "\n", encoding="utf-8")
    return path


def pip_spec(tmp_path: Path, osv_url: str, *pins: str, **more: object):
    pinned(tmp_path, *pins)
    return audit_spec(
        tmp_path, tool="pip-audit", requirements=["requirements.txt"], osv_url=osv_url, **more
    )


def test_requests_2_19_1_fails_at_high_naming_the_advisory_and_its_cve(
    tmp_path: Path, osv: AdvisoryServer
) -> None:
    finding = audit(pip_spec(tmp_path, osv.base_url, "requests==2.19.1"), tmp_path / "r")
    ev = finding.evidence
    assert finding.outcome is Outcome.FAIL
    assert ev.reason.startswith("1 finding at or above high, not waived: requests 2.19.1 ")
    assert "PYSEC-2018-28" in ev.reason and "CVE-2018-18074" in ev.reason
    assert ev.details["counts"] == {"critical": 0, "high": 1, "moderate": 1, "low": 0}
    high, moderate = ev.details["findings"]  # highest severity first
    assert (high["id"], high["severity"], high["cvss_score"]) == ("PYSEC-2018-28", "high", 7.5)
    assert high["fixed_versions"] == ["2.20.0"] and high["direct"] is True
    assert (
        "GHSA-x84v-xcm2-53pg: CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N = 7.5"
        in (high["severity_source"])
    )
    assert (moderate["id"], moderate["severity"], moderate["status"]) == (
        "PYSEC-2023-74",
        "moderate",
        "below floor",
    )
    assert re.match(r"\d+\.\d+", ev.details["tool_version"])
    assert ev.details["command"].startswith(f"{sys.executable} -m pip_audit -f json ")
    assert f"--osv-url {osv.base_url}/v1/query" in ev.details["command"]
    assert ev.details["osv_fetches"] >= 2


def test_requests_2_30_0_is_only_moderate_and_does_not_fail_at_high(
    tmp_path: Path, osv: AdvisoryServer
) -> None:
    finding = audit(pip_spec(tmp_path, osv.base_url, "requests==2.30.0"), tmp_path / "r")
    assert finding.outcome is Outcome.WARN
    assert "1 finding below high: requests 2.30.0 PYSEC-2023-74" in finding.evidence.reason
    # ... and fails when the floor is moderate.
    spec = pip_spec(tmp_path, osv.base_url, "requests==2.30.0", audit_level="moderate")
    assert audit(spec, tmp_path / "r").outcome is Outcome.FAIL


def test_a_clean_pin_passes(tmp_path: Path, osv: AdvisoryServer) -> None:
    finding = audit(
        pip_spec(tmp_path, osv.base_url, "requests==2.32.3", "idna==3.7"), tmp_path / "r"
    )
    assert finding.outcome is Outcome.PASS
    assert finding.evidence.reason == "no finding at or above high"
    assert finding.evidence.samples == 2  # two dependencies audited


def test_osv_down_is_an_error_with_the_tools_last_line(tmp_path: Path) -> None:
    spec = pip_spec(tmp_path, f"http://127.0.0.1:{free_port()}", "requests==2.19.1")
    with pytest.raises(ProbeError) as err:
        audit(spec, tmp_path / "r")
    text = str(err.value)
    assert text.startswith("pip-audit could not audit (exit code 1")
    assert "ConnectionError" in text or "Connection refused" in text


def test_osv_answering_garbage_is_an_error(tmp_path: Path, osv: AdvisoryServer) -> None:
    osv.fault = "500"
    with pytest.raises(ProbeError, match="pip-audit could not audit"):
        audit(pip_spec(tmp_path, osv.base_url, "requests==2.19.1"), tmp_path / "r")


def test_a_requirements_file_it_cannot_read_is_an_error(
    tmp_path: Path, osv: AdvisoryServer
) -> None:
    spec = audit_spec(tmp_path, tool="pip-audit", requirements=["nope.txt"], osv_url=osv.base_url)
    with pytest.raises(ProbeError, match="invalid requirements input"):
        audit(spec, tmp_path / "r")


def test_exit_1_without_json_is_a_failure_and_json_with_exit_1_is_findings() -> None:
    broken = ProcessResult(("pip-audit",), 1, False, 0.4, "ERROR: boom", stdout="")
    with pytest.raises(ProbeError, match="boom"):
        parse_pip_audit(broken, command="pip-audit", version="2.10.1")
    found = ProcessResult(
        ("pip-audit",),
        1,
        False,
        0.4,
        "Found 1 known vulnerability",
        stdout='{"dependencies": [{"name": "a", "version": "1", "vulns": '
        '[{"id": "PYSEC-1", "fix_versions": [], "aliases": []}]}], "fixes": []}',
    )
    report = parse_pip_audit(found, command="pip-audit", version="2.10.1")
    assert [f.id for f in report.findings] == ["PYSEC-1"]


def test_a_renamed_vulns_key_is_an_error_not_zero_findings() -> None:
    moved = ProcessResult(
        ("pip-audit",),
        1,
        False,
        0.4,
        "Found 1 known vulnerability",
        stdout='{"dependencies": [{"name": "a", "version": "1", "vulnerabilities": '
        '[{"id": "PYSEC-1"}]}], "fixes": []}',
    )
    with pytest.raises(ProbeError, match="another shape"):
        parse_pip_audit(moved, command="pip-audit", version="9.0")


def test_nothing_audited_is_an_error_not_a_pass(tmp_path: Path, osv: AdvisoryServer) -> None:
    # An empty pinned file, or a path holding no package: pip-audit audits nothing, exit 0.
    with pytest.raises(ProbeError, match="audited no package"):
        audit(pip_spec(tmp_path, osv.base_url, "# nothing pinned"), tmp_path / "r")
    (tmp_path / "empty-venv").mkdir()
    spec = audit_spec(tmp_path, tool="pip-audit", path="empty-venv", osv_url=osv.base_url)
    with pytest.raises(ProbeError, match="audited no package"):
        audit(spec, tmp_path / "r2")


def test_unknown_severity_counts_as_at_the_floor_and_says_so(tmp_path: Path) -> None:
    report = AuditReport(
        tool="pip-audit",
        tool_version="2.10.1",
        command="pip-audit ...",
        findings=(
            AuditFinding(
                "left-pad-py", "1.0", "PYSEC-2099-1", severity_source="severity unknown: x"
            ),
        ),
        dependencies=1,
    )
    finding = judge_audit(AuditSpec(id="t", tool="pip-audit"), report, today=None, logs=[])  # type: ignore[arg-type]
    assert finding.outcome is Outcome.FAIL
    assert "left-pad-py 1.0 PYSEC-2099-1 severity unknown" in finding.evidence.reason
    assert finding.evidence.details["counts"]["unknown"] == 1


def test_dependencies_pip_audit_skipped_leave_the_gate_inconclusive(tmp_path: Path) -> None:
    report = AuditReport(
        tool="pip-audit",
        tool_version="2.10.1",
        command="pip-audit ...",
        findings=(),
        skipped=(("internal-lib", "Dependency not found on PyPI"),),
    )
    finding = judge_audit(AuditSpec(id="t", tool="pip-audit"), report, today=None, logs=[])  # type: ignore[arg-type]
    assert finding.outcome is Outcome.INCONCLUSIVE
    assert "could not audit 1 dependencies: internal-lib" in finding.evidence.reason


def test_the_gate_end_to_end_with_the_findings_table_in_the_html(
    tmp_path: Path, osv: AdvisoryServer
) -> None:
    pinned(tmp_path / "py", "requests==2.19.1")
    config = staging_config(
        f"http://127.0.0.1:{free_port()}",
        "[[env.staging.audit]]\n"
        'id = "python"\ntool = "pip-audit"\nrequirements = ["py/requirements.txt"]\n'
        f'osv_url = "{osv.base_url}"\n',
    )
    result = run_gate(tmp_path, config, suite=SUITE)
    gate = result.gate("audit.python")
    assert gate["outcome"] == "FAIL" and result.exit_code == 1
    assert gate["evidence"]["findings"][0]["id"] == "PYSEC-2018-28"
    (log,) = gate["evidence"]["logs"]
    assert (result.report_dir / log).is_file()
    html = result.files["html"].read_text(encoding="utf-8")
    assert "fixgate-audit" in html and "PYSEC-2018-28" in html and "GHSA-x84v-xcm2-53pg" in html
    assert '<a href="https://osv.dev/vulnerability/PYSEC-2018-28">PYSEC-2018-28</a>' in html


def test_an_environment_is_audited_by_its_site_packages(
    tmp_path: Path, osv: AdvisoryServer
) -> None:
    # A venv's layout with one installed distribution, as importlib.metadata finds it.
    dist = tmp_path / "venv" / "lib" / "python3.11" / "site-packages" / "requests-2.19.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: requests\nVersion: 2.19.1\n")
    (dist / "RECORD").write_text("")
    spec = audit_spec(tmp_path, tool="pip-audit", path="venv", osv_url=osv.base_url)
    finding = audit(spec, tmp_path / "r")
    assert finding.outcome is Outcome.FAIL and "PYSEC-2018-28" in finding.evidence.reason
    assert f"--path {dist.parent}" in finding.evidence.details["command"]
    assert finding.evidence.details["findings"][0]["direct"] is None  # an environment: unknown


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ({"tool": "yarn"}, "expected pip-audit | npm | pnpm"),
        ({"tool": "pip-audit"}, "exactly one of requirements"),
        ({"tool": "pip-audit", "requirements": ["r.txt"], "path": ".venv"}, "exactly one of"),
        ({"tool": "pip-audit", "requirements": []}, "at least one requirement file"),
        ({"tool": "pip-audit", "requirements": ["r.txt"], "directory": "."}, "not pip-audit"),
        ({"tool": "npm", "audit_level": "severe"}, "low | moderate | high | critical"),
        ({"tool": "npm", "registry": "https://u:pw@registry.example/"}, "carry credentials"),
        ({"tool": "npm", "osv_url": "ftp://osv.example"}, "an http(s) URL"),
        ({"tool": "npm", "fetch_retries": -1}, "0 or more"),
        ({"tool": "npm", "prod_only": True}, "did you mean 'production_only'?"),
    ],
)
def test_bad_audit_entries_are_one_line_config_errors(
    tmp_path: Path, table: dict[str, object], words: str
) -> None:
    with pytest.raises(ConfigError) as err:
        audit_spec(tmp_path, **table)
    assert words in str(err.value) and "\n" not in str(err.value)
    assert "pw@" not in str(err.value)  # a URL's credentials are never echoed


def test_audit_defaults(tmp_path: Path) -> None:
    spec = audit_spec(tmp_path, tool="pnpm", osv_url="https://api.osv.dev/v1/query")
    assert spec.gate_id == "audit.t" and spec.directory == tmp_path
    assert spec.audit_level.label == "high" and spec.production_only is True
    assert spec.osv_url == "https://api.osv.dev"  # the query URL is accepted as the base
    assert spec.registry is None and spec.waivers == () and spec.timeout_s == 300


def test_two_audit_gates_of_one_run_fetch_each_advisory_once(
    tmp_path: Path, osv: AdvisoryServer
) -> None:
    pinned(tmp_path / "api", "requests==2.19.1")
    pinned(tmp_path / "worker", "requests==2.19.1", "idna==3.7")
    tables = "".join(
        f'[[env.staging.audit]]\nid = "{name}"\ntool = "pip-audit"\n'
        f'requirements = ["{name}/requirements.txt"]\nosv_url = "{osv.base_url}"\n\n'
        for name in ("api", "worker")
    )
    result = run_gate(
        tmp_path, staging_config(f"http://127.0.0.1:{free_port()}", tables), suite=SUITE
    )
    assert result.gate("audit.api")["outcome"] == result.gate("audit.worker")["outcome"] == "FAIL"
    gets = [p for p in osv.paths() if p.startswith("/v1/vulns/")]
    assert len(gets) == len(set(gets)) == 6, gets


def test_an_advisory_without_any_severity_fails_closed_end_to_end(
    tmp_path: Path, osv: AdvisoryServer
) -> None:
    # A record OSV serves with no severity, no alias that has one (such records exist:
    # many PYSEC entries before their GHSA review).
    record = {
        "schema_version": "1.6.0",
        "id": "PYSEC-2099-7",
        "modified": "2026-11-01T00:00:00Z",
        "details": "A made-up advisory with no severity anywhere.",
        "affected": [
            {
                "package": {"name": "itsdangerous", "ecosystem": "PyPI"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
            }
        ],
    }
    osv.records["PYSEC-2099-7"] = record
    try:
        finding = audit(pip_spec(tmp_path, osv.base_url, "itsdangerous==2.2.0"), tmp_path / "r")
    finally:
        del osv.records["PYSEC-2099-7"]
    assert finding.outcome is Outcome.FAIL
    assert "itsdangerous 2.2.0 PYSEC-2099-7 severity unknown" in finding.evidence.reason
    (row,) = finding.evidence.details["findings"]
    assert row["severity"] == "unknown"
    assert (
        row["severity_source"]
        == "severity unknown: no CVSS v3 vector or database severity in OSV for PYSEC-2099-7"
    )


def test_secret_env_values_reach_no_artifact(tmp_path: Path, osv: AdvisoryServer) -> None:
    # Contrived but exact: the tool prints the secret's value (here, in a file name it
    # cannot read), as a tool may print a token from a registry URL.
    token = "tok-Planted-9Zq1"
    config = staging_config(
        f"http://127.0.0.1:{free_port()}",
        "[[env.staging.audit]]\n"
        f'id = "python"\ntool = "pip-audit"\nrequirements = ["{token}.txt"]\n'
        f'osv_url = "{osv.base_url}"\nsecret_env = ["PRIVATE_INDEX_TOKEN"]\n',
    )
    result = run_gate(tmp_path, config, environ={"PRIVATE_INDEX_TOKEN": token}, suite=SUITE)
    gate = result.gate("audit.python")
    assert gate["outcome"] == "ERROR" and "invalid requirements input" in gate["reason"]
    assert "***" in gate["reason"]
    files = [p for p in result.report_dir.rglob("*") if p.is_file()]
    assert any(p.suffix == ".log" for p in files)
    for path in files:
        assert token not in path.read_text(encoding="utf-8", errors="replace"), path
    assert token not in result.output
