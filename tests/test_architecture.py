"""The import graph of synllm_mlops: no cycles between modules, no reach into another package's private modules.

Imports are read with ``ast`` (module level and inside functions alike), so the checks hold for lazy
imports too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import synllm_mlops

ROOT = Path(synllm_mlops.__file__).resolve().parent


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """module -> synllm_mlops modules it imports (``from pkg import name`` counts as ``pkg.name`` when that is a module)."""
    modules = {_module(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith("synllm_mlops")}
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("synllm_mlops"):
                for a in node.names:
                    sub = f"{node.module}.{a.name}"
                    deps.add(sub if sub in modules else node.module)
        graph[name] = {d for d in deps if d in modules and d != name}
    return graph


def _package(module: str) -> str:
    """The unit the rules are about: a subpackage (``synllm_mlops.generation``) or a top-level module (``synllm_mlops.cli``)."""
    return ".".join(module.split(".")[:2])


def test_no_package_imports_another_packages_private_module():
    bad = []
    for module, deps in _imports().items():
        for dep in deps:
            if dep.split(".")[-1].startswith("_") and _package(dep) != _package(module):
                bad.append(f"{module} imports {dep}")
    assert not bad, "private modules are for their own package (export the name from its __init__):\n" + "\n".join(bad)


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for d in sorted(graph.get(n, ())):
            if state.get(d) == 1:
                return stack[stack.index(d):] + [d]
            if d not in state and (found := visit(d)):
                return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state and (found := visit(n)):
            return found
    return None


def test_no_import_cycles_between_packages():
    """Packages (and top-level modules) import each other one way only, as the pipeline's stages do."""
    graph: dict[str, set[str]] = {}
    for module, deps in _imports().items():
        src = _package(module)
        graph.setdefault(src, set()).update(_package(d) for d in deps if _package(d) != src)
    # a package's __init__ re-exports its own modules: within-package edges are not checked here
    cycle = _cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_checks_can_fail():
    assert _cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
