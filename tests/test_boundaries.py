"""The layout's rules, read from the imports (static, by AST) and checked by importing.

- The core library ``alphago_lite`` never imports Ray. It imports ``actors`` and ``learner`` only from its
  front door ``commands/`` (which starts clusters and training on purpose), and ``bench rules`` loads
  neither torch nor Ray.
- ``actors/`` (thin Ray adapters) never imports ``learner/`` (the training driver).
- No import cycle inside ``alphago_lite``: a module's imports, even those inside functions, never lead
  back to it.

The static scan sees imports hidden inside functions that no test happens to call; a fresh interpreter
that imports every core module then looks for ``ray`` in ``sys.modules`` (finds Ray pulled in through
some third-party import).
"""
from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import alphago_lite

PACKAGE_DIR = Path(alphago_lite.__file__).parent
ROOT = PACKAGE_DIR.parent
DYNAMIC_IMPORTERS = {"import_module", "__import__"}
FRONT_DOORS = ("alphago_lite.commands",)  # may reach actors/ and learner/ (which start Ray, the learner)
OUTSIDE_CORE = ("ray", "actors", "learner")


def imports(source: str, module: str = "__main__", filename: str = "<source>",
            is_package: bool = False) -> list[tuple[int, str]]:
    """(line, imported module) for every import in ``source`` at any depth (functions, try blocks),
    relative imports resolved against ``module``. ``from a import b`` yields ``a.b`` (b may be a
    module) as well as ``a``."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            found.append((node.lineno, target))
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if called in DYNAMIC_IMPORTERS and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value))
    return sorted(found)


def _within(name: str, roots: tuple[str, ...]) -> bool:
    return any(name == root or name.startswith(root + ".") for root in roots)


def forbidden_imports(source: str, forbidden: tuple[str, ...] = ("ray",), module: str = "__main__",
                      filename: str = "<source>") -> list[str]:
    """``file:line`` of every import of one of ``forbidden`` (packages) in ``source``."""
    lines = sorted({line for line, name in imports(source, module, filename) if _within(name, forbidden)})
    return [f"{filename}:{line}" for line in lines]


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (module -> modules it imports) as a path a -> ... -> a, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def sources(folder: str) -> list[Path]:
    return sorted(p for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def module_imports(path: Path) -> list[tuple[int, str]]:
    return imports(path.read_text(encoding="utf-8"), module_name(path), str(path.relative_to(ROOT)),
                   is_package=path.name == "__init__.py")


def forbidden_imports_in(paths: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    """``file:line`` of every import of one of ``forbidden`` in the files ``paths``."""
    return [hit for p in paths for hit in forbidden_imports(p.read_text(encoding="utf-8"), forbidden,
                                                           module_name(p), str(p.relative_to(ROOT)))]


def core_sources() -> list[Path]:
    return [p for p in sources("alphago_lite") if not _within(module_name(p), FRONT_DOORS)]


def import_graph(paths: list[Path]) -> dict[str, set[str]]:
    """Module -> the modules among ``paths`` it imports. Names that are not modules are dropped, and so
    are a module's own ancestor packages: ``from . import core`` in ``go/game.py`` runs while
    ``go/__init__`` is already being imported, by Python's design, not by a cycle of ours."""
    known = {module_name(p) for p in paths}

    def ancestor(name: str, module: str) -> bool:
        return module == name or module.startswith(name + ".")

    return {module_name(p): {name for _, name in module_imports(p)
                             if name in known and not ancestor(name, module_name(p))} for p in paths}


# ------------------------------------------------------------------------------ the scanner ---
def test_scanner_finds_every_form_of_ray_import():
    source = textwrap.dedent("""
        import os, ray
        from ray.util import queue
        import ray.data as rd
        def later():
            from ray import get
            try:
                import ray
            except ImportError:
                pass
        importlib.import_module("ray.train")
        __import__("ray")
    """)
    assert forbidden_imports(source) == [f"<source>:{n}" for n in (2, 3, 4, 6, 8, 11, 12)]


def test_scanner_ignores_names_that_only_start_with_ray():
    source = "import rayon\nfrom raytracer import x\nimport_module('rays')\n"
    assert forbidden_imports(source) == []


