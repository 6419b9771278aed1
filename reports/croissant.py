"""A Croissant 1.1 description of the dataset with its Responsible-AI (RAI) fields, from the facts.

The description points at ``data.jsonl`` next to it, written by :func:`provenance.core.export.export`
(one example a line, with every provenance claim), and reads its ``examples`` record set from that
file by column. The RAI fields say what the ledger knows and nothing else: how the examples were
made, the checks' findings (or why a check did not run), the PII check's counts, the teachers'
licence verdicts and obligations. They share their wording with the SPDX documents
(:mod:`reports.spdx`). No example text appears in the description.

mlcroissant (``pip install 'provenance[croissant]'``) validates it offline: :func:`validate` loads
it back, reads a few records and compares them with the ledger.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from provenance.core.errors import ProvenanceError
from provenance.core.ids import digest_file
from reports.cards import mask_emails
from reports.facts import check_of
from reports.spdx import (
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

if TYPE_CHECKING:
    from provenance.core.ledger import Ledger

CROISSANT_FILE = "croissant.json"
DATA_FILE = "data.jsonl"
RECORD_SET = "examples"
INSTALL_HINT = "pip install 'provenance[croissant]'"
CROISSANT_1_1 = "http://mlcommons.org/croissant/1.1"
RAI_1_0 = "http://mlcommons.org/croissant/RAI/1.0"
SAMPLE = 5  # records read back and compared with the ledger
_SPDX_LIST = "https://spdx.org/licenses/{}.html"
_NOT_APPLIED = ("drop", "flag", "block")
_TEXT = ("instruction", "input", "output")
_RECOMMENDED = re.compile(r'Property "([^"]+)" is recommended, but does not exist')
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


def _collection_types(facts: dict[str, Any]) -> list[str]:
    """rai:dataCollectionType from the origin and method mix (the vocabulary's recommended values)."""
    ds = facts.get("dataset") or {}
    origin, method = ds.get("origin") or {}, ds.get("method") or {}
    out = []
    if method.get("seed"):
        out.append("Manual Human Curator")
    if facts.get("sources"):
        out.append("Secondary Data analysis")
    if origin.get("machine"):
        out.append("Others: synthetic data, written by teacher language models")
    return out


def _personal(facts: dict[str, Any]) -> list[str]:
    """rai:personalSensitiveInformation: what the PII check found, or that it did not look."""
    pii = facts.get("pii") or {}
    check = check_of(facts, "pii")
    n = int((facts.get("dataset") or {}).get("examples") or 0)
    if not pii.get("ran"):
        why = first_clause(check.get("not_run_reason") or "no reason recorded") if check else None
        return [
            "Not assessed: the PII check did not run on this ledger"
            + (f" ({why})" if why else " (no check run has included it)")
            + ". Nothing is known about personal information in this data."
        ]
    found = int(pii.get("examples_with_pii") or 0)
    pack = f" (policy pack {check.get('pack')})" if check and check.get("pack") else ""
    entities = pii.get("entities") or {}
    if not found:
        checked = _check_n(check, n)
        out = [f"The PII check{pack} found no personal information in the {checked} examples it checked."]
    else:
        out = [
            f"The PII check{pack} found personal information in {found} of {_check_n(check, n)} examples"
            + (f"; findings by entity: {count_list(entities)}." if entities else ".")
        ]
    redacted = int(pii.get("redacted") or 0)
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
    out.extend(str(note) for note in pii.get("notes") or [])
    return out


def _check_n(check: dict[str, Any] | None, default: int) -> int:
    """The number of examples a check judged (the ledger's count when it does not say)."""
    return int((check or {}).get("examples") or default)


def _biases_and_limitations(facts: dict[str, Any]) -> tuple[list[str], list[str]]:
    """rai:dataBiases (the teachers, content findings) and rai:dataLimitations (checks that did not
    run, contamination, decisions not applied to the file, licence conflicts)."""
    biases = teacher_bias(teacher_written(facts))
    limits = []
    for check, text in check_statements(facts):
        if check.get("status") != "ran" or check.get("kind") == "contamination":
            limits.append(text)
        else:
            biases.append(text)
    tox = facts.get("toxicity") or {}
    if tox.get("ran"):
        bins = tox.get("bins") or []
        high = sum(bins[5:])
        biases.append(
            f"Toxicity scores of {tox.get('scored', 0)} examples (ten bins over 0..1): "
            f"{', '.join(map(str, bins))}; {high} at 0.5 or above."
        )
    decided = []
    for c in facts.get("checks") or []:
        counts = {k: v for k, v in (c.get("counts") or {}).items() if k in _NOT_APPLIED and v}
        if c.get("status") == "ran" and counts:
            decided.append(f"{c['name']} {count_list(counts)}")
    if decided:
        limits.append(
            f"{DATA_FILE} holds every example of the ledger: the checks' decisions ({'; '.join(decided)}) "
            "are not applied to it. The gate applies them when it selects a training set."
        )
    conflicts = int((facts.get("licences") or {}).get("conflicts") or 0)
    if conflicts:
        limits.append(f"{conflicts} examples carry conflicting licence declarations.")
    return biases, limits


def _obligations(facts: dict[str, Any]) -> list[dict[str, Any]]:
    seen: dict[tuple[Any, ...], dict[str, Any]] = {}
    for t in facts.get("teachers") or []:
        for o in t.get("obligations") or []:
            seen.setdefault((o.get("kind"), o.get("text"), o.get("when"), o.get("value")), o)
    return list(seen.values())


def _obligation(o: dict[str, Any]) -> str:
    """One obligation, its text verbatim, with where it comes from and when it applies."""
    about = [
        f"from {o['source']}" if o.get("source") else "",
        f"applies: {o['when']}" if o.get("when") else "",
    ]
    about = [a for a in about if a]
    text = str(o.get("text") or o.get("kind")).rstrip(". ")
    return f"{text}" + (f" ({'; '.join(about)})" if about else "") + "."


def _use_cases(facts: dict[str, Any]) -> list[str]:
    """rai:dataUseCases: what the licence check and the gate cleared the data for, with its conditions."""
    out = []
    check = check_of(facts, "licence")
    n = int((facts.get("dataset") or {}).get("examples") or 0)
    verdicts: dict[str, int] = {}
    for t in facts.get("teachers") or []:
        for v, k in (t.get("verdicts") or {}).items():
            verdicts[v] = verdicts.get(v, 0) + int(k)
    if check is not None and check.get("status") == "ran":
        passed = int((check.get("counts") or {}).get("pass") or 0)
        out.append(
            f"Fine-tuning student models, as the licence check (policy pack {check.get('pack')}) judged "
            f"it: {passed} of {_check_n(check, n)} examples permitted"
            + (f"; teacher-written examples by verdict: {count_list(verdicts)}." if verdicts else ".")
        )
    out.extend(f"Condition: {_obligation(o)}" for o in _obligations(facts))
    if verdicts.get("research_only"):
        out.append(f"{verdicts['research_only']} examples are for research and non-commercial use only.")
    for v in ("prohibited", "unknown"):
        if verdicts.get(v):
            out.append(
                f"{verdicts[v]} teacher-written examples have the licence verdict {v}: not for training."
            )
    gate = facts.get("gate")
    if gate:
        out.append(
            f"The latest gate {gate.get('verdict')} under policy pack {gate.get('pack')} for student "
            f"{gate.get('student')}: it selected {gate.get('selected')} of {gate.get('examples')} examples "
            f"as dataset {gate.get('dataset')} (Merkle root over the sorted example ids)."
        )
    for t in facts.get("trainings") or []:
        out.append(
            f"Used to train student {t.get('student')} (training {str(t.get('training_id'))[:12]}): dataset "
            f"{t.get('dataset_id')}, {t.get('dataset_examples')} examples."
        )
    return out


def _social_impact(facts: dict[str, Any]) -> str | None:
    """rai:dataSocialImpact: the conditions that travel from the teachers' terms to trained models."""
    obligations = _obligations(facts)
    if not obligations:
        return None
    return (
        "Models trained on this data inherit its teachers' terms: "
        + " ".join(_obligation(o) for o in obligations)
        + " This description records terms and verdicts; it is not legal advice."
    )


def _missing(facts: dict[str, Any]) -> str | None:
    """rai:dataCollectionMissingData: the provenance fields stored as unknown."""
    unknown = {k: int(v) for k, v in ((facts.get("dataset") or {}).get("unknown") or {}).items() if v}
    if not unknown:
        return None
    return " ".join(
        f"{n} examples have no recorded {field} (stored as unknown, not guessed)."
        for field, n in unknown.items()
    )


def _licences(facts: dict[str, Any]) -> list[dict[str, Any]]:
    """schema.org license: each SPDX expression the ledger records, with how many examples carry it."""
    expressions = {k: int(v) for k, v in ((facts.get("licences") or {}).get("expressions") or {}).items()}
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


def _description(facts: dict[str, Any]) -> str:
    ds = facts.get("dataset") or {}
    audit = facts.get("audit") or {}
    verify = audit.get("verify")
    run = facts.get("check_run") or {}
    declared = combined_licence(list(((facts.get("licences") or {}).get("expressions") or {}).keys()))
    parts = [
        f"Instruction data recorded in a provenance ledger: {ds.get('examples', 0)} examples "
        f"({ds.get('instruction_examples', 0)} instruction, {ds.get('chat_examples', 0)} chat), "
        f"{ds.get('seeds', 0)} human seed tasks. "
        f"Teacher mix: {count_list(ds.get('teachers') or {}) or 'none'}.",
        f"Each example in {DATA_FILE} carries its provenance claims (origin, method, teacher, licence, "
        "terms, source).",
        f"Declared licence of the whole: {declared}.",
    ]
    if run:
        parts.append(f"Checked under policy pack {run.get('pack')} (check run {run.get('run_id')}).")
    else:
        parts.append("No policy checks have run on this ledger.")
    if audit.get("head"):
        parts.append(f"Audit chain head {audit['head']} after {audit.get('entries')} entries.")
    if verify is None:
        parts.append("provenance verify was not run when this description was written.")
    elif verify.get("ok"):
        parts.append("provenance verify passed when this description was written.")
    else:
        parts.append(
            f"provenance verify FAILED when this description was written: {verify.get('first_problem')}."
        )
    parts.append(f"Written by provenance {facts.get('tool_version')} at {facts.get('generated_at')}.")
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


def _record_set(facts: dict[str, Any], file_id: str) -> dict[str, Any]:
    fields = [_field(file_id, name, column, text) for name, column, text in _COLUMNS]
    if int((facts.get("dataset") or {}).get("chat_examples") or 0):
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


def croissant_document(facts: dict[str, Any], data_file: Path, *, name: str | None = None) -> dict[str, Any]:
    """The Croissant 1.1 JSON-LD (a dict) describing ``data_file`` (an export next to it)."""
    ds = facts.get("dataset") or {}
    biases, limits = _biases_and_limitations(facts)
    doc: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": [CROISSANT_1_1, RAI_1_0],
        "name": name or f"provenance dataset ({ds.get('examples', 0)} examples)",
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
        "rai:dataCollectionRawData": "; ".join(
            f"{s['source']} ({s['examples']} examples)" for s in facts.get("sources") or []
        )
        or None,
        "rai:dataPreprocessingProtocol": preprocessing_steps(facts),
        "rai:personalSensitiveInformation": _personal(facts),
        "rai:dataBiases": biases,
        "rai:dataLimitations": limits,
        "rai:dataUseCases": _use_cases(facts),
        "rai:dataSocialImpact": _social_impact(facts),
        "rai:machineAnnotationTools": [
            f"{t['model']} ({t.get('provider') or 'unknown provider'}): teacher model that wrote "
            f"{t['examples']} examples"
            for t in facts.get("teachers") or []
            if t.get("model")
        ],
    }
    for key in [k for k in doc if k.startswith("rai:")]:
        if doc[key] in (None, "", []):
            del doc[key]  # only what the ledger knows
        else:
            doc[key] = _mask(doc[key])
    doc["description"] = _mask(doc["description"])
    return doc


