"""examples/fixzit.toml's build and supply-chain gates: the real application's promotion
step 2 described in config alone, its audit and bundle tables run in a stand-in checkout."""

from __future__ import annotations

import datetime as _dt
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from audit_helpers import node_app
from gaterun import GATES, run_gate
from npm_registry_standin import npm_registry_standin

from pytest_fixgate.config.loader import load_config, select_env
from pytest_fixgate.reference import free_port
from pytest_fixgate.reference.advisory_server import AdvisoryServer

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
EXAMPLE = EXAMPLES / "fixzit.toml"
BUILD_TABLES = r"(?ms)^\[\[?env\.staging\.(commands|bundle|audit)\]\]?\n.*?(?=^\[|\Z)"


def test_the_example_describes_step_2_of_the_promotion_flow() -> None:
    env = select_env(load_config(EXAMPLE), "staging")
    assert {"command.lint", "command.typecheck", "command.e2e", "bundle.budget", "audit.node"} <= (
        set(env.implied_gates)
    )
    commands = {c.id: c for c in env.section("commands")}
    assert commands["lint"].argv == ("pnpm", "lint") and commands["lint"].cwd == EXAMPLES
    # The staging smoke of the release-gate workflow, against this environment's base_url
    # (PW_WEB_URL is what playwright.config.ts reads), never `pnpm test:e2e`'s dev server.
    e2e = commands["e2e"].for_environment(env.base_url)
    assert e2e.argv == ("pnpm", "playwright", "test", "tests/e2e/smoke/", "--reporter=list")
    assert e2e.timeout_s == 1800 and e2e.env["CI"] == ""
    assert e2e.env["PW_WEB_URL"] == e2e.env["BASE_URL"] == "https://staging.fixzit.example"
    assert "exit 1" in e2e.env["PW_WEB_SERVER"]  # no local server as a fallback
    assert {"TEST_USER_PASSWORD", "NEXTAUTH_SECRET"} <= set(env.secret_env_names())
    (node,) = env.section("audit")
    assert (node.tool, node.production_only, node.audit_level.label) == ("pnpm", True, "high")
    assert node.waivers and node.waivers[0].package == "lodash"
    bundle = env.section("bundle")
    assert bundle.report == EXAMPLES / "reports" / "bundle-budget-history.json"
    assert bundle.max_age_s == 86400 and bundle.warn_within == 0.05


@pytest.fixture(scope="module")
def registry() -> Iterator[AdvisoryServer]:
    with npm_registry_standin() as server:
        yield server


@pytest.mark.skipif(shutil.which("pnpm") is None, reason="pnpm is not installed")
def test_the_examples_audit_and_bundle_tables_in_a_checkout(
    tmp_path: Path, registry: AdvisoryServer
) -> None:
    # The example copied to the root of a checkout, as its comments say; the commands
    # (pnpm scripts, which install first) are left to the application's own CI.
    checkout = node_app(tmp_path, "4.17.11")
    meta = json.loads((checkout / "package.json").read_text(encoding="utf-8"))
    meta["packageManager"] = "pnpm@9.15.0"  # as the application's package.json pins it
    (checkout / "package.json").write_text(json.dumps(meta), encoding="utf-8")
    (checkout / "waivers").mkdir()
    shutil.copyfile(
        EXAMPLES / "waivers" / "fixzit-audit-waivers.toml",
        checkout / "waivers" / "fixzit-audit-waivers.toml",
    )
    (checkout / "reports").mkdir()
    stamp = _dt.datetime.now(_dt.UTC).isoformat().replace("+00:00", "Z")
    entry = {
        "timestamp": stamp,
        "branch": "main",
        "totalKb": 19126.08,
        "bundleCount": 86,
        "overBudgetCount": 0,
        "topChunks": [
            {"file": "main-app-a4.js", "sizeKb": 8240.0, "budgetKb": 8500, "overBudget": False}
        ],
        "violations": [],
    }
    (checkout / "reports" / "bundle-budget-history.json").write_text(json.dumps([entry]))
    text = EXAMPLE.read_text(encoding="utf-8")
    tables = [m.group(0) for m in re.finditer(BUILD_TABLES, text)]
    build = "".join(t for t in tables if not t.startswith("[[env.staging.commands]]"))
    config = f'[env.staging]\nbase_url = "http://127.0.0.1:{free_port()}"\n\n{build}'
    # The example names no registry: pnpm's own configuration, here the stand-in's.
    result = run_gate(
        checkout, config, suite=GATES, environ={"pnpm_config_registry": registry.registry_url}
    )
    audit = result.gate("audit.node")
    # lodash 4.17.11 is critical, and the example's waiver covers it until 2027-01-31.
    assert audit["outcome"] == "PASS", audit["reason"]
    assert audit["reason"] == "no finding at or above high (1 waived)"
    assert audit["evidence"]["findings"][0]["status"] == "waived"
    assert audit["evidence"]["package_manager_pin"] == "pnpm@9.15.0"
    assert result.gate("bundle.budget")["outcome"] == "WARN"  # 8240 of 8500 KB: within 5%
