"""The ``fixgate tag``, ``attach``, ``show`` (and ``load-worker``) subcommands' arguments.

Kept apart from :mod:`pytest_fixgate.cli` so that file only registers and dispatches.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pytest_fixgate.config.durations import parse_duration
from pytest_fixgate.kinds.load.remote import exec_worker, shell_line, worker_command
from pytest_fixgate.kinds.load.remote_workers import parse_host_port
from pytest_fixgate.release import commands

__all__ = ["COMMANDS", "add_commands", "run_command"]

COMMANDS = ("tag", "attach", "show", "load-worker")


def _duration(value: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r}: expected {exc}") from None


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    codes = "Exit code: 0 done, 1 refused, 4 a report that cannot be read."
    tag = sub.add_parser(
        "tag",
        help="tag HEAD as a release, only for a fresh PROMOTE verdict of HEAD",
        description="Create the annotated tag TAG on HEAD when the verdict is PROMOTE, gated "
        "HEAD, verifies (sha256), is not advisory and is younger than --max-age. " + codes,
    )
    tag.add_argument("tag", metavar="TAG", help="the tag, e.g. v1.4.2")
    tag.add_argument(
        "--report",
        type=Path,
        default=Path("reports/staging-latest.json"),
        metavar="PATH",
        help="the JSON verdict (default: reports/staging-latest.json)",
    )
    tag.add_argument(
        "-m",
        "--message",
        default=None,
        metavar="MESSAGE",
        help='first line of the tag message (default: "Promote staging to prod")',
    )
    tag.add_argument("--push", metavar="REMOTE", help="push the tag (and notes) to REMOTE")
    tag.add_argument(
        "--max-age",
        type=_duration,
        default=24 * 3600.0,
        metavar="DURATION",
        help="refuse a verdict older than this (default: 24h)",
    )
    tag.add_argument(
        "--attach", action="store_true", help="also attach the reports (fixgate attach)"
    )
    attach = sub.add_parser(
        "attach",
        help="keep a tag's JSON verdict and HTML report as a git note (and on its GitHub release)",
        description="Store the verdict and HTML report with TAG as a git note in "
        "refs/notes/fixgate (publish: git push origin refs/notes/fixgate) and, when gh is "
        "installed and logged in, upload both to the GitHub release TAG. " + codes,
    )
    attach.add_argument("tag", metavar="TAG")
    attach.add_argument(
        "reports",
        nargs="+",
        type=Path,
        metavar="REPORT",
        help="the JSON verdict and, optionally, the HTML report (default: the one it names)",
    )
    attach.add_argument("--push", metavar="REMOTE", help="push refs/notes/fixgate to REMOTE")
    show = sub.add_parser(
        "show",
        help="print a tag's recorded decision and gates, verifying them",
        description="Print the decision, reason and gates recorded for TAG, verifying the "
        "digests. Exit 1 for a missing or tampered note, or one for another commit.",
    )
    show.add_argument("tag", metavar="TAG")
    show.add_argument("--json", action="store_true", help="print the verdict as JSON")
    show.add_argument(
        "--html", type=Path, default=None, metavar="PATH", help="write the HTML report to PATH"
    )
    _add_load_worker(sub)
    for parser in (tag, attach, show):
        parser.add_argument(
            "--sign-key-env",
            metavar="NAME",
            default=None,
            help="verify the verdict's HMAC-SHA256 signature with the key in variable NAME "
            "(default: FIXGATE_SIGNING_KEY when set); unsigned or badly signed: refused",
        )
        parser.add_argument(
            "-C",
            dest="repo",
            type=Path,
            default=Path(),
            metavar="DIR",
            help="the git repository (default: the current directory)",
        )


def _host_port(value: str) -> str:
    if parse_host_port(value) is None:
        raise argparse.ArgumentTypeError(f"{value!r}: expected HOST:PORT, e.g. gate-runner:5557")
    return value


def _add_load_worker(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    worker = sub.add_parser(
        "load-worker",
        help="run one remote Locust worker for a gate whose [load] has remote_workers = N",
        description="Run a Locust worker that connects to the gate's Locust master and sends "
        "it every request's exact latency. Stops when the master ends the run.",
    )
    worker.add_argument(
        "--master",
        required=True,
        type=_host_port,
        metavar="HOST:PORT",
        help="the gate's master (master_bind in [env.X.load])",
    )
    worker.add_argument(
        "-f",
        dest="locustfile",
        type=Path,
        required=True,
        metavar="LOCUSTFILE",
        help="the same locustfile as the gate's [load] locustfile",
    )
    worker.add_argument(
        "--capture-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="where the worker keeps its own copy of the capture (default: a temporary folder)",
    )
    worker.add_argument(
        "--print",
        action="store_true",
        help="print the exact Locust command (and its environment) instead of running it",
    )


def _load_worker(args: argparse.Namespace) -> int:

    if not args.print and not args.locustfile.is_file():
        print(f"fixgate: error: locustfile {args.locustfile} not found", file=sys.stderr)
        return 4
    argv, env = worker_command(args.master, args.locustfile, capture_dir=args.capture_dir)
    if args.print:
        print(shell_line(argv, env))
        return 0
    print(f"fixgate: Locust worker for master {args.master}: {shell_line(argv, env)}", flush=True)
    exec_worker(argv, env)
    return 3  # not reached: exec replaces this process


def run_command(args: argparse.Namespace) -> int:
    if args.command == "load-worker":
        return _load_worker(args)
    repo = args.repo.resolve()
    if args.command == "tag":
        return commands.run_tag(
            repo,
            args.tag,
            args.report,
            message=args.message,
            push=args.push,
            max_age_s=args.max_age,
            attach=args.attach,
            key_env=args.sign_key_env,
        )
    if args.command == "attach":
        return commands.run_attach(
            repo, args.tag, args.reports, push=args.push, key_env=args.sign_key_env
        )
    return commands.run_show(
        repo, args.tag, html_out=args.html, as_json=args.json, key_env=args.sign_key_env
    )
