"""The documentation: the MkDocs site builds in strict mode (a broken link or anchor
fails it), every relative link of the README and the docs resolves, and every TOML
example parses; an example holding an ``[env.`` table is a whole config and is loaded
by fixgate's own loader, so an example that no longer matches the config fails here.

An example may leave out its environments' ``base_url`` (``[env.staging.bundle]``
alone): the test gives each such environment one before loading it. A ```toml block
that is only a piece of a table says so with the info string ``toml fragment``: it
must still be valid TOML on its own, and is parsed, not loaded. The README's example
gate kind (``ping``) is loaded with the kind that example defines.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from pytest_fixgate.config.loader import load_config
from pytest_fixgate.kinds import GateKind
from pytest_fixgate.kinds.builtin import builtin_kinds

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
_BLOCK = re.compile(r"^```toml( fragment)?\n(.*?)^```", re.S | re.M)
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def toml_blocks(text: str) -> list[tuple[bool, str]]:
    """``(is_fragment, body)`` of each TOML example."""
    return [(bool(m.group(1)), m.group(2)) for m in _BLOCK.finditer(text)]


def relative_links(text: str) -> list[str]:
    links = _LINK.findall(_FENCE.sub("", text))
    return [link for link in links if not re.match(r"[a-z]+:", link) and not link.startswith("#")]


def _examples() -> list[tuple[str, bool, str]]:
    return [
        (f"{page.relative_to(REPO)}#{n}", fragment, body)
        for page in PAGES
        for n, (fragment, body) in enumerate(toml_blocks(page.read_text(encoding="utf-8")), 1)
    ]


EXAMPLES = _examples()


def test_the_docs_have_pages_and_examples() -> None:
    assert len(PAGES) > 10
    assert len(EXAMPLES) >= 10


@pytest.mark.parametrize(("where", "fragment", "body"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_a_toml_example_parses_and_a_whole_config_loads(
    where: str, fragment: bool, body: str, tmp_path: Path
) -> None:
    data = tomllib.loads(body)
    if fragment or "env" not in data:
        return
    path = tmp_path / "fixgate.toml"
    path.write_text(with_base_urls(body, data), encoding="utf-8")
    for env in data["env"].values():  # type: ignore[union-attr]
        for audit in env.get("audit", []):  # a waivers file must exist: an empty one
            if "waivers" in audit:
                (tmp_path / audit["waivers"]).write_text("", encoding="utf-8")
    config = load_config(path, [*builtin_kinds(), example_kind()])
    assert set(config.envs) == set(data["env"])


def with_base_urls(body: str, data: dict[str, object]) -> str:
    """``body`` with a ``base_url`` for each environment that leaves it out."""
    for name, env in data["env"].items():  # type: ignore[union-attr]
        if "base_url" in env:
            continue
        header = re.search(rf"^\[env\.{re.escape(name)}\]\n", body, re.M)
        line = 'base_url = "https://example.invalid"\n'
        if header:
            body = body[: header.end()] + line + body[header.end() :]
        else:
            body = f"[env.{name}]\n{line}" + body
    return body


def example_kind() -> GateKind:
    """The README's example kind, from its own code block."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    code = re.search(r"^```python\n(# gates/ping_kind/config\.py\n.*?)^```", readme, re.S | re.M)
    assert code, "the README's example kind (gates/ping_kind/config.py) is gone"
    namespace: dict[str, object] = {}
    exec(compile(code.group(1), "README.md: gates/ping_kind/config.py", "exec"), namespace)
    kind = namespace["KIND"]
    assert isinstance(kind, GateKind)
    return kind


def test_a_config_example_that_no_longer_matches_fails(tmp_path: Path) -> None:
    broken = '[env.staging]\nbase_url = "https://s.example"\n[env.staging.load]\ndurration = "5m"\n'
    (tmp_path / "fixgate.toml").write_text(broken)
    with pytest.raises(Exception, match="durration"):
        load_config(tmp_path / "fixgate.toml")
    assert toml_blocks("```toml\na = 1\n```\n```toml fragment\nb = 2\n```\n") == [
        (False, "a = 1\n"),
        (True, "b = 2\n"),
    ]


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(REPO)) for p in PAGES])
def test_every_relative_link_resolves(page: Path) -> None:
    missing = []
    for link in relative_links(page.read_text(encoding="utf-8")):
        target = link.split("#", 1)[0]
        if target and not (page.parent / target).exists():
            missing.append(link)
    assert missing == []


def test_a_broken_link_is_found() -> None:
    text = "see [a](docs/nowhere.md), [b](https://example.com), [c](#here)\n```\n[d](x.md)\n```\n"
    assert relative_links(text) == ["docs/nowhere.md"]


def test_the_site_builds_strict(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "s")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "s" / "gates" / "load" / "index.html").is_file()
