"""The test environment shown (folded) at the end of the HTML report."""

from __future__ import annotations

import platform
import sys
from importlib import metadata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest

__all__ = ["environment_rows"]

# What a reader checking "was this the tool I think it was" needs; not every package.
_PACKAGES = ("pytest-fixgate", "pytest", "pytest-xdist", "locust", "httpx", "pymongo", "redis")


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def environment_rows(config: pytest.Config) -> list[tuple[str, str]]:
    """(name, value) rows: Python, platform, key packages, active pytest plugins."""
    rows = [
        ("Python", sys.version.split()[0]),
        ("Platform", platform.platform()),
    ]
    rows += [(name, v) for name in _PACKAGES if (v := _version(name)) is not None]
    plugins = _plugins(config)
    if plugins:
        rows.append(("pytest plugins", ", ".join(plugins)))
    return rows


def _plugins(config: pytest.Config) -> list[str]:
    try:
        return sorted(
            {
                f"{dist.metadata['name']}-{dist.version}"
                for _, dist in config.pluginmanager.list_plugin_distinfo()
            }
        )
    except Exception:  # a display nicety: never a reason to fail the run
        return []
