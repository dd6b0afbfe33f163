"""Load from remote Locust workers: the gate's Locust master, and the worker command.

``RemoteLoadRunner`` runs only the master, bound to ``master_bind``, and
waits ``worker_timeout`` for ``remote_workers`` workers started anywhere
(``fixgate load-worker``). The workers' exact histograms reach the master
as Locust messages (``remote_capture.py``) and merge like local workers'
files. Fewer than N workers in time: :class:`LoadRunError` (the gates are
ERROR). A worker that took part and sent nothing is lost: the run carries
it in ``lost_workers``, and latency gates are INCONCLUSIVE (its slowest
requests may be exactly the ones missing).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any

from pytest_fixgate.kinds.load.remote_workers import RemoteWorkers
from pytest_fixgate.kinds.load.request import LoadRequest
from pytest_fixgate.kinds.load.results import LoadRun
from pytest_fixgate.kinds.load.runner import LoadRunError, LoadRunner, _Proc, capture_module_path

__all__ = [
    "RemoteLoadRunner",
    "remote_capture_path",
    "runner_for",
    "worker_command",
]

_SETTINGS = (
    "FIXGATE_STEP_S",
    "FIXGATE_DURATION_S",
    "FIXGATE_REQUEST_TIMEOUT_S",
    "FIXGATE_WARMUP_S",
    "FIXGATE_EXPECT_JSON",
)
_COLLECT_GRACE_S = 15.0  # beyond the stop timeout, for workers to send their capture


def remote_capture_path() -> Path:
    return Path(__file__).resolve().with_name("remote_capture.py")


def runner_for(spec: LoadRequest) -> LoadRunner:
    """The runner a spec needs: local (one process or local workers) or remote workers."""
    remote = getattr(spec, "remote", None)
    return RemoteLoadRunner(spec, remote) if remote is not None else LoadRunner(spec)


class _Returned:
    """Stands in for the Popen of a remote worker: it is not ours to poll or kill."""

    returncode = 0

    def poll(self) -> int:
        return 0


class _RemoteProc:
    """A remote worker as the runner's collection sees it: a capture file and CPU samples."""

    def __init__(self, index: int, pid: int, client_id: str, cpu: list[float], log: Path) -> None:
        self.role = f"worker-remote{index + 1}"
        self.pid = pid
        self.client_id = client_id
        self.argv: list[str] = []
        self.log_path = log
        self.cpu_samples = [float(v) for v in cpu]
        self.popen = _Returned()

    def log_text(self) -> str:
        return ""

    def kill(self) -> None:
        return None


