"""Command line of the reference staging service: ``python -m pytest_fixgate.reference``.

Secrets (the MongoDB URI, which may carry a password, the Redis URL, the
tokens) are read from environment variables whose *names* are given on the
command line; values never appear in argv, and this module logs none of
them.

``--contract fixzit`` (or ``FIXGATE_REF_CONTRACT=fixzit``) serves the real
application's contract instead of the runbook's (see :mod:`.app`); it needs
no Redis, so ``--redis-url-env`` is then ignored.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence

from pytest_fixgate.redaction import Redactor
from pytest_fixgate.reference import faults as faults_mod
from pytest_fixgate.reference.faults import ENV_PREFIX, FaultError

# Kept here, not imported from .app: a bad flag must fail before the web stack loads.
CONTRACTS = ("runbook", "fixzit")
CONTRACT_ENV = ENV_PREFIX + "CONTRACT"
HEALTH_RATE_LIMIT_ENV = ENV_PREFIX + "HEALTH_RATE_LIMIT"
COMMIT_ENV = "GIT_COMMIT_SHA"


def _limit(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {raw!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pytest_fixgate.reference",
        description="Serve the runbook's health, admin and data routes over MongoDB and Redis.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default %(default)s)"
    )
    parser.add_argument("--port", type=int, default=8000, help="port (default %(default)s)")
    parser.add_argument(
        "--contract",
        choices=CONTRACTS,
        default=None,
        help=f"the HTTP contract to serve: the runbook's, or the real application's "
        f"(default: ${CONTRACT_ENV}, else runbook)",
    )
    parser.add_argument(
        "--health-rate-limit",
        type=_limit,
        default=None,
        metavar="N",
        help="requests per minute per client IP and health route the contract itself allows "
        f"(default: ${HEALTH_RATE_LIMIT_ENV}, else runbook none, fixzit 120); 0: no limit. "
        "The rate_limit_per_min fault, when set, replaces it",
    )
    parser.add_argument(
        "--mongodb-uri-env",
        default="MONGODB_URI",
        metavar="NAME",
        help="environment variable holding the MongoDB URI (default %(default)s)",
    )
    parser.add_argument(
        "--redis-url-env",
        default="REDIS_URL",
        metavar="NAME",
        help="environment variable holding the Redis URL (default %(default)s); "
        "unused by --contract fixzit",
    )
    parser.add_argument(
        "--admin-token-env",
        default="ADMIN_TOKEN",
        metavar="NAME",
        help="environment variable holding the admin Bearer token (default %(default)s); "
        "unset: the admin routes answer 503",
    )
    parser.add_argument(
        "--health-token-env",
        default=None,
        metavar="NAME",
        help="environment variable holding the X-Health-Token the health routes then require",
    )
    parser.add_argument(
        "--db-name", default=None, help="database (default: the URI's, else 'fixgate')"
    )
    parser.add_argument(
        "--seed", action="store_true", help="create the demo data and indexes before serving"
    )
    faults_mod.add_arguments(parser)
    return parser


def _required_env(
    parser: argparse.ArgumentParser, environ: Mapping[str, str], name: str, flag: str
) -> str:
    value = environ.get(name)
    if not value:
        parser.error(f"environment variable {name} (named by {flag}) is not set")
    return value


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    parser = build_parser()
    args = parser.parse_args(argv)
    contract = args.contract or environ.get(CONTRACT_ENV) or "runbook"
    if contract not in CONTRACTS:
        parser.error(f"{CONTRACT_ENV}: expected one of {', '.join(CONTRACTS)}, got {contract!r}")
    health_rate_limit = args.health_rate_limit
    if health_rate_limit is None and environ.get(HEALTH_RATE_LIMIT_ENV):
        try:
            health_rate_limit = _limit(environ[HEALTH_RATE_LIMIT_ENV])
        except argparse.ArgumentTypeError as exc:
            parser.error(f"{HEALTH_RATE_LIMIT_ENV}: {exc}")
    mongodb_uri = _required_env(parser, environ, args.mongodb_uri_env, "--mongodb-uri-env")
    redis_url = None
    if contract == "runbook":
        redis_url = _required_env(parser, environ, args.redis_url_env, "--redis-url-env")
    health_token = None
    if args.health_token_env:
        health_token = _required_env(parser, environ, args.health_token_env, "--health-token-env")
    try:
        faults = faults_mod.from_args(args, environ)
    except FaultError as exc:
        parser.error(str(exc))

    # deferred: the web stack loads after parsing, so a bad flag fails in milliseconds
    import uvicorn

    from pytest_fixgate.reference.app import ServiceConfig, create_app, seed, seed_queue

    config = ServiceConfig(
        mongodb_uri=mongodb_uri,
        redis_url=redis_url,
        admin_token=environ.get(args.admin_token_env) or None,
        health_token=health_token,
        db_name=args.db_name,
        faults=faults,
        contract=contract,
        health_rate_limit_per_min=health_rate_limit,
        commit=(environ.get(COMMIT_ENV) or "")[:7] or "unknown",
    )
    redactor = Redactor(s for s in (mongodb_uri, redis_url, config.admin_token, health_token) if s)
    try:
        app = create_app(config)
        if args.seed:
            seed(app.service.deps.db(), contract)
            if contract == "runbook":
                seed_queue(app.service.deps.redis())
            # Seeding builds every index; a missing_index fault given at start-up applies now.
            app.service.faults.set(faults)
    except Exception as exc:  # a bad URI or an unreachable server at start-up
        message = redactor.text(f"{type(exc).__name__}: {exc}")
        print(f"fixgate reference: cannot start: {message}", file=sys.stderr)
        return 1

    if contract == "runbook":
        served = f"MongoDB from ${args.mongodb_uri_env}, Redis from ${args.redis_url_env}"
    else:
        limit = config.health_rate_limit
        served = (
            f"fixzit contract, MongoDB from ${args.mongodb_uri_env}, no Redis, "
            f"health routes limited to {f'{limit}/min per IP' if limit else 'nothing'}"
        )
    print(
        f"fixgate reference service on http://{args.host}:{args.port} "
        f"({served}; faults: {faults.as_dict() if faults.active else 'none'})",
        file=sys.stderr,
        flush=True,
    )
    # Access log off: at load-test rates it costs more than the request, and it is noise.
    # "auto": uvloop and httptools when importable (faster), else asyncio and h11.
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        access_log=False,
        log_level="warning",
        loop="auto",
        http="auto",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
