"""The README and the docs site: the README stays a page, its commands are CI's, the quickstart's commands run.

The quickstart page's commands are run as written, on a tiny config, so that the page cannot rot: a renamed
option or a changed output directory fails here before a reader meets it.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from tests.support import REPO, invoke

README = REPO / "README.md"
DOCS = REPO / "docs"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)


def bash_blocks(markdown: str) -> list[str]:
    """The bodies of the ```bash blocks, in order."""
    return [body for lang, body in FENCE.findall(markdown) if lang in ("bash", "sh", "shell")]


def section(markdown: str, heading: str) -> str:
    """The text under ``## heading`` up to the next ``## ``."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", markdown, re.M | re.S)
    assert match, f"README has no '## {heading}' section"
    return match.group(1)


def commands(block: str) -> list[list[str]]:
    """Each command of a shell block as its words: continuations joined, comments dropped."""
    joined = block.replace("\\\n", " ")
    return [words for line in joined.splitlines() if (words := shlex.split(line, comments=True))]


def test_readme_is_a_page():
    assert len(README.read_text(encoding="utf-8")) <= 15_000


def test_readme_install_and_test_commands_are_the_ones_ci_runs():
    readme = README.read_text(encoding="utf-8")
    ci_lines = {line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()}
    for heading in ("Install", "Test"):
        blocks = bash_blocks(section(readme, heading))
        assert len(blocks) == 1, f"README's '{heading}' section should hold exactly one command block"
        lines = [line.strip() for line in blocks[0].splitlines() if line.strip()]
        assert len(lines) == 1, f"README's '{heading}' block should be one command, not {lines}"
        assert lines[0] in ci_lines, f"README's {heading.lower()} command {lines[0]!r} is not a line of .ci/run"


def test_readme_links_point_at_files_that_exist():
    readme = README.read_text(encoding="utf-8")
    targets = [t for t in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme) if "://" not in t]
    assert targets, "README links to no docs page"
    missing = [t for t in targets if not (REPO / t).exists()]
    assert not missing, f"README links to missing files: {missing}"


def test_every_docs_page_is_in_the_site_nav():
    nav = yaml.safe_load((REPO / "mkdocs.yml").read_text())["nav"]
    listed = {page for entry in nav for page in entry.values()}
    pages = {p.name for p in DOCS.glob("*.md")}
    assert pages == listed, f"not in mkdocs.yml's nav: {pages - listed}; nav entries without a page: {listed - pages}"


def quickstart_commands() -> list[list[str]]:
    return [c for block in bash_blocks((DOCS / "quickstart.md").read_text(encoding="utf-8")) for c in commands(block)]


def test_quickstart_page_runs_the_default_job_first():
    cmds = quickstart_commands()
    assert cmds[0] == ["presnet", "run", "--headless"], cmds[0]
    assert all(c[0] == "presnet" for c in cmds), "the quickstart page's blocks should hold presnet commands only"


@pytest.mark.slow
def test_quickstart_page_commands_run(tiny_yaml, tmp_path):
    """Every command of the quickstart page, in order, on the tiny config (see the page's comment).

    ``presnet run``/``search`` get ``--config TINY --out DIR`` (the quickstart's own 24 + 40 epochs take
    minutes); ``runs/<run>`` is the first run's directory. Everything else is as the page writes it.
    """
    first_run: Path | None = None
    for i, words in enumerate(quickstart_commands()):
        args = words[1:]
        if args[0] in ("run", "search"):
            out = tmp_path / f"run{i}"
            args = [*args, "--config", str(tiny_yaml), "--out", str(out)]
            first_run = first_run or out
        assert first_run is not None, f"{shlex.join(words)}: the page reads a run before it starts one"
        args = [a.replace("runs/<run>", str(first_run)) for a in args]
        res = invoke(*args)
        assert res.exit_code == 0, f"{shlex.join(words)} exited {res.exit_code}:\n{res.stdout}\n{res.stderr}"


# -- the settings' table: declared once in core/config/settings.py ------------------------------------------
TABLE = re.compile(r"<!-- settings table:[^\n]*-->\n(.*?)<!-- end of settings table -->", re.S)


def settings_table() -> str:
    """The docs' table of flags as the declarations give it."""
    from core.config import SETTINGS

    rows = ["| flag | config key | commands | what |", "|---|---|---|---|"]
    for s in SETTINGS:
        flags = ", ".join(f"`{f}`" for f in (s.flags or (s.flag,)))
        what = s.help.replace("|", "\\|")
        rows.append(f"| {flags} | `{s.key}` | {', '.join(s.commands)} | {what} |")
    return "\n".join(rows) + "\n"


def test_the_commands_page_table_of_flags_is_the_declarations():
    match = TABLE.search((DOCS / "commands.md").read_text(encoding="utf-8"))
    assert match, "docs/commands.md lost its settings table markers"
    expected = settings_table()
    assert match.group(1) == expected, f"docs/commands.md's settings table differs; replace it with:\n{expected}"


def test_every_flag_named_with_its_config_field_in_the_docs_is_declared_so():
    """Rows like ``| `--arch-lr X` | `search.arch_lr` |`` (docs/configs.md) agree with the declarations."""
    from core.config import SETTINGS

    by_flag = {s.flag: s.key for s in SETTINGS}
    rows = re.findall(r"^\| `(--[a-z-]+)[^`]*` \| `([a-z_.]+)` \|", (DOCS / "configs.md").read_text(), re.M)
    assert rows, "docs/configs.md has no flag-to-field table"
    wrong = [f"{flag} -> {key} (declared {by_flag.get(flag)})" for flag, key in rows if by_flag.get(flag) != key]
    assert not wrong, wrong
