"""The core library ``alphago_lite`` never imports Ray: only ``actors/`` and ``learner/`` may.

Two checks: a static scan of every source file (finds an import hidden inside a function that no test
happens to call) and a fresh interpreter that imports every module and then looks for ``ray`` in
``sys.modules`` (finds Ray pulled in through some third-party import).
"""
import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import alphago_lite

PACKAGE_DIR = Path(alphago_lite.__file__).parent
ROOT = PACKAGE_DIR.parent
FORBIDDEN = "ray"
DYNAMIC_IMPORTERS = {"import_module", "__import__"}


def _is_forbidden(module_name: str | None) -> bool:
    return module_name is not None and (module_name == FORBIDDEN
                                        or module_name.startswith(FORBIDDEN + "."))


def forbidden_imports(source: str, filename: str = "<source>") -> list[str]:
    """``file:line`` of every import of ray in ``source``, at any depth (functions, try blocks)."""
    hits = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module] if node.level == 0 else []  # relative imports stay in the package
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            names = [node.args[0].value] if called in DYNAMIC_IMPORTERS else []
        else:
            continue
        if any(isinstance(n, str) and _is_forbidden(n) for n in names):
            hits.append(node.lineno)
    return [f"{filename}:{line}" for line in sorted(hits)]  # ast.walk is breadth-first


def package_sources() -> list[Path]:
    return sorted(p for p in PACKAGE_DIR.rglob("*.py") if "__pycache__" not in p.parts)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


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
    source = "import rayon\nfrom raytracer import x\nfrom . import ray\nimport_module('rays')\n"
    assert forbidden_imports(source) == []


# ------------------------------------------------------------------------ the real package ---
def test_no_module_under_alphago_lite_imports_ray():
    sources = package_sources()
    assert PACKAGE_DIR / "env.py" in sources and PACKAGE_DIR / "go" / "core.py" in sources
    hits = [hit for path in sources
            for hit in forbidden_imports(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))]
    assert hits == [], f"alphago_lite must stay Ray-free; found ray imported at {hits}"


def test_importing_every_module_leaves_ray_unloaded():
    modules = [module_name(p) for p in package_sources()]
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
                     "alphago_lite.config"):
            assert core not in failed, core + " failed to import"
        assert first_to_load_ray is None, "importing " + first_to_load_ray + " loaded ray"
        print("imported", len({modules!r}) - len(failed), "modules")
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                          timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "imported" in done.stdout
