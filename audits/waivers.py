"""Waivers: signed-off exceptions to a check's decision, for one example or one teacher's examples.

A waiver names the check (its name in the pack), the example (id or unique prefix) or the teacher
(a model recorded in the ledger), the reason, who approved it and the last day it counts. Recording
one is a run of its own, so the audit log vouches for it. Expired waivers are kept and ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from provenance.core.clock import utcnow
from provenance.core.errors import InputError
from provenance.core.ids import content_id
from provenance.core.ledger import Ledger
from provenance.core.models import NodeKind
from provenance.core.waivers import store_waiver
from provenance.queries import audit as audit_trail
from provenance.queries import gate as queries


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
    seq: int | None = None  # the audit row that seals the waiver's run

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
            "audit_seq": self.seq,
        }

    def expired(self, today: date) -> bool:
        """Whether the waiver no longer counts on ``today`` (the expiry day itself still counts)."""
        return self.expires < today


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
    example_id = _target(ledger, example, teacher)
    body = {
        "check": check,
        "example_id": example_id,
        "teacher": teacher,
        "reason": reason,
        "approver": approver,
        "expires": expires.isoformat(),
    }
    waiver = Waiver(content_id(body), check, example_id, teacher, reason, approver, expires)
    with ledger.run("waiver", body) as run:
        store_waiver(
            ledger,
            waiver_id=waiver.waiver_id,
            check=check,
            example_id=example_id,
            teacher=teacher,
            reason=reason,
            approver=approver,
            expires=expires,
            run_id=run.run_id,
        )
        run.summary = waiver.as_dict()
    return replace(waiver, seq=audit_trail.head(ledger)[0])


def _target(ledger: Ledger, example: str | None, teacher: str | None) -> str | None:
    """The full id of the waived example (None for a teacher's waiver); the teacher must be recorded."""
    if example is not None:
        kind, example_id = ledger.resolve(example)
        if kind is not NodeKind.EXAMPLE:
            raise InputError(f"{example!r} is a {kind.value}, not an example")
        return example_id
    assert teacher is not None  # add_waiver checked that one of the two is given
    if not queries.has_teacher(ledger, teacher):
        known = queries.teacher_models(ledger)
        raise InputError(f"no teacher {teacher!r} in the ledger (known: {', '.join(known) or 'none'})")
    return None


def waive(
    ledger: Ledger,
    *,
    check: str,
    example: str | None,
    teacher: str | None,
    reason: str,
    approver: str,
    expires: str,
) -> tuple[Waiver, str | None]:
    """Record a waiver (``expires`` as YYYY-MM-DD), with a warning when no check of its name has run
    on this ledger (the waiver then counts only for a pack check of that name)."""
    known = queries.check_has_run(ledger, check)
    waiver = add_waiver(
        ledger,
        check=check,
        example=example,
        teacher=teacher,
        reason=reason,
        approver=approver,
        expires=parse_date(expires),
    )
    if known:
        return waiver, None
    return waiver, (
        f"warning: no check named {check!r} has run on this ledger; the waiver counts only for a "
        "pack check of that name"
    )


def active_waivers(ledger: Ledger, today: date) -> list[Waiver]:
    """Waivers that have not expired on ``today`` (the expiry day itself still counts)."""
    return [Waiver(*row) for row in queries.waivers(ledger, active_on=today)]


def all_waivers(ledger: Ledger) -> list[Waiver]:
    """Every waiver, expired or not."""
    return [Waiver(*row) for row in queries.waivers(ledger)]
