"""Named reads of trainings: which student a set of weights was trained as."""

from __future__ import annotations

from provenance.core.ledger import Ledger


def student_of_weights(ledger: Ledger, model_digest: str) -> str | None:
    """The student (as the gate judged it) of the newest training whose weights have this digest."""
    row = ledger.con.execute(
        "SELECT d.student FROM trainings t JOIN datasets d USING (dataset_id) WHERE t.model_digest = ? "
        "ORDER BY t.created_at DESC LIMIT 1",
        [model_digest],
    ).fetchone()
    return str(row[0]) if row else None
