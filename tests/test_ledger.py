"""The ledger: schema versioning, transactions, locking, bulk writes, edge integrity."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from provenance.core import migrate
from provenance.core.batch import WriteBatch
from provenance.core.errors import (
    LedgerError,
    LedgerLockedError,
    LedgerMissingError,
    LineageCycleError,
    NotFoundError,
    SchemaVersionError,
)
from provenance.core.ids import instruction_id
from provenance.core.ledger import Ledger, ProvenanceSet
from provenance.core.models import Declaration, Method, Origin, Teacher
from tests.conftest import run_cli, snapshot


def _context(ledger: Ledger, **declared) -> ProvenanceSet:
    context = ProvenanceSet(
        run_id=ledger.begin_run("test"),
        declaration=Declaration(**declared),
        method=Method.IMPORTED,
        source_sha256="f" * 64,
    )
    ledger.ensure_set(context)
    return context


def _batch(*texts: str) -> tuple[WriteBatch, list[str]]:
    batch, ids = WriteBatch(), []
    for i, t in enumerate(texts):
        eid = instruction_id(t, "", t.upper())
        batch.add_example(eid, "instruction", t, "", t.upper(), None)
        batch.add_claim(eid, i)
        ids.append(eid)
    return batch, ids


def test_a_new_ledger_has_every_migration_recorded(ledger: Ledger) -> None:
    rows = ledger.rows("SELECT version, name, checksum FROM schema_version ORDER BY version")
    assert [r["version"] for r in rows] == list(range(1, migrate.latest_version() + 1))
    assert rows[0]["checksum"] == migrate.available()[0].checksum
    tables = {r["table_name"] for r in ledger.rows("SELECT table_name FROM information_schema.tables")}
    assert {"runs", "seeds", "teachers", "examples", "provenance", "provenance_sets", "lineage"} <= tables


def test_reopening_applies_nothing_twice(db: Path) -> None:
    Ledger.open(db).close()
    with Ledger.open(db) as ledger:
        assert ledger.rows("SELECT count(*) AS n FROM schema_version")[0]["n"] == migrate.latest_version()
        assert migrate.apply(ledger.con) == []


def test_a_changed_migration_is_refused(db: Path) -> None:
    Ledger.open(db).close()
    con = duckdb.connect(str(db))
    con.execute("UPDATE schema_version SET checksum = 'tampered' WHERE version = 1")
    con.close()
    with pytest.raises(SchemaVersionError, match="changed after this ledger applied it"):
        Ledger.open(db)


def test_a_newer_schema_is_refused(db: Path) -> None:
    Ledger.open(db).close()
    con = duckdb.connect(str(db))
    con.execute("INSERT INTO schema_version VALUES (999, 'future', 'x', now()::TIMESTAMP)")
    con.close()
    with pytest.raises(SchemaVersionError, match="newer than this provenance") as info:
        Ledger.open(db, read_only=True)
    assert info.value.exit_code == 3


def test_read_only_open_of_a_missing_ledger_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(LedgerMissingError, match="provenance init") as info:
        Ledger.open(tmp_path / "nope.duckdb", read_only=True)
    assert info.value.exit_code == 2
    assert not (tmp_path / "nope.duckdb").exists()


def test_a_file_that_is_not_a_ledger_is_an_environment_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.duckdb"
    path.write_text("not a database" * 100)
    with pytest.raises(LedgerError, match="cannot open ledger"):
        Ledger.open(path)


def test_writes_outside_a_transaction_are_refused(ledger: Ledger) -> None:
    with pytest.raises(LedgerError, match=r"inside Ledger\.transaction"):
        ledger.begin_run("x")


def test_a_failed_transaction_leaves_nothing(db: Path) -> None:
    Ledger.open(db).close()
    before = snapshot(db)
    with Ledger.open(db) as ledger, pytest.raises(RuntimeError), ledger.transaction():
        context = _context(ledger, origin=Origin.MACHINE, teacher=Teacher(model="m"))
        batch, _ = _batch("one", "two")
        assert ledger.write(batch, context).examples == 2
        raise RuntimeError("boom")
    assert snapshot(db) == before


def test_bulk_writes_skip_what_is_stored(ledger: Ledger) -> None:
    with ledger.transaction():
        context = _context(ledger)
        first, ids = _batch("alpha", "beta")
        counts = ledger.write(first, context)
        assert (counts.examples, counts.provenance) == (2, 2)
        again, _ = _batch("alpha", "beta", "gamma")
        counts = ledger.write(again, context)
    assert (counts.examples, counts.provenance) == (1, 1)  # only gamma is new
    assert ledger.rows("SELECT count(*) AS n FROM examples")[0]["n"] == 3
    assert ledger.rows("SELECT count(DISTINCT provenance_id) AS n FROM provenance_records")[0]["n"] == 3
    # another declaration about the same content is another claim, not another example
    with ledger.transaction():
        other = _context(ledger, licence="MIT")
        batch, _ = _batch("alpha")
        counts = ledger.write(batch, other)
    assert (counts.examples, counts.provenance) == (0, 1)
    claims = ledger.rows("SELECT licence FROM provenance_records WHERE example_id = ? ORDER BY 1", [ids[0]])
    assert [c["licence"] for c in claims] == ["MIT", None]


def test_edges_must_name_stored_nodes_and_stay_acyclic(ledger: Ledger) -> None:
    with ledger.transaction():
        context = _context(ledger)
        batch, (a, b, c) = _batch("a", "b", "c")
        ledger.write(batch, context)
        edges = WriteBatch()
        edges.add_edge(b, a, "example", "in-context-demo", 0)
        edges.add_edge(c, b, "example", "in-context-demo", 0)
        assert ledger.write(edges, context).edges == 2
    before = ledger.rows("SELECT count(*) AS n FROM lineage")[0]["n"]
    with pytest.raises(LineageCycleError, match="its own ancestor"), ledger.transaction():
        loop = WriteBatch()
        loop.add_edge(a, c, "example", "derived-from", 0)
        ledger.write(loop, context)
    with pytest.raises(NotFoundError, match="not in the ledger"), ledger.transaction():
        dangling = WriteBatch()
        dangling.add_edge(a, "9" * 64, "seed", "instruction-of", 0)
        ledger.write(dangling, context)
    assert ledger.rows("SELECT count(*) AS n FROM lineage")[0]["n"] == before


HOLD = """
import sys, time
from provenance.core.ledger import Ledger
ledger = Ledger.open(sys.argv[1])
print("holding", flush=True)
time.sleep(30)
"""


@pytest.fixture
def held(db: Path):
    """Another process holding the ledger open for writing."""
    Ledger.open(db).close()
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(db)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "holding"
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_a_locked_ledger_gives_a_clear_error(db: Path, held: subprocess.Popen) -> None:
    with pytest.raises(LedgerLockedError) as info:
        Ledger.open(db)
    assert f"in use by process {held.pid}" in str(info.value)
    assert info.value.exit_code == 3


def test_the_cli_reports_a_locked_ledger_without_a_traceback(
    db: Path, held: subprocess.Popen, tmp_path: Path
) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text('{"instruction": "x", "output": "y"}\n')
    started = time.monotonic()
    result = run_cli("import", str(data), "--format", "jsonl", db=db)
    assert result.exit_code == 3
    assert "in use by process" in result.stderr and "Traceback" not in result.stderr
    assert time.monotonic() - started < 10
