"""The package keeps DESIGN.md's layering: notebook → pipeline → runners → store; features, registry and
monitoring on the store; widgets, server, cli and kernel on top, imported by nothing. Imports inside functions
count (a lazy import is still a dependency), and every module imports on its own, in a fresh interpreter."""

from __future__ import annotations

import ast
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "nbmlops"
# modules at the package root that everything may use
BASE = {
    "errors",
    "extras",
    "names",
    "profiling",
    "digest",
    "_version",
    "user_cache",
    "status",
    "step_options",
    "processes",
}
# what each subpackage may import (besides itself and BASE); the top ones may import anything below
ALLOWED = {
    "notebook": set(),
    "pipeline": {"notebook"},
    "store": set(),
    "tracking": {"store"},
    "runners": {"notebook", "pipeline", "store", "tracking"},
    "features": {"store", "tracking"},
    "registry": {"store", "tracking"},
    "monitoring": {"store", "tracking", "registry"},
    "serving": {"store", "tracking", "registry", "features", "monitoring", "runners"},  # runners: Ray start/join
    "scheduling": {"notebook", "pipeline", "runners", "store", "tracking", "monitoring"},
}
TOP = {"widgets", "server", "cli", "kernel"}
# modules compiled before the runtimes moved to nbmlops.runners.runtime import them from the compile targets;
# these two hand them on by name, on first access only (nothing of nbmlops imports them this way)
COMPAT_SHIMS = {("pipeline/targets/ray.py", "runners"), ("pipeline/targets/papermill.py", "runners")}


def _layer(module: str) -> str | None:
    """`nbmlops.runners.local` -> 'runners'; the package root itself (`nbmlops`) -> None."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "nbmlops" else None


def _imports(path: Path) -> list[tuple[str, int]]:
    """Every nbmlops module the file imports, at any depth (functions included), with its line."""
    tree = ast.parse(path.read_text())
    package = ".".join(("nbmlops", *path.relative_to(PACKAGE).with_suffix("").parts))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level)[0] if path.name != "__init__.py" or node.level > 1 else package
                found.append((f"{base}.{node.module}" if node.module else base, node.lineno))
            elif node.module:
                found += [(node.module, node.lineno)] + [
                    (f"{node.module}.{a.name}", node.lineno) for a in node.names if node.module == "nbmlops"
                ]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.append((str(node.args[0].value), node.lineno))  # importlib.import_module("nbmlops....")
    return [(name, line) for name, line in found if name == "nbmlops" or name.startswith("nbmlops.")]


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "labextension" not in p.parts)


def _name(path: Path) -> str:
    return ".".join(("nbmlops", *path.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__")


def test_every_import_follows_the_layers() -> None:
    wrong = []
    for path in _modules():
        relative = path.relative_to(PACKAGE)
        own = relative.parts[0] if len(relative.parts) > 1 else relative.stem
        for name, line in _imports(path):
            target = _layer(name)
            if target is None or target == own or target in BASE or own == "__init__":
                continue  # the package root is the public API and the `%load_ext nbmlops` entry point
            if target in TOP:
                wrong.append(f"{relative}:{line} imports {name}: {target} is on top, imported by nothing")
            elif own in TOP:
                continue
            elif own in BASE:
                wrong.append(f"{relative}:{line} imports {name}: {own} is below every subpackage")
            elif target not in ALLOWED.get(own, set()) and (str(relative), target) not in COMPAT_SHIMS:
                wrong.append(
                    f"{relative}:{line} imports {name}: {own} may use only "
                    f"{', '.join(sorted(ALLOWED.get(own, set()) | BASE))}"
                )
    assert not wrong, "\n".join(wrong)


def _type_checking_only(tree: ast.Module) -> set[int]:
    """ids of the import nodes under `if TYPE_CHECKING:`: names for annotations, never loaded at run time."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            found |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return found


def test_no_import_cycle_between_modules() -> None:
    """No two modules need each other, through any chain, imports inside functions included (a lazy import
    still ties the two modules; only imports for type annotations don't load anything)."""
    paths = {_name(p): p for p in _modules()}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        edges = set()
        tree = ast.parse(path.read_text())
        annotations_only = _type_checking_only(tree)
        for node in ast.walk(tree):
            if id(node) in annotations_only:
                continue
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("nbmlops"):
                # `from nbmlops.registry import data` loads the submodule, not (only) the package's names
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    edges.add(sub if sub in paths else node.module)
            elif isinstance(node, ast.Import):
                edges |= {a.name for a in node.names if a.name.startswith("nbmlops")}
        graph[name] = edges
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(trail[trail.index(nxt) :] + [nxt]) if nxt in trail else nxt)
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, "\n".join(cycles)


def _import_alone(module: str) -> str | None:
    done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=120)
    return None if done.returncode == 0 else f"{module}: {done.stderr.strip().splitlines()[-1]}"


def test_every_module_imports_on_its_own() -> None:
    # Alembic's migration scripts are loaded by Alembic, from its environment, not imported
    names = [_name(p) for p in _modules() if p.name != "__main__.py" and "migrations" not in p.parts]
    with ThreadPoolExecutor(max_workers=4) as pool:
        failures = [f for f in pool.map(_import_alone, names) if f]
    assert not failures, "\n".join(failures)
