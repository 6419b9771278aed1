"""The append-only, hash-chained audit log: one row per finished run, vouching for what it wrote.

When a run ends (:meth:`provenance.core.ledger.Ledger.end_run`), a row is appended in the same
transaction. It holds the run row (kind, status, parameters, summary) and, for every table the run
wrote to, the number of rows and a digest of them. Its hash is sha256 of the previous row's hash
followed by the canonical JSON of its other fields, so editing, inserting or deleting any vouched
row, or any audit row, changes something that :func:`digests` and :func:`entry_hash` recompute
(``audits.verify``).

A table's digest (version 2) is sha256 over the run's rows in canonical order. Each row is one
unit: the JSON array of its columns, or, when that is longer than ``INLINE_BYTES``, ``#`` and the
sha256 of the array. Units are self-delimiting (an array, or ``#`` and 64 hex digits), so their
concatenation, sorted, determines the rows. DuckDB serializes and sorts (spilling to disk: the
sorted strings are short); the sorted text streams into one hashlib digest without a Python object
per row, and short rows need no hash of their own. Version 1 (sha256 over the sorted sha256 of each
row's ``chr(31)``-joined columns) stays verifiable for rows written before version 2.

Rows are attributed to runs by the run id each table keeps (``first_run_id`` for content that is
written once, the batch's run for decisions, the judgement's run for its terms; a decision whose
batch, or a term whose judgement, does not exist names no run, so verify reports it). Teacher calls are
vouched once they are ok (an error may be retried by a later run; an ok call never changes).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from typing import Any

from provenance.core.clock import utcnow
from provenance.core.ids import content_id

GENESIS = "0" * 64
NO_RUN = "(no run)"  # where rows that name no run are counted
# Rows whose JSON array is longer are sorted and hashed by their sha256: DuckDB's sort of long
# strings does not spill reliably (it ran out of memory on 1 KB rows at 256 MB; 800-byte rows spilled)
INLINE_BYTES = 256
# Rows whose columns hold more text are serialized and hashed in Python (:func:`_long_units`)
LONG_BYTES = 1 << 20
DIGEST_VERSION = 2

# table → (run expression, FROM clause, columns of the audited rows (alias t), extra condition)
_SPEC: tuple[tuple[str, str, str, str, str], ...] = (
    ("examples", "t.first_run_id", "examples t",
     "example_id kind instruction input output messages first_run_id created_at", ""),
    ("seeds", "t.run_id", "seeds t",
     "seed_id external_id name instruction instances is_classification origin licence source source_file "
     "source_sha256 source_line extra run_id created_at", ""),
    ("teachers", "t.first_run_id", "teachers t",
     "teacher_id model provider revision fingerprint endpoint first_run_id", ""),
    ("provenance_sets", "t.run_id", "provenance_sets t",
     "set_id run_id origin method teacher_id licence terms_id terms_version terms_retrieved terms_status "
     "source source_file source_sha256 source_format declaration_hash method_params created_at", ""),
    ("provenance", "t.run_id", "provenance t",
     "example_id set_id claim source_index source_line source_part source_row source_item source_record_id "
     "prompt prompt_template_hash request_id usage extra run_id", ""),
    ("lineage", "t.run_id", "lineage t",
     "child_id parent_id parent_kind relation position run_id created_at", ""),
    ("decision_contexts", "t.first_run_id", "decision_contexts t",
     "context_id check_name check_version config_hash config registry_version registry_hash first_run_id "
     "created_at", ""),
    ("decision_batches", "t.run_id", "decision_batches t",
     "batch_id context_id run_id decided_at decisions", ""),
    ("decisions", "b.run_id", "decisions t LEFT JOIN decision_batches b USING (batch_id)",
     "example_id batch_id basis verdict decision score reason details ref", ""),
    ("licence_judgements", "t.first_run_id", "licence_judgements t",
     "judgement_no judgement_id context_id verdict permitted reason reasons obligations findings "
     "first_run_id created_at", ""),
    ("judgement_terms", "j.first_run_id",
     "judgement_terms t LEFT JOIN licence_judgements j USING (judgement_no)",
     "judgement_no entry_id terms_id terms_version", ""),
    ("policy_packs", "t.first_run_id", "policy_packs t",
     "pack_hash name source content first_run_id created_at", ""),
    ("check_runs", "t.run_id", "check_runs t",
     "run_id position check_name check_kind check_version pack_hash context_id action status blocking reason "
     "notes examples scored redecided reused counts top_reasons basis seconds started_at", ""),
    ("teacher_calls", "t.run_id", "teacher_calls t",
     "request_hash run_id endpoint api model request status response error http_status response_model "
     "system_fingerprint request_id usage latency_ms attempts created_at completed_at", "t.status = 'ok'"),
    ("generations", "t.first_run_id", "generations t",
     "generation_id method teacher_model endpoint params templates first_run_id created_at", ""),
    # is_classification is left out: a later run may fill it in (the instances carry it too)
    ("instructions", "t.first_run_id", "instructions t",
     "instruction_id instruction first_run_id created_at", ""),
    ("generation_candidates", "t.run_id", "generation_candidates t",
     "generation_id stage request_hash choice item ordinal status reason details content node_id run_id "
     "created_at", ""),
    ("waivers", "t.run_id", "waivers t",
     "waiver_id check_name example_id teacher reason approver expires run_id created_at", ""),
    ("datasets", "t.run_id", "datasets t",
     "dataset_id examples pack_name pack_hash student registry_version run_id created_at", ""),
    ("dataset_examples", "t.run_id", "dataset_examples t", "dataset_id example_id run_id", ""),
    ("trainings", "t.run_id", "trainings t",
     "training_id run_id dataset_id student student_kind base_model out_dir model_digest config metrics "
     "created_at", ""),
)  # fmt: skip
_TABLES = {
    name: (run, source, tuple(columns.split()), condition) for name, run, source, columns, condition in _SPEC
}
AUDITED = tuple(_TABLES)


def _where(table: str, one_run: bool, *extra: str) -> str:
    run, _, _, condition = _TABLES[table]
    where = [c for c in (condition, f"{run} = ?" if one_run else "", *extra) if c]
    return f" WHERE {' AND '.join(where)}" if where else ""


def _length(table: str) -> str:
    """SQL: the bytes of a row's columns as text (what its JSON array holds, before escaping)."""
    _, _, columns, _ = _TABLES[table]
    return "(" + " + ".join(f"coalesce(strlen(CAST(t.{c} AS VARCHAR)), 0)" for c in columns) + ")"


