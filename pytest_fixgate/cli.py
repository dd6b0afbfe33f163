"""The ``fixgate`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pytest_fixgate.demo import FAULTS, run_demo
from pytest_fixgate.release import cli as release_cli
from pytest_fixgate.rules import cli as rules_cli
from pytest_fixgate.watch import cli as watch_cli

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fixgate",
        description="pytest-fixgate: release gates as a pytest suite. "
        "The gate run itself is `pytest --gate=ENV`.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo",
        help="start a reference staging service (with MongoDB and Redis) and gate it",
        description="Start SecantusDB, redis-server and the reference staging service on "
        "127.0.0.1, run `pytest --gate=demo` against them, print the decision and the "
        "report paths, and stop everything. Exit code: 0 PROMOTE, 1 HOLD.",
    )
    demo.add_argument(
        "--fault",
        choices=sorted(FAULTS),
        default="none",
        help="make the service misbehave: "
        + "; ".join(f"{name}: {f.help}" for name, f in sorted(FAULTS.items())),
    )
    demo.add_argument(
        "--gate-report-dir",
        type=Path,
        default=Path("reports"),
        metavar="DIR",
        help="where the reports go (default: reports/)",
    )
    demo.add_argument(
        "--redis-url",
        metavar="URL",
        default=None,
        help="use this running Redis (redis://host:port/db) instead of starting redis-server; "
        "then nothing is installed",
    )
    demo.add_argument(
        "pytest_args", nargs=argparse.REMAINDER, help="more pytest arguments after --, e.g. -- -n 2"
    )
    # Release integration: tag, attach, show, load-worker.

    release_cli.add_commands(sub)
    # The post-promotion watch: watch, replay.

    watch_cli.add_commands(sub)
    # Watch rules as Prometheus rules: rules export, rules test.

    rules_cli.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    if args.command in release_cli.COMMANDS:
        return release_cli.run_command(args)

    if args.command in watch_cli.COMMANDS:
        return watch_cli.run_command(args)

    if args.command in rules_cli.COMMANDS:
        return rules_cli.run_command(args)
    if args.command == "demo":
        extra = [a for a in args.pytest_args if a != "--"]
        return run_demo(args.fault, args.gate_report_dir.resolve(), extra, args.redis_url)
    return 4


if __name__ == "__main__":
    sys.exit(main())