def write_croissant(
    facts: dict[str, Any], out_dir: Path, data_file: Path, *, name: str | None = None
) -> Path:
    """Write ``<out_dir>/croissant.json`` describing ``data_file`` (which must lie in ``out_dir``)."""
    out_dir = Path(out_dir)
    if Path(data_file).resolve().parent != out_dir.resolve():
        raise ValueError(f"{data_file} is not in {out_dir}: the description points at it by a relative path")
    doc = croissant_document(facts, Path(data_file), name=name)
    path = out_dir / CROISSANT_FILE
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", "utf-8")
    partial.replace(path)
    return path


# ---- validation ---------------------------------------------------------------------------------


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def _absl_collected() -> Iterator[list[str]]:
    """mlcroissant logs its warnings through absl to stderr; collect them instead."""
    logger = logging.getLogger("absl")
    handler = _Collect()
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = False
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


def _reason(exc: BaseException) -> str:
    """What went wrong: mlcroissant wraps the cause (a hash mismatch, a missing column) in its own error."""
    messages = []
    seen: BaseException | None = exc
    while seen is not None and len(messages) < 5:
        messages.append(f"{type(seen).__name__}: {seen}")
        seen = seen.__cause__ or seen.__context__
    return f"{messages[-1]} (in {messages[0]})" if len(messages) > 1 else messages[0]


