"""Shared fixtures. Tests run offline and build everything they need themselves.

Ledgers that many tests start from are built once per session (:class:`BuiltLedgers`) and copied
into each test's own folder, so a test may alter its copy freely.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "self-instruct"
SHARED = Path(os.environ.get("PROVENANCE_SHARED_DATA", ROOT.parent / "shared" / "data"))
TABLES = (
    "runs",
    "teachers",
    "seeds",
    "examples",
    "provenance_sets",
    "provenance",
    "lineage",
    "schema_version",
    "decision_contexts",
    "decision_batches",
    "decisions",
    "licence_judgements",
    "judgement_terms",
    "policy_packs",
    "check_runs",
    "teacher_calls",
    "generations",
    "instructions",
    "generation_candidates",
    "audit_log",
    "waivers",
    "datasets",
    "dataset_examples",
    "trainings",
)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto`` (pyproject's addopts): one process for one test file, else xdist's default (every core)."""
    files = {str(arg).split("::")[0] for arg in config.args}
    if len(files) == 1 and next(iter(files)).endswith(".py"):
        return 0
    return None


@pytest.fixture
def shared() -> Path:
    """../shared/data, the real files of SOURCES.md."""
    if not (SHARED / "code-alpaca" / "new_codealpaca.json").exists():
        pytest.skip(f"shared data not found at {SHARED} (set PROVENANCE_SHARED_DATA)")
    return SHARED


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A path for a fresh ledger."""
    return tmp_path / "ledger.duckdb"


@pytest.fixture
def ledger(db: Path):
    from provenance.core.ledger import Ledger

    with Ledger.open(db) as opened:
        yield opened


class BuiltLedgers:
    """Ledgers built once per session by name; each test gets a fresh copy of one."""

    def __init__(self, factory: pytest.TempPathFactory) -> None:
        self._factory = factory
        self._built: dict[str, Path] = {}

    def copy(self, name: str, build: Callable[[Path], object], dest: Path) -> Path:
        """Copy the ledger ``name`` to ``dest`` (building it with ``build(path)`` the first time)."""
        source = self._built.get(name)
        if source is None:
            source = self._factory.mktemp(f"built-{name}") / dest.name
            build(source)
            self._built[name] = source
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest)
        wal = source.with_name(source.name + ".wal")
        if wal.exists():
            shutil.copyfile(wal, dest.with_name(dest.name + ".wal"))
        return dest


@pytest.fixture(scope="session")
def built_ledgers(tmp_path_factory: pytest.TempPathFactory) -> BuiltLedgers:
    """The session's ledgers built once (see :class:`BuiltLedgers`)."""
    return BuiltLedgers(tmp_path_factory)


@pytest.fixture
def example(db: Path, built_ledgers: BuiltLedgers) -> Path:
    """The bundled example: 175 human seeds, 252 text-davinci-003 and 252 davinci outputs (a copy)."""
    return built_ledgers.copy("example", import_example, db)


def import_example(db: Path) -> Path:
    """Import the bundled example into the ledger ``db``; return ``db``."""
    for args in (
        ["seeds", "import", str(EXAMPLES / "seed_tasks.jsonl"), "--manifest", str(EXAMPLES / "seeds.yaml")],
        ["import", str(EXAMPLES / "text-davinci-003_predictions.jsonl"),
         "--manifest", str(EXAMPLES / "text-davinci-003.yaml")],
        ["import", str(EXAMPLES / "davinci_predictions.jsonl"), "--manifest", str(EXAMPLES / "davinci.yaml")],
    ):  # fmt: skip
        assert run_cli(*args, db=db).exit_code == 0
    return db


def snapshot(path: Path) -> dict[str, Any]:
    """Every table's row count and a digest of its sorted rows: equal snapshots, equal ledgers."""
    from provenance.core.ledger import Ledger

    out: dict[str, Any] = {}
    with Ledger.open(path, read_only=True) as ledger:
        for table in TABLES:
            rows = ledger.con.execute(f"SELECT * FROM {table}").fetchall()
            digest = hashlib.sha256(
                "\n".join(sorted(json.dumps(r, default=str) for r in rows)).encode()
            ).hexdigest()
            out[table] = (len(rows), digest)
    return out


@pytest.fixture
def write_jsonl(tmp_path: Path) -> Callable[..., Path]:
    """Write records as JSON lines to a file in tmp_path."""

    def write(records: list[Any], name: str = "data.jsonl") -> Path:
        path = tmp_path / name
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
        return path

    return write


def run_cli(*args: str, db: Path | None = None, input: str | None = None) -> Any:
    """Invoke the CLI in-process; returns click's Result (exit_code, stdout, stderr)."""
    from click.testing import CliRunner

    from provenance.cli import cli

    argv = (["--db", str(db)] if db is not None else []) + list(args)
    return CliRunner().invoke(cli, argv, input=input, catch_exceptions=False)
