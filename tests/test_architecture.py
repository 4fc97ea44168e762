"""The import graph of synllm_mlops: a stack of layers, no cycle inside a package, no reach into another
package's private modules.

Imports are read with ``ast`` (module level and inside functions alike), so the checks hold for lazy
imports too. The layering is data (:data:`LAYERS`); what breaks it today is listed, with its reason, in
:data:`KNOWN_EXCEPTIONS` and :data:`KNOWN_MODULE_CYCLES`, and an entry that no longer happens fails the test
(so the lists only shrink).
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


# --- layers -----------------------------------------------------------------------------------------------
# Lowest first; a package (or top-level module) may import packages of its own layer and of the layers below.
# Names not in the tree yet (release, constraints, serving) are allowed: the stack is the intended one.
# "synllm_mlops" is the root package (it holds __version__ only).
LAYERS: list[tuple[str, ...]] = [
    ("synllm_mlops", "errors", "settings", "searchspace"),
    ("spec",),
    ("privacy",),
    ("release",),
    ("prompts",),
    ("constraints",),
    ("generation",),
    ("parsing",),
    ("calibration",),
    ("evaluation",),
    ("config", "cli_options"),
    ("pipeline",),
    ("control",),
    ("tracking",),
    ("serving",),
    ("workflow",),
    ("tuning", "compare"),
    ("cli",),
]

# (importer, imported) package edges that go up the stack today; each to be removed by the change named.
KNOWN_EXCEPTIONS: dict[tuple[str, str], str] = {}

# Import cycles between the modules of one package (the members of each strongly connected set), with reasons.
KNOWN_MODULE_CYCLES: dict[frozenset[str], str] = {}


def _short(package: str) -> str:
    return package.removeprefix("synllm_mlops.") if package != "synllm_mlops" else package


def _package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, deps in _imports().items():
        src = _short(_package(module))
        graph.setdefault(src, set()).update(_short(_package(d)) for d in deps if _package(d) != _package(module))
    return graph


def layer_violations(graph: dict[str, set[str]], layers: list[tuple[str, ...]],
                     exceptions: dict[tuple[str, str], str]) -> tuple[list[str], list[tuple[str, str]]]:
    """(edges that import upwards or a package with no layer, exceptions that no longer happen)."""
    rank = {name: i for i, layer in enumerate(layers) for name in layer}
    bad = sorted(f"{p} has no layer: add it to LAYERS" for p in graph if p not in rank)
    seen = set()
    for src, deps in graph.items():
        for dst in deps:
            if src in rank and dst in rank and rank[dst] > rank[src]:
                seen.add((src, dst))
                if (src, dst) not in exceptions:
                    bad.append(f"{src} (layer {rank[src]}) imports {dst} (layer {rank[dst]})")
    return sorted(bad), sorted(set(exceptions) - seen)


def _strongly_connected(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Tarjan: every set of nodes that reach each other (size > 1, or a node that imports itself)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[frozenset[str]] = []

    def visit(n: str) -> None:
        index[n] = low[n] = len(index)
        stack.append(n)
        for d in sorted(graph.get(n, ())):
            if d not in index:
                visit(d)
                low[n] = min(low[n], low[d])
            elif d in stack:
                low[n] = min(low[n], index[d])
        if low[n] == index[n]:
            members = set()
            while True:
                m = stack.pop()
                members.add(m)
                if m == n:
                    break
            if len(members) > 1 or n in graph.get(n, ()):
                out.append(frozenset(members))

    for n in sorted(graph):
        if n not in index:
            visit(n)
    return out


def module_cycles(modules: dict[str, set[str]]) -> list[frozenset[str]]:
    """Cycles among the modules of each package; a package's ``__init__`` counts (a module importing it back is one)."""
    out = []
    for package in sorted({_package(m) for m in modules}):
        inner = {_short(m): {_short(d) for d in deps if _package(d) == package}
                 for m, deps in modules.items() if _package(m) == package}
        out += _strongly_connected(inner)
    return out


def test_packages_import_only_their_own_layer_and_below():
    bad, stale = layer_violations(_package_graph(), LAYERS, KNOWN_EXCEPTIONS)
    assert not bad, "imports that go up the stack (LAYERS, lowest first):\n" + "\n".join(bad)
    assert not stale, f"these no longer happen: remove them from KNOWN_EXCEPTIONS: {stale}"


def test_no_import_cycle_inside_a_package():
    found = set(module_cycles(_imports()))
    new = [sorted(c) for c in found if c not in KNOWN_MODULE_CYCLES]
    assert not new, f"import cycles inside a package: {new}"
    stale = [sorted(c) for c in KNOWN_MODULE_CYCLES if c not in found]
    assert not stale, f"these cycles are gone: remove them from KNOWN_MODULE_CYCLES: {stale}"


def test_the_layer_check_fails_on_a_planted_violation():
    layers = [("errors",), ("spec",), ("generation",), ("tuning", "compare")]
    clean = {"errors": set(), "spec": {"errors"}, "generation": {"spec", "errors"}, "tuning": {"compare", "generation"},
             "compare": {"tuning"}}
    assert layer_violations(clean, layers, {}) == ([], [])  # same layer and below: fine
    upward = {**clean, "spec": {"errors", "generation"}}
    assert layer_violations(upward, layers, {}) == (["spec (layer 1) imports generation (layer 2)"], [])
    assert layer_violations(upward, layers, {("spec", "generation"): "why"}) == ([], [])  # a listed exception
    assert layer_violations(clean, layers, {("spec", "generation"): "why"}) == ([], [("spec", "generation")])  # stale
    assert layer_violations({**clean, "serving": set()}, layers, {})[0] == ["serving has no layer: add it to LAYERS"]


def test_the_module_cycle_check_fails_on_a_planted_cycle():
    modules = {"synllm_mlops.gen": {"synllm_mlops.gen._a"}, "synllm_mlops.gen._a": {"synllm_mlops.gen._b"},
               "synllm_mlops.gen._b": {"synllm_mlops.spec"}, "synllm_mlops.spec": set()}
    assert module_cycles(modules) == []  # an __init__ importing its modules is not a cycle
    back = {**modules, "synllm_mlops.gen._b": {"synllm_mlops.gen._a"}}
    assert module_cycles(back) == [frozenset({"gen._a", "gen._b"})]
    via_init = {**modules, "synllm_mlops.gen._b": {"synllm_mlops.gen"}}  # a module importing its own package back
    assert module_cycles(via_init) == [frozenset({"gen", "gen._a", "gen._b"})]
