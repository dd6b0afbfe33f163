"""The Node dependency audits: the real `npm audit` and `pnpm audit` against a local
stand-in for the registry's bulk advisory API serving GHSA-jf85-cpcp-j695 (lodash before
4.17.12, critical), and `pytest --gate` end to end."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from audit_helpers import INTEGRITY, LEFT_PAD, audit, audit_spec, node_app
from gaterun import GATES, run_gate, staging_config
from npm_registry_standin import npm_registry_standin

from pytest_fixgate.errors import ConfigError, ProbeError
from pytest_fixgate.kinds.audit.npm_audit import parse_npm_report, parse_pnpm_report
from pytest_fixgate.measurements.process import ProcessResult
from pytest_fixgate.outcomes.model import Outcome
from pytest_fixgate.reference import free_port
from pytest_fixgate.reference.advisory_server import BULK_PATH, AdvisoryServer

SUITE = GATES / "test_audit.py"
needs_pnpm = pytest.mark.skipif(shutil.which("pnpm") is None, reason="pnpm is not installed")
needs_npm = pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")


@pytest.fixture(scope="module")
def _registry() -> Iterator[AdvisoryServer]:
    with npm_registry_standin() as server:
        yield server


@pytest.fixture
def registry(_registry: AdvisoryServer) -> AdvisoryServer:
    return _registry.reset()


def node_spec(tmp_path: Path, tool: str, registry_url: str, lodash: str, **more: object):
    node_app(tmp_path / "app", lodash, dev_lodash=bool(more.pop("dev_lodash", False)))
    return audit_spec(
        tmp_path, tool=tool, directory="app", registry=registry_url, fetch_retries=0, **more
    )


TOOLS = [pytest.param("npm", marks=needs_npm), pytest.param("pnpm", marks=needs_pnpm)]


@pytest.mark.parametrize("tool", TOOLS)
def test_lodash_4_17_11_fails_as_critical(
    tmp_path: Path, registry: AdvisoryServer, tool: str
) -> None:
    finding = audit(node_spec(tmp_path, tool, registry.registry_url, "4.17.11"), tmp_path / "r")
    ev = finding.evidence
    assert finding.outcome is Outcome.FAIL
    assert ev.reason == (
        "1 finding at or above high, not waived: lodash 4.17.11 GHSA-jf85-cpcp-j695 "
        "(npm-1106913) critical"
    )
    (row,) = ev.details["findings"]
    assert (row["package"], row["version"], row["severity"]) == ("lodash", "4.17.11", "critical")
    assert row["direct"] is True and row["fixed_versions"] == ["4.17.12"]
    assert ev.details["counts"]["critical"] == 1 and ev.details["tool"] == tool
    assert ev.details["command"].startswith(f"{tool} audit --json ")
    assert ev.details["tool_version"][0].isdigit()
    assert ("POST", BULK_PATH) in registry.requests


@pytest.mark.parametrize("tool", TOOLS)
def test_lodash_4_17_21_passes(tmp_path: Path, registry: AdvisoryServer, tool: str) -> None:
    finding = audit(node_spec(tmp_path, tool, registry.registry_url, "4.17.21"), tmp_path / "r")
    assert finding.outcome is Outcome.PASS
    assert ("POST", BULK_PATH) in registry.requests  # it did ask


@pytest.mark.parametrize("tool", TOOLS)
def test_production_only_leaves_dev_dependencies_out(
    tmp_path: Path, registry: AdvisoryServer, tool: str
) -> None:
    spec = node_spec(tmp_path, tool, registry.registry_url, "4.17.11", dev_lodash=True)
    assert audit(spec, tmp_path / "r").outcome is Outcome.PASS
    spec = node_spec(
        tmp_path, tool, registry.registry_url, "4.17.11", dev_lodash=True, production_only=False
    )
    assert audit(spec, tmp_path / "r").outcome is Outcome.FAIL


@pytest.mark.parametrize("tool", TOOLS)
def test_registry_down_is_an_error(tmp_path: Path, tool: str) -> None:
    spec = node_spec(tmp_path, tool, f"http://127.0.0.1:{free_port()}/", "4.17.11")
    with pytest.raises(ProbeError) as err:
        audit(spec, tmp_path / "r")
    assert (
        "ECONNREFUSED" in str(err.value)
        or "Connection refused" in str(err.value)
        or ("audit endpoint" in str(err.value))
    )


@pytest.mark.parametrize("tool", TOOLS)
def test_a_registry_answering_garbage_is_an_error(
    tmp_path: Path, registry: AdvisoryServer, tool: str
) -> None:
    registry.fault = "500"
    with pytest.raises(ProbeError):
        audit(node_spec(tmp_path, tool, registry.registry_url, "4.17.11"), tmp_path / "r")


@pytest.mark.parametrize("tool", TOOLS)
def test_no_lockfile_is_an_error_naming_it(
    tmp_path: Path, registry: AdvisoryServer, tool: str
) -> None:
    spec = node_spec(tmp_path, tool, registry.registry_url, "4.17.11")
    (tmp_path / "app" / ("package-lock.json" if tool == "npm" else "pnpm-lock.yaml")).unlink()
    with pytest.raises(ProbeError) as err:
        audit(spec, tmp_path / "r")
    assert "lockfile" in str(err.value).lower()


@needs_npm
def test_the_gate_end_to_end(tmp_path: Path, registry: AdvisoryServer) -> None:
    node_app(tmp_path / "app", "4.17.11")
    config = staging_config(
        f"http://127.0.0.1:{free_port()}",
        "[[env.staging.audit]]\n"
        f'id = "node"\ntool = "npm"\ndirectory = "app"\nregistry = "{registry.registry_url}"\n',
    )
    result = run_gate(tmp_path, config, suite=SUITE)
    gate = result.gate("audit.node")
    assert gate["outcome"] == "FAIL" and result.exit_code == 1
    assert gate["evidence"]["findings"][0]["id"] == "GHSA-jf85-cpcp-j695"
    html = result.files["html"].read_text(encoding="utf-8")
    assert "fixgate-audit" in html and "Prototype Pollution in lodash" in html


@pytest.mark.parametrize("tool", ["npm", "pnpm"])
def test_the_tool_missing_is_an_error(
    tmp_path: Path, registry: AdvisoryServer, tool: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = node_spec(tmp_path, tool, registry.registry_url, "4.17.11")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(ProbeError) as err:
        audit(spec, tmp_path / "r")
    assert str(err.value) == f"{tool} audit could not start: program not found: {tool}"


def transitive_app(folder: Path) -> Path:
    """lodash 4.17.11 reached only through another package, in both lockfile formats."""
    folder.mkdir(parents=True)
    lodash = "lodash-4.17.11.tgz"
    (folder / "package.json").write_text(
        '{"name": "app", "version": "1.0.0", "dependencies": {"wrapper": "1.0.0"}}'
    )
    (folder / "package-lock.json").write_text(
        '{"name": "app", "version": "1.0.0", "lockfileVersion": 3, "requires": true, '
        '"packages": {"": {"name": "app", "version": "1.0.0", '
        '"dependencies": {"wrapper": "1.0.0"}}, '
        '"node_modules/wrapper": {"version": "1.0.0", "dependencies": {"lodash": "^4.17.0"}}, '
        f'"node_modules/lodash": {{"version": "4.17.11", '
        f'"resolved": "https://registry.npmjs.org/lodash/-/{lodash}"}}}}}}'
    )
    (folder / "pnpm-lock.yaml").write_text(
        "lockfileVersion: '9.0'\n\nimporters:\n\n  .:\n    dependencies:\n      wrapper:\n"
        "        specifier: 1.0.0\n        version: 1.0.0\n\npackages:\n\n"
        f"  lodash@4.17.11:\n    resolution: {{integrity: {INTEGRITY['4.17.11']}}}\n\n"
        f"  wrapper@1.0.0:\n    resolution: {{integrity: {INTEGRITY['4.17.21']}}}\n\n"
        "snapshots:\n\n  lodash@4.17.11: {}\n\n"
        "  wrapper@1.0.0:\n    dependencies:\n      lodash: 4.17.11\n"
    )
    return folder


@pytest.mark.parametrize("tool", TOOLS)
def test_a_transitive_finding_says_so(tmp_path: Path, registry: AdvisoryServer, tool: str) -> None:
    transitive_app(tmp_path / "app")
    spec = audit_spec(
        tmp_path, tool=tool, directory="app", registry=registry.registry_url, fetch_retries=0
    )
    finding = audit(spec, tmp_path / "r")
    assert finding.outcome is Outcome.FAIL
    (row,) = finding.evidence.details["findings"]
    assert (row["package"], row["version"], row["direct"]) == ("lodash", "4.17.11", False)


def test_a_missing_directory_is_an_error_naming_it(tmp_path: Path) -> None:
    spec = audit_spec(tmp_path, tool="npm", directory="no-app")
    with pytest.raises(ProbeError, match=r"npm: no folder at .*no-app \(directory\)"):
        audit(spec, tmp_path / "r")


def _printed(stdout: str) -> ProcessResult:
    return ProcessResult(("npm", "audit", "--json"), 1, False, 0.5, "", stdout=stdout)


def test_a_report_whose_advisories_moved_is_an_error_not_zero_findings() -> None:
    # npm: a vulnerable package whose advisory objects are no longer under "via".
    npm = (
        '{"auditReportVersion": 2, "vulnerabilities": {"lodash": {"name": "lodash", '
        '"severity": "critical", "advisories": [{"source": 1, "severity": "critical"}]}}}'
    )
    with pytest.raises(ProbeError, match="no advisory object"):
        parse_npm_report(_printed(npm), command="npm audit", version="99", lock=None)
    # pnpm: an advisory whose installed versions are no longer under "findings".
    pnpm = '{"advisories": {"1": {"module_name": "lodash", "severity": "critical", "hits": []}}}'
    with pytest.raises(ProbeError, match="lists no findings"):
        parse_pnpm_report(_printed(pnpm), command="pnpm audit", version="99")


def bare_app(folder: Path, *, dev: bool) -> Path:
    """A package.json and both lockfiles with no production dependency: none at all, or
    (``dev``) left-pad as a dev dependency only."""
    folder.mkdir(parents=True)
    deps = {"left-pad": "1.3.0"} if dev else {}
    (folder / "package.json").write_text(
        json.dumps({"name": "app", "version": "1.0.0", "devDependencies": deps})
    )
    packages: dict[str, object] = {"": {"name": "app", "version": "1.0.0", "devDependencies": deps}}
    importer = "  .: {}\n"
    if dev:
        packages["node_modules/left-pad"] = {
            "version": "1.3.0",
            "resolved": "https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz",
            "integrity": LEFT_PAD,
            "dev": True,
        }
        importer = (
            "  .:\n    devDependencies:\n      left-pad:\n"
            "        specifier: 1.3.0\n        version: 1.3.0\n"
        )
    lock = {"name": "app", "version": "1.0.0", "lockfileVersion": 3, "packages": packages}
    (folder / "package-lock.json").write_text(json.dumps(lock))
    tail = (
        f"\npackages:\n\n  left-pad@1.3.0:\n    resolution: {{integrity: {LEFT_PAD}}}\n\n"
        "snapshots:\n\n  left-pad@1.3.0: {}\n"
        if dev
        else ""
    )
    (folder / "pnpm-lock.yaml").write_text(
        "lockfileVersion: '9.0'\n\nsettings:\n  autoInstallPeers: true\n"
        f"  excludeLinksFromLockfile: false\n\nimporters:\n\n{importer}{tail}"
    )
    return folder


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("dev", [False, True], ids=["no-dependency", "dev-only"])
def test_a_lockfile_with_nothing_to_audit_is_an_error_as_pip_audits_is(
    tmp_path: Path, registry: AdvisoryServer, tool: str, dev: bool
) -> None:
    bare_app(tmp_path / "app", dev=dev)
    spec = audit_spec(
        tmp_path, tool=tool, directory="app", registry=registry.registry_url, fetch_retries=0
    )
    with pytest.raises(ProbeError) as err:
        audit(spec, tmp_path / "r")
    assert f"{tool} audit audited no package" in str(err.value)
    if dev:  # the dev dependency is audited when asked for
        spec = audit_spec(
            tmp_path,
            tool=tool,
            directory="app",
            registry=registry.registry_url,
            fetch_retries=0,
            production_only=False,
        )
        finding = audit(spec, tmp_path / "r")
        assert finding.outcome is Outcome.PASS and finding.evidence.details["dependencies"] == 1


def _pin(app: Path, package_manager: str) -> None:
    meta = json.loads((app / "package.json").read_text(encoding="utf-8"))
    (app / "package.json").write_text(json.dumps({**meta, "packageManager": package_manager}))


@needs_pnpm
def test_pnpm_runs_as_installed_though_package_json_pins_another_version(
    tmp_path: Path, registry: AdvisoryServer
) -> None:
    spec = node_spec(tmp_path, "pnpm", registry.registry_url, "4.17.11")
    _pin(tmp_path / "app", "pnpm@9.15.0")  # as the real application's package.json
    finding = audit(spec, tmp_path / "r")
    assert finding.outcome is Outcome.FAIL, finding.evidence.reason
    details = finding.evidence.details
    assert details["package_manager_pin"] == "pnpm@9.15.0"
    assert details["version_switch"].startswith("off") and details["tool_version"] != "9.15.0"
    assert [r for r in registry.requests if "pnpm" in r[1]] == []  # never fetched pnpm 9.15.0


@needs_pnpm
def test_a_pnpm_that_cannot_run_is_an_error_with_its_own_error_line(
    tmp_path: Path, registry: AdvisoryServer
) -> None:
    # The entry's env turns the version switch back on: pnpm tries to fetch pnpm 9.15.0
    # from the registry, which has none.
    env = {
        "npm_config_manage_package_manager_versions": "true",
        "pnpm_config_pm_on_fail": "download",
    }
    spec = node_spec(tmp_path, "pnpm", registry.registry_url, "4.17.11", env=env)
    _pin(tmp_path / "app", "pnpm@9.15.0")
    with pytest.raises(ProbeError) as err:
        audit(spec, tmp_path / "r")
    message = str(err.value)
    assert message.startswith("pnpm audit could not audit (exit code 1")
    assert "pnpm@9.15.0" in message and "404" in message


def test_an_audit_entry_env_reaches_the_tool_after_fixgates_own(tmp_path: Path) -> None:
    from pytest_fixgate.kinds.audit.npm_audit import audit_environ

    spec = audit_spec(tmp_path, tool="pnpm", env={"HTTPS_PROXY": "http://proxy:3128"})
    env = audit_environ(spec)
    assert env["HTTPS_PROXY"] == "http://proxy:3128"
    assert env["npm_config_manage_package_manager_versions"] == "false"
    assert env["pnpm_config_pm_on_fail"] == "ignore"
    spec = audit_spec(tmp_path, tool="pnpm", env={"pnpm_config_pm_on_fail": "error"})
    assert audit_environ(spec)["pnpm_config_pm_on_fail"] == "error"
    with pytest.raises(ConfigError, match=r"env\.1X"):
        audit_spec(tmp_path, tool="npm", env={"1X": "y"})


def test_the_error_line_is_the_tools_own_first_error_and_its_last_line() -> None:
    from pytest_fixgate.kinds.audit.toolrun import last_line

    def tail(text: str) -> ProcessResult:
        return ProcessResult(("pnpm", "audit"), 1, False, 0.1, text)

    bad_config = (
        "Progress: resolved 1, reused 0, downloaded 0, added 0\n"
        ' ERR_PNPM_BAD_CONFIG_DEP  Configuration dependency "pnpm" has no integrity\n'
        "\n"
        "This error happened while installing the config dependencies\n"
    )
    assert last_line(tail(bad_config)) == (
        'ERR_PNPM_BAD_CONFIG_DEP  Configuration dependency "pnpm" has no integrity ... '
        "This error happened while installing the config dependencies"
    )
    assert last_line(tail("warn: slow\nfailed to reach the registry\n")) == (
        "failed to reach the registry"
    )
    assert last_line(tail("Error: boom\n")) == "Error: boom"
    assert last_line(tail("")) == "no output"
