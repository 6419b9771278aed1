"""A Croissant 1.1 description of the dataset with its Responsible-AI (RAI) fields, from the facts.

The description points at ``data.jsonl`` next to it, written by :func:`provenance.core.export.export`
(one example a line, with every provenance claim), and reads its ``examples`` record set from that
file by column. The RAI fields say what the ledger knows and nothing else: how the examples were
made, the checks' findings (or why a check did not run), the PII check's counts, the teachers'
licence verdicts and obligations. They share their wording with the SPDX documents
(:mod:`reports.statements`). No example text appears in the description.

mlcroissant (``pip install 'provenance[croissant]'``) validates it offline:
:func:`reports.croissant_validate.validate` loads it back, reads a few records and compares them with
the ledger.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from provenance.core.errors import ProvenanceError
from provenance.core.files import write_text
from provenance.core.ids import digest_file
from provenance.core.vocabulary import NOT_PERMITTED
from reports.card_text import mask_emails
from reports.facts import Check, Facts, Obligation
from reports.statements import (
    anonymization_methods,
    check_statements,
    collection_process,
    combined_licence,
    count_list,
    first_clause,
    preprocessing_steps,
    ref_texts,
    teacher_bias,
    teacher_written,
)

CROISSANT_FILE = "croissant.json"
DATA_FILE = "data.jsonl"
RECORD_SET = "examples"
INSTALL_HINT = "pip install 'provenance[croissant]'"
CROISSANT_1_1 = "http://mlcommons.org/croissant/1.1"
RAI_1_0 = "http://mlcommons.org/croissant/RAI/1.0"
_SPDX_LIST = "https://spdx.org/licenses/{}.html"
_NOT_APPLIED = ("drop", "flag", "block")
# The Croissant 1.1 JSON-LD context (as mlcroissant writes it for 1.1), with the RAI prefix.
CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "arrayShape": "cr:arrayShape",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "containedIn": "cr:containedIn",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "description": {"@container": "@language"},
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isArray": "cr:isArray",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "name": {"@container": "@language"},
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}
# Columns of the export, and what each holds.
_COLUMNS = (
    ("example_id", "id", "Example id: sha256 of the canonical JSON of its content."),
    ("kind", "kind", "instruction (instruction, input, output) or chat (messages)."),
    ("instruction", "instruction", "The task."),
    ("input", "input", "The task's input; empty when it has none."),
    ("output", "output", "The response."),
)
_CLAIMS = (
    ("origin", "Who wrote it: human, machine (a teacher model) or unknown."),
    ("method", "How it entered the ledger: seed, imported, teacher, self, redacted or verified."),
    ("teacher", "The teacher model that wrote it; none for human-written examples."),
    ("teacher_provider", "The teacher's provider."),
    ("licence", "The licence declared for it, as an SPDX expression."),
    ("terms", "The id of the teacher's terms of use."),
    ("terms_version", "The version of those terms."),
    ("terms_status", "What the terms say about training other models with the output."),
    ("source", "The dataset or file it was imported from."),
)


class CroissantUnavailable(ProvenanceError):
    """mlcroissant is not installed: the description cannot be validated. Exit code 3 (environment)."""

    exit_code = 3


class CroissantError(ProvenanceError):
    """A description that mlcroissant rejects or whose records do not match the ledger. Exit code 3."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("the Croissant description is invalid:\n" + "\n".join(f"- {p}" for p in problems))


def require_mlcroissant() -> Any:
    """Import mlcroissant, or raise :class:`CroissantUnavailable` saying how to install it."""
    try:
        import mlcroissant
    except ImportError as exc:
        raise CroissantUnavailable(
            f"writing a Croissant description needs mlcroissant, not importable here ({exc}); "
            f"install it with: {INSTALL_HINT}"
        ) from None
    return mlcroissant


# ---- what it says -------------------------------------------------------------------------------


def _mask(value: Any) -> Any:
    """Free text from the ledger with e-mail addresses masked, as on the cards."""
    if isinstance(value, str):
        return mask_emails(value)
    if isinstance(value, list):
        return [_mask(v) for v in value]
    return value


def _collection_types(facts: Facts) -> list[str]:
    """rai:dataCollectionType from the origin and method mix (the vocabulary's recommended values)."""
    origin, method = facts.dataset.origin, facts.dataset.method
    out = []
    if method.get("seed"):
        out.append("Manual Human Curator")
    if facts.sources:
        out.append("Secondary Data analysis")
    if origin.get("machine"):
        out.append("Others: synthetic data, written by teacher language models")
    return out


