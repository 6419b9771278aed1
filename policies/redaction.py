"""Redacted copies of examples: a new example with a ``redacted-from`` edge; the original is never edited.

The copy carries every provenance claim of its original (teacher, licence, terms, source, method)
under a provenance set of its own whose parameters name the redaction, so the licence policy judges
it exactly as the original.
"""

from __future__ import annotations

from typing import Any

import orjson
import pyarrow as pa

from policies.checks.base import example_texts
from provenance.core.clock import utcnow
from provenance.core.ids import chat_id, instruction_id
from provenance.core.ledger import Ledger

_FIELDS = ("instruction", "input", "output", "messages")


def write_redacted(ledger: Ledger, check: Any, rows: pa.Table, scores: list[Any], run_id: str) -> int:
    """Write the redacted copy of each row (``check.redact`` gives the new texts); return how many are new.

    Must run inside a ledger transaction.
    """
    batch = rows.combine_chunks().to_batches()[0] if rows.num_rows else None
    if batch is None:
        return 0
    texts = example_texts(batch, _FIELDS, split_messages=True)
    plain = rows.to_pylist()
    new_rows = []
    for row, t, s in zip(plain, texts, scores, strict=True):
        red = check.redact(t, s)
        if row["messages"] is not None:
            messages = orjson.loads(row["messages"])
            for j, m in enumerate(messages):
                key = f"messages[{j}]"
                if key in red:
                    m["content"] = red[key]
            content = {
                "instruction": None,
                "input": None,
                "output": None,
                "messages": orjson.dumps(messages).decode(),
            }
            new_id = chat_id(messages)
        else:
            content = {f: red.get(f, row[f] or "") if row[f] is not None else None for f in _FIELDS[:3]}
            content["messages"] = None
            new_id = instruction_id(
                content["instruction"] or "", content["input"] or "", content["output"] or ""
            )
        if new_id != row["example_id"]:
            new_rows.append(
                {"example_id": new_id, "parent_id": row["example_id"], "kind": row["kind"], **content}
            )
    if not new_rows:
        return 0
    _red = pa.Table.from_pylist(new_rows)
    con = ledger.con
    now = utcnow()
    identity = check.settings.model_dump_json()
    n = con.execute(
        "INSERT INTO examples "
        "(example_id, kind, instruction, input, output, messages, first_run_id, created_at) "
        "SELECT DISTINCT ON (example_id) example_id, kind, instruction, input, output, messages::JSON, ?, ? "
        "FROM _red ANTI JOIN examples USING (example_id)",
        [run_id, now],
    ).fetchone()[0]
    set_map = "sha256(s.set_id || ':redacted:' || $identity)"
    con.execute(
        f"""INSERT INTO provenance_sets
        SELECT DISTINCT {set_map}, $run, s.origin, s.method, s.teacher_id, s.licence, s.terms_id,
               s.terms_version, s.terms_retrieved, s.terms_status, s.source, s.source_file, s.source_sha256,
               s.source_format, s.declaration_hash,
               json_object('redacted_by', $check, 'from_set', s.set_id, 'method_params', s.method_params),
               $now
        FROM provenance_sets s
        WHERE s.set_id IN (SELECT p.set_id FROM provenance p SEMI JOIN _red r ON r.parent_id = p.example_id)
          AND {set_map} NOT IN (SELECT set_id FROM provenance_sets)""",
        {"run": run_id, "check": check.kind, "now": now, "identity": identity},
    )
    con.execute(
        f"""INSERT INTO provenance (example_id, set_id, claim, source_index, source_line, source_part,
               source_row, source_item, source_record_id, prompt, prompt_template_hash, request_id, usage,
               extra, run_id)
        SELECT r.example_id, {set_map.replace("s.set_id", "p.set_id")}, p.example_id || ':' || p.claim,
               p.source_index, p.source_line, p.source_part, p.source_row, p.source_item, p.source_record_id,
               p.prompt, p.prompt_template_hash, p.request_id, p.usage, p.extra, $run
        FROM provenance p JOIN _red r ON r.parent_id = p.example_id
        ANTI JOIN provenance q ON q.example_id = r.example_id
            AND q.set_id = {set_map.replace("s.set_id", "p.set_id")}
            AND q.claim = p.example_id || ':' || p.claim""",
        {"identity": identity, "run": run_id},
    )
    con.execute(
        "INSERT INTO lineage "
        "SELECT r.example_id, r.parent_id, 'example', 'redacted-from', 0, ?, ? FROM _red r "
        "ANTI JOIN lineage l ON l.child_id = r.example_id AND l.parent_id = r.parent_id "
        "AND l.relation = 'redacted-from'",
        [run_id, now],
    )
    return int(n)
