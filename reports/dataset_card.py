"""The Hugging Face dataset card (README.md with YAML metadata), written from a ledger's facts.

Every number on the card comes from :func:`reports.facts.collect`; nothing is estimated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from provenance.core.files import write_text
from provenance.core.vocabulary import NOT_PERMITTED
from reports.card_text import (
    PROCEDURES,
    TEMPLATE,
    audit_section,
    checks_section,
    hub_licence,
    mix,
    pii_section,
    requirement,
    safe,
    table,
    unique,
)
from reports.facts import DatasetFacts, Facts, Generation, Source

_GENERATION_KEYS = (
    "seeds_in_pool",
    "round_size",
    "prompt_instructions",
    "machine_in_prompt",
    "temperature",
    "top_p",
    "max_tokens",
    "rouge_threshold",
    "max_instances",
    "random_seed",
)


def _creators(dataset: DatasetFacts, sources: list[Source]) -> list[str]:
    """annotations_creators / language_creators from the origin mix.

    Instruction data has no separate annotation layer: the responses are the annotations and the
    instructions and responses are the language, so both fields get the same values. Machine origin
    (a teacher wrote it) is ``machine-generated``. Human seed tasks were written on purpose by the
    people who built the seed set: ``expert-generated``. Other human examples came in by import; with
    a declared source they are ``found`` (collected from an existing source), without one ``other``.
    Unknown origin is ``other``: it is not claimed to be human or machine.
    """
    origin, method = dataset.origin, dataset.method
    out = []
    if origin.get("machine", 0) > 0:
        out.append("machine-generated")
    human, seeds = origin.get("human", 0), method.get("seed", 0)
    if human > 0 and seeds > 0:
        out.append("expert-generated")
    if human > seeds:
        out.append("found" if sources else "other")
    if origin.get("unknown", 0) > 0 and "other" not in out:
        out.append("other")
    return out or ["other"]


def _source_datasets(dataset: DatasetFacts, sources: list[Source]) -> list[str]:
    """The hub's convention: ``original`` for data made here, ``extended|<source>`` for each declared
    source (a hub dataset id or a URL, as declared) the data was taken or derived from."""
    method = dataset.method
    covered = sum(int(s.examples or 0) for s in sources)
    made_here = any(method.get(m, 0) > 0 for m in ("teacher", "self")) or covered < dataset.examples
    out = ["original"] if made_here or not sources else []
    return out + [f"extended|{s.source}" for s in sources if s.source]


def _dataset_data(facts: Facts, pretty_name: str) -> Any:
    from huggingface_hub import DatasetCardData

    dataset, lic, sources = facts.dataset, facts.licences, facts.sources
    licence, name, link = hub_licence(lic.expressions.keys())
    creators = _creators(dataset, sources)
    extra: dict[str, Any] = {"license_name": name, "license_link": link}
    if dataset.chat_examples > 0:
        extra["task_ids"] = ["dialogue-modeling"]
    return DatasetCardData(
        pretty_name=pretty_name,
        license=licence,
        language=["en"],
        multilinguality="monolingual",
        annotations_creators=list(creators),
        language_creators=list(creators),
        size_categories=[dataset.size_category],
        source_datasets=_source_datasets(dataset, sources),
        task_categories=["text-generation"],
        tags=["synthetic", "instruction-tuning", "provenance"],
        teachers=[
            {
                "model": t.model,
                "provider": t.provider,
                "examples": t.examples,
                "licences": t.licences,
                "terms": t.terms,
                "terms_status": t.terms_status,
                "verdicts": t.verdicts,
            }
            for t in facts.teachers
        ],
        terms={
            "licences": [{"expression": k, "examples": v} for k, v in lic.expressions.items()],
            "terms": [{"terms": k, "examples": v} for k, v in lic.terms.items()],
            "conflicts": lic.conflicts,
        },
        provenance={
            "audit_chain_head": facts.audit.head,
            "audit_entries": facts.audit.entries,
            "tool": "provenance",
            "tool_version": facts.tool_version,
            "gate": facts.gate.verdict if facts.gate else None,
            "gated_dataset": facts.gate.dataset if facts.gate else None,
        },
        **{k: v for k, v in extra.items() if v is not None},
    )


# ---- the body, section by section -----------------------------------------------------------------


def _what(facts: Facts, title: str) -> list[str]:
    d = facts.dataset
    return [
        f"# {safe(title)}",
        "",
        f"This card was written by provenance {facts.tool_version} from its ledger. Every number on "
        "it is read from the ledger; nothing was estimated.",
        "",
        "## What the data is",
        "",
        f"- {d.examples} examples: {d.instruction_examples} instruction examples "
        f"(instruction, input, output) and {d.chat_examples} chat examples; size category "
        f"`{d.size_category}`.",
        f"- Who wrote them: {mix(d.origin)}.",
        f"- How they entered the ledger: {mix(d.method)}.",
        f"- {d.seeds} seed tasks; {d.machine_instructions} instructions written by a teacher model.",
        f"- Teacher mix (examples): {mix(d.teachers)}.",
        "",
    ]


def _teachers(facts: Facts) -> list[str]:
    lines = ["## Teachers and their terms", ""]
    if not facts.teachers:
        return [*lines, "No example in this ledger was written by a teacher model.", ""]
    lines += table(
        ["teacher", "provider", "examples", "licence", "terms", "terms status", "licence verdict"],
        [
            [
                t.model or "unknown teacher",
                t.provider,
                t.examples,
                ", ".join(t.licences),
                ", ".join(t.terms),
                ", ".join(t.terms_status),
                mix(t.verdicts) if t.verdicts else "not judged (no licence check ran)",
            ]
            for t in facts.teachers
        ],
    )
    lines += [""]
    for t in facts.teachers:
        obligations = unique(t.obligations)
        if obligations:
            lines += [f"Obligations from {safe(t.model)}'s terms:", ""]
            lines += [requirement(o, model=False) for o in obligations]
            lines += [""]
    return lines


def _generation(g: Generation) -> list[str]:
    p = g.params
    name = PROCEDURES.get(str(g.method), f"`{safe(g.method)}`")
    lines = [
        f"- **{name}** with teacher `{safe(g.teacher_model)}`: {g.accepted} candidates "
        f"accepted, {g.rejected} rejected, {g.calls} teacher calls.",
    ]
    shown = [f"{k} {p[k]}" for k in _GENERATION_KEYS if p.get(k) is not None]
    if shown:
        lines.append(f"  Parameters: {', '.join(shown)}.")
    if p.get("templates"):
        lines.append(
            "  Prompt templates (sha256): "
            + ", ".join(f"`{k}` {str(v)[:12]}…" for k, v in p["templates"].items())
            + "."
        )
    return lines


def _how(facts: Facts) -> list[str]:
    lines = ["## How it was made", ""]
    for g in facts.generation:
        lines += _generation(g)
    if not facts.generation:
        lines.append("- No generation ran in this ledger.")
    for s in facts.sources:
        lines.append(f"- Imported or read from `{safe(s.source)}`: {s.examples} examples.")
    return lines


def _licences(facts: Facts, licence: tuple[str, str | None, str | None]) -> list[str]:
    lic = facts.licences
    lines = ["", "## Licences and terms", ""]
    lines += table(["licence (SPDX expression)", "examples"], [[k, v] for k, v in lic.expressions.items()])
    lines += ["", *table(["terms (status)", "examples"], [[k, v] for k, v in lic.terms.items()])]
    hub, name, _ = licence
    lines += [""]
    if hub == "other":
        lines.append(
            f"The hub's `license` field says `other` (`{name}`): the data carries "
            f"{len(lic.expressions)} licence expression(s) that no single hub licence "
            "states; the exact expressions are above and in the metadata key `terms`."
        )
    elif hub == "unknown":
        lines.append("The hub's `license` field says `unknown`: no licence is recorded for this data.")
    else:
        lines.append(f"The hub's `license` field says `{hub}`.")
    return [
        *lines,
        "",
        f"Licence conflicts: {lic.conflicts} examples carry conflicting licence declarations."
        if lic.conflicts
        else "Licence conflicts: none recorded.",
        "",
    ]


def _lineage(facts: Facts) -> list[str]:
    lin = facts.lineage
    lines = [
        "## Seeds and lineage",
        "",
        f"- {lin.seeds} seeds; {lin.seeds_with_machine_descendants} of them have "
        "descendants written by a teacher.",
        f"- Deepest lineage: {lin.max_depth} generations from a seed.",
    ]
    top = [s for s in lin.per_seed if s.examples > 1][:5]
    if top:
        lines.append(
            "- Seeds with the most descendants (examples reached): "
            + ", ".join(f"`{safe(s.name or s.external_id)}` {s.examples}" for s in top)
            + "."
        )
    return lines


def _gate(facts: Facts) -> list[str]:
    lines = ["", "## Gate", ""]
    gate = facts.gate
    if gate:
        lines.append(
            f"The latest gate run **{str(gate.verdict).upper()}**: "
            f"policy pack `{safe(gate.pack)}`, "
            f"student `{safe(gate.student)}`; it selected {gate.selected} of "
            f"{gate.examples} examples as dataset `{gate.dataset}` (Merkle root over the "
            "sorted example ids)."
        )
        for r in gate.reasons:
            text = f"{r.get('code')}: {r.get('message')}" if isinstance(r, dict) else r
            lines.append(f"- {safe(text)}")
        if gate.waivers_used:
            lines.append(f"- Waivers used: {len(gate.waivers_used)}.")
    else:
        lines.append("No gate has run on this ledger: the data has not been cleared to train a model.")
    if facts.trainings:
        lines += ["", "Models trained from this ledger:", ""]
        lines += table(
            ["training", "student", "dataset (Merkle root)", "examples", "weights sha256"],
            [
                [
                    str(t.training_id)[:12],
                    t.student,
                    str(t.dataset_id)[:16] + "…",
                    t.dataset_examples,
                    t.model_digest,
                ]
                for t in facts.trainings
            ],
        )
    return lines


def _limitations(facts: Facts) -> list[str]:
    lines = ["", "## Limitations and obligations", ""]
    obligations = unique(o for t in facts.teachers for o in t.obligations)
    lines += [requirement(o, model=False) for o in obligations]
    verdicts: dict[str, int] = {}
    for t in facts.teachers:
        for v, n in t.verdicts.items():
            verdicts[v] = verdicts.get(v, 0) + int(n)
    if verdicts.get("research_only"):
        lines.append(f"- {verdicts['research_only']} examples are for research and non-commercial use only.")
    for v in sorted(NOT_PERMITTED):
        if verdicts.get(v):
            lines.append(f"- {verdicts[v]} teacher-written examples have the licence verdict `{v}`.")
    for name, n in facts.dataset.unknown.items():
        if n:
            lines.append(f"- {n} examples have no recorded {name} (stored as unknown, not guessed).")
    for c in facts.checks:
        if not c.ran:
            lines.append(f"- The {safe(c.name)} check did not run: its risks are not assessed.")
    if any("PERSON" in str(n) for n in facts.pii.notes):
        lines.append("- Names of people were not detected (PERSON detection off).")
    machine = facts.dataset.origin.get("machine", 0)
    if machine:
        lines.append(
            f"- {machine} examples were written by a machine: they carry the teacher's errors and "
            "biases, and a student trained on them is unlikely to exceed its teacher."
        )
    return [*lines, "- This card records terms and verdicts; it is not legal advice."]


def _dataset_body(facts: Facts, title: str, licence: tuple[str, str | None, str | None]) -> str:
    lines = [
        *_what(facts, title),
        *_teachers(facts),
        *_how(facts),
        *_licences(facts, licence),
        "## Checks",
        "",
        *checks_section(facts),
        "## Personal information",
        "",
        *pii_section(facts),
        *_lineage(facts),
        *_gate(facts),
        *_limitations(facts),
        "",
        "## Provenance",
        "",
        *audit_section(facts),
    ]
    return "\n".join(lines)


def dataset_card(facts: Facts, *, pretty_name: str | None = None) -> str:
    """The dataset card (README.md text: YAML metadata and body) for a ledger's facts."""
    from huggingface_hub import DatasetCard

    title = pretty_name or "Synthetic instruction data"
    licence = hub_licence(facts.licences.expressions.keys())
    data = _dataset_data(facts, title)
    card = DatasetCard.from_template(data, template_str=TEMPLATE, body=_dataset_body(facts, title, licence))
    return str(card).rstrip("\n") + "\n"


def write_dataset_card(facts: Facts, out_dir: Path, **kw: Any) -> Path:
    """Write the dataset card to ``<out_dir>/README.md``; return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "README.md"
    write_text(path, dataset_card(facts, **kw))
    return path