def _personal(facts: Facts) -> list[str]:
    """rai:personalSensitiveInformation: what the PII check found, or that it did not look."""
    pii = facts.pii
    check = facts.check("pii")
    n = int(facts.dataset.examples or 0)
    if not pii.ran:
        why = first_clause(check.not_run_reason or "no reason recorded") if check else None
        return [
            "Not assessed: the PII check did not run on this ledger"
            + (f" ({why})" if why else " (no check run has included it)")
            + ". Nothing is known about personal information in this data."
        ]
    found = int(pii.examples_with_pii or 0)
    pack = f" (policy pack {check.pack})" if check and check.pack else ""
    if not found:
        checked = _check_n(check, n)
        out = [f"The PII check{pack} found no personal information in the {checked} examples it checked."]
    else:
        out = [
            f"The PII check{pack} found personal information in {found} of {_check_n(check, n)} examples"
            + (f"; findings by entity: {count_list(pii.entities)}." if pii.entities else ".")
        ]
    redacted = int(pii.redacted or 0)
    if redacted:
        methods = ", ".join(anonymization_methods(facts))
        out.append(
            f"{redacted} redacted copies ({methods}) are in {DATA_FILE} next to their originals (lineage "
            "relation redacted-from); the originals still hold the personal information."
        )
    elif found:
        out.append(
            f"No redacted copies: the {found} examples are in {DATA_FILE} as recorded, their personal "
            "information unredacted."
        )
    out.extend(str(note) for note in pii.notes)
    return out


def _check_n(check: Check | None, default: int) -> int:
    """The number of examples a check judged (the ledger's count when it does not say)."""
    return int((check.examples if check else 0) or default)


def _biases_and_limitations(facts: Facts) -> tuple[list[str], list[str]]:
    """rai:dataBiases (the teachers, content findings) and rai:dataLimitations (checks that did not
    run, contamination, decisions not applied to the file, licence conflicts)."""
    biases = teacher_bias(teacher_written(facts))
    limits = []
    for check, text in check_statements(facts):
        if not check.ran or check.kind == "contamination":
            limits.append(text)
        else:
            biases.append(text)
    tox = facts.toxicity
    if tox.ran:
        high = sum(tox.bins[5:])
        biases.append(
            f"Toxicity scores of {tox.scored} examples (ten bins over 0..1): "
            f"{', '.join(map(str, tox.bins))}; {high} at 0.5 or above."
        )
    decided = []
    for c in facts.checks:
        counts = {k: v for k, v in c.counts.items() if k in _NOT_APPLIED and v}
        if c.ran and counts:
            decided.append(f"{c.name} {count_list(counts)}")
    if decided:
        limits.append(
            f"{DATA_FILE} holds every example of the ledger: the checks' decisions ({'; '.join(decided)}) "
            "are not applied to it. The gate applies them when it selects a training set."
        )
    conflicts = int(facts.licences.conflicts or 0)
    if conflicts:
        limits.append(f"{conflicts} examples carry conflicting licence declarations.")
    return biases, limits


def _obligations(facts: Facts) -> list[Obligation]:
    seen: dict[tuple[Any, ...], Obligation] = {}
    for t in facts.teachers:
        for o in t.obligations:
            seen.setdefault((o.get("kind"), o.get("text"), o.get("when"), o.get("value")), o)
    return list(seen.values())


def _obligation(o: Obligation) -> str:
    """One obligation, its text verbatim, with where it comes from and when it applies."""
    about = [
        f"from {o['source']}" if o.get("source") else "",
        f"applies: {o['when']}" if o.get("when") else "",
    ]
    about = [a for a in about if a]
    text = str(o.get("text") or o.get("kind")).rstrip(". ")
    return f"{text}" + (f" ({'; '.join(about)})" if about else "") + "."


def _verdicts(facts: Facts) -> dict[str, int]:
    """Teacher-written examples by licence verdict."""
    verdicts: dict[str, int] = {}
    for t in facts.teachers:
        for v, k in t.verdicts.items():
            verdicts[v] = verdicts.get(v, 0) + int(k)
    return verdicts


