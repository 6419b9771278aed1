"""The CLI: help with examples, exit codes, --json, show, export, start-up cost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pyarrow.parquet as pq
import pytest

from provenance.cli import cli
from provenance.core.ledger import Ledger
from tests.conftest import EXAMPLES, ROOT, run_cli

READ_COMMANDS = [
    ["stats"],
    ["show", "seed_task_0"],
    ["lineage", "seed_task_0"],
    ["recall", "--seed", "seed_task_0"],
]


def all_commands(
    group: click.Group, prefix: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], click.Command]]:
    ctx = click.Context(group)
    found = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        found.append(((*prefix, name), command))
        if isinstance(command, click.Group):
            found.extend(all_commands(command, (*prefix, name)))
    return found


COMMANDS = all_commands(cli)


def test_the_command_set_is_complete() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {
        "init",
        "seeds",
        "seeds import",
        "import",
        "stats",
        "show",
        "lineage",
        "recall",
        "export",
        "teachers",
        "teachers list",
        "teachers show",
        "licence",
        "licence check",
        "check",
    } <= names


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_has_help_with_an_example(path: tuple[str, ...], command: click.Command) -> None:
    assert command.help and len(command.help.strip()) > 20, f"{' '.join(path)} has no help text"
    result = run_cli(*path, "--help")
    assert result.exit_code == 0
    assert "Example:" in result.stdout and "provenance " in result.stdout.split("Example:")[1]


@pytest.fixture
def populated(db: Path) -> Path:
    for args in (
        ["seeds", "import", str(EXAMPLES / "seed_tasks.jsonl"), "--manifest", str(EXAMPLES / "seeds.yaml")],
        ["import", str(EXAMPLES / "davinci_predictions.jsonl"), "--manifest", str(EXAMPLES / "davinci.yaml")],
    ):
        result = run_cli(*args, db=db)
        assert result.exit_code == 0, result.output
    return db


@pytest.mark.parametrize("args", READ_COMMANDS, ids=[a[0] for a in READ_COMMANDS])
def test_read_commands_print_json(populated: Path, args: list[str]) -> None:
    result = run_cli(*args, "--json", db=populated)
    assert result.exit_code == 0, result.output
    assert isinstance(json.loads(result.stdout), dict)


@pytest.mark.parametrize("args", READ_COMMANDS, ids=[a[0] for a in READ_COMMANDS])
def test_read_commands_on_a_missing_ledger_exit_2_and_create_nothing(tmp_path: Path, args: list[str]) -> None:
    db = tmp_path / "missing.duckdb"
    result = run_cli(*args, db=db)
    assert result.exit_code == 2 and "provenance init" in result.stderr
    assert not db.exists()


PIPED = [
    ["recall", "--teacher", "davinci"],
    ["stats", "--json"],
    ["show", "seed_task_0"],
    ["lineage", "seed_task_0", "--descendants"],
    ["--help"],
    ["show", "--help"],
]


@pytest.mark.parametrize("args", PIPED, ids=[" ".join(a) for a in PIPED])
def test_a_reader_that_closed_the_pipe_is_not_an_error(populated: Path, args: list[str]) -> None:
    """`provenance recall … | head`: exit 0 quietly once the reader has what it wanted."""
    read, write = os.pipe()
    os.close(read)  # a reader that has gone already: every write meets a closed pipe
    try:
        run = subprocess.run(
            [sys.executable, "-c", "from provenance.cli import main; main()", "--db", str(populated), *args],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write)
    assert (run.returncode, run.stderr) == (0, "")
    assert run_cli(*args, db=populated).exit_code == 0  # and with a reader, results are exit 0 too


def test_init_is_idempotent_and_honours_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "env.duckdb"
    monkeypatch.setenv("PROVENANCE_DB", str(db))
    first = run_cli("init", "--json")
    assert first.exit_code == 0 and json.loads(first.stdout)["schema_version"] >= 1 and db.exists()
    assert run_cli("init").exit_code == 0


def test_usage_errors_exit_2(db: Path) -> None:
    assert run_cli("import", str(EXAMPLES / "seed_tasks.jsonl"), "--format", "csv", db=db).exit_code == 2
    assert run_cli("frobnicate", db=db).exit_code == 2
    result = run_cli("import", str(EXAMPLES / "seed_tasks.jsonl"), db=db)
    assert result.exit_code == 2 and "give --format" in result.stderr


def test_stats_summarises_the_mix(populated: Path) -> None:
    s = json.loads(run_cli("stats", "--json", db=populated).stdout)
    assert s["counts"]["examples"] == 175 + 252 and s["counts"]["seeds"] == 175
    assert s["teachers"] == {"davinci": 252, "none (human)": 175}
    assert s["licences"] == {"Apache-2.0 AND LicenseRef-scancode-openai-tou-20230314": 252, "Apache-2.0": 175}
    assert s["terms"] == {"openai-terms-of-use@2023-03-14 (non_competing_only)": 252, "unknown": 175}
    assert s["unknown"] == {"licence": 0, "terms": 175, "origin": 0, "teacher": 0}
    text = run_cli("stats", db=populated).stdout
    assert "davinci" in text and "427 examples" in text


def test_show_by_prefix_seed_name_and_ambiguity(populated: Path) -> None:
    seed = json.loads(run_cli("show", "seed_task_0", "--json", db=populated).stdout)
    assert seed["kind"] == "seed" and seed["name"] == "breakfast_suggestion" and seed["descendants"] == 1
    example_id = json.loads(
        run_cli("recall", "--teacher", "davinci", "--limit", "1", "--json", db=populated).stdout
    )["rows"][0]["example_id"]
    shown = json.loads(run_cli("show", example_id[:8], "--json", db=populated).stdout)
    assert shown["id"] == example_id and shown["provenance"][0]["teacher"]["model"] == "davinci"
    assert shown["provenance"][0]["locator"].startswith("line ")
    assert shown["provenance"][0]["prompt"].endswith("Output:")
    text = run_cli("show", example_id, db=populated)
    assert text.exit_code == 0 and "teacher davinci" in text.stdout and "non_competing_only" in text.stdout
    missing = run_cli("show", "ffffffffff", db=populated)
    assert missing.exit_code == 2 and "no example, seed or instruction matches" in missing.stderr


def test_show_takes_short_prefixes_and_never_says_nothing_matches_when_something_does(
    populated: Path,
) -> None:
    example_id = json.loads(
        run_cli("recall", "--teacher", "davinci", "--limit", "1", "--json", db=populated).stdout
    )["rows"][0]["example_id"]
    shown = run_cli("show", example_id[:4], "--json", db=populated)
    if shown.exit_code == 0:
        assert json.loads(shown.stdout)["id"] == example_id
    else:  # another node shares those 4 digits: the error lists the matches
        assert shown.exit_code == 2 and example_id[:12] in shown.stderr and "give more digits" in shown.stderr
    for n in range(1, 4):
        short = run_cli("show", example_id[:n], db=populated)
        assert short.exit_code == 2 and "at least 4 hex digits" in short.stderr
    for n in range(1, 9):
        assert (
            "no example, seed or instruction matches"
            not in run_cli("show", example_id[:n], db=populated).stderr
        )


def test_a_prefix_matching_several_examples_is_ambiguous(db: Path, write_jsonl) -> None:
    from provenance.core.ids import instruction_id

    seen: dict[str, str] = {}
    for i in range(200_000):  # a birthday search: two contents whose ids share 6 hex digits
        text = f"Task {i}."
        prefix = instruction_id(text, "", "ok")[:6]
        if prefix in seen:
            pair = [seen[prefix], text]
            break
        seen[prefix] = text
    path = write_jsonl([{"instruction": t, "output": "ok"} for t in pair])
    assert run_cli("import", str(path), "--format", "jsonl", db=db).exit_code == 0
    result = run_cli("show", prefix, db=db)
    assert result.exit_code == 2 and "matches several nodes" in result.stderr
    longer = run_cli("show", instruction_id(pair[0], "", "ok")[:20], "--json", db=db)
    assert longer.exit_code == 0 and json.loads(longer.stdout)["content"]["instruction"] == pair[0]


def test_export_jsonl_and_parquet_round_trip(populated: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    result = run_cli("export", str(out), "--format", "jsonl", "--json", db=populated)
    assert result.exit_code == 0 and json.loads(result.stdout)["examples"] == 427
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 427
    davinci = [r for r in rows if r["provenance"][0]["teacher"] == "davinci"]
    assert len(davinci) == 252 and davinci[0]["provenance"][0]["terms_status"] == "non_competing_only"
    parquet = tmp_path / "out.parquet"
    assert run_cli("export", str(parquet), "--format", "parquet", db=populated).exit_code == 0
    table = pq.read_table(parquet)
    assert table.num_rows == 427 and {"id", "instruction", "output", "provenance"} <= set(table.column_names)
    # the export re-imports: same content, same ids
    again = run_cli("import", str(out), "--format", "jsonl", "--json", db=populated)
    summary = json.loads(again.stdout)
    assert summary["examples_new"] == 0 and summary["examples_known"] == 427
    assert set(summary["unused_fields"]) == {"kind", "messages", "provenance"}
    assert not list(tmp_path.glob(".*.partial"))


def test_export_in_ranges_writes_the_same_files(populated: Path, tmp_path: Path, monkeypatch) -> None:
    """Exported a range of example ids at a time (bounded memory), the files are those of one range."""
    from provenance.core import export as export_module

    whole = {fmt: tmp_path / f"whole.{fmt}" for fmt in ("jsonl", "parquet")}
    for fmt, path in whole.items():
        assert run_cli("export", str(path), "--format", fmt, db=populated).exit_code == 0
    monkeypatch.setattr(export_module, "PART_EXAMPLES", 50)  # 427 examples: 9 ranges
    with Ledger.open(populated, read_only=True) as ledger:
        assert len(list(export_module._ranges(ledger))) == 9
    for fmt, path in whole.items():
        ranged = tmp_path / f"ranged.{fmt}"
        assert run_cli("export", str(ranged), "--format", fmt, db=populated).exit_code == 0
        if fmt == "jsonl":
            assert ranged.read_bytes() == path.read_bytes()
        else:
            assert pq.read_table(ranged).equals(pq.read_table(path))
            assert pq.ParquetFile(ranged).metadata.num_row_groups >= 1
    ids = [json.loads(line)["id"] for line in whole["jsonl"].read_text().splitlines()]
    assert ids == sorted(ids) and len(set(ids)) == 427
    assert not list(tmp_path.glob(".*.part*"))


def test_export_to_a_missing_folder_is_bad_input(populated: Path, tmp_path: Path) -> None:
    result = run_cli("export", str(tmp_path / "no" / "x.jsonl"), "--format", "jsonl", db=populated)
    assert result.exit_code == 2 and "does not exist" in result.stderr


def test_help_starts_fast_without_loading_the_ledger_stack() -> None:
    code = (
        "import sys, time; t = time.perf_counter(); from click.testing import CliRunner; "
        "from provenance.cli import cli; r = CliRunner().invoke(cli, ['--help']); "
        "assert r.exit_code == 0; heavy = [m for m in ('duckdb', 'pyarrow', 'pydantic', 'torch', "
        "'transformers', 'presidio_analyzer', 'spacy') if m in sys.modules]; "
        "print(heavy, time.perf_counter() - t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    heavy, seconds = out.rsplit(" ", 1)
    assert heavy == "[]", heavy
    assert float(seconds) < 1.0


def test_cli_reference_is_current():
    """docs/cli.md is the commands' help as it is now (regenerate with
    `python -m provenance.cli.reference --write`)."""
    from provenance.cli.reference import PAGE, page

    assert PAGE == ROOT / "docs" / "cli.md"
    reference = PAGE.read_text("utf-8")
    assert reference == page()
    for command in ("generate self-instruct", "train", "verify", "report audit", "demo", "waive"):
        assert f"### `provenance {command}`" in reference


def test_the_demo_names_a_provenance_command_that_runs_from_here(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """After the quickstart `provenance` is not on PATH: the demo's closing lines name .venv's script."""
    from audits.demo_run import DemoFolder
    from provenance.cli.common import command_name
    from provenance.cli.demo_cmd import closing_lines

    script = Path(sys.executable).parent / "provenance"
    if not script.is_file():
        pytest.skip("no provenance script beside this Python")
    monkeypatch.chdir(script.parents[2])
    monkeypatch.setenv("PATH", str(tmp_path))  # not activated
    assert command_name() == str(script.relative_to(script.parents[2]))
    monkeypatch.setenv("PATH", str(script.parent))  # activated
    assert command_name() == "provenance"
    lines = closing_lines(
        DemoFolder(tmp_path), checked=1, trained=0, verified=0, command=".venv/bin/provenance"
    )
    assert lines[-1].endswith(f"(`.venv/bin/provenance --db {tmp_path / 'provenance.duckdb'} verify`)")


def test_demo_runs_its_steps_in_order_and_says_where_everything_is(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The demo's plan, with each command stubbed: the same steps, arguments and closing lines."""
    calls: list[list[str]] = []

    def stub(args: list[str], prog_name: str, standalone_mode: bool) -> None:
        calls.append(args)
        if args[2] == "train":
            out = Path(args[args.index("--out") + 1])
            out.mkdir(parents=True)
            (out / "AUDIT.json").write_text(json.dumps({"training": {"training_id": "t" * 64}}))
        if args[2] == "check":
            raise SystemExit(1)

    from click.testing import CliRunner

    from provenance.cli.demo_cmd import demo

    monkeypatch.setattr(cli, "main", stub)  # the demo's steps call cli.main in this process
    folder = tmp_path / "demo"
    result = CliRunner().invoke(demo, ["--dir", str(folder)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert all(c[:2] == ["--db", str(folder / "provenance.duckdb")] for c in calls)
    assert [" ".join(c[2:4]) for c in calls] == [
        "seeds import",
        *["journal import", "generate responses"] * 2,
        "stats",
        "check --policy",
        "train --policy",
        "report audit",
        "report card",
        "report spdx",
        "report model-card",
        "verify",
    ]
    assert calls[10][calls[10].index("--out") + 1] == str(folder / "student")  # SPDX beside the student
    assert calls[11][calls[11].index("--training") + 1] == "t" * 64
    out = result.stdout
    assert "$ provenance seeds import" in out and "→ 175 human-written seed tasks" in out
    assert "terms (openai-terms-of-use@2023-03-14)" in out
    assert f"check (CI)    {folder / 'check-junit.xml'}  (exit 1: a block fired)" in out
    assert "audit trail   verified (`" in out and "done in" in out
    assert (folder / ".provenance-demo").is_file()


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_the_cli_uses_only_public_names_of_the_packages_below() -> None:
    """The top floor imports public functions only: no `from x import _private`, no `module._private`."""
    import ast

    private: list[str] = []
    for path in sorted((ROOT / "provenance" / "cli").glob("*.py")):
        tree = ast.parse(path.read_text("utf-8"))
        imported: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and not (node.module or "").startswith("provenance.cli"):
                for alias in node.names:
                    if is_private(alias.name):
                        private.append(f"{path.name}:{node.lineno}: from {node.module} import {alias.name}")
                    imported.add(alias.asname or alias.name)
            elif isinstance(node, ast.Import):
                imported |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and is_private(node.attr):
                base = node.value
                while isinstance(base, ast.Attribute):
                    base = base.value
                if isinstance(base, ast.Name) and base.id in imported:
                    private.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    assert not private, private
