"""Shared by the audit tests: an audit spec from a config table, run and judged for real."""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any

from pytest_fixgate.config.table import ConfigTable
from pytest_fixgate.kinds import KindContext
from pytest_fixgate.kinds.audit.config import AuditSpec, parse_audits
from pytest_fixgate.kinds.audit.judge import judge_audit
from pytest_fixgate.kinds.audit.run import run_audit
from pytest_fixgate.outcomes.model import Finding
from pytest_fixgate.redaction import Redactor

TODAY = _dt.date(2026, 11, 29)


def audit_spec(base_dir: Path, **table: Any) -> AuditSpec:
    ctx = KindContext(env_name="staging", base_dir=base_dir, timeout_s=5, file="fixgate.toml")
    (spec,) = parse_audits([ConfigTable({"id": "t", **table}, "fixgate.toml", "a")], ctx)
    return spec


def audit(spec: AuditSpec, report_dir: Path, today: _dt.date = TODAY) -> Finding:
    """Run the real tool and judge; a ProbeError (the gate's ERROR) propagates."""
    report = run_audit(spec, report_dir=report_dir, log="logs/audit.log", redactor=Redactor())
    return judge_audit(spec, report, today=today, logs=["logs/audit.log"])


INTEGRITY = {
    "4.17.11": "sha512-cQKh8igo5QUhZ7lg38DYWAxMvjSAKG0A8wGSVimP07SIUEK2UO+"
    "arSRKbRZWtelMtN5V0Hkwh5ryOto/SshYIg==",
    "4.17.21": "sha512-v2kDEe57lecTulaDIuNTPy3Ry4gLGJ6Z1O3vE1krgXZNrsQ+"
    "LFTGHVxVjcXPs17LhbZVGedAJv8XZ1tvj5FvSg==",
}
LEFT_PAD = (
    "sha512-XI5MPzVNApjAyhQzphX8BkmKsKUxD4LdyK24iZeQGinBN9yTQT3bFlCBy/"
    "aVx2HrNcqQGsdot8ghrjyrvMCoEA=="
)


def node_app(folder: Path, lodash: str, *, dev_lodash: bool = False) -> Path:
    """A package.json with its npm lockfile (v3) and pnpm lockfile (v9): lodash and
    left-pad, one a production dependency, the other a dev one (``dev_lodash``: lodash
    is the dev one; a production audit still audits left-pad)."""
    folder.mkdir(parents=True, exist_ok=True)
    prod = {"left-pad": "1.3.0"} if dev_lodash else {"lodash": lodash}
    dev = {"lodash": lodash} if dev_lodash else {"left-pad": "1.3.0"}
    (folder / "package.json").write_text(
        json.dumps(
            {
                "name": "app",
                "version": "1.0.0",
                "private": True,
                "dependencies": prod,
                "devDependencies": dev,
            }
        ),
        encoding="utf-8",
    )
    packages = {
        "": {"name": "app", "version": "1.0.0", "dependencies": prod, "devDependencies": dev},
        "node_modules/left-pad": {
            "version": "1.3.0",
            "resolved": "https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz",
            "integrity": LEFT_PAD,
            **({} if dev_lodash else {"dev": True}),
        },
        "node_modules/lodash": {
            "version": lodash,
            "resolved": f"https://registry.npmjs.org/lodash/-/lodash-{lodash}.tgz",
            "integrity": INTEGRITY[lodash],
            **({"dev": True} if dev_lodash else {}),
        },
    }
    lock = {
        "name": "app",
        "version": "1.0.0",
        "lockfileVersion": 3,
        "requires": True,
        "packages": packages,
    }
    (folder / "package-lock.json").write_text(json.dumps(lock, indent=2), encoding="utf-8")
    lodash_entry = f"      lodash:\n        specifier: {lodash}\n        version: {lodash}\n"
    left_pad_entry = "      left-pad:\n        specifier: 1.3.0\n        version: 1.3.0\n"
    importer = "  .:\n"
    if dev_lodash:
        importer += "    dependencies:\n" + left_pad_entry + "    devDependencies:\n" + lodash_entry
    else:
        importer += "    dependencies:\n" + lodash_entry + "    devDependencies:\n" + left_pad_entry
    (folder / "pnpm-lock.yaml").write_text(
        "lockfileVersion: '9.0'\n\n"
        "settings:\n  autoInstallPeers: true\n  excludeLinksFromLockfile: false\n\n"
        f"importers:\n\n{importer}\n"
        "packages:\n\n"
        f"  left-pad@1.3.0:\n    resolution: {{integrity: {LEFT_PAD}}}\n\n"
        f"  lodash@{lodash}:\n    resolution: {{integrity: {INTEGRITY[lodash]}}}\n\n"
        f"snapshots:\n\n  left-pad@1.3.0: {{}}\n\n  lodash@{lodash}: {{}}\n",
        encoding="utf-8",
    )
    return folder