def _number(text: Any) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _same(read: Any, stored: str | None) -> bool:
    """A value read through mlcroissant is the ledger's text, or pandas' number for it: mlcroissant
    reads JSON lines with pandas, which turns a column whose every value looks like a number (as
    the few lines read here may all do) into numbers."""
    if (read or "") == (stored or ""):
        return True
    number, got = _number(stored), _number(read)
    if read is None or (got is not None and math.isnan(got)):  # pandas' NaN: "NaN", or no value
        return not stored or (number is not None and math.isnan(number))
    return number is not None and number == got


def _numeric_columns(ledger: Ledger) -> list[str]:
    """The text columns whose every value looks like a number: mlcroissant returns numbers for them."""
    counts = ", ".join(f"count({c}), count(TRY_CAST({c} AS DOUBLE))" for c in _TEXT)
    row = ledger.con.execute(f"SELECT {counts} FROM examples").fetchone()
    return [c for i, c in enumerate(_TEXT) if row[2 * i] and row[2 * i] == row[2 * i + 1]]


def _text(value: Any) -> Any:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def load(path: Path) -> Any:
    """Load a description with mlcroissant (offline: its files are local); raise CroissantError."""
    return _load(path)[0]


def _load(path: Path) -> tuple[Any, list[str]]:
    """The loaded description and what mlcroissant logged about it besides its issues."""
    mlc = require_mlcroissant()
    doc = json.loads(Path(path).read_text("utf-8"))
    for node in doc.get("distribution") or []:
        url = str(node.get("contentUrl") or "")
        if "://" in url:
            raise CroissantError([f"{node.get('@id')}: contentUrl {url} is not a local file"])
    try:
        with _absl_collected() as logged:
            dataset = mlc.Dataset(jsonld=Path(path))
    except Exception as exc:  # mlcroissant raises ValidationError, ValueError, KeyError, ...
        raise CroissantError([_reason(exc)]) from exc
    logged = [m for m in logged if not m.startswith("Found the following")]  # the issues, again
    # mlcroissant keeps the properties it does not know aside and says nothing; here they are errors.
    nodes = [
        *dataset.metadata.nodes(),
        *(w for w in dataset.metadata.license or [] if not isinstance(w, str)),
    ]
    unknown = [
        f"{'the dataset' if isinstance(node, mlc.Metadata) else f'{type(node).__name__} {node.id}'}: {key}"
        for node in nodes
        for key in node.extra_properties
    ]
    if unknown:
        raise CroissantError([f"not a Croissant 1.1 or RAI property: {u}" for u in unknown])
    return dataset, logged


