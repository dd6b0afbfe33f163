"""``fixgate demo``: the embedded default, a whole gate run on one machine.

Starts SecantusDB (MongoDB wire), redis-server and the reference staging
service on free ports on 127.0.0.1, writes a config for them, runs
``pytest --gate=demo`` and stops everything it started, also on Ctrl-C or
failure. ``--fault`` makes the service misbehave so the gate holds.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pytest_fixgate.demo_build import demo_build_stack
from pytest_fixgate.redaction import mask_uri_password
from pytest_fixgate.reference.processes import ProcessStartError, RedisServer
from pytest_fixgate.suite import BUILTIN_LOCUSTFILES, BUILTIN_SUITE

__all__ = ["FAULTS", "DemoFault", "run_demo"]

MONGODB_URI_ENV = "FIXGATE_DEMO_MONGODB_URI"
REDIS_URL_ENV = "FIXGATE_DEMO_REDIS_URL"
HEALTH_TOKEN_ENV = "FIXGATE_DEMO_HEALTH_TOKEN"
#: The reference service's migrations: a good pending one, and faulty/ ones.
MIGRATIONS = Path(__file__).resolve().parent / "reference" / "migrations"
ADMIN_TOKEN_ENV = "FIXGATE_DEMO_ADMIN_TOKEN"


@dataclass(frozen=True)
class DemoFault:
    help: str
    faults: dict[str, object]
    # Something to do to the running service before the gates run.
    prepare: Callable[[str], None] | None = None
    target_not_listening: bool = False
    # Which dotenv files the secrets-parity and flag gates read (see write_demo_dotenv).
    dotenv: str = "healthy"
    # Which migrations the dry-run gate finds pending: the good one, or a lying one.
    migrations: str = "good"
    # The demo app the build gates check: "healthy", or "vulnerable" pins (demo_build).
    build: str = "healthy"


def _use_up_rate_limit(base_url: str) -> None:
    # deferred: httpx loads only when a request is made, not at a gate run's start
    import httpx

    for path in ("/api/health", "/api/health/db", "/api/health/redis", "/api/health/ready"):
        httpx.get(base_url + path, timeout=5)


FAULTS: dict[str, DemoFault] = {
    "none": DemoFault("a healthy service: PROMOTE", {}),
    "db-down": DemoFault("MongoDB unreachable from the service", {"mongo_down": True}),
    "redis-down": DemoFault("Redis unreachable from the service", {"redis_down": True}),
    "errors": DemoFault("every request answers HTTP 500", {"error_ratio": 1.0}),
    "slow": DemoFault("every request takes 3 s, past the 2 s timeout", {"latency_ms": 3000}),
    "wrong-json": DemoFault("health routes answer 200 with the wrong body", {"wrong_json": True}),
    "rate-limited": DemoFault(
        "health routes allow 1 request a minute: the gates get HTTP 429",
        {"rate_limit_per_min": 1},
        prepare=_use_up_rate_limit,
    ),
    "down": DemoFault("the target is not listening at all", {}, target_not_listening=True),
    "secrets-drift": DemoFault(
        "production shares NEXTAUTH_SECRET with staging, points MONGODB_URI at localhost "
        "and sets an OTP bypass",
        {},
        dotenv="secrets-drift",
    ),
    "lying-migration": DemoFault(
        "a pending migration whose --dry-run writes anyway: the fingerprint catches it",
        {},
        migrations="lying",
    ),
    "vulnerable-deps": DemoFault(
        "the demo app pins lodash 4.17.11 (critical) and requests 2.19.1 (high)",
        {},
        build="vulnerable",
    ),
    "flag-drift": DemoFault(
        "FEATURE_SMS_OTP_LOGIN=disabled turns an intended flag off; "
        "FEATURE_UI_NEW_DASHBOARD names no flag",
        {},
        dotenv="flag-drift",
    ),
}


def write_demo_dotenv(folder: Path, kind: str) -> None:
    """The manifest and the staging and production dotenv files (as ``vercel env pull``
    writes them) that the demo's secrets-parity and flag gates read; fresh secrets."""

    def secret() -> str:
        return os.urandom(12).hex()

    staging_secret = secret()
    production = {
        "NEXTAUTH_SECRET": secret(),
        "MONGODB_URI": f"mongodb+srv://app:{secret()}@prod.cluster.example/fixzit",
    }
    staging = {
        "NEXTAUTH_SECRET": staging_secret,
        "MONGODB_URI": f"mongodb+srv://app:{secret()}@staging.cluster.example/fixzit",
        "FEATURE_WORK_ORDER_EXPORT": "true",
    }
    if kind == "secrets-drift":
        production["NEXTAUTH_SECRET"] = staging_secret
        production["MONGODB_URI"] = "mongodb://localhost:27017/fixzit"
        production["NEXTAUTH_BYPASS_OTP_ALL"] = "true"
    if kind == "flag-drift":
        staging["FEATURE_SMS_OTP_LOGIN"] = "disabled"  # the runbook's `vercel env add`
        staging["FEATURE_UI_NEW_DASHBOARD"] = "true"
    envs = folder / "envs"
    envs.mkdir(exist_ok=True)
    manifest = "NEXTAUTH_SECRET=\nMONGODB_URI=\nFEATURE_WORK_ORDER_EXPORT=\n"
    (folder / "app.env.example").write_text(manifest, encoding="utf-8")
    for name, values in (("staging", staging), ("production", production)):
        lines = ["# Created by Vercel CLI", *(f'{k}="{v}"' for k, v in values.items())]
        (envs / f"{name}.env").write_text("\n".join(lines) + "\n", encoding="utf-8")