def _rows_sql(table: str, one_run: bool) -> str:
    """SQL (version 2): [run,] each audited row's unit (its JSON array of columns, or ``#`` and the
    sha256 of that array when it is longer than ``INLINE_BYTES``), sorted; rows over
    ``LONG_BYTES`` are left to :func:`_long_units`."""
    run, source, columns, _ = _TABLES[table]
    row = "CAST(json_array(" + ", ".join(f"CAST(t.{c} AS VARCHAR)" for c in columns) + ") AS VARCHAR)"
    unit = f"CASE WHEN strlen(s) <= {INLINE_BYTES} THEN s ELSE '#' || sha256(s) END"
    short = f"{_length(table)} <= {LONG_BYTES}"
    if one_run:
        return (
            f"SELECT {unit} AS u FROM (SELECT {row} AS s FROM {source}{_where(table, True, short)}) "
            "ORDER BY u"
        )
    return (
        f"SELECT run, {unit} AS u FROM (SELECT CAST({run} AS VARCHAR) AS run, {row} AS s "
        f"FROM {source}{_where(table, False, short)}) ORDER BY run, u"
    )


_NAMED_ESCAPES = {8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r"}
#: DuckDB's JSON string escapes: quote, backslash, and C0 controls (named, else \\u00XX in capitals)
_JSON_ESCAPES = {c: _NAMED_ESCAPES.get(c, f"\\u{c:04X}") for c in range(0x20)} | {34: '\\"', 92: "\\\\"}


def json_array_text(values: list[str | None]) -> str:
    """The text DuckDB's ``json_array`` makes of these strings, byte for byte."""
    return (
        "[" + ",".join("null" if v is None else '"' + v.translate(_JSON_ESCAPES) + '"' for v in values) + "]"
    )


def _long_units(con: Any, table: str, run_id: str | None) -> dict[str, list[str]]:
    """run → the sorted units (``#`` and sha256 of the JSON array) of its rows over ``LONG_BYTES``,
    serialized here one row at a time: DuckDB's JSON writer reserves several times a string's
    length rounded up to a power of two (512 MiB for a 50 MB field), past the memory limit."""
    run, source, columns, _ = _TABLES[table]
    values = ", ".join(f"CAST(t.{c} AS VARCHAR)" for c in columns)
    long = f"{_length(table)} > {LONG_BYTES}"
    sql = f"SELECT CAST({run} AS VARCHAR), {values} FROM {source}{_where(table, run_id is not None, long)}"
    cursor = con.execute(sql, [run_id] if run_id is not None else [])
    out: dict[str, list[str]] = {}
    while (row := cursor.fetchone()) is not None:
        unit = "#" + hashlib.sha256(json_array_text(list(row[1:])).encode()).hexdigest()
        out.setdefault(NO_RUN if row[0] is None else row[0], []).append(unit)
    return {r: sorted(units) for r, units in out.items()}


def _hashes_sql_v1(table: str, one_run: bool) -> str:
    """SQL (version 1): [run,] the sha256 of each row's chr(31)-joined columns, sorted."""
    run, source, columns, _ = _TABLES[table]
    parts = ", ".join(f"coalesce(CAST(t.{c} AS VARCHAR), chr(1))" for c in columns)
    row = f"sha256(concat_ws(chr(31), {parts}))"
    if one_run:
        return f"SELECT {row} AS s FROM {source}{_where(table, True)} ORDER BY s"
    return (
        f"SELECT CAST({run} AS VARCHAR) AS run, {row} AS s FROM {source}{_where(table, False)} "
        "ORDER BY run, s"
    )


def _feed(digest: Any, column: Any, start: int, stop: int) -> None:
    """Hash the bytes of rows ``start:stop`` of an Arrow string column, straight from its buffers."""
    import numpy as np
    import pyarrow as pa

    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        column = column.cast(pa.large_string())
    width = 8 if pa.types.is_large_string(column.type) else 4
    _, offsets_buffer, data = column.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=f"<i{width}", count=column.offset + len(column) + 1)
    lo, hi = int(offsets[column.offset + start]), int(offsets[column.offset + stop])
    digest.update(memoryview(data)[lo:hi])


