"""The import layering, read from the source with ``ast``: no circle, no upward import, and a
``core`` that never names its front end.

Every import counts, also those inside functions and under ``TYPE_CHECKING``: a lazy import
still ties the two modules together.  The order (lowest first) is the one README's Layout
section draws; a package may import its own modules and anything in a lower layer.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from tests.support import REPO

#: Lowest first.  Packages on one line form one layer: they may not import each other.
LAYERS: list[tuple[str, ...]] = [
    ("core.errors", "core.lazy", "core.faults"),
    ("core", "core.io"),
    ("core.space",),
    ("core.config",),
    ("core.run",),
    ("core.train",),
    ("core.scale", "core.perf", "core.export"),
    ("core.results",),
    ("core.api",),
    (
        "presnet_tui",
        "presnet_tui.terminal",
        "presnet_tui.token_server",
        "presnet_tui.trajectory",
        "presnet_tui.messages",
        "presnet_tui.stages",
        "presnet_tui.units",
    ),
    (
        "presnet_tui.model",
        "presnet_tui.figures",
        "presnet_tui.compare_view",
        "presnet_tui.ground_truth_view",
        "presnet_tui.plan_view",
        "presnet_tui.sweepview",
        "presnet_tui.bench_view",
        "presnet_tui.session",
        "presnet_tui.launch",
        "presnet_tui.facts",
    ),
    ("presnet_tui.widgets", "presnet_tui.headless"),
    ("presnet_tui.screens",),
    ("presnet_tui.app",),
    ("presnet_tui.commands",),
    ("presnet_tui.cli",),
]
RANK = {unit: i for i, layer in enumerate(LAYERS) for unit in layer}


def modules() -> dict[str, Path]:
    out = {}
    for path in [*REPO.glob("core/**/*.py"), *REPO.glob("presnet_tui/**/*.py")]:
        parts = path.relative_to(REPO).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The core/presnet_tui modules ``name`` imports (``from pkg import mod`` counts as ``pkg.mod``)."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            found.add(module)
            found |= {f"{module}.{a.name}" for a in node.names if f"{module}.{a.name}" in known}
    return {m for m in found if m in known and m != name}


def unit(module: str) -> str:
    """The layer unit a module belongs to: its longest prefix named in LAYERS."""
    parts = module.split(".")
    for n in range(len(parts), 1, -1):  # a top-level package's own __init__ only names itself
        if ".".join(parts[:n]) in RANK:
            return ".".join(parts[:n])
    if module in RANK:
        return module
    raise AssertionError(f"{module} is in no layer: add it to LAYERS in tests/test_layers.py")


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def test_every_module_has_a_layer_and_no_import_goes_up_or_sideways():
    bad = []
    for name, deps in graph().items():
        here = unit(name)
        for dep in deps:
            there = unit(dep)
            if there != here and RANK[there] >= RANK[here]:
                bad.append(f"{name} imports {dep} ({there} is not below {here})")
    assert not bad, "\n".join(sorted(bad))


def test_no_import_circle():
    edges = graph()
    state: dict[str, int] = defaultdict(int)  # 0 new, 1 on the stack, 2 done
    stack: list[str] = []
    circles: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(edges.get(node, ())):
            if state[dep] == 1:
                circles.append(" -> ".join([*stack[stack.index(dep) :], dep]))
            elif state[dep] == 0:
                visit(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if state[node] == 0:
            visit(node)
    assert not circles, "\n".join(circles)


def test_core_never_names_its_front_end_nor_a_ui_library():
    bad = []
    for path in REPO.glob("core/**/*.py"):
        rel = path.relative_to(REPO).as_posix()
        text = path.read_text()
        if "presnet_tui" in text:
            bad.append(f"{rel} names presnet_tui")
        for node in ast.walk(ast.parse(text)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            bad += [f"{rel} imports {n}" for n in names if n.split(".")[0] in {"textual", "typer", "rich", "argparse"}]
    assert not bad, "\n".join(sorted(bad))


def test_the_checker_sees_a_circle_and_an_upward_import(tmp_path):
    """The reader itself: a lazy import inside a function is still an edge."""
    path = tmp_path / "mod.py"
    path.write_text("def f():\n    from core.config import Config\n")
    known = {"core.space.fake": path, "core.config": path}
    assert imports_of("core.space.fake", path, known) == {"core.config"}
    assert RANK[unit("core.config")] > RANK[unit("core.space.fake")]


# -- the door: what a front end may import of core ------------------------------------------------
#: The package's public vocabulary; everything else a front end needs is a core.api function.
DOOR = ("core.errors", "core.config", "core.space", "core.run.events", "core.run.control")


def through_the_door(module: str) -> bool:
    return module in DOOR or module == "core.api" or module.startswith("core.api.")


def test_front_ends_import_only_core_api_and_the_public_vocabulary():
    bad = []
    for name, deps in graph().items():
        if not name.startswith("presnet_tui"):
            continue
        for dep in sorted(d for d in deps if d.split(".")[0] == "core"):
            if not through_the_door(dep):
                bad.append(f"{name} imports {dep}: make what it needs a core.api function")
    assert not bad, "\n".join(bad)


def _path_tricks(path: Path) -> list[str]:
    """``importlib``, ``runpy``, ``__import__`` and any ``sys.path`` use in a file: ways to load code
    that the import graph above would not see."""
    rel = path.relative_to(REPO).as_posix()
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        names += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        found += [f"{rel}:{node.lineno} imports {n}" for n in names if n.split(".")[0] in {"importlib", "runpy"}]
        if isinstance(node, ast.Attribute) and node.attr == "path" and getattr(node.value, "id", None) == "sys":
            found.append(f"{rel}:{node.lineno} uses sys.path")
        if isinstance(node, ast.Name) and node.id == "__import__":
            found.append(f"{rel}:{node.lineno} calls __import__")
    return found


def test_scripts_and_front_ends_load_no_code_behind_the_import_graph():
    files = [*REPO.glob("scripts/**/*.py"), *REPO.glob("presnet_tui/**/*.py")]
    bad = [line for path in files for line in _path_tricks(path)]
    allowed = {"presnet_tui/commands/common.py"}  # importlib.metadata: the installed version, no code loaded
    bad = [line for line in bad if not (line.split(":")[0] in allowed and "importlib" in line)]
    assert not bad, "\n".join(bad)


def test_the_door_checks_see_a_deep_import_and_a_path_trick(tmp_path):
    assert through_the_door("core.api.arch") and through_the_door("core.space")
    assert not through_the_door("core.space.network") and not through_the_door("core.train.job")
    path = REPO / "scripts" / "_probe_tmp.py"
    assert not path.exists()
    try:
        path.write_text("import sys\nimport importlib\nsys.path.insert(0, '.')\n")
        found = _path_tricks(path)
    finally:
        path.unlink()
    assert any("importlib" in f for f in found) and any("sys.path" in f for f in found)


def test_no_file_over_500_lines_in_core_or_the_front_end():
    long = [
        f"{p.relative_to(REPO)}: {n} lines"
        for p in [*REPO.glob("core/**/*.py"), *REPO.glob("presnet_tui/**/*.py")]
        if (n := len(p.read_text().splitlines())) > 500
    ]
    assert not long, "split by concept: " + "; ".join(long)
