"""A replica of the real application's checkout (EngSayh/Fixzit, HEAD of January 2026),
laid out as ``examples/fixzit.toml`` expects to find it, and the faults planted in it.

Every name, shape and number below was read in the real repository (its
``package.json``, ``pnpm-lock.yaml``, ``.env.example``, ``scripts/migrations/``,
``scripts/checkBundleBudget.mjs``, ``lib/feature-flags.ts``,
``playwright.config.ts``); the files are written here, none is copied. Where
the application's own tools cannot run offline (eslint, tsc, tsx, Playwright:
nothing is installed), the replica provides small executables under the same
names in ``node_modules/.bin``, where the real ``pnpm`` finds them: the
package.json scripts are the application's own command lines, run by pnpm.

- ``eslint``: reports ``no-debugger`` for a ``debugger`` statement in the linted files.
- ``tsc -p .``: reports TS2322 for ``const x: number = "..."``.
- ``tsx FILE``: runs a migration as the application's scripts behave. Each file
  declares, in a ``// replica:`` JSON line, its dry-run convention (``env``: dry
  unless ``DRY_RUN=false``; ``flag``: dry only with ``--dry-run``; ``apply``: dry
  unless ``--apply``; ``none``: no dry run, always writes) and the write it makes
  (``$set`` or ``$inc`` on a collection, or an index: an ``$inc`` changes the data
  on every run, so no write hides behind an idempotent one). It talks to ``MONGODB_URI`` (the
  URI's own database), as the real scripts do.
- ``playwright test DIR``: requests each ``request.get("/path")`` a spec in DIR
  makes against ``PW_WEB_URL`` (the application's base-URL variable) and
  checks the status the spec expects.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymongo

from pytest_fixgate.reference.dump import dump_database

__all__ = [
    "BUNDLE_BUDGETS_KB",
    "MIGRATIONS",
    "Replica",
    "build_replica",
    "fingerprint",
    "write_dependencies",
]

# The stand-ins of the tools nothing installs offline (see the docstring).
BIN = Path(__file__).resolve().parent / "fixzit_replica_bin"

# package.json: "packageManager": "pnpm@9.15.0"; the scripts the promotion flow runs.
PACKAGE_MANAGER = "pnpm@9.15.0"
ESLINT_IGNORES = (".next", "node_modules", "public", "scripts", "tools", "tmp")
SCRIPTS = {
    "lint": "eslint . --ext .ts,.tsx,.js,.jsx --max-warnings 300 "
    + " ".join(f"--ignore-pattern {p}" for p in ESLINT_IGNORES),
    "typecheck": "tsc -p .",
    "test:e2e": "bash scripts/run-playwright.sh",
    "bundle:budget": "node scripts/checkBundleBudget.mjs",
    "bundle:budget:report": "node scripts/checkBundleBudget.mjs --report",
}

# scripts/checkBundleBudget.mjs: DEFAULT_BUDGETS (KB, gzipped).
BUNDLE_BUDGETS_KB = {
    "main-app": 8500,
    "framework": 3500,
    "commons": 2200,
    "sentry": 6500,
    "copilot": 3200,
    "i18n": 2200,
    "vendor": 4200,
    "polyfills": 600,
    "page": 800,
    "default": 1200,
}
# Chunks as a build names them, with gzipped sizes in KB well inside their budgets.
HEALTHY_CHUNKS = (
    ("main-app-5b1c9e0d2a.js", "main-app", 7412.35),
    ("framework-8f2a61c4.js", "framework", 2984.1),
    ("sentry-3d7e0a91.js", "sentry", 5120.77),
    ("commons-a41b2c9d.js", "commons", 1533.02),
    ("polyfills-42372ed130431b0a.js", "polyfills", 39.5),
    ("app/fm/work-orders/page-0c1d2e3f.js", "page", 412.6),
)

# lib/feature-flags.ts: a few of its ids (category.name, name with "_").
FLAG_IDS = ("core.sms_notifications", "ui.new_dashboard", "fm.work_order_auto_assign")

# scripts/migrations/: real file names, one or more per dry-run convention.
MIGRATIONS: dict[str, dict[str, Any]] = {
    # DRY_RUN !== "false": dry unless DRY_RUN=false (the one .js file).
    "2025-01-20-fix-souq-orgid.js": {
        "dry_run": "env",
        "collection": "souq_listings",
        "filter": {"org_id": {"$exists": True}},
        "set": {"orgIdFixed": True},
    },
    # process.argv.includes("--dry-run"): dry only when asked.
    "2025-12-03-create-qa-logs-indexes.ts": {
        "dry_run": "flag",
        "collection": "qa_logs",
        "index": {"keys": [["orgId", 1], ["createdAt", -1]], "name": "qa_logs_orgId_createdAt"},
    },
    # Writes only with --apply.
    "2025-12-20-normalize-souq-orgId.ts": {
        "dry_run": "apply",
        "collection": "souq_orders",
        "filter": {"orgId": {"$exists": True}},
        "set": {"orgIdNormalized": True},
    },
    # No dry-run mode at all: always writes.
    "migrate-permissions-vocabulary.ts": {
        "dry_run": "none",
        "collection": "users",
        "filter": {},
        "inc": {"permissionsVocabularyRuns": 1},
    },
}

# .env.example: "# === SECTION ===" headers, names with a default, names left empty,
# and commented-out switches (the OTP bypasses). (section, [(name, example value)]).
MANIFEST: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("NODE ENVIRONMENT", (("NODE_ENV", "development"),)),
    (
        "APPLICATION URLS",
        (
            ("NEXT_PUBLIC_APP_URL", "http://localhost:3000"),
            ("BASE_URL", "http://localhost:3000"),
            ("NEXT_PUBLIC_CONTACT_PHONE", ""),
        ),
    ),
    (
        "DATABASE (MongoDB)",
        (
            ("MONGODB_URI", "mongodb://localhost:27017/fixzit"),
            ("MONGODB_DB", "fixzit"),
            ("MONGO_INITDB_ROOT_PASSWORD", ""),
            ("COMPOSE_MONGODB_URI", ""),
        ),
    ),
    ("JWT AUTHENTICATION", (("JWT_SECRET", ""),)),
    (
        "NEXTAUTH (OAuth Authentication)",
        (("NEXTAUTH_SECRET", ""), ("AUTH_TRUST_HOST", "true")),
    ),
    (
        "PAYMENT GATEWAYS",
        (
            ("TAP_ENVIRONMENT", "test"),
            ("TAP_TEST_SECRET_KEY", ""),
            ("TAP_LIVE_SECRET_KEY", ""),
            ("TAP_WEBHOOK_SECRET", ""),
        ),
    ),
    ("HEALTH CHECKS & MONITORING TOKENS", (("HEALTH_CHECK_TOKEN", ""),)),
    ("MONITORING & OBSERVABILITY", (("SENTRY_DSN", ""),)),
    ("OAUTH CONFIGURATION", (("GOOGLE_CLIENT_SECRET", "your_google_client_secret_here"),)),
)
COMMENTED_OUT = ("NEXTAUTH_BYPASS_OTP_ALL=true", "ALLOW_TEST_USER_OTP_BYPASS=true")
# Empty in the manifest and set by no deployment (docker-compose only, or unused).
NOT_DEPLOYED = ("NEXT_PUBLIC_CONTACT_PHONE", "MONGO_INITDB_ROOT_PASSWORD", "COMPOSE_MONGODB_URI")

# The admin collections the app keeps besides work orders (for the migrations to touch).
EXTRA_COLLECTIONS: dict[str, list[dict[str, Any]]] = {
    "users": [
        {"_id": "u-1", "email": "admin@fixzit.example", "role": "SUPER_ADMIN", "orgId": "org-1"},
        {"_id": "u-2", "email": "tech@fixzit.example", "role": "TECHNICIAN", "orgId": "org-1"},
    ],
    "properties": [{"_id": "p-1", "orgId": "org-1", "name": "Tower A"}],
    "souq_orders": [{"_id": "so-1", "orgId": "org-1", "total": 120}],
}


@dataclass(frozen=True)
class Replica:
    """A replica checkout and what the example needs set to gate it."""

    root: Path
    staging_uri: str  # MONGODB_URI: the staging database (SecantusDB), its own db name
    secrets: Mapping[str, str]  # every value written to the env files (to search reports for)

    @property
    def config(self) -> Path:
        return self.root / "fixgate.toml"


RUN_PLAYWRIGHT = """#!/usr/bin/env bash
# As the application's scripts/run-playwright.sh: Playwright against a server it starts
# on 127.0.0.1 (here none is started): it never tests a deployed staging.
set -euo pipefail
export PW_WEB_URL="${PW_WEB_URL:-http://127.0.0.1:3000}"
exec playwright test "$@"
"""

SMOKE_SPEC = """import { test, expect } from "@playwright/test";

