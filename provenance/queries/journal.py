"""Named reads of the teacher-call journal (the teacher_calls table).

Rows come back as tuples in :data:`provenance.core.journal_store.CALL_FIELDS` order. The journal
of a running generation reads through its :class:`~provenance.core.journal_store.CallStore`'s own
cursor; an export reads through the ledger.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from provenance.core.journal_store import CALL_COLUMNS, CallStore
from provenance.core.ledger import Ledger


def _order(run_id: str | None) -> tuple[str, list[Any]]:
    where, args = ("WHERE run_id = ?", [run_id]) if run_id else ("", [])
    return f"SELECT {CALL_COLUMNS} FROM teacher_calls {where} ORDER BY created_at, request_hash", args


def stored_hashes(store: CallStore) -> set[str]:
    """The request hash of every journaled call."""
    return {h for (h,) in store.cursor.execute("SELECT request_hash FROM teacher_calls").fetchall()}


def call_row(store: CallStore, request_hash: str) -> tuple[Any, ...] | None:
    """The journaled call with this hash, whatever its status."""
    return store.cursor.execute(
        f"SELECT {CALL_COLUMNS} FROM teacher_calls WHERE request_hash = ?", [request_hash]
    ).fetchone()


def call_rows(store: CallStore, run_id: str | None = None) -> list[tuple[Any, ...]]:
    """Every journaled call (of one run when given), oldest first."""
    sql, args = _order(run_id)
    return store.cursor.execute(sql, args).fetchall()


def iter_call_rows(ledger: Ledger, run_id: str | None = None, size: int = 1024) -> Iterator[tuple[Any, ...]]:
    """Every journaled call (of one run when given), oldest first, fetched ``size`` rows at a time."""
    sql, args = _order(run_id)
    cur = ledger.con.execute(sql, args)
    while rows := cur.fetchmany(size):
        yield from rows