class RemoteLoadRunner(LoadRunner):
    """A Locust master on ``remote.bind`` that waits for ``remote.count`` remote workers."""

    def __init__(self, spec: LoadRequest, remote: RemoteWorkers) -> None:
        # Start-up now includes waiting for the workers.
        super().__init__(
            dataclasses.replace(
                spec, startup_timeout_s=spec.startup_timeout_s + remote.timeout_s, workers=0
            )
        )
        self.remote = remote
        self.lost: tuple[str, ...] = ()

    def commands(self, master_port: int = 0) -> list[list[str]]:
        (local,) = super().commands()
        n_classes = len(self.spec.user_classes)
        head, classes = local[: len(local) - n_classes], local[len(local) - n_classes :]
        files = head.index("-f") + 1
        head[files] = f"{head[files]},{remote_capture_path()}"
        r = self.remote
        master = [
            *("--master", "--master-bind-host", r.bind_host),
            *("--master-bind-port", str(r.bind_port)),
            *("--expect-workers", str(r.count)),
            *("--expect-workers-max-wait", f"{max(1, round(r.timeout_s))}"),
        ]
        return [[*head, *master, *classes]]

    def _env(self) -> dict[str, str]:
        env = super()._env()
        settings = {k: env[k] for k in _SETTINGS if k in env}
        env["FIXGATE_REMOTE"] = json.dumps(
            {
                "expected": self.remote.count,
                "settings": settings,
                "grace_s": self.spec.stop_timeout_s + _COLLECT_GRACE_S,
            }
        )
        return env

    def _start(self) -> None:
        (argv,) = self.commands()
        cwd = self.spec.cwd or Path.cwd()
        try:
            self._procs.append(_Proc("master", argv, self.out_dir / "locust.log", self._env(), cwd))
        except OSError as exc:
            raise self._fail(f"{self._where()}: cannot start the Locust master: {exc}") from exc

    def _prepare_dir(self) -> None:
        super()._prepare_dir()
        for old in (*self.out_dir.glob("remote-workers.json"),):
            old.unlink(missing_ok=True)

    def _remote_state(self) -> dict[str, Any]:
        try:
            data = json.loads((self.out_dir / "remote-workers.json").read_text("utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _run(self, on_progress: Any) -> LoadRun:
        try:
            return super()._run(on_progress)
        except LoadRunError as exc:
            state = self._remote_state()
            connected = state.get("connected", [])
            if not state.get("participants") and len(connected) < self.remote.count:
                raise self._fail(
                    f"only {len(connected)} of {self.remote.count} remote Locust workers "
                    f"connected to {self.remote.bind} within worker_timeout "
                    f"({self.remote.timeout_s:g} s): the load was not run; start them with "
                    f"`fixgate load-worker --master HOST:{self.remote.bind_port} -f "
                    f"{self.spec.locustfile.name}`"
                ) from exc
            raise

    def _remote_info(self, proc: _RemoteProc) -> dict[str, Any]:
        """What a remote worker said of itself in its capture: settings applied, its CPU."""
        try:
            data = json.loads(self._capture_file(proc).read_text("utf-8"))  # type: ignore[arg-type]
        except (OSError, ValueError):
            return {}
        return dict(data.get("remote") or {})

    def _collect(self) -> LoadRun:
        state = self._remote_state()
        captures: dict[str, str] = state.get("captures", {})
        log = self.out_dir / "remote-workers.json"
        for i, client_id in enumerate(state.get("participants", [])):
            name = captures.get(client_id)
            if name is None:
                continue
            pid = int(name.removeprefix("capture-worker-").removesuffix(".json"))
            proc = _RemoteProc(i, pid, client_id, [], log)
            proc.cpu_samples = [float(v) for v in self._remote_info(proc).get("cpu") or []]
            self._procs.append(proc)
        if not captures:
            raise self._fail(
                f"{self._where()}: no remote worker sent its capture "
                f"({len(state.get('participants', []))} took part)"
            )
        unconfigured = [
            p.client_id
            for p in self._procs
            if isinstance(p, _RemoteProc) and not self._remote_info(p).get("configured")
        ]
        if unconfigured:
            # Its steps, warm-up and timeouts may differ from the gate's: not mergeable.
            raise self._fail(
                f"{self._where()}: remote worker(s) {', '.join(unconfigured)} ran without the "
                "gate's capture settings (they never reached it)"
            )
        self.lost = tuple(state.get("lost", []))
        run = super()._collect()
        warnings = list(run.warnings)
        if self.lost:
            warnings.append(
                f"{len(self.lost)} of {len(state['participants'])} remote workers lost mid-run "
                f"({', '.join(self.lost)}): their requests are missing, latency is not judged"
            )
        return dataclasses.replace(run, warnings=tuple(warnings), lost_workers=self.lost)


def worker_command(
    master: str, locustfile: Path, *, capture_dir: Path | None = None, python: str = sys.executable
) -> tuple[list[str], dict[str, str]]:
    """The Locust command (and environment) of one remote worker."""
    host, _, port = master.rpartition(":")
    files = f"{locustfile},{capture_module_path()},{remote_capture_path()}"
    argv = [python, "-m", "locust", "-f", files, "--worker"]
    argv += ["--master-host", host.strip("[]"), "--master-port", port, "--loglevel", "INFO"]
    # Capture file names carry the pid: workers on one machine may share the folder.
    folder = capture_dir or Path(tempfile.gettempdir()) / "fixgate-worker"
    return argv, {"FIXGATE_CAPTURE_DIR": str(folder), "FIXGATE_REMOTE_WORKER": "1"}


def shell_line(argv: list[str], env: dict[str, str]) -> str:
    return " ".join([*(f"{k}={shlex.quote(v)}" for k, v in env.items()), *map(shlex.quote, argv)])


def exec_worker(argv: list[str], env: dict[str, str]) -> None:
    """Become the Locust worker: signals (Ctrl-C, a pod's SIGTERM) reach Locust itself."""
    Path(env["FIXGATE_CAPTURE_DIR"]).mkdir(parents=True, exist_ok=True)
    os.execve(argv[0], argv, {**os.environ, **env})
