"""Named reads of the training gate: current decisions, what waivers cover, the selection.

:func:`select` leaves the selection in temporary tables of the ledger's connection (the selected
ids in :data:`provenance.core.trainings.SELECTION_TABLE`), which the reads after it and the
dataset write (:func:`provenance.core.trainings.store_dataset`) use.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from provenance.core.decisions import CURRENT_DECISIONS
from provenance.core.ledger import Ledger
from provenance.core.trainings import SELECTION_TABLE
from provenance.core.vocabulary import EXCLUDING
from provenance.core.vouched import COUNTED_RUNS

_WAIVER_COLUMNS = (
    "w.waiver_id, w.check_name, w.example_id, w.teacher, w.reason, w.approver, w.expires, "
    "(SELECT max(a.seq) FROM audit_log a WHERE a.run_id = w.run_id) AS seq"
)
#: Waivers that count: written by ``provenance waive`` (a ``waiver`` run whose parameters are the
#: waiver), with a reason and a named approver, under a run sealed by its own audit row.
_HONOURED = f"""
    FROM waivers w JOIN runs r ON r.run_id = w.run_id
    WHERE w.run_id IN ({COUNTED_RUNS}) AND r.kind = 'waiver' AND r.status = 'ok'
      AND w.run_id IN (SELECT run_id FROM audit_log)
      AND trim(coalesce(w.approver, '')) <> '' AND trim(coalesce(w.reason, '')) <> ''
      AND json_extract_string(r.params, '$.approver') IS NOT DISTINCT FROM w.approver
      AND json_extract_string(r.params, '$.check') IS NOT DISTINCT FROM w.check_name
      AND json_extract_string(r.params, '$.example_id') IS NOT DISTINCT FROM w.example_id
      AND json_extract_string(r.params, '$.teacher') IS NOT DISTINCT FROM w.teacher
      AND json_extract_string(r.params, '$.expires') IS NOT DISTINCT FROM CAST(w.expires AS VARCHAR)
"""


@dataclass(frozen=True)
class CheckContext:
    """A check that ran: its name in the pack, whether it is the licence check, its decision context."""

    name: str
    licence: bool
    context_id: int


@dataclass(frozen=True)
class WaiverScope:
    """What a waiver covers: one example of a check, or every example of a teacher."""

    waiver_id: str
    check: str
    example_id: str | None
    teacher: str | None


@dataclass
class Selection:
    """Which examples train, and what kept the others out."""

    selected: list[str]
    examples: int
    blocked: int
    unneeded_copies: int  # redacted copies whose original trains (or was dropped for another reason)
    redacted_replaced: int  # originals that redaction alone excluded and a copy of which trains
    excluded: dict[str, dict[str, int]] = field(default_factory=dict)  # check → decision → examples
    waiver_examples: dict[str, int] = field(default_factory=dict)  # waiver id → examples it let through


def _current(ledger: Ledger, checks: Sequence[CheckContext]) -> None:
    """Fill the temp table ``gate_current(check_name, example_id, decision, permitted)``."""
    con = ledger.con
    con.execute(
        "CREATE OR REPLACE TEMP TABLE gate_current "
        "(check_name VARCHAR, example_id VARCHAR, decision VARCHAR, permitted BOOLEAN)"
    )
    for check in checks:
        if check.licence:
            con.execute(
                "INSERT INTO gate_current SELECT ?, c.example_id, c.decision, coalesce(j.permitted, false) "
                f"FROM ({CURRENT_DECISIONS}) c LEFT JOIN licence_judgements j ON j.judgement_no = c.ref",
                [check.name, check.context_id],
            )
        else:
            con.execute(
                f"INSERT INTO gate_current SELECT ?, example_id, decision, NULL FROM ({CURRENT_DECISIONS})",
                [check.name, check.context_id],
            )


def _waived(ledger: Ledger, waivers: Sequence[WaiverScope]) -> None:
    """Fill ``gate_waived(check_name, example_id, waiver_id)`` with what the waivers cover."""
    con = ledger.con
    con.execute(
        "CREATE OR REPLACE TEMP TABLE gate_waived (check_name VARCHAR, example_id VARCHAR, waiver_id VARCHAR)"
    )
    for w in waivers:
        if w.example_id is not None:
            con.execute("INSERT INTO gate_waived VALUES (?, ?, ?)", [w.check, w.example_id, w.waiver_id])
        else:
            con.execute(
                "INSERT INTO gate_waived SELECT DISTINCT ?, p.example_id, ? FROM provenance p "
                "JOIN provenance_sets s USING (set_id) JOIN teachers t ON t.teacher_id = s.teacher_id "
                f"WHERE t.model = ? AND p.run_id IN ({COUNTED_RUNS})",
                [w.check, w.waiver_id, w.teacher],
            )


def _verdicts(ledger: Ledger) -> None:
    """``gate_hits`` (a check's hit on an example, waiver applied) and ``gate_verdicts`` (one row an
    example: whether it is excluded, and whether it is a redacted copy, which trains only in place of
    an original that redaction excluded), then the selected ids."""
    con = ledger.con
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE gate_hits AS
        SELECT c.check_name, c.example_id, c.decision, c.permitted,
               (c.decision IN {EXCLUDING} OR c.permitted = false) AS excludes, w.waiver_id
        FROM gate_current c LEFT JOIN gate_waived w USING (check_name, example_id)"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE gate_verdicts AS
        WITH counted AS ({COUNTED_RUNS}),
        own AS (
            SELECT e.example_id,
                   coalesce(bool_or(h.excludes AND h.waiver_id IS NULL), false) AS excluded,
                   coalesce(bool_or(h.decision = 'redact' AND h.waiver_id IS NULL), false) AS redacted,
                   coalesce(bool_or(h.excludes AND h.decision <> 'redact' AND h.waiver_id IS NULL), false)
                       AS excluded_otherwise,
                   coalesce(bool_or(h.decision = 'block' AND h.waiver_id IS NULL), false) AS blocked
            FROM examples e LEFT JOIN gate_hits h USING (example_id)
            WHERE e.first_run_id IN (SELECT run_id FROM counted)
               OR e.example_id IN (SELECT example_id FROM provenance
                                   WHERE run_id IN (SELECT run_id FROM counted))
            GROUP BY e.example_id
        ),
        copies AS (
            SELECT l.child_id AS example_id, bool_or(p.redacted) AS original_redacted
            FROM lineage l JOIN own p ON p.example_id = l.parent_id
            WHERE l.relation = 'redacted-from' GROUP BY l.child_id
        )
        SELECT o.example_id, o.redacted, o.blocked,
               (c.example_id IS NOT NULL AND NOT c.original_redacted) AS unneeded_copy,
               o.excluded OR (c.example_id IS NOT NULL AND NOT c.original_redacted) AS excluded,
               o.redacted AND NOT o.excluded_otherwise AS replaceable
        FROM own o LEFT JOIN copies c USING (example_id)"""
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {SELECTION_TABLE} AS "
        "SELECT example_id FROM gate_verdicts WHERE NOT excluded"
    )