def _boundaries(runs: Any) -> list[tuple[Any, int, int]]:
    """(run, start, stop) of each stretch of equal values in a sorted Arrow column (rows that name
    no run are under ``NO_RUN``, so verify reports them)."""
    import numpy as np

    if not len(runs):
        return []
    encoded = runs.fill_null(NO_RUN).dictionary_encode()
    indices = encoded.indices.to_numpy(zero_copy_only=False)
    cuts = [0, *(np.flatnonzero(np.diff(indices)) + 1).tolist(), len(indices)]
    values = encoded.dictionary.to_pylist()
    return [(values[indices[a]], a, b) for a, b in itertools.pairwise(cuts)]


def _feed_merged(digest: Any, column: Any, start: int, stop: int, pending: list[str]) -> None:
    """Hash rows ``start:stop`` of a sorted Arrow string column with the ``pending`` units (sorted;
    those that sort before the last row are consumed) in their sorted places."""
    import pyarrow.compute as pc

    while pending and start < stop:
        unit = pending[0]
        before = pc.sum(pc.less(column.slice(start, stop - start), unit)).as_py() or 0
        if start + before == stop:
            break
        _feed(digest, column, start, start + before)
        digest.update(pending.pop(0).encode())
        start += before
    if start < stop:
        _feed(digest, column, start, stop)


class _Digests:
    """Per-run digests fed in sorted order, with the long rows' units merged in."""

    def __init__(self, long: dict[str, list[str]]) -> None:
        self.long = long
        self.out: dict[str, dict[str, Any]] = {}
        self.current: str | None = None
        self.digest = hashlib.sha256()
        self.n = 0

    def feed(self, run: str, column: Any, start: int, stop: int) -> None:
        """Rows ``start:stop`` of ``column``, all of run ``run`` (runs arrive grouped)."""
        if run != self.current:
            self.close()
            self.current, self.digest, self.n = run, hashlib.sha256(), 0
        pending = self.long.get(run, [])
        waiting = len(pending)
        _feed_merged(self.digest, column, start, stop, pending)
        self.n += stop - start + waiting - len(pending)

    def close(self) -> None:
        """Finish the current run: its remaining long units, then its digest."""
        if self.current is None:
            return
        pending = self.long.pop(self.current, [])
        for unit in pending:
            self.digest.update(unit.encode())
        self.n += len(pending)
        if self.n:
            self.out[str(self.current)] = {"rows": self.n, "digest": self.digest.hexdigest()}
        self.current = None

    def finish(self) -> dict[str, dict[str, Any]]:
        """Every run's digest, runs with long rows only included."""
        self.close()
        for run in list(self.long):
            self.current, self.digest, self.n = run, hashlib.sha256(), 0
            self.close()
        return self.out