test("the application is up", async ({ request }) => {
  const response = await request.get("/api/health/live");
  expect(response.status()).toBe(200);
});

test("it reaches its database", async ({ request }) => {
  const response = await request.get("/api/health/ready");
  expect(response.status()).toBe(200);
});
"""


# --- building -------------------------------------------------------------------------


def _write(path: Path, text: str, *, executable: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if executable:
        path.chmod(0o755)


def _package_json(lodash: str) -> str:
    return json.dumps(
        {
            "name": "fixzit-frontend",
            "version": "2.0.27",
            "private": True,
            "engines": {"node": ">=18.18 <23"},
            "packageManager": PACKAGE_MANAGER,
            "scripts": SCRIPTS,
            "dependencies": {"lodash": lodash},
            "devDependencies": {"left-pad": "1.3.0"},
        },
        indent=2,
    )


# npm integrity of the two lodash versions and left-pad (as in the registry's packuments).
INTEGRITY = {
    "lodash@4.17.21": "sha512-v2kDEe57lecTulaDIuNTPy3Ry4gLGJ6Z1O3vE1krgXZNrsQ+"
    "LFTGHVxVjcXPs17LhbZVGedAJv8XZ1tvj5FvSg==",
    "lodash@4.17.11": "sha512-cQKh8igo5QUhZ7lg38DYWAxMvjSAKG0A8wGSVimP07SIUEK2UO+"
    "arSRKbRZWtelMtN5V0Hkwh5ryOto/SshYIg==",
    "left-pad@1.3.0": "sha512-XI5MPzVNApjAyhQzphX8BkmKsKUxD4LdyK24iZeQGinBN9yTQT3bFlCBy/"
    "aVx2HrNcqQGsdot8ghrjyrvMCoEA==",
}


def _pnpm_lock(lodash: str) -> str:
    # lockfileVersion '9.0' with the settings block, as the application's lockfile starts.
    return (
        "lockfileVersion: '9.0'\n\n"
        "settings:\n  autoInstallPeers: true\n  excludeLinksFromLockfile: false\n\n"
        "importers:\n\n  .:\n"
        "    dependencies:\n"
        f"      lodash:\n        specifier: {lodash}\n        version: {lodash}\n"
        "    devDependencies:\n"
        "      left-pad:\n        specifier: 1.3.0\n        version: 1.3.0\n\n"
        "packages:\n\n"
        f"  left-pad@1.3.0:\n    resolution: {{integrity: {INTEGRITY['left-pad@1.3.0']}}}\n\n"
        f"  lodash@{lodash}:\n    resolution: {{integrity: {INTEGRITY['lodash@' + lodash]}}}\n\n"
        f"snapshots:\n\n  left-pad@1.3.0: {{}}\n\n  lodash@{lodash}: {{}}\n"
    )


def write_dependencies(root: Path, lodash: str) -> None:
    """package.json and its pnpm lockfile, with ``lodash`` at that version."""
    _write(root / "package.json", _package_json(lodash))
    _write(root / "pnpm-lock.yaml", _pnpm_lock(lodash))


def bundle_entry(
    chunks: tuple[tuple[str, str, float], ...] = HEALTHY_CHUNKS,
    *,
    when: _dt.datetime | None = None,
) -> dict[str, Any]:
    """One entry of reports/bundle-budget-history.json, as checkBundleBudget.mjs --report
    appends it."""
    when = when or _dt.datetime.now(_dt.UTC)
    top = [
        {
            "file": name,
            "sizeKb": size,
            "budgetKb": BUNDLE_BUDGETS_KB[key],
            "overBudget": size > BUNDLE_BUDGETS_KB[key],
        }
        for name, key, size in chunks
    ]
    violations = [
        {"file": t["file"], "sizeKb": t["sizeKb"], "budgetKb": t["budgetKb"]}
        | {"deltaKb": round(t["sizeKb"] - t["budgetKb"], 2)}
        for t in top
        if t["overBudget"]
    ]
    return {
        "timestamp": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "branch": "main",
        "totalKb": round(sum(size for _, _, size in chunks), 2),
        "bundleCount": len(chunks),
        "overBudgetCount": len(violations),
        "topChunks": sorted(top, key=lambda t: -t["sizeKb"]),
        "violations": violations,
    }


def _manifest_text() -> str:
    lines = ["# " + "=" * 77, "# FIXZIT ENVIRONMENT CONFIGURATION (replica)", "# " + "=" * 77]
    for section, names in MANIFEST:
        lines.append(f"# === {section.upper()} ===")
        lines += [f"{name}={value}" for name, value in names]
        if section.startswith("NEXTAUTH"):
            lines += [f"# {switch}" for switch in COMMENTED_OUT]
    return "\n".join(lines) + "\n"


def _secret(env: str, name: str) -> str:
    return hashlib.sha256(f"replica-{env}-{name}".encode()).hexdigest()[:40]


def env_values(env: str) -> dict[str, str]:
    """The variables a deployment of ``env`` defines, derived from the manifest: every
    name with a default, every empty name a deployment sets (secrets differ per env)."""
    host = {"staging": "https://staging.fixzit.sa", "production": "https://fixzit.sa"}[env]
    out: dict[str, str] = {}
    for _, names in MANIFEST:
        for name, _default in names:
            if name in NOT_DEPLOYED:
                continue
            out[name] = _secret(env, name)
    out |= {
        "NODE_ENV": "production",
        "NEXT_PUBLIC_APP_URL": host,
        "BASE_URL": host,
        # As Vercel holds them: each deployment's Atlas cluster (the gates reach the
        # replica's staging through the job's own MONGODB_URI, not through this file).
        "MONGODB_URI": f"mongodb+srv://fixzit-{env}.cluster.example.net/fixzit",
        "MONGODB_DB": "fixzit",
        "AUTH_TRUST_HOST": "true",
        # Tap's sandbox on staging is its legitimate "test" mode, not a placeholder.
        "TAP_ENVIRONMENT": "test" if env == "staging" else "live",
        "SENTRY_DSN": f"https://{_secret(env, 'dsn')[:32]}@o1.ingest.sentry.io/42",
    }
    return out


def write_env_file(root: Path, env: str, values: Mapping[str, str]) -> None:
    body = "".join(f'{name}="{value}"\n' for name, value in values.items())
    _write(root / "envs" / f"{env}.env", f"# vercel env pull envs/{env}.env\n{body}")


def _migration_text(name: str, spec: Mapping[str, Any]) -> str:
    convention = {
        "env": 'const DRY_RUN = process.env.DRY_RUN !== "false";',
        "flag": 'const DRY_RUN = process.argv.includes("--dry-run");',
        "apply": 'const APPLY = process.argv.includes("--apply");',
        "none": "// no dry-run mode: every run writes",
    }[spec["dry_run"]]
    return (
        "#!/usr/bin/env npx tsx\n"
        f"/** Replica of scripts/migrations/{name} (its dry-run convention and its write). */\n"
        f"// replica: {json.dumps(dict(spec))}\n"
        'import { MongoClient } from "mongodb";\n'
        f"{convention}\n"
    )


def write_migration(root: Path, name: str, spec: Mapping[str, Any]) -> None:
    _write(root / "scripts" / "migrations" / name, _migration_text(name, spec))


def build_replica(root: Path, staging_uri: str, *, lodash: str = "4.17.21") -> Replica:
    """Write the replica checkout under ``root``: source, scripts, build output, manifest,
    env files, the tools' stand-ins, and a fresh mongodump of staging under backups/."""
    write_dependencies(root, lodash)
    _write(
        root / ".npmrc",
        "# as the application's: no registry (pnpm's default)\nengine-strict=false\n",
    )
    _write(root / "tsconfig.json", json.dumps({"include": ["app", "lib"]}))
    bin_dir = root / "node_modules" / ".bin"
    for tool in ("eslint", "tsc", "playwright"):
        body = (BIN / f"{tool}.js").read_text(encoding="utf-8")
        _write(bin_dir / tool, "#!/usr/bin/env node\n" + body, executable=True)
    tsx = (BIN / "tsx.py").read_text(encoding="utf-8")
    _write(bin_dir / "tsx", f"#!{sys.executable}\n{tsx}", executable=True)
    _write(root / "scripts" / "run-playwright.sh", RUN_PLAYWRIGHT, executable=True)
    _write(root / "tests" / "e2e" / "smoke" / "health.spec.ts", SMOKE_SPEC)
    flags = ",\n".join(f'  "{f}": {{ id: "{f}", enabled: false }}' for f in FLAG_IDS)
    _write(
        root / "lib" / "feature-flags.ts",
        "export interface FeatureFlag { id: string; enabled: boolean }\n"
        f"export const FEATURE_FLAGS: Record<string, FeatureFlag> = {{\n{flags},\n}};\n",
    )
    _write(
        root / "app" / "api" / "health" / "live" / "route.ts",
        "export async function GET(): Promise<Response> {\n"
        "  const uptime: number = process.uptime();\n"
        "  return Response.json({ alive: true, uptime });\n}\n",
    )
    for name, spec in MIGRATIONS.items():
        write_migration(root, name, spec)
    history = [bundle_entry(when=_dt.datetime.now(_dt.UTC) - _dt.timedelta(hours=3))]
    _write(root / "reports" / "bundle-budget-history.json", json.dumps(history, indent=2))
    _write(root / ".env.example", _manifest_text())
    secrets: dict[str, str] = {}
    for env in ("staging", "production"):
        values = env_values(env)
        write_env_file(root, env, values)
        secrets |= {f"{env}:{k}": v for k, v in values.items() if v == _secret(env, k)}
    # The team's audit waivers: none (the example's own file is a shape to copy).
    _write(root / "waivers" / "fixzit-audit-waivers.toml", "# no accepted advisory\n")
    write_backup(root, staging_uri)
    return Replica(root=root, staging_uri=staging_uri, secrets=secrets)


