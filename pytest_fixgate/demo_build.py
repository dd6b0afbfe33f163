"""``fixgate demo``'s build and supply-chain gates, offline.

The demo copies :mod:`pytest_fixgate.demo_app` into its temporary folder in
the real application's layout (``reports/bundle-budget-history.json``, its
last entry stamped "just now", as if the budget script had just run), starts
the local advisory server (the OSV API and npm's bulk advisory API on
127.0.0.1, real records), and adds to the demo's config:

- ``command.lint``: the demo app's lint script;
- ``bundle.budget``: the last entry of the app's budget history;
- ``audit.python``: the real pip-audit on ``requirements.txt``, OSV at the
  local server;
- ``audit.node``: the real ``npm audit`` on ``package-lock.json``, the
  registry at the local server; left out (and said so) when npm is not
  installed, since no config then implies it.

Nothing reaches the network. ``--fault vulnerable-deps`` pins lodash 4.17.11
and requests 2.19.1: critical and high advisories, a HOLD.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

from pytest_fixgate import timing
from pytest_fixgate.reference.advisory_server import advisory_server

__all__ = ["DEMO_APP", "demo_build_config", "prepare_demo_app"]

DEMO_APP = Path(__file__).resolve().parent / "demo_app"
_VULNERABLE = {"lodash": "4.17.11", "requests": "2.19.1"}


def prepare_demo_app(folder: Path, kind: str = "healthy") -> Path:
    """Copy the demo app to ``folder``; ``kind="vulnerable"`` pins vulnerable versions."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json", "requirements.txt", "lint.py"):
        shutil.copyfile(DEMO_APP / name, folder / name)
    history = json.loads((DEMO_APP / "bundle-budget-history.json").read_text(encoding="utf-8"))
    stamp = timing.utcnow().isoformat(timespec="milliseconds").replace("+00:00", "Z")
    history[-1]["timestamp"] = stamp
    (folder / "reports").mkdir(exist_ok=True)
    (folder / "reports" / "bundle-budget-history.json").write_text(
        json.dumps(history, indent=2), encoding="utf-8"
    )
    if kind == "vulnerable":
        for name in ("package.json", "package-lock.json"):
            path = folder / name
            path.write_text(
                path.read_text(encoding="utf-8").replace("4.17.21", _VULNERABLE["lodash"]),
                encoding="utf-8",
            )
        reqs = folder / "requirements.txt"
        reqs.write_text(
            reqs.read_text(encoding="utf-8").replace("2.32.3", _VULNERABLE["requests"]),
            encoding="utf-8",
        )
    return folder


def demo_build_config(env: str, app: Path, advisory_url: str, *, npm: bool) -> str:
    """The ``[[env.<env>.commands]]``, ``[env.<env>.bundle]`` and ``[[env.<env>.audit]]``
    tables for the copied demo app."""
    text = f"""
[[env.{env}.commands]]
id = "lint"
run = ['{sys.executable}', "lint.py"]
cwd = '{app}'
timeout = "30s"

[env.{env}.bundle]
report = '{app / "reports" / "bundle-budget-history.json"}'
warn_within = "5%"
max_age = "24h"

[[env.{env}.audit]]
id = "python"
tool = "pip-audit"
requirements = ['{app / "requirements.txt"}']
audit_level = "high"
osv_url = "{advisory_url}"
timeout = "60s"
"""
    if npm:
        text += f"""
[[env.{env}.audit]]
id = "node"
tool = "npm"
directory = '{app}'
audit_level = "high"
production_only = true
registry = "{advisory_url}/"
fetch_retries = 0
timeout = "60s"
"""
    return text


@contextlib.contextmanager
def demo_build_stack(folder: Path, env: str, kind: str = "healthy") -> Iterator[str]:
    """Prepare the app, start the advisory server; yield the config to add."""
    app = prepare_demo_app(folder / "app", kind)
    npm = shutil.which("npm") is not None
    if not npm:
        print("fixgate demo: npm not found: the npm audit gate is left out", flush=True)
    with advisory_server() as server:
        yield demo_build_config(env, app, server.base_url, npm=npm)
