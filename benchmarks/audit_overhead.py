"""What an audit gate costs beyond the audit tool itself (target: under 10%).

Against the local advisory server (the OSV API and npm's bulk advisory API
on 127.0.0.1, real records), for each audit gate:

    pip-audit  requests==2.19.1 (two advisories, severities from OSV)
    pip-audit  requests==2.32.3 (clean)
    npm        lodash 4.17.11 (critical)
    pnpm       lodash 4.17.11 (critical), when pnpm is installed

it times, REPEAT times each, interleaved:

- the tool alone: the very command the gate runs, through ``subprocess.run``;
- the whole gate measurement: ``run_audit`` (the tool through the process
  primitive, redacted log, JSON parsing, OSV severity look-ups, one per
  advisory and alias) plus ``judge_audit``;

and prints the medians: the tool alone, the gate, their difference (noisy on
a busy machine: two separate runs of the tool), and the time the gate spent
outside the tool's own run, measured inside the same run (the gate's wall time
minus the tool process's lifetime: parsing, OSV look-ups, judging, the process
primitive), as a share of the tool's own time; and the OSV look-ups made.

Usage: python benchmarks/audit_overhead.py [REPEAT]   (default 7)
"""

from __future__ import annotations

import datetime as _dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pytest_fixgate.demo_build import prepare_demo_app
from pytest_fixgate.kinds.audit.config import AuditSpec
from pytest_fixgate.kinds.audit.judge import judge_audit
from pytest_fixgate.kinds.audit.npm_audit import audit_environ, npm_audit_argv
from pytest_fixgate.kinds.audit.pip_audit import pip_audit_argv
from pytest_fixgate.kinds.audit.run import run_audit
from pytest_fixgate.redaction import Redactor
from pytest_fixgate.reference.advisory_server import advisory_server


def tool_alone(spec: AuditSpec) -> float:
    if spec.tool == "pip-audit":
        argv, cwd, env = pip_audit_argv(spec), None, {**os.environ, "PYTHONWARNINGS": "ignore"}
    else:
        argv, cwd, env = npm_audit_argv(spec), spec.directory, audit_environ(spec)
    started = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, capture_output=True, check=False)
    return time.perf_counter() - started


def gate(spec: AuditSpec, report_dir: Path) -> tuple[float, float, str, int]:
    """The whole measurement's seconds, and the part of it outside the tool's own run."""
    started = time.perf_counter()
    report = run_audit(spec, report_dir=report_dir, log="logs/bench.log", redactor=Redactor())
    finding = judge_audit(spec, report, today=_dt.date.today(), logs=[])
    total = time.perf_counter() - started
    fetches = report.extra.get("osv_fetches", 0)
    return total, total - report.tool_seconds, finding.outcome.value, fetches


def main(repeat: int) -> int:
    with tempfile.TemporaryDirectory() as tmp, advisory_server() as server:
        base = Path(tmp)
        bad = prepare_demo_app(base / "bad", "vulnerable")
        good = prepare_demo_app(base / "good")
        (bad / "pnpm-lock.yaml").write_text(
            "lockfileVersion: '9.0'\n\nimporters:\n\n  .:\n    dependencies:\n      lodash:\n"
            "        specifier: 4.17.11\n        version: 4.17.11\n\npackages:\n\n"
            "  lodash@4.17.11:\n    resolution: {integrity: sha512-cQKh8igo5QUhZ7lg38DYWAxMvjSAK"
            "G0A8wGSVimP07SIUEK2UO+arSRKbRZWtelMtN5V0Hkwh5ryOto/SshYIg==}\n\nsnapshots:\n\n"
            "  lodash@4.17.11: {}\n",
            encoding="utf-8",
        )
        cases = [
            (
                "pip-audit requests 2.19.1",
                AuditSpec(
                    id="py",
                    tool="pip-audit",
                    requirements=(bad / "requirements.txt",),
                    osv_url=server.base_url,
                ),
            ),
            (
                "pip-audit requests 2.32.3",
                AuditSpec(
                    id="py",
                    tool="pip-audit",
                    requirements=(good / "requirements.txt",),
                    osv_url=server.base_url,
                ),
            ),
            (
                "npm lodash 4.17.11",
                AuditSpec(
                    id="node",
                    tool="npm",
                    directory=bad,
                    registry=server.registry_url,
                    fetch_retries=0,
                ),
            ),
        ]
        if shutil.which("pnpm"):
            cases.append(
                (
                    "pnpm lodash 4.17.11",
                    AuditSpec(
                        id="pn",
                        tool="pnpm",
                        directory=bad,
                        registry=server.registry_url,
                        fetch_retries=0,
                    ),
                )
            )
        print(f"audit overhead, median of {repeat} runs each (local advisory server)")
        head = ("gate", "outcome", "tool s", "gate s", "diff", "beyond", "share", "OSV GETs")
        print("{:28} {:8} {:>8} {:>8} {:>8} {:>8} {:>7} {:>8}".format(*head))
        worst = 0.0
        for name, spec in cases:
            tool_alone(spec)  # warm caches once
            tools, gates, outside = [], [], []
            outcome, fetches = "", 0
            for _ in range(repeat):
                tools.append(tool_alone(spec))
                seconds, beyond, outcome, fetches = gate(spec, base / "reports")
                gates.append(seconds)
                outside.append(beyond)
            t, g = statistics.median(tools), statistics.median(gates)
            b = statistics.median(outside)
            share = b / t * 100
            worst = max(worst, share)
            print(
                f"{name:28} {outcome:8} {t:8.3f} {g:8.3f} {g - t:+8.3f} {b:8.3f} {share:6.1f}%"
                f" {fetches:8d}"
            )
        print(f"largest share beyond the tool: {worst:.1f}% (target < 10%)")
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 7))