def _use_cases(facts: Facts) -> list[str]:
    """rai:dataUseCases: what the licence check and the gate cleared the data for, with its conditions."""
    out = []
    check = facts.check("licence")
    n = int(facts.dataset.examples or 0)
    verdicts = _verdicts(facts)
    if check is not None and check.ran:
        passed = int(check.counts.get("pass") or 0)
        out.append(
            f"Fine-tuning student models, as the licence check (policy pack {check.pack}) judged "
            f"it: {passed} of {_check_n(check, n)} examples permitted"
            + (f"; teacher-written examples by verdict: {count_list(verdicts)}." if verdicts else ".")
        )
    out.extend(f"Condition: {_obligation(o)}" for o in _obligations(facts))
    if verdicts.get("research_only"):
        out.append(f"{verdicts['research_only']} examples are for research and non-commercial use only.")
    for v in sorted(NOT_PERMITTED):
        if verdicts.get(v):
            out.append(
                f"{verdicts[v]} teacher-written examples have the licence verdict {v}: not for training."
            )
    gate = facts.gate
    if gate:
        out.append(
            f"The latest gate {gate.verdict} under policy pack {gate.pack} for student "
            f"{gate.student}: it selected {gate.selected} of {gate.examples} examples "
            f"as dataset {gate.dataset} (Merkle root over the sorted example ids)."
        )
    for t in facts.trainings:
        out.append(
            f"Used to train student {t.student} (training {str(t.training_id)[:12]}): dataset "
            f"{t.dataset_id}, {t.dataset_examples} examples."
        )
    return out


def _social_impact(facts: Facts) -> str | None:
    """rai:dataSocialImpact: the conditions that travel from the teachers' terms to trained models."""
    obligations = _obligations(facts)
    if not obligations:
        return None
    return (
        "Models trained on this data inherit its teachers' terms: "
        + " ".join(_obligation(o) for o in obligations)
        + " This description records terms and verdicts; it is not legal advice."
    )


def _missing(facts: Facts) -> str | None:
    """rai:dataCollectionMissingData: the provenance fields stored as unknown."""
    unknown = {k: int(v) for k, v in facts.dataset.unknown.items() if v}
    if not unknown:
        return None
    return " ".join(
        f"{n} examples have no recorded {field} (stored as unknown, not guessed)."
        for field, n in unknown.items()
    )


def _licences(facts: Facts) -> list[dict[str, Any]]:
    """schema.org license: each SPDX expression the ledger records, with how many examples carry it."""
    expressions = {k: int(v) for k, v in facts.licences.expressions.items()}
    refs = ref_texts(facts, list(expressions))
    out = []
    for expr, n in expressions.items():
        if expr.lower() in ("unknown", "noassertion"):
            out.append(
                {
                    "@type": "sc:CreativeWork",
                    "name": expr,
                    "description": f"No licence is recorded for {n} examples (stored as unknown, "
                    "not guessed).",
                }
            )
            continue
        notes = [f"SPDX licence expression declared for {n} examples."]
        notes += [f"{ref}: {text}" for ref, text in refs.items() if ref in expr]
        work: dict[str, Any] = {"@type": "sc:CreativeWork", "name": expr, "description": " ".join(notes)}
        if " " not in expr and "LicenseRef-" not in expr:  # one SPDX list id
            work["url"] = _SPDX_LIST.format(expr)
        out.append(work)
    return out


def _description(facts: Facts) -> str:
    ds, audit, run = facts.dataset, facts.audit, facts.check_run
    verify = audit.verify
    declared = combined_licence(list(facts.licences.expressions))
    parts = [
        f"Instruction data recorded in a provenance ledger: {ds.examples} examples "
        f"({ds.instruction_examples} instruction, {ds.chat_examples} chat), "
        f"{ds.seeds} human seed tasks. "
        f"Teacher mix: {count_list(ds.teachers) or 'none'}.",
        f"Each example in {DATA_FILE} carries its provenance claims (origin, method, teacher, licence, "
        "terms, source).",
        f"Declared licence of the whole: {declared}.",
    ]
    if run:
        parts.append(f"Checked under policy pack {run.pack} (check run {run.run_id}).")
    else:
        parts.append("No policy checks have run on this ledger.")
    if audit.head:
        parts.append(f"Audit chain head {audit.head} after {audit.entries} entries.")
    if verify is None:
        parts.append("provenance verify was not run when this description was written.")
    elif verify.get("ok"):
        parts.append("provenance verify passed when this description was written.")
    else:
        parts.append(
            f"provenance verify FAILED when this description was written: {verify.get('first_problem')}."
        )
    parts.append(f"Written by provenance {facts.tool_version} at {facts.generated_at}.")
    return " ".join(parts)


# ---- the document -------------------------------------------------------------------------------


