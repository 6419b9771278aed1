"""The teacher_calls table: the journal's writes, through a cursor of their own.

``generators.journal`` decides what to write (request hashes, sanitised requests, outcomes); this
module holds the SQL. A :class:`CallStore` writes through its own cursor of the ledger's database,
so each write commits on its own, neither nesting in nor waiting for a transaction the caller
holds on the ledger. Reads are named queries in :mod:`provenance.queries.journal`.

Every text a call stores (endpoint, model, request, response, error, the reply's metadata) passes
through :func:`provenance.core.secrets.redact` here, whoever wrote the call: no credential the
process holds reaches the table, in any form (a server may echo the Authorization header).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import astuple, dataclass
from typing import TYPE_CHECKING, Any

from provenance.core.clock import utcnow
from provenance.core.secrets import redact, redact_json

if TYPE_CHECKING:
    import duckdb

    from provenance.core.ledger import Ledger

#: The table's columns, in the order every read and write of whole rows uses.
CALL_FIELDS: tuple[str, ...] = (
    "request_hash",
    "run_id",
    "endpoint",
    "api",
    "model",
    "request",
    "status",
    "response",
    "error",
    "http_status",
    "response_model",
    "system_fingerprint",
    "request_id",
    "usage",
    "latency_ms",
    "attempts",
    "created_at",
    "completed_at",
)
CALL_COLUMNS = ", ".join(CALL_FIELDS)

#: The outcome columns a call's result sets, in the order of :class:`Outcome`'s fields.
_SET_OUTCOME = (
    "status = ?, response = ?, error = ?, http_status = ?, response_model = ?, system_fingerprint = ?, "
    "request_id = ?, usage = ?, latency_ms = ?"
)


@dataclass(frozen=True)
class Outcome:
    """What a call's result sets: its status (ok or error) and the reply's columns (``usage`` as JSON)."""

    status: str
    response: str | None = None
    error: str | None = None
    http_status: int | None = None
    response_model: str | None = None
    system_fingerprint: str | None = None
    request_id: str | None = None
    usage: str | None = None
    latency_ms: float | None = None

    def values(self) -> list[Any]:
        """The values, in the order of ``_SET_OUTCOME``, with every text redacted."""
        return [redact(v) if isinstance(v, str) else v for v in astuple(self)]


class CallStore:
    """The teacher_calls table of an open, writable ledger, through a cursor of its own."""

    def __init__(self, ledger: Ledger) -> None:
        self.cursor: duckdb.DuckDBPyConnection = ledger.con.cursor()
        catalog = ledger.con.execute("SELECT current_database()").fetchone()[0]
        self.cursor.execute(f'USE "{catalog}"')  # a cursor starts in the default catalog

    def close(self) -> None:
        """Close the cursor (closing the ledger closes it too)."""
        self.cursor.close()

    def _identity(self, request_hash: str, run_id: str, request: Mapping[str, Any]) -> list[Any]:
        return [
            request_hash,
            run_id,
            redact(request["endpoint"]),
            request["api"],
            redact(str(request.get("model") or "")),
            redact_json(request, ensure_ascii=False),
        ]

    def add_pending(self, request_hash: str, run_id: str, request: Mapping[str, Any]) -> None:
        """Commit the request as pending. A call already stored and not ok (pending from a killed
        run, or an error) is reset to pending under ``run_id``, keeping its attempts and creation
        time; a completed ok call is left alone. A new request is one auto-committed INSERT."""
        import duckdb

        try:
            self.cursor.execute(
                f"INSERT INTO teacher_calls ({CALL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, 'pending', "
                "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, ?, NULL)",
                [*self._identity(request_hash, run_id, request), utcnow()],
            )
        except duckdb.ConstraintException:  # journaled before: a killed run, or an error
            self.cursor.execute(
                "UPDATE teacher_calls SET status = 'pending', run_id = ?, error = NULL, "
                "completed_at = NULL WHERE request_hash = ? AND status <> 'ok'",
                [run_id, request_hash],
            )

    def add_call(
        self, request_hash: str, run_id: str, request: Mapping[str, Any], outcome: Outcome, attempts: int
    ) -> None:
        """Commit a call and its outcome in one write. A stored call that is not ok takes the new
        outcome (its attempts added up); a stored ok call is left alone."""
        import duckdb

        now = utcnow()
        try:
            self.cursor.execute(
                f"INSERT INTO teacher_calls ({CALL_COLUMNS}) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [*self._identity(request_hash, run_id, request), *outcome.values(), attempts, now, now],
            )
        except duckdb.ConstraintException:
            self.cursor.execute(
                f"UPDATE teacher_calls SET {_SET_OUTCOME}, run_id = ?, attempts = attempts + ?, "
                "completed_at = ? WHERE request_hash = ? AND status <> 'ok'",
                [*outcome.values(), run_id, attempts, now, request_hash],
            )

    def set_result(self, request_hash: str, outcome: Outcome, attempts: int) -> int:
        """Commit the outcome of a pending call; return how many calls it updated (0 or 1)."""
        cur = self.cursor
        cur.execute(
            f"UPDATE teacher_calls SET {_SET_OUTCOME}, attempts = attempts + ?, completed_at = ? "
            "WHERE request_hash = ?",
            [*outcome.values(), attempts, utcnow(), request_hash],
        )
        return int(cur.fetchone()[0])


def _redacted_row(row: Sequence[Any]) -> dict[str, Any]:
    """A recorded call's values by column, every text redacted (``request`` and ``usage`` are JSON)."""
    record = dict(zip(CALL_FIELDS, row, strict=True))
    for name, value in record.items():
        if isinstance(value, str):
            json_text = name in ("request", "usage")
            record[name] = redact_json(json.loads(value), ensure_ascii=False) if json_text else redact(value)
    return record


def import_calls(ledger: Ledger, run_id: str, rows: Sequence[Sequence[Any]]) -> tuple[int, int]:
    """Insert recorded calls (values in :data:`CALL_FIELDS` order) under ``run_id``, inside the
    caller's transaction; return (new calls, calls already stored as ok). A stored call that is
    not ok is replaced; the first of repeated hashes wins."""
    import pyarrow as pa

    _calls = pa.Table.from_pylist([_redacted_row(r) for r in rows])
    con = ledger.con
    known = int(
        con.execute(
            "SELECT count(*) FROM teacher_calls t SEMI JOIN _calls c USING (request_hash) "
            "WHERE t.status = 'ok'"
        ).fetchone()[0]
    )
    con.execute(
        "DELETE FROM teacher_calls WHERE status <> 'ok' AND request_hash IN (SELECT request_hash FROM _calls)"
    )
    select = ", ".join(
        "$run"
        if f == "run_id"
        else f"c.{f}::JSON"
        if f in ("request", "usage")
        else f"c.{f}::TIMESTAMP"
        if f.endswith("_at")
        else f"c.{f}"
        for f in CALL_FIELDS
    )
    new = int(
        con.execute(
            f"INSERT INTO teacher_calls ({CALL_COLUMNS}) SELECT DISTINCT ON (c.request_hash) {select} "
            "FROM _calls c ANTI JOIN teacher_calls t USING (request_hash)",
            {"run": run_id},
        ).fetchone()[0]
    )
    return new, known
