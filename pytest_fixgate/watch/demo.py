"""``fixgate watch --demo``: a short watch of the reference service, in compressed time.

Starts the demo stack (SecantusDB, redis-server, the reference service, with
``--fault``), writes a config whose ``[env.demo.watch]`` ticks every second
with the runbook's rules shortened to seconds, and runs
``pytest --gate=demo --watch=DURATION``: a healthy service ends in PROMOTE
(exit 0), ``--fault errors`` in ROLLBACK (exit 10) a few seconds in, with the
(harmless) rollback command run and recorded, a SEV-1 incident posted to a
local Slack stand-in and a trigger to a local PagerDuty stand-in (both
printed at the end; nothing leaves the machine).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from pytest_fixgate.notify.standins import pagerduty_standin, slack_standin

__all__ = ["DEMO_WATCH", "run_watch_demo"]

# The runbook's alert thresholds with minutes made seconds.
DEMO_WATCH = """
[env.demo.watch]
interval = "1s"
rollback_command = ["{python}", "-c", "print('demo rollback: a real one runs vercel rollback')"]

# Local stand-ins for Slack and PagerDuty (the demo reaches no internet service).
[env.demo.watch.slack]
webhook_url_env = "FIXGATE_DEMO_SLACK_WEBHOOK"
lead = "the demo's on-call engineer"
[env.demo.watch.pagerduty]
routing_key_env = "FIXGATE_DEMO_PD_ROUTING_KEY"
url = "{pagerduty_url}"

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
    # deferred: the demo's servers load only for the demo
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
        slack = stack.enter_context(slack_standin())
        pagerduty = stack.enter_context(pagerduty_standin())
        env = {
            **env,
            "FIXGATE_DEMO_SLACK_WEBHOOK": slack.webhook_url,
            "FIXGATE_DEMO_PD_ROUTING_KEY": secrets.token_hex(16),  # 32 characters
        }
        config = tmp / "fixgate.toml"
        watch = DEMO_WATCH.format(python=sys.executable, pagerduty_url=pagerduty.base_url)
        config.write_text(demo_config(url, load=False) + watch, encoding="utf-8")
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
            code = subprocess.run(argv, env={**os.environ, **env}, check=False).returncode
        except KeyboardInterrupt:
            return 2
        _show_notifications(slack.received, pagerduty.received)
        return code


def _show_notifications(posted: list[dict[str, Any]], events: list[dict[str, Any]]) -> None:
    """What the stand-ins received, as a team would see it in Slack and PagerDuty."""
    for message in posted:
        print("\n[Slack stand-in, #incidents]\n" + message["text"])
    for event in events:
        payload = event.get("payload") or {}
        line = f"{event['event_action']} dedup_key={event['dedup_key']}"
        if payload:
            line += f" severity={payload['severity']} summary={payload['summary']!r}"
        print(f"\n[PagerDuty stand-in, /v2/enqueue] {line}")
