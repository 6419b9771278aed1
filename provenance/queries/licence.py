"""Named reads for the licence check: provenance sets, examples per combination of sets, judgements."""

from __future__ import annotations

from typing import Any

from provenance.core.checks_store import LICENCE_CANDIDATES
from provenance.core.ledger import Ledger

_SETS = """
    SELECT s.set_id, s.origin, s.method, t.model AS teacher, s.licence, s.terms_id, s.terms_version,
           s.terms_status, s.source
    FROM provenance_sets s LEFT JOIN teachers t USING (teacher_id)
"""
#: Examples per combination of sets (a single set's id is its own combination).
_COMBO_COUNTS = f"""
    SELECT combo, sum(n)::BIGINT AS n FROM (
        SELECT set_id AS combo, count(*) AS n FROM provenance GROUP BY set_id
        UNION ALL
        SELECT set_id, -count(*) FROM provenance SEMI JOIN {LICENCE_CANDIDATES} USING (example_id)
        GROUP BY set_id
        UNION ALL
        SELECT combo, count(*) FROM {LICENCE_CANDIDATES} GROUP BY combo
    ) GROUP BY combo HAVING sum(n) > 0
"""


def provenance_sets(ledger: Ledger) -> list[dict[str, Any]]:
    """Every provenance set with what it declares (the teacher by model id)."""
    return ledger.rows(_SETS)


def combo_counts(ledger: Ledger) -> dict[str, int]:
    """Combination of sets (comma-separated set ids) → examples that carry exactly it.

    Needs :func:`provenance.core.checks_store.build_licence_candidates` first.
    """
    return {r["combo"]: r["n"] for r in ledger.rows(_COMBO_COUNTS)}


def judgement_numbers(ledger: Ledger, judgement_ids: list[str]) -> dict[str, int]:
    """Judgement id → number, for the judgements among these that are stored."""
    if not judgement_ids:
        return {}
    return {
        r["judgement_id"]: r["judgement_no"]
        for r in ledger.rows(
            "SELECT judgement_id, judgement_no FROM licence_judgements "
            "WHERE judgement_id IN (SELECT UNNEST(?::VARCHAR[]))",
            [judgement_ids],
        )
    }