def records(dataset: Any, limit: int | None = None) -> Iterator[dict[str, Any]]:
    """The ``examples`` records as plain dicts (field name -> value, text decoded), in file order."""
    prefix = f"{RECORD_SET}/"
    for i, record in enumerate(dataset.records(RECORD_SET)):
        if limit is not None and i >= limit:
            return
        out: dict[str, Any] = {}
        for key, value in record.items():
            short = key.removeprefix(prefix)
            if isinstance(value, list):
                out[short] = [
                    {k.removeprefix(f"{prefix}{short}/"): _text(v) for k, v in item.items()}
                    if isinstance(item, dict)
                    else _text(item)
                    for item in value
                ]
            else:
                out[short] = _text(value)
        yield out


@contextlib.contextmanager
def _head(path: Path, description: Path, sample: int) -> Iterator[Any]:
    """A copy of ``description`` whose file is the first ``sample`` lines of its data file, loaded.

    mlcroissant reads a JSON-lines file whole (pandas), several times its size in memory; a few
    records read through it need only a few lines."""
    mlc = require_mlcroissant()
    doc = json.loads(description.read_text("utf-8"))
    with tempfile.TemporaryDirectory(prefix="croissant-") as tmp:
        head = Path(tmp) / path.name
        with path.open("rb") as src, head.open("wb") as dst:
            for _, line in zip(range(sample), src, strict=False):
                dst.write(line)
        (node,) = doc["distribution"]
        node.update(sha256=digest_file(str(head)), contentSize=f"{head.stat().st_size} B")
        (Path(tmp) / description.name).write_text(json.dumps(doc), "utf-8")
        yield mlc.Dataset(jsonld=Path(tmp) / description.name)