def _table_digests(con: Any, table: str, run_id: str | None, version: int) -> dict[str, dict[str, Any]]:
    """run id → {"rows": n, "digest": sha256} for one table's rows, streamed out of DuckDB sorted."""
    one_run = run_id is not None
    sql = (_hashes_sql_v1 if version == 1 else _rows_sql)(table, one_run)
    args = [run_id] if one_run else []
    long = _long_units(con, table, run_id) if version == 2 else {}
    runs = _Digests(long)
    for batch in con.execute(sql, args).to_arrow_reader(65_536):
        rows = batch.column(batch.num_columns - 1)
        stretches = [(run_id, 0, len(rows))] if one_run else _boundaries(batch.column(0))
        for run, start, stop in stretches:
            runs.feed(str(run), rows, start, stop)
    return runs.finish()


def digests(
    con: Any, run_id: str | None = None, version: int = DIGEST_VERSION
) -> dict[str, dict[str, dict[str, Any]]]:
    """run id → table → {"rows": n, "digest": sha256}, for one run or every run (tables with no row
    of a run are left out), under digest ``version`` (1 or 2).

    The rows stream out of DuckDB already sorted (the sort spills to disk), so memory stays bounded
    however many rows a run wrote. For one run, a table is read only when a count finds its rows.
    """
    if version not in (1, 2):
        raise ValueError(f"unknown audit digest version {version}")
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for table in AUDITED:
        if run_id is not None:
            _, source, _, _ = _TABLES[table]
            found = con.execute(f"SELECT count(*) FROM {source}{_where(table, True)}", [run_id]).fetchone()
            if not found[0]:
                continue
        for run, vouched in _table_digests(con, table, run_id, version).items():
            out.setdefault(run, {})[table] = vouched
    return out


def row_counts(con: Any) -> dict[str, dict[str, int]]:
    """run id → table → rows that name it, for every run (``NO_RUN`` for rows that name none)."""
    out: dict[str, dict[str, int]] = {}
    for table in AUDITED:
        run, source, _, _ = _TABLES[table]
        sql = f"SELECT CAST({run} AS VARCHAR), count(*) FROM {source}{_where(table, False)} GROUP BY 1"
        for name, n in con.execute(sql).fetchall():
            out.setdefault(NO_RUN if name is None else str(name), {})[table] = int(n)
    return out


def entry_hash(prev_hash: str, body: dict[str, Any]) -> str:
    """sha256 of the previous hash followed by the canonical JSON of the row's fields."""
    return content_id({"prev": prev_hash, "body": body})


def entry_body(
    seq: int, at: str, kind: str, run_id: str, payload: Any, vouched: Any, version: int = DIGEST_VERSION
) -> dict[str, Any]:
    """The fields an audit row's hash covers (``version``: the digest version of ``vouched``)."""
    return {
        "seq": seq,
        "at": at,
        "kind": kind,
        "run_id": run_id,
        "payload": payload,
        "vouched": vouched,
        "digest_version": version,
    }


def run_payload(con: Any, run_id: str) -> dict[str, Any]:
    """The run row as the audit row records it."""
    row = con.execute(
        "SELECT kind, status, tool_version, params, summary, CAST(started_at AS VARCHAR), "
        "CAST(finished_at AS VARCHAR) FROM runs WHERE run_id = ?",
        [run_id],
    ).fetchone()
    if row is None:
        raise LookupError(f"no run {run_id}")
    kind, status, version, params, summary, started, finished = row
    return {
        "kind": kind,
        "status": status,
        "tool_version": version,
        "params": json.loads(params) if params else None,
        "summary": json.loads(summary) if summary else None,
        "started_at": started,
        "finished_at": finished,
    }


def head(con: Any) -> tuple[int, str]:
    """(seq, hash) of the last audit row; (0, GENESIS) for an empty log."""
    row = con.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    return (int(row[0]), str(row[1])) if row else (0, GENESIS)


def append(con: Any, run_id: str) -> tuple[int, str]:
    """Append the audit row of a finished run (inside the caller's transaction); return (seq, hash)."""
    payload = run_payload(con, run_id)
    vouched = digests(con, run_id).get(run_id, {})
    seq, prev = head(con)
    seq, version = seq + 1, DIGEST_VERSION
    at = utcnow()
    body = entry_body(seq, str(at), payload["kind"], run_id, payload, vouched, version)
    digest = entry_hash(prev, body)
    con.execute(
        "INSERT INTO audit_log (seq, recorded_at, kind, run_id, payload, vouched, prev_hash, hash, "
        "digest_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [seq, at, payload["kind"], run_id, json.dumps(payload), json.dumps(vouched), prev, digest, version],
    )
    return seq, digest
