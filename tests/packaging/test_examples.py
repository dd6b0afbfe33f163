"""The example configs stand on their own: they load, and name no file outside the repository."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from gaterun import REPO

EXAMPLES = sorted((REPO / "examples").glob("*.toml"))


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_names_no_file_outside_the_repository(example: Path) -> None:
    text = example.read_text(encoding="utf-8")
    tomllib.loads(text)
    # A path climbing out of the checkout, or an absolute one, means the facts the example
    # relies on live elsewhere: they belong in its comments or the README.
    climbing = re.findall(r"(?:\.\./)+[\w./-]+", text)
    absolute = re.findall(r"(?<![\w:/])/(?:work|home|tmp|root|Users)/[\w./-]+", text)
    assert not climbing and not absolute, (climbing, absolute)


def test_there_is_an_example() -> None:
    assert [p.name for p in EXAMPLES if p.name == "fixzit.toml"]