def _field(
    file_id: str, field_id: str, column: str, description: str, json_path: str | None = None
) -> dict[str, Any]:
    """A text field read from a column of the file (and, inside it, a JSON path)."""
    source: dict[str, Any] = {"fileObject": {"@id": file_id}, "extract": {"column": column}}
    if json_path is not None:
        source["transform"] = {"jsonPath": json_path}
    return {
        "@type": "cr:Field",
        "@id": f"{RECORD_SET}/{field_id}",
        "name": field_id.rsplit("/", 1)[-1],
        "description": description,
        "dataType": "sc:Text",
        "source": source,
    }


def _nested(file_id: str, name: str, description: str, subfields: list[tuple[str, str]]) -> dict[str, Any]:
    """An array field (one entry per element of the column's list) with one sub-field per key."""
    return {
        "@type": "cr:Field",
        "@id": f"{RECORD_SET}/{name}",
        "name": name,
        "description": description,
        "isArray": True,
        "arrayShape": "-1",
        "subField": [_field(file_id, f"{name}/{key}", name, text, key) for key, text in subfields],
    }


def _record_set(facts: Facts, file_id: str) -> dict[str, Any]:
    fields = [_field(file_id, name, column, text) for name, column, text in _COLUMNS]
    if int(facts.dataset.chat_examples or 0):
        fields.append(
            _nested(
                file_id,
                "messages",
                "A chat example's messages in order; empty for instruction examples.",
                [("role", "system, user or assistant."), ("content", "The message.")],
            )
        )
    fields.append(
        _nested(
            file_id,
            "provenance",
            "Every provenance claim recorded for the example (the same content imported twice has two).",
            list(_CLAIMS),
        )
    )
    return {
        "@type": "cr:RecordSet",
        "@id": RECORD_SET,
        "name": RECORD_SET,
        "description": "One record per example of the ledger, with its provenance claims.",
        "key": {"@id": f"{RECORD_SET}/example_id"},
        "field": fields,
    }


def croissant_document(facts: Facts, data_file: Path, *, name: str | None = None) -> dict[str, Any]:
    """The Croissant 1.1 JSON-LD (a dict) describing ``data_file`` (an export next to it)."""
    ds = facts.dataset
    biases, limits = _biases_and_limitations(facts)
    doc: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": [CROISSANT_1_1, RAI_1_0],
        "name": name or f"provenance dataset ({ds.examples} examples)",
        "description": _description(facts),
        "license": _licences(facts),
        "distribution": [
            {
                "@type": "cr:FileObject",
                "@id": data_file.name,
                "name": data_file.name,
                "description": "Every example of the ledger with its provenance claims, one JSON object a "
                "line (provenance export --format jsonl).",
                "contentUrl": data_file.name,
                "contentSize": f"{data_file.stat().st_size} B",
                "encodingFormat": "application/jsonlines",
                "sha256": digest_file(str(data_file)),
            }
        ],
        "recordSet": [_record_set(facts, data_file.name)],
        "rai:dataCollection": collection_process(facts),
        "rai:dataCollectionType": _collection_types(facts),
        "rai:dataCollectionMissingData": _missing(facts),
        "rai:dataCollectionRawData": "; ".join(f"{s.source} ({s.examples} examples)" for s in facts.sources)
        or None,
        "rai:dataPreprocessingProtocol": preprocessing_steps(facts),
        "rai:personalSensitiveInformation": _personal(facts),
        "rai:dataBiases": biases,
        "rai:dataLimitations": limits,
        "rai:dataUseCases": _use_cases(facts),
        "rai:dataSocialImpact": _social_impact(facts),
        "rai:machineAnnotationTools": [
            f"{t.model} ({t.provider or 'unknown provider'}): teacher model that wrote {t.examples} examples"
            for t in facts.teachers
            if t.model
        ],
    }
    for key in [k for k in doc if k.startswith("rai:")]:
        if doc[key] in (None, "", []):
            del doc[key]  # only what the ledger knows
        else:
            doc[key] = _mask(doc[key])
    doc["description"] = _mask(doc["description"])
    return doc


def write_croissant(facts: Facts, out_dir: Path, data_file: Path, *, name: str | None = None) -> Path:
    """Write ``<out_dir>/croissant.json`` describing ``data_file`` (which must lie in ``out_dir``)."""
    out_dir = Path(out_dir)
    if Path(data_file).resolve().parent != out_dir.resolve():
        raise ValueError(f"{data_file} is not in {out_dir}: the description points at it by a relative path")
    doc = croissant_document(facts, Path(data_file), name=name)
    path = out_dir / CROISSANT_FILE
    write_text(path, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    return path
