"""A gate run started as ``pytest -p fixgate --gate=ENV`` does not import the test-only
pytest plugins installed beside it (pytest_fixgate/startup.py); one that asks for a
plugin, or with FIXGATE_KEEP_TEST_PLUGINS=1, keeps it; a run without --gate is untouched."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# The modules each plugin's entry point imports (the test extra installs them all).
PLUGIN_MODULES = {
    "hypothesispytest": "_hypothesis_pytestplugin",
    "benchmark": "pytest_benchmark.plugin",
    "locust": "pytest_locust.plugin",
    "anyio": "anyio.pytest_plugin",
}


def _imported(tmp_path: Path, *args: str, environ: dict[str, str] | None = None) -> set[str]:
    # Nothing listens on port 9: the gates end ERROR at once (exit 1), and the run is short.
    (tmp_path / "fixgate.toml").write_text('[env.staging]\nbase_url = "http://127.0.0.1:9"\n')
    (tmp_path / "record_modules.py").write_text(
        "import sys\n\n"
        "def pytest_unconfigure(config):\n"
        "    open('modules.txt', 'w').write('\\n'.join(sorted(sys.modules)))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS",)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tmp_path), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "record_modules",
            *args,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, **(environ or {})},
    )
    assert done.returncode in (0, 1, 5), done.stdout[-2000:] + done.stderr[-2000:]
    modules = set((tmp_path / "modules.txt").read_text().split())
    return {name for name, module in PLUGIN_MODULES.items() if module in modules}


def test_a_gate_run_imports_no_test_only_plugin(tmp_path: Path) -> None:
    assert _imported(tmp_path, "-p", "fixgate", "--gate=staging") == set()


def test_a_plain_run_keeps_every_plugin(tmp_path: Path) -> None:
    assert _imported(tmp_path, "-p", "fixgate") == set(PLUGIN_MODULES)


@pytest.mark.parametrize(
    ("args", "environ", "kept"),
    [
        (["--hypothesis-seed=1"], {}, {"hypothesispytest"}),
        (["-p", "benchmark"], {}, {"benchmark"}),
        ([], {"FIXGATE_KEEP_TEST_PLUGINS": "1"}, set(PLUGIN_MODULES)),
    ],
    ids=["an-option-of-it", "asked-for-by-name", "opted-out"],
)
def test_a_gate_run_keeps_a_plugin_it_asks_for(
    tmp_path: Path, args: list[str], environ: dict[str, str], kept: set[str]
) -> None:
    assert _imported(tmp_path, "-p", "fixgate", "--gate=staging", *args, environ=environ) == kept
