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
    # The front ends: what both share, then each front end's own layers; the CLI's entry point on top.
    ("presnet_tui", "presnet_tui.shared", "presnet_tui.web", "presnet_tui.cli.terminal", "presnet_tui.app.messages"),
    (
        "presnet_tui.cli.views",
        "presnet_tui.app.session",
        "presnet_tui.app.launch",
        "presnet_tui.app.facts",
    ),
    ("presnet_tui.app.widgets",),
    ("presnet_tui.app.screens",),
    ("presnet_tui.app",),
    ("presnet_tui.cli.commands",),
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
    allowed = {"presnet_tui/cli/commands/common.py"}  # importlib.metadata: the installed version, no code loaded
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


SOURCES = ("core/**/*.py", "presnet_tui/**/*.py")
MAX_FILE_LINES, MAX_FUNCTION_LINES = 400, 60  # issue 38: a room one reader can hold
#: functions allowed past MAX_FUNCTION_LINES, each with why ("path:name": reason); none today
LONG_FUNCTIONS: dict[str, str] = {}


def test_no_file_over_400_lines_in_core_or_the_front_end():
    long = [
        f"{p.relative_to(REPO)}: {n} lines"
        for pattern in SOURCES
        for p in REPO.glob(pattern)
        if (n := len(p.read_text().splitlines())) > MAX_FILE_LINES
    ]
    assert not long, "split by concept: " + "; ".join(long)


def test_no_function_over_60_lines_in_core_or_the_front_end():
    long = []
    for pattern in SOURCES:
        for p in REPO.glob(pattern):
            for node in ast.walk(ast.parse(p.read_text())):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno is not None:
                    where, n = f"{p.relative_to(REPO)}:{node.name}", node.end_lineno - node.lineno + 1
                    if n > MAX_FUNCTION_LINES and where not in LONG_FUNCTIONS:
                        long.append(f"{where} ({n} lines)")
    assert not long, "split into named steps, or list it in LONG_FUNCTIONS with why: " + "; ".join(long)


# -- the front ends' folders: the CLI, the Textual app, the web view, and what they share ----------------
#: What each folder of presnet_tui may import of the others (its own modules always).
FOLDERS: dict[str, set[str]] = {
    "shared": set(),  # both front ends read it: it knows neither
    "web": set(),  # textual-serve and its token: starts ``presnet tui`` as a command, imports no app
    "app": {"shared"},  # the Textual app never imports the CLI that starts it
    "cli": {"shared", "web", "app"},  # the app and the web view only inside the commands that open them
}


def folder(module: str) -> str | None:
    """``presnet_tui.X...``'s folder X, None for the package's own face."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_every_front_end_module_lives_in_a_folder_and_imports_only_what_its_folder_may():
    bad = []
    for name, deps in graph().items():
        if not name.startswith("presnet_tui."):
            continue
        here = folder(name)
        if here not in FOLDERS:
            bad.append(f"{name} is in no folder of presnet_tui (one of {sorted(FOLDERS)})")
            continue
        for dep in deps:
            there = folder(dep) if dep.startswith("presnet_tui.") else None
            if there is not None and there != here and there not in FOLDERS[here]:
                bad.append(f"{name} imports {dep} (the {here} folder may import {sorted(FOLDERS[here]) or 'none'})")
    assert not bad, "\n".join(sorted(bad))


def _runs_on_import(body: list[ast.stmt]) -> list[ast.stmt]:
    """The statements that run when a module is imported: module level, also inside if/try/with and
    class bodies, but not function bodies, and not ``if TYPE_CHECKING:`` blocks."""
    out: list[ast.stmt] = []
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        out.append(node)
        if isinstance(node, ast.If):
            checking = isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
            out += _runs_on_import(node.orelse if checking else [*node.body, *node.orelse])
        elif isinstance(node, ast.Try):
            out += _runs_on_import(
                [*node.body, *node.orelse, *node.finalbody, *(s for h in node.handlers for s in h.body)]
            )
        elif isinstance(node, ast.With | ast.ClassDef):
            out += _runs_on_import(node.body)
    return out


def imported_on_import(name: str, path: Path) -> set[str]:
    """Every module (ours or a library) that importing ``name`` imports at once, by its own statements."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _runs_on_import(ast.parse(path.read_text()).body):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            found |= {module, *(f"{module}.{a.name}" for a in node.names)}
    return found


def loaded_by_importing(start: str, known: dict[str, Path]) -> set[str]:
    """The closure: what ``import start`` loads (a module's parent packages load before it)."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        parts = name.split(".")
        todo += [".".join(parts[:n]) for n in range(1, len(parts))]
        if name in known:
            todo += sorted(imported_on_import(name, known[name]))
    return seen


def test_the_cli_loads_neither_the_textual_app_nor_textual_until_a_command_opens_it():
    """``presnet --help`` and every headless command start without Textual: the app loads inside the
    commands that open it (``presnet tui``, ``presnet run`` with a terminal)."""
    loaded = loaded_by_importing("presnet_tui.cli", modules())
    wrong = sorted(m for m in loaded if m.startswith(("presnet_tui.app", "presnet_tui.web.token_server", "textual")))
    assert not wrong, "importing presnet_tui.cli loads " + ", ".join(wrong)


def test_the_import_time_reader_skips_functions_and_type_checking(tmp_path):
    path = tmp_path / "mod.py"
    path.write_text(
        "from typing import TYPE_CHECKING\nimport rich\nif TYPE_CHECKING:\n    import textual\n"
        "def f():\n    import presnet_tui.app.app\ntry:\n    import typer\nexcept ImportError:\n    pass\n"
    )
    assert imported_on_import("presnet_tui.cli.fake", path) == {"typing", "typing.TYPE_CHECKING", "rich", "typer"}
    assert folder("presnet_tui.app.screens.search") == "app" and folder("presnet_tui") is None
