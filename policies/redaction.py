"""Redacted copies of examples: a new example with a ``redacted-from`` edge; the original is never edited.

The copy carries every provenance claim of its original (teacher, licence, terms, source, method)
under a provenance set of its own whose parameters name the redaction, so the licence policy judges
it exactly as the original. Copies are written like any other examples, through
:meth:`~provenance.core.ledger.Ledger.write`, so its edge and cycle checks apply.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from typing import Any

import orjson
import pyarrow as pa

from policies.checks.base import example_texts
from provenance.core.batch import WriteBatch
from provenance.core.clock import utcnow
from provenance.core.ids import chat_id, content_id, instruction_id
from provenance.core.ledger import Ledger, ProvenanceSet
from provenance.core.models import (
    Declaration,
    Method,
    NodeKind,
    Origin,
    Relation,
    Teacher,
    Terms,
    TermsStatus,
)
from provenance.queries.checks import claims_of

_FIELDS = ("instruction", "input", "output", "messages")


def write_redacted(ledger: Ledger, check: Any, rows: pa.Table, scores: list[Any], run_id: str) -> int:
    """Write the redacted copy of each row (``check.redact`` gives the new texts); return how many are new.

    Must run inside a ledger transaction.
    """
    copies = redacted_copies(check, rows, scores)
    if not copies:
        return 0
    now = utcnow()
    batch = WriteBatch()
    for c in copies:
        batch.add_example(
            c["example_id"], c["kind"], c["instruction"], c["input"], c["output"], c["messages"]
        )
        batch.add_edge(c["example_id"], c["parent_id"], NodeKind.EXAMPLE.value, Relation.REDACTED_FROM.value)
    # examples and edges depend on the run and the time alone; the claims follow, set by set
    redaction = ProvenanceSet(
        run_id, Declaration(), Method.REDACTED, method_params={"redacted_by": check.kind}, created_at=now
    )
    written = ledger.write(batch, redaction).examples
    for context, claims in _claims(ledger, check, copies, run_id, now):
        ledger.ensure_set(context)
        ledger.write(claims, context)
    return written


def redacted_copies(check: Any, rows: pa.Table, scores: list[Any]) -> list[dict[str, Any]]:
    """The redacted content of each row whose redaction changes it: example id, parent id, kind, fields."""
    batch = rows.combine_chunks().to_batches()[0] if rows.num_rows else None
    if batch is None:
        return []
    texts = example_texts(batch, _FIELDS, split_messages=True)
    copies = []
    for row, t, s in zip(rows.to_pylist(), texts, scores, strict=True):
        new_id, content = _redacted(row, check.redact(t, s))
        if new_id != row["example_id"]:
            copies.append(
                {"example_id": new_id, "parent_id": row["example_id"], "kind": row["kind"], **content}
            )
    return copies


def _redacted(row: dict[str, Any], red: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """The id and content of ``row`` with the redacted texts ``red`` (by field, or ``messages[i]``)."""
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
        return chat_id(messages), content
    content = {f: red.get(f, row[f] or "") if row[f] is not None else None for f in _FIELDS[:3]}
    content["messages"] = None
    return instruction_id(
        content["instruction"] or "", content["input"] or "", content["output"] or ""
    ), content


def _claims(
    ledger: Ledger, check: Any, copies: list[dict[str, Any]], run_id: str, now: datetime
) -> list[tuple[ProvenanceSet, WriteBatch]]:
    """Per provenance set of the originals: the copies' set (naming the redaction) and their claims."""
    children: dict[str, list[str]] = defaultdict(list)
    for c in copies:
        children[c["parent_id"]].append(c["example_id"])
    settings = content_id(check.settings.model_dump(mode="json"))
    out: dict[str, tuple[ProvenanceSet, WriteBatch]] = {}
    for claim in claims_of(ledger, list(children)):
        if claim["set_id"] not in out:
            out[claim["set_id"]] = (_copied_set(claim, check.kind, settings, run_id, now), WriteBatch())
        batch = out[claim["set_id"]][1]
        for child in children[claim["example_id"]]:
            batch.add_claim(
                child,
                claim["source_index"],
                source_line=claim["source_line"],
                source_part=claim["source_part"],
                source_row=claim["source_row"],
                source_item=claim["source_item"],
                source_record_id=claim["source_record_id"],
                prompt=claim["prompt"],
                extra=claim["extra"],
                claim_key=f"{claim['example_id']}:{claim['claim']}",
                prompt_template_hash=claim["prompt_template_hash"],
                request_id=claim["request_id"],
                usage=claim["usage"],
            )
    return list(out.values())


def _copied_set(claim: dict[str, Any], kind: str, settings: str, run_id: str, now: datetime) -> ProvenanceSet:
    """The original's provenance set as stored (declaration, method, source file), named as a redaction.

    The stored values were validated when first written; they are rebuilt as they are, so the
    declaration (and teacher) keep their ids.
    """
    teacher = None
    if claim["teacher_model"] is not None:
        teacher = Teacher.model_construct(
            model=claim["teacher_model"],
            provider=claim["teacher_provider"],
            revision=claim["teacher_revision"],
            fingerprint=claim["teacher_fingerprint"],
            endpoint=claim["teacher_endpoint"],
        )
    terms = None
    if claim["terms_id"] is not None:
        terms = Terms.model_construct(
            id=claim["terms_id"],
            version=claim["terms_version"],
            retrieved=claim["terms_retrieved"],
            status=TermsStatus(claim["terms_status"] or TermsStatus.UNKNOWN.value),
        )
    declaration = Declaration.model_construct(
        origin=Origin(claim["origin"]),
        teacher=teacher,
        licence=claim["licence"],
        terms=terms,
        source=claim["source"],
    )
    params = claim["method_params"]
    return ProvenanceSet(
        run_id,
        declaration,
        Method(claim["method"]),
        source_file=claim["source_file"],
        source_sha256=claim["source_sha256"],
        source_format=claim["source_format"],
        method_params={
            "redacted_by": kind,
            "from_set": claim["set_id"],
            "method_params": json.loads(params) if params is not None else None,
            "settings": settings,
        },
        created_at=now,
    )
