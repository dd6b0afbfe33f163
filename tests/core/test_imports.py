"""The package's import structure, read from its source with ``ast``:

- no import circle (imports inside functions count, ``if TYPE_CHECKING:`` ones don't);
- the core knows no gate kind by name: only ``kinds/builtin.py`` lists them;
- an import inside a function defers a heavy dependency and says so (``# deferred:``);
- a pure module (one that does not import pytest itself) loads without pytest.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "pytest_fixgate"
ROOT = PACKAGE.parent

#: The core: options, config loading, the outcome model and decision, completeness,
#: reports, process, redaction, statistics, timing.
CORE = (
    "config",
    "outcomes",
    "decision",
    "gate_run",
    "gate_api",
    "gate_report",
    "plugin",
    "run_state",
    "startup",
    "reports",
    "measurements",
    "redaction",
    "session_redaction",
    "severity",
    "errors",
    "timing",
    "suite",
)
#: Files run as scripts (by Locust, by the migrations gate), not imported as modules.
SCRIPTS = ("kinds/load/capture.py", "kinds/load/remote_capture.py", "reference/migrations/")


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith(SCRIPTS) or "demo_app" in rel:
            continue
        parts = ["pytest_fixgate", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _type_checking_nodes(tree: ast.Module) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return skipped


def _imported(node: ast.Import | ast.ImportFrom) -> list[str]:
    """The project modules an import statement loads (a name may be a submodule)."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    elif node.module and not node.level:
        names = [
            f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module
            for a in node.names
        ]
    else:
        names = []
    found = []
    for name in names:
        while name and name not in MODULES:
            name = name.rpartition(".")[0]
        if name:
            found.append(name)
    return found


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skipped = _type_checking_nodes(tree)
        graph[name] = {
            dep
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in skipped
            for dep in _imported(node)
            if dep != name
        }
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_circle_finder_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle() -> None:
    graph = import_graph()
    assert len(graph) > 150  # the whole package was read
    assert circles(graph) == []


def test_the_core_knows_no_gate_kind_by_name() -> None:
    graph = import_graph()
    core = [
        m
        for m in graph
        if any(m == f"pytest_fixgate.{c}" or m.startswith(f"pytest_fixgate.{c}.") for c in CORE)
    ]
    assert "pytest_fixgate.plugin" in core and "pytest_fixgate.reports.html" in core
    named = {m: sorted(d for d in graph[m] if d.startswith("pytest_fixgate.kinds.")) for m in core}
    # The one list of built-in kinds is the registration, not a kind.
    named = {m: [d for d in ds if d != "pytest_fixgate.kinds.builtin"] for m, ds in named.items()}
    assert {m: ds for m, ds in named.items() if ds} == {}


def _function_import_blocks(tree: ast.Module) -> dict[int, list[ast.Import | ast.ImportFrom]]:
    """Runs of consecutive import statements inside functions, by the first one's line.

    One statement list at a time, so a blank line isort puts between two groups does not
    split a block, and a nested function's block is found once.
    """
    blocks: dict[int, list[ast.Import | ast.ImportFrom]] = {}
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(fn):
            for _, statements in ast.iter_fields(node):
                if not isinstance(statements, list):
                    continue
                block: list[ast.Import | ast.ImportFrom] = []
                for statement in [*statements, None]:
                    if isinstance(statement, ast.Import | ast.ImportFrom):
                        block.append(statement)
                    elif block:
                        blocks[block[0].lineno] = block
                        block = []
    return blocks


def _undeferred_imports(path: Path, root: Path = ROOT) -> list[str]:
    """Imports in functions whose block has no ``deferred`` comment on or above its first line."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found = []
    for first, block in sorted(_function_import_blocks(ast.parse("\n".join(lines))).items()):
        said = lines[first - 1] + (lines[first - 2] if first > 1 else "")
        if "deferred" not in said:
            where = path.relative_to(root)
            found += [f"{where}:{node.lineno}: {ast.unparse(node)}" for node in block]
    return found


def test_an_import_inside_a_function_says_what_it_defers(tmp_path: Path) -> None:
    undeferred = [line for path in MODULES.values() for line in _undeferred_imports(path)]
    assert undeferred == []
    # The rule itself: a bare import inside a function is found, a commented one is not.
    sample = tmp_path / "sample.py"
    sample.write_text(
        "def f():\n    import json\n\n"
        "def g():\n    # deferred: why\n    import csv\n    import json\n\n"
        "def h():\n    import csv  # deferred: why\n\n    from json import dumps\n\n"
        "    def inner():\n        import gzip\n"
    )
    found = _undeferred_imports(sample, tmp_path)
    assert [line.split(": ", 1)[1] for line in found] == ["import json", "import gzip"]


def _pure_modules() -> list[str]:
    pure = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        loads_pytest = any(
            isinstance(node, ast.Import | ast.ImportFrom)
            and any(
                n.split(".")[0] in ("pytest", "_pytest")
                for n in (
                    [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
                )
                if n
            )
            for node in tree.body
        )
        if not loads_pytest and not name.endswith("__main__"):
            pure.append(name)
    return pure


_PROBE = """
import importlib, json, sys
loaded = {}
for name in json.loads(sys.argv[1]):
    importlib.import_module(name)
    loaded[name] = "pytest" in sys.modules or "_pytest" in sys.modules
print(json.dumps(loaded))
"""


def _load_pytest(modules: list[str]) -> dict[str, bool]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(modules)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_a_pure_module_loads_without_pytest() -> None:
    pure = _pure_modules()
    assert "pytest_fixgate.kinds.load.runner" in pure and "pytest_fixgate.plugin" not in pure
    # One interpreter imports them all, in order; the first that loads pytest is named.
    loaded = _load_pytest(pure)
    first = next((name for name, has in loaded.items() if has), None)
    assert first is None, f"importing {first} loads pytest"


def test_the_probe_sees_pytest_loaded() -> None:
    assert _load_pytest(["pytest_fixgate.plugin"]) == {"pytest_fixgate.plugin": True}


@pytest.mark.parametrize("name", ["GateKind", "current_gate_run", "WatchSourceKind", "Outcome"])
def test_the_public_api_holds_what_a_plugin_author_needs(name: str) -> None:
    import pytest_fixgate

    assert name in pytest_fixgate.__all__ and getattr(pytest_fixgate, name)