def _sha256_and_lines(path: Path) -> tuple[str, int]:
    """The sha256 of a file and its number of lines, in one read."""
    digest, lines, last = hashlib.sha256(), 0, b"\n"
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return digest.hexdigest(), lines + (last != b"\n")  # a last line without its newline counts


def validate(path: Path, ledger: Ledger, *, expected: int, sample: int = SAMPLE) -> dict[str, Any]:
    """Validate the description at ``path`` and the file it names; raise CroissantError.

    mlcroissant loads the description (every property known, every field's source valid); the
    data file must have the sha256 it states and hold ``expected`` examples; its first ``sample``
    records, read through mlcroissant, must match the ledger's examples and provenance claims."""
    path = Path(path)
    dataset, logged = _load(path)
    problems = []
    (node,) = dataset.metadata.distribution
    data = path.parent / node.content_url
    sha, lines = _sha256_and_lines(data)
    if sha != node.sha256:
        raise CroissantError([f"{data.name} does not have the sha256 the description states"])
    if lines != expected:
        problems.append(f"{data.name} holds {lines} examples, the ledger {expected}")
    try:
        with _absl_collected(), _head(data, path, sample) as head:  # its warnings: the same as above
            read = list(records(head))
    except Exception as exc:  # reading runs mlcroissant's whole pipeline: download, hash, extraction
        raise CroissantError([f"reading the {RECORD_SET} records: {_reason(exc)}"]) from exc
    ids = [r.get("example_id") for r in read]
    stored = {
        row["example_id"]: row
        for row in ledger.rows(
            "SELECT example_id, instruction, input, output FROM examples WHERE list_contains(?, example_id)",
            [ids],
        )
    }
    claims: dict[str, list[tuple[Any, ...]]] = {}
    for row in ledger.rows(
        "SELECT example_id, teacher_model, licence, terms_id FROM provenance_records "
        "WHERE list_contains(?, example_id) ORDER BY created_at, provenance_id",
        [ids],
    ):
        claims.setdefault(row["example_id"], []).append(
            (row["teacher_model"], row["licence"], row["terms_id"])
        )
    for r in read:
        row = stored.get(r.get("example_id"))
        if row is None:
            problems.append(f"record {r.get('example_id')}: no such example in the ledger")
            continue
        for field in _TEXT:
            if not _same(r.get(field), row[field]):
                problems.append(f"record {row['example_id'][:12]}: {field} differs from the ledger")
        got = [(c.get("teacher"), c.get("licence"), c.get("terms")) for c in r.get("provenance") or []]
        if got != claims.get(row["example_id"], []):
            problems.append(f"record {row['example_id'][:12]}: provenance claims differ from the ledger")
    if problems:
        raise CroissantError(problems)
    warnings = sorted(str(w) for w in dataset.metadata.ctx.issues.warnings)
    missing = [m.group(1).rsplit("/", 1)[-1] for w in warnings if (m := _RECOMMENDED.search(w))]
    return {
        "records_checked": len(read),
        "examples": lines,
        "recommended_missing": missing,  # not in the ledger: left out rather than invented
        "warnings": [w for w in warnings if not _RECOMMENDED.search(w)]
        + logged
        + [
            f"every {c} in {data.name} looks like a number: mlcroissant, which reads JSON lines with "
            f"pandas, returns numbers for it (2.0 for '2')"
            for c in _numeric_columns(ledger)
        ],
    }