def suite_dir() -> Path:
    """The gate suite shipped beside the package (a checkout, or an editable install)."""
    suite = BUILTIN_SUITE
    if not (suite / "test_health.py").is_file():
        raise SystemExit(
            f"fixgate demo: the gate suite was not found at {suite}; "
            "install from a checkout: pip install -e ."
        )
    return suite


def ensure_demo_extra() -> None:
    """The reference service's server stack is an extra: a CI gate run does not need it."""
    missing = [
        m for m in ("starlette", "uvicorn", "secantus") if importlib.util.find_spec(m) is None
    ]
    if missing:
        raise SystemExit(
            f"fixgate demo: {', '.join(missing)} not installed; the demo needs the demo extra: "
            "pip install 'pytest-fixgate[demo]'"
        )


def ensure_redis_server() -> None:
    """Install redis-server with apt-get when it is missing and we may (root)."""
    if shutil.which("redis-server"):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise SystemExit("fixgate demo: redis-server is missing: apt-get install -y redis-server")
    print("fixgate demo: installing redis-server (apt-get install -y redis-server) ...", flush=True)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.STDOUT}
    subprocess.run(["apt-get", "update", "-qq"], check=False, **quiet)  # type: ignore[call-overload]
    done = subprocess.run(["apt-get", "install", "-y", "-qq", "redis-server"], check=False, **quiet)  # type: ignore[call-overload]
    if done.returncode != 0 or not shutil.which("redis-server"):
        raise SystemExit("fixgate demo: could not install redis-server with apt-get")


