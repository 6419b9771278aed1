"""Hostile text and hostile folders: what the tool prints and writes cannot be turned against its user.

Text from the ledger reaches the terminal with its control sequences escaped and its rich markup
inert; an output file is written whole beside its target and moved over it, so a symlink planted
where it goes is replaced rather than followed, and a write that fails half-way leaves nothing.
"""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli

HOSTILE = "red \x1b[31mtext\x1b[0m, CSI \x9b2J, \u202eright to left\u202c, \u2066isolate\u2069 [/] [link=https://e.vil]x[/link]"
RAW = ("\x1b", "\x9b", "\u202e", "\u2066", "\u2069")


@pytest.fixture
def hostile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """A ledger with control sequences and markup in its text, and (as a ledger an older version
    wrote, before declared names were checked) in a teacher id and a licence-free source."""
    import generators.importers.manifest as manifest
    from provenance.core import models

    db = tmp_path / "ledger.duckdb"
    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps({"instruction": HOSTILE, "output": f"line one\n{HOSTILE}"}) + "\n")
    with monkeypatch.context() as m:
        m.setattr(models, "control_problem", lambda value: None)
        m.setattr(manifest, "control_problem", lambda value: None)
        args = ["--teacher", f"gpt\x1b[2J{HOSTILE}", "--source", HOSTILE]
        result = run_cli("import", str(data), "--format", "jsonl", *args, db=db)
    assert result.exit_code == 0, result.output
    from provenance.core.ledger import Ledger

    with Ledger.open(db, read_only=True) as ledger:
        (example_id,) = ledger.con.execute("SELECT example_id FROM examples").fetchone()
    return db, example_id


def _clean(text: str) -> None:
    for char in RAW:
        assert char not in text, f"raw {char!r} reached the terminal: {text!r}"


@pytest.mark.parametrize(
    "args",
    [["show", "{id}"], ["lineage", "{id}"], ["lineage", "{id}", "--descendants"], ["stats"]],
    ids=["show", "lineage", "descendants", "stats"],
)
def test_printers_escape_control_sequences_and_markup(hostile: tuple[Path, str], args: list[str]) -> None:
    db, example_id = hostile
    result = run_cli(*[a.format(id=example_id) for a in args], db=db)
    assert result.exit_code == 0, result.output
    _clean(result.stdout)
    if args[0] in ("show", "stats"):
        assert "\\x1b[" in result.stdout  # shown, as an escape
    if args[0] == "show":
        assert "[/] [link=https://e.vil]x[/link]" in result.stdout  # printed, not interpreted
        assert "line one\n" in result.stdout  # content keeps its lines


def test_recall_and_errors_escape_what_they_echo(hostile: tuple[Path, str]) -> None:
    db, _ = hostile
    result = run_cli("recall", "--teacher", "gpt\x1b[2J", db=db)
    _clean(result.stdout + result.stderr)
    result = run_cli("show", "zz\x1b[2J\u202e", db=db)
    assert result.exit_code == 2
    _clean(result.stderr)


def test_the_ledger_keeps_the_text_verbatim(hostile: tuple[Path, str]) -> None:
    db, example_id = hostile
    result = run_cli("show", example_id, "--json", db=db)
    assert json.loads(result.stdout)["content"]["instruction"] == HOSTILE
    _clean(result.stdout)  # --json escapes them too: the same JSON once parsed


def test_one_escaping_function_matches_the_refused_set() -> None:
    from provenance.cli.common import safe
    from provenance.core.models import CONTROL_CHARS

    for code in range(0x3000):
        char = chr(code)
        assert (safe(char, markup=False) != char) == bool(CONTROL_CHARS.match(char)), hex(code)


# --- output paths ---------------------------------------------------------------------------


