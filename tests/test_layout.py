"""The package's shape: subpackages along the data's way, each importing only those below it, and no import
cycle between modules (imports inside functions count: they are how cycles hide)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "har_core"
# Bottom to top. A module may import its own folder and the folders before it, never one after it.
LAYERS = ("base", "media", "datasets", "runtime", "pose", "models", "learning", "prediction", "cluster", "entry")
BASE = {"config", "errors", "quiet"}  # har_core/*.py that everything may import
ENTRY = {"cli", "__main__", "__init__"}  # har_core/*.py at the top: the command line


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "entry"
    if len(parts) == 2 and parts[1] in BASE | ENTRY:
        return "base" if parts[1] in BASE else "entry"
    return parts[1]


def imports_of(path: Path) -> set[str]:
    """Every har_core module `path` imports, anywhere in the file, resolved to a module (not a name in one)."""
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "har_core"}
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            if target.split(".")[0] != "har_core":
                continue
            for alias in node.names:  # `from . import bundle` names a module; `from .x import f` a name in x
                candidate = f"{target}.{alias.name}"
                found.add(candidate if candidate in MODULES else target)
    return {m for m in found if m in MODULES}


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}
GRAPH = {name: imports_of(path) - {name} for name, path in MODULES.items()}


def test_every_module_sits_in_a_known_layer():
    assert {layer(m) for m in MODULES} <= set(LAYERS)
    assert not [p for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"
                and p.name not in LAYERS], "a new folder must take its place in LAYERS"


def test_no_folder_imports_one_above_it():
    upward = [f"{m} imports {t}" for m, targets in GRAPH.items() for t in targets
              if LAYERS.index(layer(t)) > LAYERS.index(layer(m))]
    assert not upward, upward


@pytest.mark.parametrize("name", sorted(BASE))
def test_base_modules_import_nothing_of_the_package(name):
    assert GRAPH[f"har_core.{name}"] == set()


def test_no_import_cycle():
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for t in sorted(GRAPH[m]):
            if state.get(t) == 1:
                cycle = path[path.index(t):] + [t]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if t not in state:
                visit(t, path + [t])
        state[m] = 2

    for m in sorted(GRAPH):
        if m not in state:
            visit(m, [m])


def test_the_check_sees_imports_inside_functions():
    """The graph is not empty by accident: known edges, one of them a function-level import, are found."""
    assert "har_core.models.bundle" in GRAPH["har_core.models.registry"]
    assert "har_core.models.registry" in GRAPH["har_core.cli"]  # imported inside _load
