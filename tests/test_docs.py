"""The documentation: README and docs/ link every page, name only paths that exist, and the
generated performance table is what `bench/run` writes (the CLI reference: tests/test_cli.py)."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import ROOT

DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
TOPS = ("examples/", "policies/", "bench/", "generators/", "provenance/", "audits/", "reports/", "tests/")
TOPS += (".ci/", "docs/")
FENCE = re.compile(r"^```.*?^```", re.M | re.S)


def prose(text: str) -> str:
    """``text`` without its fenced code blocks (their '#' lines are comments, not headings)."""
    return FENCE.sub("", text)


def links(text: str) -> list[str]:
    """The targets of the Markdown links in ``text``'s prose, web addresses left out."""
    return [t for t in re.findall(r"\]\(([^)\s]+)\)", prose(text)) if "://" not in t]


def anchors(path: Path) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown file."""
    found: set[str] = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *$", prose(path.read_text("utf-8")), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        n, candidate = 0, slug
        while candidate in found:
            n += 1
            candidate = f"{slug}-{n}"
        found.add(candidate)
    return found


def dead_links(page: Path) -> list[str]:
    """Relative links of ``page`` whose file (or heading anchor) does not exist."""
    dead = []
    for target in links(page.read_text("utf-8")):
        name, _, anchor = target.partition("#")
        path = (page.parent / name).resolve() if name else page
        unknown_anchor = bool(anchor) and path.suffix == ".md" and anchor not in anchors(path)
        if not path.exists() or unknown_anchor:
            dead.append(target)
    return dead


def repo_paths(text: str) -> set[str]:
    """Backticked paths of the repository (``policies/teachers.yaml``), relative to its root."""
    return {p for p in re.findall(r"`([A-Za-z0-9_./-]+)`", text) if p.startswith(TOPS)}


@pytest.mark.parametrize("page", [ROOT / "README.md", *PAGES], ids=lambda p: p.name)
def test_no_dead_link_or_path(page: Path) -> None:
    assert dead_links(page) == []
    missing = [p for p in sorted(repo_paths(page.read_text("utf-8"))) if not (ROOT / p.rstrip("/")).exists()]
    assert missing == []


def test_every_test_a_page_names_exists() -> None:
    """``tests/test_x.py::test_name`` in a page (docs/security.md's table) names a test that exists."""
    named = 0
    for page in PAGES:
        for file, name in re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", page.read_text("utf-8")):
            source = (ROOT / file).read_text("utf-8")
            assert re.search(rf"^def {name}\(", source, re.M), f"{page.name}: {file}::{name}"
            named += 1
    assert named >= 10


def test_readme_names_paths_and_links() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    assert len(links(readme)) > 10 and repo_paths(readme)


def test_every_docs_page_is_linked_from_readme() -> None:
    readme = ROOT / "README.md"
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in links(readme.read_text("utf-8"))}
    assert {"cli.md", "performance.md", "architecture.md", "record.md"} <= {p.name for p in PAGES}
    assert [p.name for p in PAGES if p.resolve() not in linked] == []


def test_readme_fits_on_a_few_screens() -> None:
    assert len((ROOT / "README.md").read_text("utf-8").splitlines()) <= 200


def test_readme_starts_with_the_two_commands() -> None:
    first = (ROOT / "README.md").read_text("utf-8").split("```bash\n", 1)[1].split("```", 1)[0]
    assert first.splitlines()[0].startswith("bash examples/quickstart.sh")
    ci = (ROOT / ".ci" / "run").read_text("utf-8")
    test_command = first.splitlines()[1].split("#")[0].strip()
    assert test_command.endswith(".venv/bin/pytest")
    assert all(part.strip() in ci for part in test_command.split("&&"))  # what CI runs


def test_the_api_page_imports_what_exists() -> None:
    """Every ``from X import Y`` in docs/api.md's Python blocks names a module and a name it has."""
    text = (DOCS / "api.md").read_text("utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks
    imported = 0
    for block in blocks:
        for node in ast.walk(ast.parse(block)):
            if isinstance(node, ast.ImportFrom) and node.module:
                module = importlib.import_module(node.module)
                for alias in node.names:
                    assert hasattr(module, alias.name), f"{node.module}.{alias.name}"
                    imported += 1
    assert imported >= 8


def _bench_results() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_results", ROOT / "bench" / "results.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_performance_table_is_what_bench_run_writes() -> None:
    results = _bench_results()
    text = (DOCS / "performance.md").read_text("utf-8")
    assert text.count(results.START) == 1 and text.count(results.END) == 1
    assert results.update_table(text, [], "2099-01-01", 2) == text  # no rows: unchanged, dates kept
    assert text.count("| benchmark | measurement |") == 1  # one table of figures


def test_bench_run_replaces_the_rows_of_the_benchmarks_that_ran() -> None:
    results = _bench_results()
    text = (DOCS / "performance.md").read_text("utf-8")
    row = {"bench": "gate", "measurement": "gate | x", "baseline": "", "ours": "1 s", "ratio": ""}
    new = results.update_table(text, [{**row, "target": "< 5 s", "holds": False}], "2099-01-01", 4)
    block = new.split(results.START)[1].split(results.END)[0]
    assert "| gate | gate \\| x |  | 1 s |  | < 5 s | **NO** |" in block
    assert sum(line.startswith("| gate |") for line in block.splitlines()) == 1
    assert "| licence |" in block and "2099-01-01 on 4 CPUs (gate)" in block
    old_block = text.split(results.START)[1].split(results.END)[0]
    held, missed = re.search(r"\*\*(\d+) targets held, (\d+) missed", old_block).groups()
    old_gate = [line for line in old_block.splitlines() if line.startswith("| gate |")]
    gate_held = sum(line.endswith("| yes |") for line in old_gate)
    assert f"**{int(held) - gate_held} targets held, {int(missed) + 1} missed.**" in block
    assert new.split(results.START)[0] == text.split(results.START)[0]
