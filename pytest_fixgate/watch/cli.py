"""``fixgate watch ENV --for 30m`` and ``fixgate replay FILE.jsonl``: the watch from the shell.

Both run ``pytest --gate=ENV`` with the watch options, so the reports, the
hooks and the exit codes are those of a gate run: 0 PROMOTE, 1 HOLD,
10 ROLLBACK, 4 a bad config or command line.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Any

from pytest_fixgate.config.loader import find_config, load_config, select_env
from pytest_fixgate.errors import ConfigError
from pytest_fixgate.watch.samples import read_header

__all__ = ["COMMANDS", "add_commands", "run_command"]

COMMANDS = ("watch", "replay")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gate-config", type=Path, metavar="PATH", help="config file")
    parser.add_argument(
        "--gate-report-dir",
        type=Path,
        default=Path("reports"),
        metavar="DIR",
        help="where the reports go (default: reports/)",
    )
    parser.add_argument(
        "pytest_args", nargs=argparse.REMAINDER, help="more pytest arguments after --"
    )


def add_commands(sub: Any) -> None:
    watch = sub.add_parser(
        "watch",
        help="the post-promotion watch: sample ENV, evaluate the alert rules, decide",
        description="Run `pytest --gate=ENV --watch=DURATION`. Exit code: 0 PROMOTE "
        "(confirmed), 1 HOLD (not enough data), 10 ROLLBACK (a SEV-1/SEV-2 alert fired).",
    )
    watch.add_argument(
        "env", metavar="ENV", nargs="?", help="the environment of the config (not with --demo)"
    )
    watch.add_argument(
        "--demo",
        action="store_true",
        help="watch the reference service (started for you) in compressed time: 1 s ticks, "
        "the runbook's rules in seconds",
    )
    watch.add_argument(
        "--fault",
        default="none",
        metavar="NAME",
        help="with --demo: make the service misbehave (the faults of `fixgate demo`)",
    )
    watch.add_argument(
        "--for", dest="duration", metavar="DURATION", help="how long (default: the config's)"
    )
    watch.add_argument(
        "--resume", type=Path, metavar="FILE", help="continue this .samples.jsonl file"
    )
    _common(watch)
    replay = sub.add_parser(
        "replay",
        help="re-evaluate a recorded watch (.samples.jsonl) with the current rules",
        description="Feed a samples file to the rules of the current config (thresholds "
        "may have changed) and write the reports of a gate run. Samples nothing and runs "
        "no rollback command. The same file and rules give the same decision.",
    )
    replay.add_argument("file", type=Path, metavar="FILE.jsonl")
    _common(replay)


def run_command(args: argparse.Namespace) -> int:
    extra = [a for a in args.pytest_args if a != "--"]
    if args.command == "watch" and args.demo:
        # deferred: the demo's servers load only for the demo
        from pytest_fixgate.demo import FAULTS
        from pytest_fixgate.watch.demo import run_watch_demo

        if args.fault not in FAULTS:
            print(f"fixgate watch: --fault: one of {', '.join(sorted(FAULTS))}", file=sys.stderr)
            return 4
        if args.env and args.env != "demo":
            # argparse gave the first word after "--" to the optional ENV: it is pytest's.
            extra = [args.env, *extra]
        return run_watch_demo(
            args.fault, args.duration or "10s", args.gate_report_dir.resolve(), extra
        )
    if args.command == "watch" and not args.env:
        print("fixgate watch: name the environment (or --demo)", file=sys.stderr)
        return 4
    if args.command == "watch":
        options = [f"--gate={args.env}"]
        if args.duration:
            options.append(f"--watch={args.duration}")
        elif not args.resume:
            try:
                options.append("--watch=" + _config_duration(args))
            except ConfigError as exc:
                print(f"fixgate watch: {exc}", file=sys.stderr)
                return 4
        if args.resume:
            options.append(f"--watch-resume={args.resume}")
    else:
        try:
            header = read_header(args.file)
        except (OSError, ValueError) as exc:
            print(f"fixgate replay: {exc}", file=sys.stderr)
            return 4
        options = [f"--gate={header.get('env')}", f"--watch-replay={args.file}"]
    if args.gate_config:
        options.append(f"--gate-config={args.gate_config}")
    options.append(f"--gate-report-dir={args.gate_report_dir}")
    argv = [sys.executable, "-m", "pytest", *options, "-p", "no:cacheprovider", *extra]
    return subprocess.run(argv, check=False).returncode


def _config_duration(args: argparse.Namespace) -> str:
    """The config's ``duration`` is used by the plugin when --watch gives none; the
    plugin needs --watch to know this is a watch, so pass the config's own value."""
    path = find_config(args.gate_config, Path.cwd())
    env = select_env(load_config(path), args.env)
    cfg = env.section("watch")
    return f"{cfg.duration_s:g}s" if cfg is not None else "30m"
