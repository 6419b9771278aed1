"""Waivers: signed-off exceptions to a check's decision, for one example or one teacher's examples.

A waiver names the check (its name in the pack), the example (id or unique prefix) or the teacher
(a model recorded in the ledger), the reason, who approved it and the last day it counts. Recording
one is a run of its own, so the audit log vouches for it. Expired waivers are kept and ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from provenance.core.clock import utcnow
from provenance.core.errors import InputError
from provenance.core.ids import content_id
from provenance.core.ledger import Ledger
from provenance.core.models import NodeKind


@dataclass(frozen=True)
class Waiver:
    """A recorded waiver."""

    waiver_id: str
    check: str
    example_id: str | None
    teacher: str | None
    reason: str
    approver: str
    expires: date

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return {
            "waiver_id": self.waiver_id,
            "check": self.check,
            "example_id": self.example_id,
            "teacher": self.teacher,
            "reason": self.reason,
            "approver": self.approver,
            "expires": self.expires.isoformat(),
        }


def parse_date(text: str) -> date:
    """A YYYY-MM-DD date, or an InputError."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"--expires {text!r} is not a date (YYYY-MM-DD)") from None


def add_waiver(
    ledger: Ledger,
    *,
    check: str,
    example: str | None,
    teacher: str | None,
    reason: str,
    approver: str,
    expires: date,
    today: date | None = None,
) -> Waiver:
    """Record a waiver (a run of kind ``waiver``); checks its target exists in the ledger."""
    today = today or utcnow().date()
    if (example is None) == (teacher is None):
        raise InputError("a waiver names exactly one of --example and --teacher")
    if not check.strip():
        raise InputError("--check must name a check of the pack (e.g. licence, pii, toxicity)")
    if not reason.strip() or not approver.strip():
        raise InputError("a waiver needs a --reason and an --approver")
    if expires < today:
        raise InputError(f"--expires {expires.isoformat()} is in the past")
    example_id = None
    if example is not None:
        kind, example_id = ledger.resolve(example)
        if kind is not NodeKind.EXAMPLE:
            raise InputError(f"{example!r} is a {kind.value}, not an example")
    elif not ledger.con.execute("SELECT 1 FROM teachers WHERE model = ? LIMIT 1", [teacher]).fetchone():
        known = [
            m for (m,) in ledger.con.execute("SELECT DISTINCT model FROM teachers ORDER BY 1").fetchall()
        ]
        raise InputError(f"no teacher {teacher!r} in the ledger (known: {', '.join(known) or 'none'})")
    body = {
        "check": check,
        "example_id": example_id,
        "teacher": teacher,
        "reason": reason,
        "approver": approver,
        "expires": expires.isoformat(),
    }
    waiver = Waiver(content_id(body), check, example_id, teacher, reason, approver, expires)
    with ledger.transaction():
        run_id = ledger.begin_run("waiver", body)
        ledger.con.execute(
            "INSERT INTO waivers SELECT ?, ?, ?, ?, ?, ?, ?, ?, ? "
            "WHERE NOT EXISTS (SELECT 1 FROM waivers WHERE waiver_id = ?)",
            [
                waiver.waiver_id,
                check,
                example_id,
                teacher,
                reason,
                approver,
                expires,
                run_id,
                utcnow(),
                waiver.waiver_id,
            ],
        )
        ledger.end_run(run_id, waiver.as_dict())
    return waiver


def active_waivers(ledger: Ledger, today: date) -> list[Waiver]:
    """Waivers that have not expired on ``today`` (the expiry day itself still counts)."""
    rows = ledger.con.execute(
        "SELECT waiver_id, check_name, example_id, teacher, reason, approver, expires FROM waivers "
        "WHERE expires >= ? ORDER BY created_at, waiver_id",
        [today],
    ).fetchall()
    return [Waiver(*row) for row in rows]


def all_waivers(ledger: Ledger) -> list[Waiver]:
    """Every waiver, expired or not."""
    rows = ledger.con.execute(
        "SELECT waiver_id, check_name, example_id, teacher, reason, approver, expires FROM waivers "
        "ORDER BY created_at, waiver_id"
    ).fetchall()
    return [Waiver(*row) for row in rows]
