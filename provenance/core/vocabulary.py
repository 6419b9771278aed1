"""The words every layer uses for verdicts and decisions, defined once.

A *verdict* is what the licence and terms judgement says data with some provenance may do
(:class:`~provenance.core.models.TermsStatus`); a *decision* is what a check did to an example.
"""

from __future__ import annotations

from enum import StrEnum

from provenance.core.models import TermsStatus

Verdict = TermsStatus


class Decision(StrEnum):
    """What a check decided for one example; ``pass`` means its finding did not apply."""

    PASS = "pass"
    FLAG = "flag"
    REDACT = "redact"
    DROP = "drop"
    BLOCK = "block"


#: Verdicts under which data may not train the student: a definite no, and unknown (fail closed).
NOT_PERMITTED: frozenset[str] = frozenset({Verdict.PROHIBITED.value, Verdict.UNKNOWN.value})

#: Decisions that keep an example out of a training selection (a redacted example trains only
#: through its redacted copy).
EXCLUDING: tuple[str, ...] = (Decision.DROP.value, Decision.BLOCK.value, Decision.REDACT.value)

#: Decisions in order of severity, for tables and charts.
DECISION_ORDER: tuple[str, ...] = tuple(d.value for d in Decision)

#: A decision as a past participle ("3 dropped").
DONE: dict[str, str] = {
    Decision.PASS.value: "passed",
    Decision.FLAG.value: "flagged",
    Decision.REDACT.value: "redacted",
    Decision.DROP.value: "dropped",
    Decision.BLOCK.value: "blocked",
}


def permitted(verdict: str | None) -> bool:
    """Whether data judged ``verdict`` may train (None, no judgement, never does)."""
    return verdict is not None and verdict not in NOT_PERMITTED