def _plant(target: Path, tmp_path: Path) -> Path:
    """A symlink at ``target`` to a file the attacker wants overwritten; returns that file."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(victim)
    return victim


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (["export", "{out}/data.jsonl", "--format", "jsonl"], "data.jsonl"),
        (["export", "{out}/data.parquet", "--format", "parquet"], "data.parquet"),
        (["report", "audit", "--out", "{out}"], "audit.html"),
        (["report", "audit", "--out", "{out}"], "audit.json"),
        (["report", "card", "--out", "{out}"], "README.md"),
        (["report", "spdx", "--out", "{out}"], "dataset.spdx.json"),
        (["journal", "export", "{out}/calls.jsonl"], "calls.jsonl"),
    ],
    ids=["export-jsonl", "export-parquet", "audit-html", "audit-json", "card", "spdx", "journal"],
)
def test_a_planted_symlink_is_replaced_never_followed(
    hostile: tuple[Path, str], tmp_path: Path, args: list[str], name: str
) -> None:
    db, _ = hostile
    out = tmp_path / "out"
    victim = _plant(out / name, tmp_path)
    result = run_cli(*[a.format(out=out) for a in args], db=db)
    assert result.exit_code == 0, result.output
    assert victim.read_text() == "precious\n"
    assert not (out / name).is_symlink() and (out / name).is_file()
    assert not [p for p in out.iterdir() if ".partial" in p.name]


class _FullDisk:
    """open() whose files take half of the first write, then fail as a full disk does."""

    def __init__(self) -> None:
        import builtins

        self._open = builtins.open

    def __call__(self, path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        f = self._open(path, mode, *args, **kwargs)
        write = f.write

        def failing(data: Any) -> int:
            write(data[: len(data) // 2])
            f.flush()
            raise OSError(errno.ENOSPC, "No space left on device")

        f.write = failing
        return f


def test_a_report_interrupted_by_a_full_disk_leaves_no_file(
    hostile: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from provenance.core import files

    db, _ = hostile
    out = tmp_path / "out"
    out.mkdir()
    (out / "audit.md").write_text("the last complete report\n")
    monkeypatch.setattr(files, "open", _FullDisk(), raising=False)
    result = run_cli("report", "audit", "--out", str(out), db=db)
    assert result.exit_code == 3 and "No space left on device" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["audit.md"]  # no empty, partial or temporary file
    assert (out / "audit.md").read_text() == "the last complete report\n"


def test_an_export_interrupted_by_a_full_disk_leaves_no_file(
    hostile: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from provenance.core import export

    def failing(src: Any, dst: Any, length: int = 0) -> None:
        dst.write(src.read(10))
        raise OSError(errno.ENOSPC, "No space left on device")

    db, _ = hostile
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setattr(export, "shutil", type("S", (), {"copyfileobj": staticmethod(failing)}))
    result = run_cli("export", str(out / "data.jsonl"), "--format", "jsonl", db=db)
    assert result.exit_code == 3
    assert list(out.iterdir()) == []
    assert shutil  # the real module is untouched


def test_write_text_is_whole_or_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from provenance.core import files

    target = tmp_path / "report.md"
    files.write_text(target, "complete\n")
    monkeypatch.setattr(files, "open", _FullDisk(), raising=False)
    with pytest.raises(OSError, match="No space left"):
        files.write_text(target, "x" * 100_000)
    assert target.read_text() == "complete\n" and [p.name for p in tmp_path.iterdir()] == ["report.md"]


@pytest.mark.parametrize("force", [False, True])
def test_demo_refuses_a_symlinked_folder(tmp_path: Path, force: bool) -> None:
    real = tmp_path / "someone-elses"
    real.mkdir()
    (real / ".provenance-demo").write_text("planted\n")
    (real / "thesis.tex").write_text("years of work\n")
    link = tmp_path / "demo"
    link.symlink_to(real, target_is_directory=True)
    result = run_cli("demo", "--dir", str(link), *(["--force"] if force else []))
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {link}: is a symbolic link"), result.stderr
    assert (real / "thesis.tex").read_text() == "years of work\n"
