"""Packaging: ``python -m build`` makes an sdist and, from that sdist alone, a wheel
(build's default: the wheel is built from the unpacked sdist, not from the checkout);
``twine check --strict`` accepts both; the metadata is complete."""

from __future__ import annotations

import email
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from gaterun import REPO


def _copy_tracked_tree(target: Path) -> None:
    # A copy, so the build leaves nothing in the checkout.
    names = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, names):
        path = REPO / name.decode()
        if path.is_file():
            dest = target / name.decode()
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(path.read_bytes())


def test_build_makes_an_sdist_and_a_wheel_twine_accepts(tmp_path: Path) -> None:
    src = tmp_path / "src"
    _copy_tracked_tree(src)
    dist = tmp_path / "dist"
    # --no-isolation: the tests run offline; the installed setuptools must satisfy
    # [build-system] requires (build checks it).
    built = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(src)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    sdists = list(dist.glob("pytest_fixgate-*.tar.gz"))
    wheels = list(dist.glob("pytest_fixgate-*-py3-none-any.whl"))
    assert len(sdists) == 1 and len(wheels) == 1, sorted(p.name for p in dist.iterdir())
    checked = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, sdists + wheels)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count("PASSED") == 2, checked.stdout

    with zipfile.ZipFile(wheels[0]) as whl:
        names = set(whl.namelist())
        info = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = email.message_from_bytes(whl.read(info))
    assert meta["License-Expression"] == "MIT"
    assert meta.get_all("License-File") == ["LICENSE"]
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    classifiers = meta.get_all("Classifier") or []
    assert "Framework :: Pytest" in classifiers
    assert "Programming Language :: Python :: 3.11" in classifiers
    assert (
        meta["Requires-Python"] == ">=3.11" and meta["Description-Content-Type"] == "text/markdown"
    )
    assert meta.get_payload().startswith("# pytest-fixgate")  # the README is the long description
    # What the package needs at run time ships in the wheel: the gate suite, the schema.
    assert "pytest_fixgate/gates/test_health.py" in names
    assert "pytest_fixgate/reports/verdict.schema.json" in names
    assert any(n.endswith("entry_points.txt") for n in names)

    with tarfile.open(sdists[0]) as sdist:
        members = {m.name.split("/", 1)[1] for m in sdist.getmembers() if "/" in m.name}
    assert {"LICENSE", "pyproject.toml", "README.md", "PKG-INFO"} <= members
    assert "pytest_fixgate/reports/verdict.schema.json" in members
