"""The append-only, hash-chained audit log: one row per finished run, vouching for what it wrote.

When a run ends (:meth:`provenance.ledger.Ledger.end_run`), a row is appended in the same
transaction. It holds the run row (kind, status, parameters, summary) and, for every table the run
wrote to, the number of rows and a digest of them: sha256 over the sorted sha256 of each row's
columns. Its hash is
sha256 of the previous row's hash followed by the canonical JSON of its other fields, so editing,
inserting or deleting any vouched row, or any audit row, changes something that :func:`digests`
and :func:`entry_hash` recompute (``audits.verify``).

Rows are attributed to runs by the run id each table keeps (``first_run_id`` for content that is
written once, the batch's run for decisions, the judgement's run for its terms). Teacher calls are
vouched once they are ok (an error may be retried by a later run; an ok call never changes).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from provenance.clock import utcnow
from provenance.ids import content_id

GENESIS = "0" * 64
DIGEST_VERSION = 1

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
    ("decisions", "b.run_id", "decisions t JOIN decision_batches b USING (batch_id)",
     "example_id batch_id basis verdict decision score reason details ref", ""),
    ("licence_judgements", "t.first_run_id", "licence_judgements t",
     "judgement_no judgement_id context_id verdict permitted reason reasons obligations findings "
     "first_run_id created_at", ""),
    ("judgement_terms", "j.first_run_id",
     "judgement_terms t JOIN licence_judgements j USING (judgement_no)",
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


def _row_sql(alias: str, columns: tuple[str, ...]) -> str:
    parts = ", ".join(f"coalesce(CAST({alias}.{c} AS VARCHAR), chr(1))" for c in columns)
    return f"sha256(concat_ws(chr(31), {parts}))"


def _hashes_sql(table: str, one_run: bool) -> str:
    """SQL: (run, row hash) of the table's audited rows, sorted by run then hash."""
    run, source, columns, condition = _TABLES[table]
    where = [c for c in (condition, f"{run} = ?" if one_run else "") if c]
    where_sql = f" WHERE {' AND '.join(where)}" if where else ""
    return (
        f"SELECT CAST({run} AS VARCHAR) AS run, {_row_sql('t', columns)} AS h FROM {source}{where_sql} "
        "ORDER BY run, h"
    )


def digests(con: Any, run_id: str | None = None) -> dict[str, dict[str, dict[str, Any]]]:
    """run id → table → {"rows": n, "digest": sha256}, for one run or every run (tables with no row
    of a run are left out).

    A table's digest for a run is the sha256 of its rows' hashes, sorted and concatenated as hex. The
    rows stream out of DuckDB already sorted (the sort spills to disk), so memory stays bounded
    however many rows a run wrote.
    """
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for table in AUDITED:
        args = [run_id] if run_id is not None else []
        reader = con.execute(_hashes_sql(table, run_id is not None), args).to_arrow_reader(65_536)
        current, digest, n = None, hashlib.sha256(), 0
        for batch in reader:
            runs, hashes = batch.column(0).to_pylist(), batch.column(1).to_pylist()
            start = 0
            while start < len(runs):
                run = runs[start]
                if run != current:
                    if current is not None:
                        out.setdefault(str(current), {})[table] = {"rows": n, "digest": digest.hexdigest()}
                    current, digest, n = run, hashlib.sha256(), 0
                end = start
                while end < len(runs) and runs[end] == run:
                    end += 1
                digest.update("".join(hashes[start:end]).encode("ascii"))
                n += end - start
                start = end
        if current is not None:
            out.setdefault(str(current), {})[table] = {"rows": n, "digest": digest.hexdigest()}
    return out


def entry_hash(prev_hash: str, body: dict[str, Any]) -> str:
    """sha256 of the previous hash followed by the canonical JSON of the row's fields."""
    return content_id({"prev": prev_hash, "body": body})


def entry_body(seq: int, at: str, kind: str, run_id: str, payload: Any, vouched: Any) -> dict[str, Any]:
    """The fields an audit row's hash covers."""
    return {
        "seq": seq,
        "at": at,
        "kind": kind,
        "run_id": run_id,
        "payload": payload,
        "vouched": vouched,
        "digest_version": DIGEST_VERSION,
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
    seq += 1
    at = utcnow()
    body = entry_body(seq, str(at), payload["kind"], run_id, payload, vouched)
    digest = entry_hash(prev, body)
    con.execute(
        "INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [seq, at, payload["kind"], run_id, json.dumps(payload), json.dumps(vouched), prev, digest],
    )
    return seq, digest
