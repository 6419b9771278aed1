"""Named reads of trainings: which student a set of weights was trained as, what a student's
training recorded of it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from provenance.core.ledger import Ledger


def student_of_weights(ledger: Ledger, model_digest: str) -> str | None:
    """The student (as the gate judged it) of the newest training whose weights have this digest."""
    row = ledger.con.execute(
        "SELECT d.student FROM trainings t JOIN datasets d USING (dataset_id) WHERE t.model_digest = ? "
        "ORDER BY t.created_at DESC LIMIT 1",
        [model_digest],
    ).fetchone()
    return str(row[0]) if row else None


@dataclass(frozen=True)
class StudentRecord:
    """What the ledger recorded of a trained student: its training row, what its run's summary
    sealed (file digests, the report's digest, whether it was signed) and the run's audit row."""

    training_id: str
    run_id: str
    dataset_id: str
    model_digest: str
    out_dir: str
    summary: dict[str, Any]
    audit_seq: int | None
    audit_hash: str | None


def student_record(
    ledger: Ledger,
    *,
    training_id: str | None = None,
    out_dir: str | None = None,
    model_digest: str | None = None,
) -> StudentRecord | None:
    """The newest training with this id, else this output folder, else these weights; None if none."""
    for column, value in (("training_id", training_id), ("out_dir", out_dir), ("model_digest", model_digest)):
        if not value:
            continue
        row = ledger.con.execute(
            "SELECT t.training_id, t.run_id, t.dataset_id, t.model_digest, t.out_dir, r.summary, "
            "a.seq, a.hash "
            "FROM trainings t LEFT JOIN runs r USING (run_id) "
            "LEFT JOIN (SELECT run_id, max(seq) AS seq FROM audit_log GROUP BY run_id) l USING (run_id) "
            "LEFT JOIN audit_log a ON a.seq = l.seq "
            f"WHERE t.{column} = ? ORDER BY t.created_at DESC LIMIT 1",
            [value],
        ).fetchone()
        if row is not None:
            summary = json.loads(row[5]) if isinstance(row[5], str) else (row[5] or {})
            return StudentRecord(
                str(row[0]), str(row[1]), str(row[2]), str(row[3]), str(row[4]),
                summary if isinstance(summary, dict) else {},
                None if row[6] is None else int(row[6]), None if row[7] is None else str(row[7]),
            )  # fmt: skip
    return None
