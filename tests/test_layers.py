"""The package's layer contract: every import of a reducio module goes down, none runs in a cycle,
and all of them sit at the top of their file.

The layers, from the top (docs/decisions.md explains the order)::

    cli, demo  >  training, eval, bench  >  pipelines  >  data
      >  models, diffusion, conditioning  >  loading  >  configs  >  errors

Parts on one line may import each other, as long as no cycle forms. ``reducio/__init__.py`` (the
public API) sits above everything and nothing inside the package imports it.

Run ``python tests/test_layers.py`` to print the numbers this test checks.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

PACKAGE = "reducio"
ROOT = Path(__file__).resolve().parents[1] / "src" / PACKAGE

# Top to bottom; parts on one row share a level.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("cli", "demo"),
    ("training", "eval", "bench"),
    ("pipelines",),
    ("data",),
    ("models", "diffusion", "conditioning"),
    ("loading",),
    ("configs",),
    ("errors",),
)
LEVEL = {part: depth for depth, row in enumerate(LAYERS) for part in row}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _resolve(node: ast.ImportFrom, current: str, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = current.split(".")
    drop = node.level - 1 if is_package else node.level
    base = base[: len(base) - drop] if drop else base
    return ".".join(base + ([node.module] if node.module else []))


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _Imports(ast.NodeVisitor):
    """Collects (target module, line, at top of file, only for type checking) for each import."""

    def __init__(self, current: str, is_package: bool, modules: set[str]) -> None:
        self.current, self.is_package, self.modules = current, is_package, modules
        self.found: list[tuple[str, int, bool, bool]] = []
        self._depth = 0
        self._typing = 0

    def _add(self, target: str, line: int) -> None:
        if target == PACKAGE or target.startswith(PACKAGE + "."):
            self.found.append((target, line, self._depth == 0, self._typing > 0))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = _resolve(node, self.current, self.is_package)
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            self._add(sub if sub in self.modules else base, node.lineno)

    def _scoped(self, node: ast.AST) -> None:
        self._depth += 1
        self.generic_visit(node)
        self._depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _scoped

    def visit_If(self, node: ast.If) -> None:
        typing = _is_type_checking(node)
        self._typing += typing
        self.generic_visit(node)
        self._typing -= typing


def part_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return PACKAGE
    return parts[1]


def collect() -> dict:
    """The import graph and everything the contract counts."""
    modules = all_modules()
    names = set(modules)
    graph: dict[str, set[str]] = defaultdict(set)
    upward, inline, unknown = [], [], []
    for name, path in modules.items():
        visitor = _Imports(name, path.name == "__init__.py", names)
        visitor.visit(ast.parse(path.read_text(), str(path)))
        for target, line, top, typing in visitor.found:
            where = f"{path.relative_to(ROOT.parent)}:{line} imports {target}"
            if not top:
                inline.append(where)
            src, dst = part_of(name), part_of(target)
            if src == PACKAGE:
                continue  # the public API may import anything
            if dst == PACKAGE:
                upward.append(where + " (the public API)")
            elif src not in LEVEL or dst not in LEVEL:
                unknown.append(where)
            elif LEVEL[dst] < LEVEL[src]:
                upward.append(where)
            if not typing and target != name:
                graph[name].add(target)
    cycles = [c for c in _strongly_connected(graph) if len(c) > 1]
    return {
        "modules": modules,
        "upward": sorted(set(upward)),
        "inline": sorted(set(inline)),
        "unknown": sorted(set(unknown)),
        "cycles": cycles,
    }


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []
    counter = 0
    nodes = set(graph) | {t for ts in graph.values() for t in ts}
    for start in sorted(nodes):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    result.append(sorted(component))
    return result


def test_every_part_has_a_layer():
    assert collect()["unknown"] == []


def test_imports_go_down():
    assert collect()["upward"] == []


def test_no_import_cycles():
    assert collect()["cycles"] == []


def test_reducio_imports_sit_at_the_top_of_files():
    assert collect()["inline"] == []


def _report() -> None:
    found = collect()
    per_part: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for name, path in found["modules"].items():
        counts = per_part[part_of(name)]
        counts[0] += 1
        counts[1] += len(path.read_text().splitlines())
    print("part            files  lines")
    for part, (files, lines) in sorted(per_part.items()):
        print(f"{part:<15} {files:>5} {lines:>6}")
    for key in ("upward", "inline", "unknown"):
        print(f"\n{key} imports: {len(found[key])}")
        for line in found[key][:400 if "-v" in sys.argv else 0]:
            print("  " + line)
    print(f"\nimport cycles: {len(found['cycles'])}")
    for cycle in found["cycles"]:
        print("  " + " <-> ".join(cycle))


if __name__ == "__main__":
    _report()
