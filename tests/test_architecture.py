"""The architecture, held by a test: the graph of wxb's own imports (every module under core/ and cli/, parsed with
`ast`, imports inside functions included) has no circle, at the level of modules and at the level of packages
(nothing runs back up: a subpackage never imports a sibling module that imports it); core/ never imports cli/ or
anything that does I/O or printing; cli/ has at most 16 entries at its top level; no file is over 450 lines."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "cli")
IO_LIBRARIES = ("rich", "typer", "click", "polars", "zarr", "dask.distributed", "distributed")
IO_CALLS = ("print", "open", "input")
MAX_LINES = 450
MAX_CLI_ENTRIES = 16

Graph = dict[str, set[str]]


def module_name(path: Path) -> str:
    """wxb.core.primitives.row for core/primitives/row.py, wxb.core.primitives for its __init__.py."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(("wxb", *(parts[:-1] if parts[-1] == "__init__" else parts)))


def sources() -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted(p for p in (ROOT / package).rglob("*.py") if "__pycache__" not in p.parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sources()}


def is_package(name: str) -> bool:
    return modules()[name].name == "__init__.py"


def imported(name: str, tree: ast.AST) -> Iterator[str]:
    """Every module the source imports when it runs (absolute names), wherever the import stands, wxb's own or
    not; imports under `if TYPE_CHECKING:` are the type checker's only and are left out."""
    package = name if is_package(name) else name.rpartition(".")[0]
    typing_only = {id(inner) for block in ast.walk(tree) if isinstance(block, ast.If) and
                   ast.unparse(block.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
                   for stmt in block.body for inner in ast.walk(stmt)}  # read by the type checker, never run
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[:len(base) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            submodules = [f"{target}.{alias.name}" for alias in node.names if f"{target}.{alias.name}" in modules()]
            if len(submodules) < len(node.names):  # a name from the module itself (from . import x: x alone)
                yield target
            yield from submodules


@cache
def graph() -> Graph:
    """Module → the wxb modules it imports."""
    edges: Graph = {}
    for name, path in modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        edges[name] = {target for target in imported(name, tree) if target in modules() and target != name}
    return edges


def cycle(edges: Graph) -> list[str]:
    """One circle of the graph (its nodes in order, the first repeated at the end), or [] for none."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target):], target]
            if target not in state and (found := visit(target)):
                return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return []


def test_the_graph_sees_imports_inside_functions() -> None:
    """The graph is the one the tests below judge: it holds a lazy import (app's commands are imported when run)."""
    assert len(modules()) > 40
    assert any(target.startswith("wxb.cli.commands") for target in graph()["wxb.cli.app"])
    assert "wxb.core.primitives" in graph()["wxb.core.expr"]


def test_no_circle_between_modules() -> None:
    assert not cycle(graph()), " → ".join(cycle(graph()))


def units(package: str) -> Graph:
    """The imports between the children of a package (its modules, and its subpackages each taken whole), as
    seen by the modules inside it; its own __init__ stands apart (it gathers the children)."""
    prefix = package + "."
    depth = package.count(".") + 1

    def unit(name: str) -> str:
        return ".".join(name.split(".")[:depth + 1])

    edges: Graph = {}
    for name, targets in graph().items():
        if not name.startswith(prefix):
            continue
        edges.setdefault(unit(name), set()).update(unit(t) for t in targets
                                                   if t.startswith(prefix) and unit(t) != unit(name))
    return edges


# Circles between packages found when this test was written, each to be broken by the branch that owns the files.
KNOWN_CIRCLES: dict[str, str] = {}


@pytest.mark.parametrize("package", [
    pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=KNOWN_CIRCLES[name])) if name in KNOWN_CIRCLES
    else name for name in sorted(name for name in modules() if is_package(name))])
def test_nothing_runs_back_up(package: str) -> None:
    """Within each package the children import one another in layers: no circle through a subpackage, and no
    child imports its own package's __init__."""
    found = cycle(units(package))
    assert not found, f"in {package}: " + " → ".join(found)
    inside = [name for name, targets in graph().items() if name.startswith(package + ".") and package in targets]
    assert not inside, f"modules of {package} import its __init__: {inside}"


def test_core_never_imports_cli() -> None:
    wrong = {name: sorted(t for t in targets if t.startswith("wxb.cli")) for name, targets in graph().items()
             if name.startswith("wxb.core") and any(t.startswith("wxb.cli") for t in targets)}
    assert not wrong, wrong


def test_core_does_no_io_and_prints_nothing() -> None:
    """No terminal, file or cluster library in core/, no print/open/input and no sys.stdout or sys.stderr."""
    found = []
    for name, path in modules().items():
        if not name.startswith("wxb.core"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for target in imported(name, tree):
            if any(target == lib or target.startswith(lib + ".") for lib in IO_LIBRARIES):
                found.append(f"{name} imports {target}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in IO_CALLS:
                found.append(f"{name} calls {node.func.id}() on line {node.lineno}")
            if (isinstance(node, ast.Attribute) and node.attr in ("stdout", "stderr", "stdin")
                    and isinstance(node.value, ast.Name) and node.value.id == "sys"):
                found.append(f"{name} reads sys.{node.attr} on line {node.lineno}")
    assert not found, found


def test_the_checks_can_fail() -> None:
    """The circle finder and the I/O scan see what they look for."""
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) == []
    tree = ast.parse("def f():\n    import rich.console\n    from ..cli import app\n    from . import notation, x\n"
                     "if TYPE_CHECKING:\n    from . import engine\n")
    assert set(imported("wxb.core.expr", tree)) == {"rich.console", "wxb.cli.app", "wxb.core", "wxb.core.notation"}
    assert cycle(units("wxb.core")) == [] and "wxb.core.primitives" in units("wxb.core")["wxb.core.expr"]


def test_cli_top_level_has_at_most_16_entries() -> None:
    entries = sorted(p.name for p in (ROOT / "cli").iterdir() if p.name != "__pycache__")
    assert len(entries) <= MAX_CLI_ENTRIES, entries


def long_files() -> dict[str, int]:
    counts = {str(path.relative_to(ROOT)): len(path.read_text(encoding="utf-8").splitlines()) for path in sources()}
    return {path: n for path, n in counts.items() if n > MAX_LINES}


def test_no_file_is_over_450_lines() -> None:
    assert not long_files(), long_files()


def test_the_architecture_page_quotes_the_code_as_it_is() -> None:
    """The page's worked example (the arctan row and its test entry) is the code today, line for line, and its
    layout names every module of core/ and every folder of cli/."""
    page = (ROOT / "docs" / "explanation" / "architecture.md").read_text(encoding="utf-8")
    code = "\n".join(path.read_text(encoding="utf-8") for path in [*sources(), ROOT / "tests" / "primitive_cases.py"])
    quoted = re.findall(r"```python\n(.*?)```", page, flags=re.DOTALL)
    assert len(quoted) == 2
    for block in quoted:
        for line in block.strip().splitlines():
            assert line.strip() in code, line
    layout = re.search(r"```text\n(.*?)```", page, flags=re.DOTALL)
    assert layout is not None
    words = set(re.findall(r"[\w]+(?:\.py|/)", layout.group(1)))
    modules = {p.name for p in (ROOT / "core").rglob("*.py")
               if p.name != "__init__.py" and "__pycache__" not in p.parts}
    folders = {p.name + "/" for p in (ROOT / "cli").iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert modules - words == set() and folders - words == set()