def demo_data_config(folder: Path, migrations: str) -> str:
    """The data gates: the backup the demo made (write_demo_backup), the reference
    migrations' dry runs, the runbook's work-order index, and two queues."""
    # deferred: the web stack loads only after the flags were checked
    from pytest_fixgate.reference.app import DEFAULT_DB

    directory = MIGRATIONS if migrations == "good" else MIGRATIONS / "faulty"
    files = '["*.py"]' if migrations == "good" else '["003_normalise_titles.py"]'
    dry_run = f"{sys.executable} {{file}} --dry-run --uri-env {{uri_env}} --database {{database}}"
    apply = f"{sys.executable} {{file}} --uri-env {{uri_env}} --database {{database}}"
    return f"""
[env.demo.backup]
directory = "{folder / "backups"}"
database = "{DEFAULT_DB}"
collections = ["workOrders", "changelog", "background_jobs"]
max_age = "24h"

[env.demo.migrations]
directory = "{directory}"
files = {files}
database = "{DEFAULT_DB}"
# Rehearsed on a clone of the backup above (SecantusDB started by the gate): each
# migration's dry run, then its real run; the demo's "staging" database is not touched.
dry_run = "{dry_run}"
apply = "{apply}"
timeout = "30s"

[[env.demo.indexes]]
collection = "workOrders"
database = "{DEFAULT_DB}"
keys = {{ organizationId = 1, status = 1 }}
query = {{ organizationId = "org-alpha", status = "open" }}

[[env.demo.queues]]
id = "notifications"
redis_list = "queue:notifications"
max = 1000

[[env.demo.queues]]
id = "background_jobs"
collection = "background_jobs"
database = "{DEFAULT_DB}"
filter = {{ status = "queued" }}
max = 1000
"""


def write_demo_backup(folder: Path, mongodb_uri: str) -> None:
    """A fresh backup of the demo database, in mongodump's layout, before the gates run."""
    # deferred: the web stack loads only after the flags were checked
    from pytest_fixgate.reference.app import DEFAULT_DB
    from pytest_fixgate.reference.dump import dump_database

    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    dump_database(mongodb_uri, DEFAULT_DB, folder / "backups" / f"pre-migration-{stamp}")


def demo_config(base_url: str, *, load: bool = True) -> str:
    # The runbook's readiness gate, shortened from 5 minutes to a few seconds: paced
    # users (20-50 ms apart) give ~1,000 judged requests without saturating Locust.
    locustfile = BUILTIN_LOCUSTFILES / "ready.py"
    text = f"""# Written by `fixgate demo` for this run only.
[env.demo]
base_url = "{base_url}"
token_env = "{HEALTH_TOKEN_ENV}"
mongodb_uri_env = "{MONGODB_URI_ENV}"
redis_url_env = "{REDIS_URL_ENV}"
timeout = "2s"
"""
    if not load:
        return text
    # With the load gates, the promotion checklist's config gates too (their dotenv
    # files: write_demo_dotenv); without (the overhead benchmark), only the six probes.
    return (
        text
        + f"""
[env.demo.secrets]
manifest = "app.env.example"
sources = {{ staging = "envs/staging.env", production = "envs/production.env" }}
must_differ = ["NEXTAUTH_SECRET", "MONGODB_URI"]
forbidden = {{ production = ["NEXTAUTH_BYPASS_OTP_ALL", "SKIP_ENV_VALIDATION"] }}
optional = ["FEATURE_WORK_ORDER_EXPORT"]      # a flag override, set in staging only

[env.demo.flags]
token_env = "{ADMIN_TOKEN_ENV}"
intended = {{ new_dashboard = false, work_order_export = true, sms_otp_login = true }}
env_sources = ["envs/staging.env"]
override_separator = "_"             # the reference service's flags: new_dashboard, ...

[env.demo.load]
locustfile = "{locustfile}"
users = 10
spawn_rate = 10
duration = "6s"
warmup = "1s"
locust_args = ["--ready-wait-min-s=0.02", "--ready-wait-max-s=0.05"]
thresholds = ["p(95) < 1500ms", "p(99) < 2500ms", "error_rate < 1%"]

# Compared with the last PROMOTE of the demo in the same report folder (run it twice).
[env.demo.baseline]
tolerance = {{ "load.p(95)" = "+50%", "load.error_rate" = "+0.5pp" }}
"""
    )


def check_redis(url: str) -> str | None:
    """Why the Redis at ``url`` (``--redis-url``) cannot serve the demo; None if it answers."""
    # deferred: redis-py loads only when a Redis reader runs
    import redis

    try:
        redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2).ping()
    except (redis.exceptions.RedisError, ValueError) as exc:
        return f"the Redis at {mask_uri_password(url)} did not answer PING ({exc})"
    return None


