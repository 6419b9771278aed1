"""What the SPDX documents and the Croissant description both say, worded once.

How the examples were made, what the checks found (or why they did not look), the teachers'
structural bias, the preprocessing, the anonymization and the texts of ``LicenseRef-*`` ids.
"""

from __future__ import annotations

import re

from provenance.core.vocabulary import DONE
from reports.facts import Check, Facts, Obligation

NOASSERTION = "NOASSERTION"
_COMPOUND = re.compile(r"\s(AND|OR)\s", re.IGNORECASE)
LICENSE_REF = re.compile(r"(?<![\w.:-])LicenseRef-[A-Za-z0-9.\-]+")
_GENERATION_PARAMS = (
    "api",
    "temperature",
    "top_p",
    "max_tokens",
    "rouge_threshold",
    "round_size",
    "random_seed",
)


def combined_licence(expressions: list[str] | set[str]) -> str:
    """The AND of distinct licence expressions (compound ones in parentheses); NOASSERTION when any is
    unknown, because an unknown licence cannot be part of an SPDX expression."""
    distinct = sorted(set(expressions))
    if not distinct or any(e.strip().lower() in ("unknown", "noassertion", "") for e in distinct):
        return NOASSERTION
    if len(distinct) == 1:
        return distinct[0]
    return " AND ".join(f"({e})" if _COMPOUND.search(e) else e for e in distinct)


def count_list(counts: dict[str, int]) -> str:
    """``a 3, b 2`` from a mapping of counts."""
    return ", ".join(f"{k} {v}" for k, v in counts.items())


def first_clause(text: str, limit: int = 160) -> str:
    """The first clause of a reason, at most ``limit`` characters."""
    short = re.split(r": |\. ", text or "", maxsplit=1)[0].strip()
    return short if len(short) <= limit else short[: limit - 1] + "…"


def pii_presence(facts: Facts) -> str:
    """SPDX PresenceType of personal information: yes, no or noAssertion (the check did not run)."""
    if not facts.pii.ran:
        return "noAssertion"
    return "yes" if int(facts.pii.examples_with_pii or 0) > 0 else "no"


def anonymization_methods(facts: Facts) -> list[str]:
    """The replacements the redaction made, one per entity found; none without redacted copies."""
    if int(facts.pii.redacted or 0) <= 0:
        return []
    return [f"presidio {entity} replacement" for entity in sorted(facts.pii.entities)] or [
        "presidio entity replacement"
    ]


def collection_process(facts: Facts) -> str:
    """How the examples came to be: seeds, generation runs (method, teacher, endpoint), imports."""
    ds = facts.dataset
    lines = [
        f"{ds.examples} examples recorded in a provenance ledger, one provenance row per claim "
        f"(by origin: {count_list(ds.origin) or 'none'}; by method: "
        f"{count_list(ds.method) or 'none'})."
    ]
    if ds.seeds:
        lines.append(f"{ds.seeds} human-written seed tasks.")
    for g in facts.generation:
        params = g.params
        shown = ", ".join(f"{k}={params[k]}" for k in _GENERATION_PARAMS if params.get(k) is not None)
        pool = params.get("seeds_in_pool")
        lines.append(
            f"{g.method} generation with teacher {g.teacher_model or 'unknown'} through "
            f"{g.endpoint or 'a local model'}: {g.accepted} candidates accepted, "
            f"{g.rejected} rejected, {g.calls} teacher calls"
            + (f", {pool} seeds in the prompt pool" if pool is not None else "")
            + (f" ({shown})" if shown else "")
            + "."
        )
    for t in facts.teachers:
        terms = ", ".join(t.terms) or "unknown terms"
        status = ", ".join(t.terms_status) or "unknown"
        lines.append(
            f"Teacher {t.model or 'unknown'} ({t.provider or 'unknown provider'}): "
            f"{t.examples} examples under {terms} (training other models: {status})."
        )
    for s in facts.sources:
        lines.append(f"Imported from {s.source}: {s.examples} examples.")
    return "\n".join(lines)


def teacher_written(facts: Facts) -> dict[str, int]:
    """Teacher model -> examples it wrote, ledger-wide."""
    return {t.model: int(t.examples) for t in facts.teachers if t.model}


def teacher_bias(written: dict[str, int]) -> list[str]:
    """The structural limit of distilled data, for the teachers that wrote it (model -> examples)."""
    if not written:
        return []
    names = ", ".join(f"{model} ({n} examples)" for model, n in written.items())
    return [
        f"Written by teacher models: {names}. The data inherits the teachers' errors and biases, and a "
        "student trained on it is not expected to exceed them."
    ]


def _finding(c: Check) -> str | None:
    """What a check that ran found, or None when it found nothing."""
    found = {k: int(v) for k, v in c.counts.items() if k != "pass" and v}
    if not found:
        return None
    done = ", ".join(f"{n} {DONE.get(k, k)}" for k, n in found.items())
    reasons = "; ".join(f"{r}: {n}" for r, n in c.top_reasons[:3])
    return (
        f"{c.name}: {sum(found.values())} of {c.examples} examples with findings "
        f"({done})" + (f": {reasons}" if reasons else "") + "."
    )


def check_statements(facts: Facts) -> list[tuple[Check, str]]:
    """Each check with what it found the data skewed or limited by, or why it did not look.

    Licence and PII checks that ran are left out (the concluded licence and the PII fields say
    what they found), and so is a check that ran and found nothing."""
    out = []
    for c in facts.checks:
        if not c.ran:
            reason = first_clause(c.not_run_reason or "no reason recorded")
            out.append((c, f"Not assessed: the {c.name} check did not run ({reason})."))
            continue
        if c.kind in ("licence", "pii"):  # licence: the concluded licence; PII: its own fields
            continue
        text = _finding(c)
        if text is not None:
            out.append((c, text))
    return out


def check_biases(facts: Facts) -> list[str]:
    """What the checks found the data skewed or limited by, and which checks did not look."""
    return [text for _, text in check_statements(facts)]


def preprocessing_steps(facts: Facts) -> list[str]:
    """Each check that ran with its decisions, and the PII redaction."""
    out = [
        f"{c.name} check v{c.version} (policy pack {c.pack}, action {c.action}): {count_list(c.counts)}"
        for c in facts.checks
        if c.ran
    ]
    redacted = int(facts.pii.redacted or 0)
    if redacted:
        out.append(f"PII redaction: {redacted} redacted copies (each a new example; the original is kept)")
    return out


def obligation_texts(obligations: list[Obligation]) -> list[str]:
    """The distinct texts of obligations, in order."""
    return list(dict.fromkeys(str(o.get("text")) for o in obligations if o.get("text")))


def ref_texts(facts: Facts, licences: list[str]) -> dict[str, str]:
    """Each LicenseRef used, with the terms of the teachers whose licences name it."""
    refs = sorted({ref for expr in licences for ref in LICENSE_REF.findall(expr)})
    out = {}
    for ref in refs:
        terms = sorted(
            {
                term
                for t in facts.teachers
                if any(ref in LICENSE_REF.findall(lic) for lic in t.licences)
                for term in t.terms
            }
        )
        out[ref] = (
            f"See the teacher's terms: {', '.join(terms)}"
            if terms
            else f"{ref} is declared on examples in the provenance ledger; no licence text is recorded there."
        )
    return out