def _excluded(ledger: Ledger) -> dict[str, dict[str, int]]:
    """check → decision (``… (waived)`` when a waiver let it through) → examples it excludes."""
    excluded: dict[str, dict[str, int]] = {}
    for check, decision, waived, n in ledger.con.execute(
        "SELECT check_name, CASE WHEN decision IN ('pass', 'flag') AND permitted = false "
        "THEN 'not permitted' ELSE decision END AS d, waiver_id IS NOT NULL, count(*) FROM gate_hits "
        "WHERE excludes GROUP BY ALL ORDER BY ALL"
    ).fetchall():
        key = f"{decision} (waived)" if waived else decision
        excluded.setdefault(check, {})[key] = int(n)
    return excluded


def select(ledger: Ledger, checks: Sequence[CheckContext], waivers: Sequence[WaiverScope]) -> Selection:
    """The examples that may train under the current decisions of ``checks``, ``waivers`` applied."""
    _current(ledger, checks)
    _waived(ledger, waivers)
    _verdicts(ledger)
    con = ledger.con
    selected = [
        r[0]
        for r in con.execute(
            "SELECT example_id FROM gate_verdicts WHERE NOT excluded ORDER BY example_id"
        ).fetchall()
    ]
    examples, blocked, unneeded = con.execute(
        "SELECT count(*), count_if(blocked), count_if(unneeded_copy) FROM gate_verdicts"
    ).fetchone()
    redacted = con.execute(
        "SELECT count(DISTINCT v.example_id) FROM gate_verdicts v "
        "JOIN lineage l ON l.parent_id = v.example_id AND l.relation = 'redacted-from' "
        "JOIN gate_verdicts c ON c.example_id = l.child_id "
        "WHERE v.replaceable AND NOT c.excluded"
    ).fetchone()[0]
    # a waiver is used for the examples it let through: waived exclusions of examples that train
    used = con.execute(
        "SELECT h.waiver_id, count(DISTINCT h.example_id) FROM gate_hits h "
        "JOIN gate_verdicts v USING (example_id) "
        "WHERE h.excludes AND h.waiver_id IS NOT NULL AND NOT v.excluded "
        "GROUP BY ALL"
    ).fetchall()
    return Selection(
        selected=selected,
        examples=int(examples),
        blocked=int(blocked),
        unneeded_copies=int(unneeded),
        redacted_replaced=int(redacted),
        excluded=_excluded(ledger),
        waiver_examples={w: int(n) for w, n in used},
    )


