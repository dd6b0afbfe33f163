"""Remote Locust workers for the exact-latency capture, loaded after ``capture.py``.

Locust is started with ``-f theirs.py,capture.py,remote_capture.py``. Like
``capture.py`` this runs INSIDE Locust (gevent-patched) and does nothing
unless switched on:

- master (``FIXGATE_REMOTE``, a JSON object ``{"expected", "settings",
  "grace_s"}`` set by the gate's runner): sends every worker that connects
  the run's capture settings (``settings``: the ``FIXGATE_*`` values a local
  worker gets from its environment); records which workers take part; when
  the run time is over it asks each worker to quit and waits (``grace_s`` at
  most) for each one's capture, which it writes as
  ``capture-worker-<9000000 + i>.json`` beside its own files.
  ``remote-workers.json`` says who connected, who sent a capture, and who was
  lost (took part, then sent nothing: killed, network gone).
- worker (``FIXGATE_REMOTE_WORKER=1``, set by ``fixgate load-worker``): takes
  the settings from the master before its users start; samples its own CPU
  once a second; at test stop sends its whole capture (the same JSON a local
  worker writes to a file, plus the CPU samples) to the master. Its capture
  files go to ``FIXGATE_CAPTURE_DIR`` on the worker's machine.

Why not a worker's files: a remote worker's disk is not the gate's, and
Locust's own final report to the master carries no exact histograms.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any

import gevent
import psutil
from locust import events
from locust.env import Environment
from locust.rpc import Message
from locust.runners import STATE_MISSING, MasterRunner, WorkerRunner

SETTINGS_MESSAGE = "fixgate_settings"
CAPTURE_MESSAGE = "fixgate_capture"
FIRST_REMOTE_ID = 9_000_000  # capture-worker-<id>.json: never a local worker's pid


def _capture_of(environment: Environment) -> Any:
    """The Capture instance capture.py installed (its bound quitting listener)."""
    for handler in getattr(environment.events.quitting, "_handlers", []):
        owner = getattr(handler, "__self__", None)
        if type(owner).__name__ == "Capture":
            return owner
    return None


def _write(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


class RemoteMaster:
    def __init__(self, environment: Environment, config: dict[str, Any], out_dir: Path) -> None:
        self.env = environment
        self.expected = int(config["expected"])
        self.settings: dict[str, str] = dict(config["settings"])
        self.grace_s = float(config.get("grace_s", 30.0))
        self.out_dir = out_dir
        self.connected: list[str] = []
        self.participants: list[str] = []
        self.captures: dict[str, dict[str, Any]] = {}
        self.running = False
        self.collected = False

    def install(self) -> None:
        ev = self.env.events
        ev.worker_connect.add_listener(self.on_connect)
        ev.test_start.add_listener(self.on_test_start)
        ev.test_stop.add_listener(self.on_test_stop)
        ev.worker_report.add_listener(self.on_report)
        self.env.runner.register_message(CAPTURE_MESSAGE, self.on_capture)
        # A worker may have connected before this listener existed.
        for client in self.env.runner.clients.all:
            self.on_connect(client.id)
        self.write()

    def on_connect(self, client_id: str, **_kw: Any) -> None:
        if client_id not in self.connected:
            self.connected.append(client_id)
        self.env.runner.send_message(SETTINGS_MESSAGE, self.settings, client_id=client_id)
        self.write()

    def _join(self, client_id: str) -> None:
        if client_id not in self.participants:
            self.participants.append(client_id)

    def on_test_start(self, **_kw: Any) -> None:
        for client in self.env.runner.clients.all:
            self._join(client.id)
            # Again, before the spawn messages: whatever happened at connect time, every
            # worker has the settings before its first user starts.
            self.env.runner.send_message(SETTINGS_MESSAGE, self.settings, client_id=client.id)
        self.running = True
        self.write()

    def on_report(self, client_id: str, data: dict[str, Any], **_kw: Any) -> None:
        if self.running:
            self._join(client_id)

    def on_capture(self, environment: Environment, msg: Message, **_kw: Any) -> None:
        self.captures[msg.node_id] = msg.data
        self.write()

    def _alive(self) -> set[str]:
        return {c.id for c in self.env.runner.clients.all if c.state != STATE_MISSING}

    def on_test_stop(self, **_kw: Any) -> None:
        if self.collected:
            return
        self.collected = True
        self.running = False
        runner = self.env.runner
        waiting = [cid for cid in self.participants if cid not in self.captures]
        for cid in waiting:
            # "quit" makes a worker stop its users (in-flight requests end or count as
            # unfinished), fire test_stop, and so send its capture.
            with contextlib.suppress(Exception):  # a worker already gone: reported as lost
                runner.server.send_to_client(Message("quit", None, cid))
        deadline = time.monotonic() + self.grace_s
        while time.monotonic() < deadline:
            pending = [c for c in self.participants if c not in self.captures]
            if not pending or not (set(pending) & self._alive()):
                break
            gevent.sleep(0.1)
        # They are quitting already: a second "quit" from Locust's own shutdown would kill
        # their stopping users mid-request (counted as unfinished).
        for cid in self.captures:
            if cid in runner.clients:
                del runner.clients[cid]
        self.write()

    def write(self) -> None:
        names = {}
        for i, cid in enumerate(self.participants):
            if cid in self.captures:
                names[cid] = f"capture-worker-{FIRST_REMOTE_ID + i}.json"
                _write(self.out_dir / names[cid], self.captures[cid])
        _write(
            self.out_dir / "remote-workers.json",
            {
                "expected": self.expected,
                "connected": self.connected,
                "participants": self.participants,
                "captures": names,
                "lost": [c for c in self.participants if c not in self.captures]
                if self.collected
                else [],
                "collected": self.collected,
            },
        )


class RemoteWorker:
    def __init__(self, environment: Environment) -> None:
        self.env = environment
        self.capture = _capture_of(environment)
        self.sent = False
        self.configured = False
        self.cpu: list[float] = []
        self.sampling = False

    def install(self) -> None:
        self.env.runner.register_message(SETTINGS_MESSAGE, self.on_settings)
        self.env.events.test_start.add_listener(self.on_test_start)
        self.env.events.test_stop.add_listener(self.on_test_stop)

    def on_test_start(self, **_kw: Any) -> None:
        if not self.sampling:
            self.sampling = True
            gevent.spawn(self.sample_cpu)

    def sample_cpu(self) -> None:
        # This process's own CPU, once a second while the load runs (100 = one core):
        # the gate's saturation check needs it, and Locust's heartbeat figure is only
        # refreshed every 5 s (0 before that).
        proc = psutil.Process()
        proc.cpu_percent(None)
        while self.sampling:
            gevent.sleep(1.0)
            if self.sampling:
                self.cpu.append(float(proc.cpu_percent(None)))

    def on_settings(self, environment: Environment, msg: Message, **_kw: Any) -> None:
        """The master's settings replace this worker's: steps, warm-up, timeouts, body check."""
        os.environ.update({k: str(v) for k, v in msg.data.items()})
        cap = self.capture
        if cap is None:
            return
        fresh = type(cap)(self.env, cap.out_dir)  # reads the environment, installs nothing
        for name in ("step_s", "warmup_s", "max_step", "expect_json", "timeout_s"):
            setattr(cap, name, getattr(fresh, name))
        cap.apply_timeouts()
        self.configured = True

    def on_test_stop(self, **_kw: Any) -> None:
        cap = self.capture
        if self.sent or cap is None or cap.t0 is None:
            return
        self.sent = True
        self.sampling = False
        cap.on_quitting(self.env)  # writes capture-worker-<pid>.json here, once
        path = cap.out_dir / f"capture-worker-{os.getpid()}.json"
        data = json.loads(path.read_text(encoding="utf-8"))
        data["remote"] = {
            "configured": self.configured,
            "host": os.uname().nodename,
            "cpu": self.cpu,
        }
        self.env.runner.send_message(CAPTURE_MESSAGE, data)


@events.init.add_listener
def _on_init(environment: Environment, **_kw: Any) -> None:
    runner = environment.runner
    remote = os.environ.get("FIXGATE_REMOTE")
    out_dir = os.environ.get("FIXGATE_CAPTURE_DIR")
    if remote and out_dir and isinstance(runner, MasterRunner):
        RemoteMaster(environment, json.loads(remote), Path(out_dir)).install()
    elif os.environ.get("FIXGATE_REMOTE_WORKER") and isinstance(runner, WorkerRunner):
        RemoteWorker(environment).install()