def write_backup(root: Path, staging_uri: str) -> Path:
    """``mongodump --out=backups/manual-<stamp>`` of staging, as the runbook asks."""
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%d-%H%M%S")
    out = root / "backups" / f"manual-{stamp}"
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(staging_uri)
    try:
        database = client.get_default_database().name
    finally:
        client.close()
    dump_database(staging_uri.rsplit("/", 1)[0] + "/", database, out)
    return out


def seed_app_collections(staging_uri: str) -> None:
    """The collections the replica's migrations touch, besides the reference seed's."""
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(staging_uri)
    try:
        db = client.get_default_database()
        for name, docs in EXTRA_COLLECTIONS.items():
            for doc in docs:
                db[name].replace_one({"_id": doc["_id"]}, doc, upsert=True)
    finally:
        client.close()


def fingerprint(staging_uri: str) -> str:
    """A hash of every collection of the staging database: its documents in ``_id`` order
    and its index specs (the test's own, independent of the gate's fingerprint)."""
    from bson import json_util

    digest = hashlib.sha256()
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(staging_uri)
    try:
        db = client.get_default_database()
        for name in sorted(db.list_collection_names()):
            digest.update(name.encode())
            for doc in db[name].find({}, sort=[("_id", 1)]):
                digest.update(json_util.dumps(doc, sort_keys=True).encode())
            specs = sorted(
                json_util.dumps(dict(s), sort_keys=True) for s in db[name].list_indexes()
            )
            digest.update("".join(specs).encode())
    finally:
        client.close()
    return digest.hexdigest()
