"""``fixgate watch --demo``: a short watch of the reference service, in compressed time.

Starts the demo stack (SecantusDB, redis-server, the reference service, with
``--fault``), writes a config whose ``[env.demo.watch]`` ticks every second
with the runbook's rules shortened to seconds, and runs
``pytest --gate=demo --watch=DURATION``: a healthy service ends in PROMOTE
(exit 0), ``--fault errors`` in ROLLBACK (exit 10) a few seconds in, with the
(harmless) rollback command run and recorded.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["DEMO_WATCH", "run_watch_demo"]

# The runbook's alert thresholds with minutes made seconds.
DEMO_WATCH = """
[env.demo.watch]
interval = "1s"
rollback_command = ["{python}", "-c", "print('demo rollback: a real one runs vercel rollback')"]

[[env.demo.watch.rules]]
id = "error-rate-sev1"
severity = "SEV-1"
when = "error_rate > 5%"
for = "3s"

[[env.demo.watch.rules]]
id = "ready-fails"
severity = "SEV-1"
when = "ready == false"
count = 2
within = "5s"

[[env.demo.watch.rules]]
id = "latency-p95"
severity = "SEV-2"
when = "p(95) > 1500ms"
window = "5s"

[[env.demo.watch.rules]]
id = "mongo-connection"
severity = "SEV-1"
source = "mongo"
when = "connection_failures > 0"
window = "5s"
"""


def run_watch_demo(fault_name: str, duration: str, report_dir: Path, extra: list[str]) -> int:
    from pytest_fixgate.demo import FAULTS, demo_config, demo_stack, ensure_redis_server
    from pytest_fixgate.reference import ProcessStartError

    fault = FAULTS[fault_name]
    ensure_redis_server()
    print(f"fixgate watch --demo: fault {fault_name!r}: {fault.help}", flush=True)
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fixgate-watch-")))
        try:
            url, env = stack.enter_context(demo_stack(fault))
        except ProcessStartError as exc:
            print(f"fixgate watch --demo: cannot start the demo stack: {exc}", file=sys.stderr)
            return 3
        config = tmp / "fixgate.toml"
        config.write_text(
            demo_config(url, load=False) + DEMO_WATCH.format(python=sys.executable),
            encoding="utf-8",
        )
        argv = [
            sys.executable,
            "-m",
            "pytest",
            "--gate=demo",
            f"--watch={duration}",
            f"--gate-config={config}",
            f"--gate-report-dir={report_dir}",
            "-p",
            "no:cacheprovider",
            *extra,
        ]
        try:
            return subprocess.run(argv, env={**os.environ, **env}, check=False).returncode
        except KeyboardInterrupt:
            return 2