def teacher_mix(ledger: Ledger) -> dict[str, int]:
    """Teacher → selected examples it wrote (``none (human)`` for seeds, ``unknown`` when not recorded)."""
    return {
        str(k): int(n)
        for k, n in ledger.con.execute(
            "SELECT coalesce(t.model, "
            "CASE WHEN s.origin = 'human' THEN 'none (human)' ELSE 'unknown' END) k, "
            "count(DISTINCT p.example_id) FROM provenance p JOIN provenance_sets s USING (set_id) "
            "LEFT JOIN teachers t ON t.teacher_id = s.teacher_id "
            f"WHERE p.example_id IN (SELECT example_id FROM {SELECTION_TABLE}) "
            f"AND p.run_id IN ({COUNTED_RUNS}) GROUP BY k ORDER BY 2 DESC, 1"
        ).fetchall()
    }


def licence_verdicts(ledger: Ledger, context_id: int) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """The licence verdicts of the selected examples (verdict → examples) under the licence check's
    context, and the obligations their judgements carry (each once, in first-seen order)."""
    rows = ledger.con.execute(
        f"SELECT j.verdict, count(*), any_value(j.obligations) FROM ({CURRENT_DECISIONS}) c "
        f"SEMI JOIN {SELECTION_TABLE} USING (example_id) "
        "JOIN licence_judgements j ON j.judgement_no = c.ref GROUP BY j.verdict, j.judgement_no",
        [context_id],
    ).fetchall()
    verdicts: dict[str, int] = {}
    seen: dict[str, dict[str, Any]] = {}
    for verdict, n, obligations in rows:
        verdicts[verdict] = verdicts.get(verdict, 0) + int(n)
        for o in json.loads(obligations or "[]"):
            seen.setdefault(json.dumps(o, sort_keys=True), o)
    return verdicts, list(seen.values())


def selected_examples(ledger: Ledger) -> list[tuple[str, str | None, str | None, str | None, Any]]:
    """(example id, instruction, input, output, messages) of the selected examples, by id; messages
    parsed from JSON (None for an instruction triple)."""
    rows = ledger.con.execute(
        "SELECT e.example_id, e.instruction, e.input, e.output, e.messages FROM examples e "
        f"SEMI JOIN {SELECTION_TABLE} USING (example_id) ORDER BY e.example_id"
    ).fetchall()
    return [(eid, ins, given, out, json.loads(msgs) if msgs else None) for eid, ins, given, out, msgs in rows]


# ---- waivers ----------------------------------------------------------------------------------------


def waivers(ledger: Ledger, active_on: date | None = None) -> list[tuple[Any, ...]]:
    """(waiver id, check, example id, teacher, reason, approver, expires, audit row) of every waiver
    that counts (see ``_HONOURED``: rows forged with SQL are left out), oldest first; only those
    that have not expired on ``active_on`` when given (the expiry day counts)."""
    if active_on is None:
        return ledger.con.execute(
            f"SELECT {_WAIVER_COLUMNS} {_HONOURED} ORDER BY w.created_at, w.waiver_id"
        ).fetchall()
    return ledger.con.execute(
        f"SELECT {_WAIVER_COLUMNS} {_HONOURED} AND w.expires >= ? ORDER BY w.created_at, w.waiver_id",
        [active_on],
    ).fetchall()


def has_teacher(ledger: Ledger, model: str) -> bool:
    """Whether a teacher of this model is recorded."""
    row = ledger.con.execute("SELECT 1 FROM teachers WHERE model = ? LIMIT 1", [model]).fetchone()
    return row is not None


def teacher_models(ledger: Ledger) -> list[str]:
    """The recorded teachers' models, sorted."""
    return [m for (m,) in ledger.con.execute("SELECT DISTINCT model FROM teachers ORDER BY 1").fetchall()]


def check_has_run(ledger: Ledger, check: str) -> bool:
    """Whether a check of this name has decided anything on this ledger (it has a decision context)."""
    row = ledger.con.execute(
        "SELECT 1 FROM decision_contexts WHERE check_name = ? LIMIT 1", [check]
    ).fetchone()
    return row is not None
