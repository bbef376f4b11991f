"""Imports go down the level table of docs/architecture.md only, inside functions too, and
no module imports itself back through others (no cycle).

Every ``import``/``from`` statement of src/glassnet is read with ``ast`` (function bodies,
``if`` branches and ``try`` blocks included) and resolved to the glassnet module it names.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "src" / "glassnet"

#: docs/architecture.md's table: a module may import only from a lower level (or from its
#: own package); the facade and the command line sit at the top.
LEVELS = {
    "_version": 0, "backend": 0,
    "ops": 1,
    "layers": 2, "optimizers": 2,
    "network": 3,
    "data": 4, "io": 4, "glass": 4, "interop": 4,
    "callbacks": 5,
    "training": 6,
    "models": 7,
    "estimators": 8, "live": 8, "examples": 8,
    "export": 9,
    "__init__": 10, "cli": 10, "__main__": 11,
}
#: The command line drives the public facade (``import glassnet as gn``), one level with it.
FACADE_USERS = {"cli", "__main__"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_package(name: str) -> bool:
    return (ROOT.parent / Path(*name.split(".")) / "__init__.py").exists()


def exists(name: str) -> bool:
    base = ROOT.parent / Path(*name.split("."))
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def imports_of(path: Path):
    """``(line, module)`` for every glassnet module that ``path`` imports."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "glassnet":
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "glassnet":
                continue
            for alias in node.names:  # `from . import mlp` imports the submodule mlp
                sub = f"{target}.{alias.name}"
                yield node.lineno, sub if exists(sub) else target


def room(module: str) -> str:
    """The level-table entry a module belongs to: ``glassnet.io.state`` -> ``io``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def graph():
    edges = {}
    for path in sorted(ROOT.rglob("*.py")):
        edges[module_name(path)] = [(line, target) for line, target in imports_of(path)]
    return edges


def test_every_package_and_module_has_a_level():
    rooms = {room(module_name(p)) for p in ROOT.rglob("*.py")}
    assert rooms <= set(LEVELS), f"add {sorted(rooms - set(LEVELS))} to LEVELS and the docs"


def test_imports_go_only_down_the_levels():
    wrong = []
    for module, targets in graph().items():
        mine = room(module)
        for line, target in targets:
            theirs = room(target)
            if theirs == mine:
                continue  # inside one package (the cycle test below covers it)
            if theirs == "__init__" and mine in FACADE_USERS:
                continue
            if LEVELS[theirs] >= LEVELS[mine]:
                wrong.append(f"{module}:{line} imports {target} "
                             f"(level {LEVELS[mine]} -> {LEVELS[theirs]})")
    assert not wrong, "imports that do not go down:\n" + "\n".join(wrong)


def test_no_module_imports_itself_back_through_others():
    edges = {m: sorted({t for _, t in ts if t != m}) for m, ts in graph().items()}
    state, cycles = {}, []

    def visit(module, stack):
        state[module] = "open"
        for target in edges.get(module, []):
            if state.get(target) == "open":
                cycles.append(" -> ".join(stack[stack.index(target):] + [target]))
            elif target not in state:
                visit(target, stack + [target])
        state[module] = "done"

    for module in edges:
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


@pytest.mark.parametrize("source, expected", [
    ("from ..io import load\n", "glassnet.io"),
    ("def f():\n    from ..models import Sequential\n", "glassnet.models"),
    ("from . import solver\n", "glassnet.estimators.solver"),
    ("import glassnet.io.container\n", "glassnet.io.container"),
])
def test_the_walk_sees_every_form_of_import(tmp_path, monkeypatch, source, expected):
    # A module at glassnet/estimators/probe.py: relative, function-level and absolute imports.
    path = ROOT / "estimators" / "probe.py"
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: source)
    assert [t for _, t in imports_of(path)] == [expected]


def test_import_glassnet_stays_light():
    # A fresh interpreter: which of the optional extras does `import glassnet` pull in?
    import subprocess
    import sys

    code = ("import sys, glassnet as gn; gn.Sequential, gn.Dense, gn.save, gn.load; "
            "print(' '.join(m for m in ('sklearn', 'scipy', 'matplotlib', 'tqdm', 'pandas', "
            "'torch') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == ""
    lazy = subprocess.run([sys.executable, "-c", "import sys, glassnet as gn; gn.MLPClassifier; "
                           "print('sklearn' in sys.modules)"], capture_output=True, text=True,
                          check=True)
    assert lazy.stdout.strip() == "True"  # the estimators load scikit-learn when asked for
