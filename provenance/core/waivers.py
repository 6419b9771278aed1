"""The write of a waiver, inside the transaction of the run that records it."""

from __future__ import annotations

from datetime import date

from provenance.core.clock import utcnow
from provenance.core.ledger import Ledger


def store_waiver(
    ledger: Ledger,
    *,
    waiver_id: str,
    check: str,
    example_id: str | None,
    teacher: str | None,
    reason: str,
    approver: str,
    expires: date,
    run_id: str,
) -> None:
    """Store a waiver unless one with this id (the same content) is stored."""
    ledger.con.execute(
        "INSERT INTO waivers SELECT ?, ?, ?, ?, ?, ?, ?, ?, ? "
        "WHERE NOT EXISTS (SELECT 1 FROM waivers WHERE waiver_id = ?)",
        [waiver_id, check, example_id, teacher, reason, approver, expires, run_id, utcnow(), waiver_id],
    )