@contextlib.contextmanager
def existing_redis(url: str) -> Iterator[RedisServer]:
    """A Redis the user already runs: used as it is, never stopped (the reference service
    only sends it PING)."""
    yield RedisServer(url=url, port=urlsplit(url).port or 6379, proc=None)  # type: ignore[arg-type]


@contextlib.contextmanager
def demo_stack(
    fault: DemoFault, redis_url: str | None = None
) -> Iterator[tuple[str, dict[str, str]]]:
    # deferred: the demo's servers load only for the demo
    from pytest_fixgate.reference import (
        Faults,
        free_port,
        mongo_server,
        redis_server,
        reference_service,
    )

    token = "demo-" + os.urandom(12).hex()
    admin = "demo-admin-" + os.urandom(12).hex()
    redis_cm = redis_server() if redis_url is None else existing_redis(redis_url)
    # Seed while healthy, then switch the fault on: seeding needs a working MongoDB.
    with (
        mongo_server() as mongo,
        redis_cm as redis,
        reference_service(
            mongo.uri, redis.url, Faults(), health_token=token, admin_token=admin, seed=True
        ) as service,
    ):
        service.set_faults(**fault.faults)
        base_url = service.base_url
        if fault.target_not_listening:
            base_url = f"http://127.0.0.1:{free_port()}"
        if fault.prepare is not None:
            fault.prepare(service.base_url)
        env = {
            MONGODB_URI_ENV: mongo.uri,
            REDIS_URL_ENV: redis.url,
            HEALTH_TOKEN_ENV: token,
            ADMIN_TOKEN_ENV: admin,
        }
        print(
            f"fixgate demo: MongoDB wire on {mongo.port}, redis on {redis.port}, "
            f"reference service at {service.base_url}",
            flush=True,
        )
        yield base_url, env


#: Test-only plugins that cost start-up time and add nothing to a gate run.
QUIET_PLUGINS = (
    "no:cacheprovider",
    "no:hypothesispytest",
    "no:locust",
    "no:benchmark",
    "no:anyio",
)


def gate_argv(suite: Path, config: Path, report_dir: Path, extra: Sequence[str] = ()) -> list[str]:
    """The ``pytest --gate=demo`` command line for ``config``."""
    plugins = [arg for name in QUIET_PLUGINS for arg in ("-p", name)]
    return [
        *(sys.executable, "-m", "pytest", str(suite), "--gate=demo"),
        *(f"--gate-config={config}", f"--gate-report-dir={report_dir}"),
        *(f"--rootdir={suite.parent}", *plugins, *extra),
    ]


def run_demo(
    fault_name: str, report_dir: Path, pytest_args: Sequence[str], redis_url: str | None = None
) -> int:
    fault = FAULTS[fault_name]
    suite = suite_dir()
    ensure_demo_extra()
    if redis_url is None:
        ensure_redis_server()
    elif (problem := check_redis(redis_url)) is not None:  # nothing started, nothing installed
        print(f"fixgate demo: --redis-url: {problem}", file=sys.stderr)
        return 3
    print(f"fixgate demo: fault {fault_name!r}: {fault.help}", flush=True)
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="fixgate-demo-"))
        try:
            url, env = stack.enter_context(demo_stack(fault, redis_url))
        except ProcessStartError as exc:
            print(f"fixgate demo: cannot start the demo stack: {exc}", file=sys.stderr)
            return 3
        build = stack.enter_context(demo_build_stack(Path(tmp), "demo", fault.build))
        config = Path(tmp) / "fixgate.toml"
        config.write_text(
            demo_config(url) + demo_data_config(Path(tmp), fault.migrations) + build,
            encoding="utf-8",
        )
        write_demo_dotenv(Path(tmp), fault.dotenv)
        write_demo_backup(Path(tmp), env[MONGODB_URI_ENV])
        argv = gate_argv(suite, config, report_dir, pytest_args)
        try:
            return subprocess.run(argv, env={**os.environ, **env}, check=False).returncode
        except KeyboardInterrupt:
            return 2