def test_relative_imports_resolve_against_the_module():
    source = "from . import kernels\nfrom ..net.features import encode_into\nfrom .tree import FRESH\n"
    names = [name for _, name in imports(source, "alphago_lite.search.searcher")]
    assert "alphago_lite.search.kernels" in names and "alphago_lite.net.features" in names
    assert "alphago_lite.search.tree" in names
    assert [n for _, n in imports("from .core import BLACK\n", "alphago_lite.go", is_package=True)][0] == \
        "alphago_lite.go.core"


def test_cycle_finder_finds_a_lazy_import_cycle_and_accepts_a_tree():
    interface = "from pkg.impl import Impl  # inside load(), as agent.py once did\n"
    impl = "from pkg.interface import Protocol\n"
    graph = {"pkg.interface": {n for _, n in imports(interface, "pkg.interface")},
             "pkg.impl": {n for _, n in imports(impl, "pkg.impl")}}
    graph = {m: {n for n in targets if n in graph} for m, targets in graph.items()}
    assert find_cycle(graph) == ["pkg.impl", "pkg.interface", "pkg.impl"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


# ------------------------------------------------------------------------ the real packages ---
def test_no_import_cycle_inside_alphago_lite():
    graph = import_graph(sources("alphago_lite"))
    assert len(graph) > 40 and "alphago_lite.agents.mcts" in graph["alphago_lite.agents.loading"]
    assert find_cycle(graph) is None, f"import cycle: {' -> '.join(find_cycle(graph))}"


def test_core_never_imports_ray_actors_or_learner():
    paths = core_sources()
    assert PACKAGE_DIR / "env.py" in paths and PACKAGE_DIR / "go" / "core.py" in paths
    assert PACKAGE_DIR / "commands" / "train.py" not in paths
    hits = forbidden_imports_in(paths, OUTSIDE_CORE)
    assert hits == [], f"alphago_lite (outside commands/) must stay Ray-free: {hits}"


def test_not_even_the_front_doors_import_ray_themselves():
    paths = sources("alphago_lite")
    assert PACKAGE_DIR / "commands" / "train.py" in paths
    hits = forbidden_imports_in(paths, ("ray",))
    assert hits == [], f"Ray code belongs in actors/ (alphago_lite/commands reaches it lazily): {hits}"


def test_bench_rules_and_bench_help_load_neither_torch_nor_ray():
    script = textwrap.dedent("""
        import contextlib, io, sys
        from alphago_lite.cli import build_parser
        args = build_parser(only="bench").parse_args(["bench", "rules", "--seconds", "1"])
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                build_parser(only="bench").parse_args(["bench", "--help"])
            except SystemExit:
                pass
        print(args.func.__module__, sorted(m for m in ("torch", "ray") if m in sys.modules))
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.split() == ["alphago_lite.benchmarks.rules", "[]"]


def test_actors_never_import_the_learner():
    paths = sources("actors")
    assert ROOT / "actors" / "cluster.py" in paths
    hits = forbidden_imports_in(paths, ("learner",))
    assert hits == [], f"actors/ must not reach into the training driver: {hits}"


@pytest.mark.slow  # a fresh interpreter imports every core module: 5 s
def test_importing_every_core_module_leaves_ray_unloaded():
    modules = [module_name(p) for p in core_sources()]
    # Modules that cannot import here (an optional dependency missing) are reported, not fatal; the
    # core ones must import.
    script = textwrap.dedent(f"""
        import importlib, sys
        failed, first_to_load_ray = [], None
        for name in {modules!r}:
            try:
                importlib.import_module(name)
            except Exception as err:
                failed.append(name)
                print("could not import", name, repr(err), file=sys.stderr)
            if first_to_load_ray is None and "ray" in sys.modules:
                first_to_load_ray = name
        for core in ("alphago_lite", "alphago_lite.go", "alphago_lite.env", "alphago_lite.sgf",
                     "alphago_lite.config", "alphago_lite.search", "alphago_lite.agents.loading"):
            assert core not in failed, core + " failed to import"
        assert first_to_load_ray is None, "importing " + first_to_load_ray + " loaded ray"
        print("imported", len({modules!r}) - len(failed), "modules")
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                          timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "imported" in done.stdout
