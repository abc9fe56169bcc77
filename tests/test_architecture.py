"""The package's import structure: no circles (counting imports inside functions) and no import back up a layer."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ralis"

# Layers, lowest first; a module may import its own layer or lower ones (the longest matching prefix decides).
LAYERS = [
    ["ralis.contract", "ralis.schema", "ralis.io", "ralis.runtime", "ralis.paper_tables", "ralis.config",
     "ralis.reads"],
    ["ralis.data"],  # datasets, windows, augmentation, loaders
    ["ralis.methods"],  # the protocol every method implements, and its registry
    ["ralis.model", "ralis.baselines"],  # RALIS and the baselines
    ["ralis.zoo"],  # builds any of them by name
    ["ralis.evaluate", "ralis.checkpoint", "ralis.probe", "ralis.train", "ralis.predict"],
    ["ralis.api"],
    ["ralis.pipeline", "ralis.runner", "ralis.study", "ralis.results", "ralis.claims", "ralis.figures",
     "ralis.analysis", "ralis.tracking"],
    ["ralis.cli"],  # the `ralis` command
]
EXEMPT = {"ralis"}  # the package facade loads its names lazily (ralis/__init__.py)


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


MODULES = _modules()


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str) -> set[str]:
    """Every ralis module `module` imports, at the top or inside a function."""
    out = set()
    for node in ast.walk(ast.parse(MODULES[module].read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        out |= {r for n in names if n.startswith("ralis") and (r := _resolve(n)) and r != module}
    return out


GRAPH = {m: _imports(m) for m in MODULES}


def _layer(module: str) -> int:
    best, rank = -1, None
    for i, prefixes in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best:
                best, rank = len(p), i
    if rank is None:
        raise AssertionError(f"{module} is in no layer of tests/test_architecture.py LAYERS; add it")
    return rank


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_circles():
    assert _cycles(GRAPH) == []


def test_the_cycle_finder_can_fail():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m not in EXEMPT))
def test_no_import_runs_back_up_a_layer(module):
    up = sorted(t for t in GRAPH[module] if t not in EXEMPT and _layer(t) > _layer(module))
    assert not up, f"{module} (layer {_layer(module)}) imports the higher layer(s) {up}"


MAX_LINES = 320  # "modules of about 50-300 lines, split by paper concept"; small ones (MagNorm) may stay small


def test_modules_stay_small():
    sizes = {name: len(path.read_text().splitlines()) for name, path in MODULES.items()}
    big = {name: n for name, n in sizes.items() if n > MAX_LINES}
    assert not big, f"modules over {MAX_LINES} lines: {big}; split them by concept"
