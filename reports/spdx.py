"""SPDX documents for the dataset and the models trained on it, written from the report facts.

SPDX 3.0.1 (JSON-LD) goes through ``spdx-python-model``, the official generated bindings;
spdx-tools only writes a pre-release SPDX 3 model, so it is used for SPDX 2.3 (JSON) alone, and
that document is validated with spdx-tools' own validator before it is written.

Both documents have the same shape. One dataset package stands for everything in the ledger (the
checks, PII findings and teachers of ``facts`` are ledger-wide); each distinct dataset a training
used (a gate selection, named by its Merkle root) gets a package of its own that descends from it,
unless it holds every example of the ledger, in which case it is the ledger package. Each trained
model is a package trained on (3.0.1) or generated from (2.3) the package of its dataset.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from provenance.core.errors import ProvenanceError
from provenance.core.ids import content_id
from reports.facts import check_of

BASE = "https://provenance.invalid"
SPDX3_FILE = "dataset.spdx3.json"
SPDX23_FILE = "dataset.spdx.json"
NOASSERTION = "NOASSERTION"
LEDGER_KEY = "dataset-ledger"
HUMAN = "none (human)"
# The licence verdicts under which data may not train the student (policies.judge.NOT_PERMITTED;
# reports may not import policies).
NOT_PERMITTED = frozenset({"prohibited", "unknown"})
# Training config keys that describe the machine, not the training: they go into the training text.
_ENVIRONMENT = ("device", "torch", "transformers", "accelerate")
_GENERATION_PARAMS = (
    "api",
    "temperature",
    "top_p",
    "max_tokens",
    "rouge_threshold",
    "round_size",
    "random_seed",
)
_COMPOUND = re.compile(r"\s(AND|OR)\s", re.IGNORECASE)
_LICENSE_REF = re.compile(r"(?<![\w.:-])LicenseRef-[A-Za-z0-9.\-]+")
_DONE = {"flag": "flagged", "drop": "dropped", "block": "blocked"}


class SpdxError(ProvenanceError):
    """An SPDX document that its library finds invalid; ``problems`` lists what it said."""

    def __init__(self, problems: list[str], *, what: str = "SPDX 2.3") -> None:
        self.problems = problems
        super().__init__(f"the {what} document is invalid:\n" + "\n".join(f"- {p}" for p in problems))


# ---- what both documents say --------------------------------------------------------------------


@dataclass
class _Dataset:
    """One dataset package, format-neutral."""

    key: str  # id suffix: dataset-ledger or dataset-<root[:16]>
    name: str
    summary: str
    examples: int
    declared: str
    concluded: str
    concluded_note: str
    pii: str  # PresenceType: yes / no / noAssertion
    collection: str
    biases: list[str]
    preprocessing: list[str]
    anonymization: list[str]
    comment: str
    root: str | None = None
    intended_use: str | None = None
    source_info: str | None = None
    parent: str | None = None  # key of the package it was selected from
    teachers: list[str] = field(default_factory=list)  # teacher models that wrote some of it


@dataclass
class _Model:
    """One trained model package, format-neutral."""

    key: str
    name: str
    training_id: str
    dataset: str  # key of the dataset package it was trained on
    declared: str
    declared_note: str
    concluded: str
    concluded_note: str
    types: list[str]
    training: str
    hyperparameters: list[tuple[str, str]]
    metrics: list[tuple[str, str]]
    limitation: str | None
    pii: str
    comment: str
    digest: str | None = None
    built: datetime | None = None


@dataclass
class _Plan:
    namespace: str
    created: datetime
    tool: str
    datasets: list[_Dataset] = field(default_factory=list)
    models: list[_Model] = field(default_factory=list)
    chain: str = ""
    ref_texts: dict[str, str] = field(default_factory=dict)  # LicenseRef id -> what it stands for


def default_namespace(facts: dict[str, Any]) -> str:
    """The document namespace: the audit chain head, so a document of an unchanged ledger keeps its ids."""
    head = (facts.get("audit") or {}).get("head")
    if head:
        return f"audit-{head[:16]}"
    basis = {k: facts.get(k) for k in ("ledger", "dataset", "licences", "trainings")}
    return f"facts-{content_id(json.loads(json.dumps(basis, default=str)))[:16]}"


def combined_licence(expressions: list[str] | set[str]) -> str:
    """The AND of distinct licence expressions (compound ones in parentheses); NOASSERTION when any is
    unknown, because an unknown licence cannot be part of an SPDX expression."""
    distinct = sorted(set(expressions))
    if not distinct or any(e.strip().lower() in ("unknown", "noassertion", "") for e in distinct):
        return NOASSERTION
    if len(distinct) == 1:
        return distinct[0]
    return " AND ".join(f"({e})" if _COMPOUND.search(e) else e for e in distinct)


def _utc(raw: Any) -> datetime:
    when = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw))
    # The ledger keeps naive UTC; spdx-python-model would read a naive time as local time.
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def count_list(counts: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items())


def first_clause(text: str, limit: int = 160) -> str:
    short = re.split(r": |\. ", text or "", maxsplit=1)[0].strip()
    return short if len(short) <= limit else short[: limit - 1] + "…"


def _pii_presence(facts: dict[str, Any]) -> str:
    pii = facts.get("pii") or {}
    if not pii.get("ran"):
        return "noAssertion"
    return "yes" if int(pii.get("examples_with_pii") or 0) > 0 else "no"


def anonymization_methods(facts: dict[str, Any]) -> list[str]:
    pii = facts.get("pii") or {}
    if int(pii.get("redacted") or 0) <= 0:
        return []
    return [f"presidio {entity} replacement" for entity in sorted(pii.get("entities") or {})] or [
        "presidio entity replacement"
    ]


def collection_process(facts: dict[str, Any]) -> str:
    """How the examples came to be: seeds, generation runs (method, teacher, endpoint), imports."""
    ds = facts.get("dataset") or {}
    lines = [
        f"{ds.get('examples', 0)} examples recorded in a provenance ledger, one provenance row per claim "
        f"(by origin: {count_list(ds.get('origin') or {}) or 'none'}; by method: "
        f"{count_list(ds.get('method') or {}) or 'none'})."
    ]
    if ds.get("seeds"):
        lines.append(f"{ds['seeds']} human-written seed tasks.")
    for g in facts.get("generation") or []:
        params = g.get("params") or {}
        shown = ", ".join(f"{k}={params[k]}" for k in _GENERATION_PARAMS if params.get(k) is not None)
        pool = params.get("seeds_in_pool")
        lines.append(
            f"{g.get('method')} generation with teacher {g.get('teacher_model') or 'unknown'} through "
            f"{g.get('endpoint') or 'a local model'}: {g.get('accepted', 0)} candidates accepted, "
            f"{g.get('rejected', 0)} rejected, {g.get('calls', 0)} teacher calls"
            + (f", {pool} seeds in the prompt pool" if pool is not None else "")
            + (f" ({shown})" if shown else "")
            + "."
        )
    for t in facts.get("teachers") or []:
        terms = ", ".join(t.get("terms") or []) or "unknown terms"
        status = ", ".join(t.get("terms_status") or []) or "unknown"
        lines.append(
            f"Teacher {t.get('model') or 'unknown'} ({t.get('provider') or 'unknown provider'}): "
            f"{t.get('examples', 0)} examples under {terms} (training other models: {status})."
        )
    for s in facts.get("sources") or []:
        lines.append(f"Imported from {s['source']}: {s['examples']} examples.")
    return "\n".join(lines)


def teacher_written(facts: dict[str, Any]) -> dict[str, int]:
    """Teacher model -> examples it wrote, ledger-wide."""
    return {t["model"]: int(t["examples"]) for t in facts.get("teachers") or [] if t.get("model")}


def teacher_bias(written: dict[str, int]) -> list[str]:
    """The structural limit of distilled data, for the teachers that wrote it (model -> examples)."""
    if not written:
        return []
    names = ", ".join(f"{model} ({n} examples)" for model, n in written.items())
    return [
        f"Written by teacher models: {names}. The data inherits the teachers' errors and biases, and a "
        "student trained on it is not expected to exceed them."
    ]


def check_statements(facts: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """Each check with what it found the data skewed or limited by, or why it did not look.

    Licence and PII checks that ran are left out (the concluded licence and the PII fields say
    what they found), and so is a check that ran and found nothing."""
    out = []
    for c in facts.get("checks") or []:
        if c.get("status") != "ran":
            reason = first_clause(c.get("not_run_reason") or "no reason recorded")
            out.append((c, f"Not assessed: the {c['name']} check did not run ({reason})."))
            continue
        if c.get("kind") in ("licence", "pii"):  # licence: the concluded licence; PII: its own fields
            continue
        counts = c.get("counts") or {}
        found = {k: int(v) for k, v in counts.items() if k != "pass" and v}
        if not found:
            continue
        done = ", ".join(f"{n} {_DONE.get(k, k)}" for k, n in found.items())
        reasons = "; ".join(f"{r}: {n}" for r, n in (c.get("top_reasons") or [])[:3])
        out.append(
            (
                c,
                f"{c['name']}: {sum(found.values())} of {c.get('examples', 0)} examples with findings "
                f"({done})" + (f": {reasons}" if reasons else "") + ".",
            )
        )
    return out


def _check_biases(facts: dict[str, Any]) -> list[str]:
    """What the checks found the data skewed or limited by, and which checks did not look."""
    return [text for _, text in check_statements(facts)]


def preprocessing_steps(facts: dict[str, Any]) -> list[str]:
    out = []
    for c in facts.get("checks") or []:
        if c.get("status") == "ran":
            out.append(
                f"{c['name']} check v{c.get('version')} (policy pack {c.get('pack')}, "
                f"action {c.get('action')}): {count_list(c.get('counts') or {})}"
            )
    redacted = int((facts.get("pii") or {}).get("redacted") or 0)
    if redacted:
        out.append(f"PII redaction: {redacted} redacted copies (each a new example; the original is kept)")
    return out


def _ledger_concluded(facts: dict[str, Any], declared: str) -> tuple[str, str]:
    """Concluded = declared when the licence check judged every example and permitted them all."""
    examples = int((facts.get("dataset") or {}).get("examples") or 0)
    check = check_of(facts, "licence")
    if declared == NOASSERTION:
        return NOASSERTION, "the declared licence is not known for every example"
    if check is None or check.get("status") != "ran":
        return NOASSERTION, "the licence check has not run on this ledger"
    counts = {k: int(v) for k, v in (check.get("counts") or {}).items() if v}
    if set(counts) != {"pass"} or counts["pass"] != examples:
        refused = count_list({k: v for k, v in counts.items() if k != "pass"}) or "not every example judged"
        return NOASSERTION, f"the licence check did not permit every example ({refused})"
    return declared, (
        f"the licence check (policy pack {check.get('pack')}) permitted all {examples} examples, so the "
        "declared licences are concluded as they stand"
    )


def _teacher_key(model: str | None) -> str:
    return model if model else "unknown"  # the gate's teacher mix names an unknown teacher "unknown"


def _selection_licences(facts: dict[str, Any], gate: dict[str, Any]) -> set[str]:
    """The ledger's licence expressions less those no selected example can carry.

    An expression is left out only when one teacher, absent from the selection's teacher mix, is
    provably its only carrier: that teacher's examples all carry it and are exactly as many as the
    examples under it. Everything else stays: over-declaring a licence is safe, missing one is not.
    """
    expressions = {k: int(v) for k, v in ((facts.get("licences") or {}).get("expressions") or {}).items()}
    mix = gate.get("teacher_mix")
    if not mix:
        return set(expressions)
    keep = set()
    for expr, n in expressions.items():
        only = [
            t
            for t in facts.get("teachers") or []
            if t.get("licences") == [expr] and int(t.get("examples") or 0) == n
        ]
        if only and _teacher_key(only[0].get("model")) not in mix:
            continue
        keep.add(expr)
    return keep


def _selection_concluded(gate: dict[str, Any], declared: str) -> tuple[str, str]:
    verdicts = gate.get("licence_verdicts") or {}
    if declared == NOASSERTION:
        return NOASSERTION, "the declared licence is not known for every selected example"
    if not gate.get("passed"):
        return NOASSERTION, "no passed gate is recorded for this dataset"
    if not verdicts:
        return NOASSERTION, "the gate recorded no licence verdicts for this selection"
    if set(verdicts) & NOT_PERMITTED:
        return (
            NOASSERTION,
            f"the licence check did not permit every selected example ({count_list(verdicts)})",
        )
    return declared, (
        f"the licence check permitted every selected example ({count_list(verdicts)}), so the declared "
        "licences are concluded as they stand"
    )


def _obligation_texts(obligations: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(str(o.get("text")) for o in obligations if o.get("text")))


def _ledger_dataset(facts: dict[str, Any], expressions: list[str]) -> _Dataset:
    ds = facts.get("dataset") or {}
    n = int(ds.get("examples") or 0)
    declared = combined_licence(expressions)
    concluded, note = _ledger_concluded(facts, declared)
    pii = facts.get("pii") or {}
    obligations = [o for t in facts.get("teachers") or [] for o in t.get("obligations") or []]
    unknown = {k: v for k, v in (ds.get("unknown") or {}).items() if v}
    comment = [
        f"Teacher mix: {count_list(ds.get('teachers') or {}) or 'none'}.",
        f"Licences: {count_list((facts.get('licences') or {}).get('expressions') or {}) or 'none recorded'}.",
        f"Terms: {count_list((facts.get('licences') or {}).get('terms') or {}) or 'none recorded'}.",
    ]
    if obligations:
        comment.append("Obligations: " + " ".join(_obligation_texts(obligations)))
    if unknown:
        comment.append(f"Unknown (examples): {count_list(unknown)}.")
    if pii.get("ran"):
        comment.append(
            f"PII check: {pii.get('examples_with_pii', 0)} examples with PII "
            f"({count_list(pii.get('entities') or {}) or 'no entities'}); "
            f"{pii.get('redacted', 0)} redacted copies."
        )
    comment.extend(str(note) for note in pii.get("notes") or [])
    sources = facts.get("sources") or []
    return _Dataset(
        key=LEDGER_KEY,
        name=f"provenance dataset ({n} examples)",
        summary=(
            f"Instruction data recorded in a provenance ledger: {n} examples "
            f"({ds.get('instruction_examples', 0)} instruction, {ds.get('chat_examples', 0)} chat)."
        ),
        examples=n,
        declared=declared,
        concluded=concluded,
        concluded_note=note,
        pii=_pii_presence(facts),
        collection=collection_process(facts),
        biases=[
            *teacher_bias(teacher_written(facts)),
            *_check_biases(facts),
        ],
        preprocessing=preprocessing_steps(facts),
        anonymization=anonymization_methods(facts),
        comment=" ".join(comment),
        source_info="; ".join(f"{s['source']} ({s['examples']} examples)" for s in sources) or None,
        teachers=list(teacher_written(facts)),
    )


def _selection_dataset(facts: dict[str, Any], training: dict[str, Any], ledger: _Dataset) -> _Dataset:
    root = str(training["dataset_id"])
    n = int(training.get("dataset_examples") or 0)
    gate = training.get("gate") or {}
    declared = combined_licence(_selection_licences(facts, gate))
    concluded, note = _selection_concluded(gate, declared)
    pii = ledger.pii if ledger.pii != "yes" else "noAssertion"
    pack = training.get("pack")
    selected = f"selected by the gate under policy pack {pack}: {n} of {gate.get('examples', '?')} examples"
    comment = [f"Gate {'passed' if gate.get('passed') else 'not recorded as passed'}; {selected}."]
    if gate.get("teacher_mix"):
        comment.append(f"Teacher mix: {count_list(gate['teacher_mix'])}.")
    if gate.get("licence_verdicts"):
        comment.append(f"Licence verdicts: {count_list(gate['licence_verdicts'])}.")
    if gate.get("obligations"):
        comment.append("Obligations: " + " ".join(_obligation_texts(gate["obligations"])))
    if gate.get("waivers_used"):
        comment.append(f"Waivers used: {', '.join(map(str, gate['waivers_used']))}.")
    if pii == "noAssertion" and ledger.pii == "yes":
        comment.append(
            "The PII check found PII in the ledger; the facts do not say whether this selection holds those "
            "examples, so no assertion is made."
        )
    use = gate.get("use")
    mix = gate.get("teacher_mix")
    teachers = (
        {k: int(v) for k, v in mix.items() if k not in (HUMAN, "unknown")} if mix else teacher_written(facts)
    )
    return _Dataset(
        key=f"dataset-{root[:16]}",
        name=f"provenance dataset {root[:16]} ({n} examples)",
        summary=f"A selection of the ledger's dataset, Merkle root {root}: {selected}.",
        examples=n,
        declared=declared,
        concluded=concluded,
        concluded_note=note,
        pii=pii,
        collection=(
            f"Selected from the ledger's dataset ({ledger.name}) by the provenance gate under policy pack "
            f"{pack}. How the ledger's examples were made:\n{ledger.collection}"
        ),
        # The teachers of this selection when the gate recorded them; the check findings are the
        # ledger's (each names its own counts), since a subset may hold any of them.
        biases=[*teacher_bias(teachers), *_check_biases(facts)],
        preprocessing=[selected[0].upper() + selected[1:]],
        anonymization=ledger.anonymization,
        comment=" ".join(comment),
        root=root,
        intended_use=(
            f"Training a student model for {use} use"
            + ("" if gate.get("distribute") is not False else ", without distributing it")
            + f" (policy pack {pack})"
            if use
            else None
        ),
        source_info=ledger.source_info,
        parent=LEDGER_KEY,
        teachers=list(teachers),
    )


def _num(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _config_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _model(facts: dict[str, Any], training: dict[str, Any], dataset: _Dataset) -> _Model:
    tid = str(training["training_id"])
    config = training.get("config") or {}
    metrics = training.get("metrics") or {}
    gate = training.get("gate") or {}
    kind = training.get("student_kind")
    base = training.get("base_model")
    types = ["causal language model (transformer decoder)"]
    if kind == "tiny":
        types.append("trained from scratch (tiny student)")
    elif base:
        types.append(f"fine-tuned from {base}")
    student = training.get("student")
    about = ", ".join(
        x for x in (kind if kind != student else None, f"base model {base}" if base else None) if x
    )
    parts = [
        f"Supervised fine-tuning of the {student} student"
        + (f" ({about})" if about else "")
        + f" on dataset {training.get('dataset_id')} ({training.get('dataset_examples')} examples selected "
        f"by the gate under policy pack {training.get('pack')}, teacher registry "
        f"{training.get('registry_version')})."
    ]
    if metrics:
        parts.append(
            f"{metrics.get('examples')} examples used, {metrics.get('skipped', 0)} skipped "
            f"({metrics.get('skipped_truncated', 0)} too long, {metrics.get('skipped_no_output', 0)} "
            f"without output); {metrics.get('steps')} steps, {_num(metrics.get('epochs'))} epochs, "
            f"{metrics.get('tokens')} tokens ({metrics.get('response_tokens')} in responses); loss "
            f"{_num(metrics.get('first_loss'))} -> {_num(metrics.get('last_loss'))}; "
            f"{_num(metrics.get('train_runtime_s'))} s."
        )
    env = ", ".join(f"{k} {config[k]}" for k in _ENVIRONMENT if config.get(k))
    if env:
        parts.append(f"Environment: {env}.")
    hyper = [
        (k, _config_value(v))
        for k, v in config.items()
        if k not in _ENVIRONMENT and not k.endswith("_requested") and v is not None
    ]
    metric = [
        (k, _config_value(metrics[k])) for k in ("train_loss", "last_loss") if metrics.get(k) is not None
    ]
    obligations = gate.get("obligations")
    if obligations is None:  # an older gate record: every teacher's obligations, as the conservative set
        obligations = [o for t in facts.get("teachers") or [] for o in t.get("obligations") or []]
    duties = _obligation_texts(obligations)
    limits = list(duties)
    if gate.get("use"):
        limits.append(
            f"The training data was cleared for {gate['use']} use"
            + (" only, not for distribution." if gate.get("distribute") is False else ".")
        )
    finding = gate.get("student_finding") or {}
    if finding.get("verdict") not in (None, "allowed"):
        limits.append(f"Student: {finding.get('verdict')}: {finding.get('reason')}")
    comment = []
    if gate.get("teacher_mix"):
        comment.append(f"Teacher mix: {count_list(gate['teacher_mix'])}.")
    if gate.get("licence_verdicts"):
        comment.append(f"Licence verdicts: {count_list(gate['licence_verdicts'])}.")
    if duties:
        comment.append("Obligations: " + " ".join(duties))
    if training.get("model_digest"):
        comment.append(
            f"Weights in {training.get('out_dir')}; digest: sha256 over the weight files (name, size, bytes) "
            "in name order."
        )
    # Declared: what the model's maker declared. A licence is only known when the record carries one;
    # a student trained from scratch into a local folder declares none, and the ledger does not keep a
    # base model's licence as an expression.
    declared = str(training.get("licence") or NOASSERTION)
    # Concluded: never. The weights' licence is for their maker to grant within the base model's licence
    # and the data's terms (their obligations are the limitation above); provenance records those
    # constraints but does not make that legal determination.
    return _Model(
        key=f"model-{tid[:16]}",
        name=f"{training.get('student')} student, training {tid[:12]}",
        training_id=tid,
        dataset=dataset.key,
        declared=declared,
        declared_note=(
            "the training record declares this licence"
            if declared != NOASSERTION
            else "no licence is declared for the trained weights"
        ),
        concluded=NOASSERTION,
        concluded_note=(
            "the licence of trained weights is for their maker to grant within the base model's licence and "
            "the training data's terms (see the limitation and obligations); provenance does not conclude it"
        ),
        types=types,
        training=" ".join(parts),
        hyperparameters=hyper,
        metrics=metric,
        limitation=" ".join(limits) or None,
        pii=dataset.pii,
        comment=" ".join(comment),
        digest=training.get("model_digest"),
        built=_utc(training["created_at"]) if training.get("created_at") else None,
    )


def ref_texts(facts: dict[str, Any], licences: list[str]) -> dict[str, str]:
    """Each LicenseRef used, with the terms of the teachers whose licences name it."""
    refs = sorted({ref for expr in licences for ref in _LICENSE_REF.findall(expr)})
    out = {}
    for ref in refs:
        terms = sorted(
            {
                term
                for t in facts.get("teachers") or []
                if any(ref in _LICENSE_REF.findall(lic) for lic in t.get("licences") or [])
                for term in t.get("terms") or []
            }
        )
        out[ref] = (
            f"See the teacher's terms: {', '.join(terms)}"
            if terms
            else f"{ref} is declared on examples in the provenance ledger; no licence text is recorded there."
        )
    return out


def _plan(facts: dict[str, Any], namespace: str | None) -> _Plan:
    expressions = list(((facts.get("licences") or {}).get("expressions") or {}).keys())
    ledger = _ledger_dataset(facts, expressions)
    plan = _Plan(
        namespace=quote(namespace or default_namespace(facts), safe="-._~"),
        created=_utc(facts.get("generated_at")),
        tool=f"provenance {facts.get('tool_version') or 'unknown'}",
        datasets=[ledger],
    )
    audit = facts.get("audit") or {}
    if audit.get("head"):
        plan.chain = f"audit chain head {audit['head']} ({audit.get('entries')} entries)"
    by_root: dict[str, _Dataset] = {}
    for t in facts.get("trainings") or []:
        root = str(t["dataset_id"])
        if root not in by_root:
            if int(t.get("dataset_examples") or -1) == ledger.examples:
                ledger.root = ledger.root or root  # the selection is the whole ledger
                by_root[root] = ledger
            else:
                by_root[root] = _selection_dataset(facts, t, ledger)
                plan.datasets.append(by_root[root])
        plan.models.append(_model(facts, t, by_root[root]))
    used = [p.declared for p in [*plan.datasets, *plan.models]] + [p.concluded for p in plan.datasets]
    plan.ref_texts = ref_texts(facts, used)
    return plan


# ---- SPDX 3.0.1 ---------------------------------------------------------------------------------


def spdx3_document(facts: dict[str, Any], *, namespace: str | None = None) -> Any:
    """The SPDX 3.0.1 document of the dataset and its trained models, as an spdx-python-model
    ``SHACLObjectSet``. ``namespace`` defaults to one derived from the audit chain head."""
    from spdx_python_model import v3_0_1 as m

    plan = _plan(facts, namespace)
    base = f"{BASE}/{plan.namespace}"
    info = m.CreationInfo(specVersion="3.0.1", created=plan.created)
    if plan.chain:
        info.comment = f"Written from a provenance ledger, {plan.chain}."
    agent = m.SoftwareAgent(spdxId=f"{base}/agent-provenance", name=plan.tool, creationInfo=info)
    tool = m.Tool(spdxId=f"{base}/tool-provenance", name=plan.tool, creationInfo=info)
    info.createdBy.append(agent)
    info.createdUsing.append(tool)
    elements: list[Any] = [agent, tool]
    licences: dict[str, Any] = {}
    packages: dict[str, Any] = {}

    def licence(text: str) -> Any:
        if text not in licences:
            expr = m.simplelicensing_LicenseExpression(
                spdxId=f"{base}/licence-{content_id(text)[:16]}",
                creationInfo=info,
                simplelicensing_licenseExpression=text,
            )
            refs = [ref for ref in _LICENSE_REF.findall(text) if ref in plan.ref_texts]
            notes = [f"{ref}: {plan.ref_texts[ref]}" for ref in refs]
            if notes:
                expr.comment = " ".join(notes)
            licences[text] = expr
            elements.append(expr)
        return licences[text]

    def relate(source: Any, kind: str, target: Any, key: str, comment: str | None = None) -> None:
        rel = m.Relationship(
            spdxId=f"{base}/{key}-{kind}",
            creationInfo=info,
            from_=source,
            to=[target],
            relationshipType=getattr(m.RelationshipType, kind),
        )
        if comment:
            rel.comment = comment
        elements.append(rel)

    providers: dict[str, Any] = {}
    for t in facts.get("teachers") or []:
        name = t.get("provider")
        if not name:
            continue
        known = providers.get(name.lower())
        if known is None:
            providers[name.lower()] = m.Organization(
                spdxId=f"{base}/organization-{quote(name.lower(), safe='')}", name=name, creationInfo=info
            )
        elif sum(map(str.isupper, name)) > sum(map(str.isupper, known.name)):
            known.name = name  # "OpenAI" over "openai"
    elements.extend(providers.values())
    origin = {t["model"]: t["provider"].lower() for t in facts.get("teachers") or [] if t.get("provider")}

    for d in plan.datasets:
        pkg = m.dataset_DatasetPackage(
            spdxId=f"{base}/{d.key}",
            creationInfo=info,
            name=d.name,
            summary=d.summary,
            comment=d.comment,
            software_primaryPurpose=m.software_SoftwarePurpose.data,
            dataset_datasetType=[m.dataset_DatasetType.text],
            dataset_dataCollectionProcess=d.collection,
            dataset_hasSensitivePersonalInformation=getattr(m.PresenceType, d.pii),
            dataset_knownBias=d.biases,
            dataset_dataPreprocessing=d.preprocessing,
            dataset_anonymizationMethodUsed=d.anonymization,
            # dataset_datasetSize is in bytes (SPDX 3.0.1); the facts count examples, not bytes, so the
            # size is left out unless they carry one (the count is in the name and summary).
            # the organizations whose models wrote some of the examples
            originatedBy=[providers[k] for k in dict.fromkeys(origin[t] for t in d.teachers if t in origin)],
        )
        if (facts.get("dataset") or {}).get("bytes") is not None and d.parent is None:
            pkg.dataset_datasetSize = int(facts["dataset"]["bytes"])
        if d.intended_use:
            pkg.dataset_intendedUse = d.intended_use
        if d.source_info:
            pkg.software_sourceInfo = d.source_info
        if d.root:
            pkg.externalIdentifier.append(
                m.ExternalIdentifier(
                    externalIdentifierType=m.ExternalIdentifierType.other,
                    identifier=d.root,
                    issuingAuthority="provenance",
                    comment="dataset id: Merkle root (sha256) over the sorted example ids",
                )
            )
        packages[d.key] = pkg
        elements.append(pkg)
        relate(pkg, "hasDeclaredLicense", licence(d.declared), d.key)
        relate(pkg, "hasConcludedLicense", licence(d.concluded), d.key, d.concluded_note)
        if d.parent:
            relate(pkg, "descendantOf", packages[d.parent], d.key, "selected from the ledger by the gate")

    for mod in plan.models:
        pkg = m.ai_AIPackage(
            spdxId=f"{base}/{mod.key}",
            creationInfo=info,
            name=mod.name,
            comment=mod.comment,
            software_primaryPurpose=m.software_SoftwarePurpose.model,
            ai_typeOfModel=mod.types,
            ai_informationAboutTraining=mod.training,
            ai_hyperparameter=[m.DictionaryEntry(key=k, value=v) for k, v in mod.hyperparameters],
            ai_metric=[m.DictionaryEntry(key=k, value=v) for k, v in mod.metrics],
            ai_useSensitivePersonalInformation=getattr(m.PresenceType, mod.pii),
            externalIdentifier=[
                m.ExternalIdentifier(
                    externalIdentifierType=m.ExternalIdentifierType.other,
                    identifier=mod.training_id,
                    issuingAuthority="provenance",
                    comment="training id in the provenance ledger",
                )
            ],
            # No ai_safetyRiskAssessment: provenance judges the training data, it does not assess the
            # safety risk of the model or of the system it goes into; a level here would be invented.
        )
        if mod.limitation:
            pkg.ai_limitation = mod.limitation
        if mod.built:
            pkg.builtTime = mod.built
        if mod.digest:
            pkg.verifiedUsing.append(
                m.Hash(
                    algorithm=m.HashAlgorithm.sha256,
                    hashValue=mod.digest,
                    comment="sha256 over the weight files (name, size, bytes) in name order",
                )
            )
        packages[mod.key] = pkg
        elements.append(pkg)
        relate(pkg, "trainedOn", packages[mod.dataset], mod.key)
        relate(pkg, "hasDeclaredLicense", licence(mod.declared), mod.key, mod.declared_note)
        relate(pkg, "hasConcludedLicense", licence(mod.concluded), mod.key, mod.concluded_note)

    document = m.SpdxDocument(
        spdxId=f"{base}/document",
        creationInfo=info,
        name=f"SPDX for {plan.datasets[0].name}",
        dataLicense=licence("CC0-1.0"),
        profileConformance=[
            m.ProfileIdentifierType.core,
            m.ProfileIdentifierType.software,
            m.ProfileIdentifierType.simpleLicensing,
            m.ProfileIdentifierType.dataset,
            m.ProfileIdentifierType.ai,
        ],
        rootElement=[packages[LEDGER_KEY], *(packages[mod.key] for mod in plan.models)],
        element=elements,
    )
    return m.SHACLObjectSet([document, *elements])


def write_spdx3(facts: dict[str, Any], out_dir: Path) -> Path:
    """Write ``<out_dir>/dataset.spdx3.json`` (SPDX 3.0.1 JSON-LD) and return its path."""
    from spdx_python_model import v3_0_1 as m

    objects = spdx3_document(facts)
    buffer = io.BytesIO()
    try:
        m.JSONLDSerializer(indent=2).write(objects, buffer, force_at_graph=True)
    except ValueError as exc:  # a required property missing or a value out of range
        raise SpdxError([str(exc)], what="SPDX 3.0.1") from exc
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / SPDX3_FILE
    path.write_bytes(buffer.getvalue() + b"\n")
    return path


# ---- SPDX 2.3 -----------------------------------------------------------------------------------


def spdx23_document(facts: dict[str, Any], *, namespace: str | None = None) -> Any:
    """The SPDX 2.3 document (an spdx-tools ``Document``), not yet validated."""
    from spdx_tools.spdx.model import (
        Actor,
        ActorType,
        Checksum,
        ChecksumAlgorithm,
        CreationInfo,
        Document,
        ExtractedLicensingInfo,
        Package,
        Relationship,
        RelationshipType,
        SpdxNoAssertion,
    )
    from spdx_tools.spdx.parser.error import SPDXParsingError
    from spdx_tools.spdx.parser.jsonlikedict.license_expression_parser import LicenseExpressionParser

    plan = _plan(facts, namespace)

    def licence(text: str) -> Any:
        try:
            return LicenseExpressionParser.parse_license_expression(text)
        except SPDXParsingError as exc:
            raise SpdxError(exc.get_messages()) from exc

    doc = Document(
        CreationInfo(
            spdx_version="SPDX-2.3",
            spdx_id="SPDXRef-DOCUMENT",
            name=f"SPDX for {plan.datasets[0].name}",
            document_namespace=f"{BASE}/{plan.namespace}/spdx-2.3",
            creators=[Actor(ActorType.TOOL, plan.tool.replace(" ", "-"))],
            created=plan.created.replace(tzinfo=None),
            creator_comment=f"Written from a provenance ledger, {plan.chain}." if plan.chain else None,
        )
    )
    for d in plan.datasets:
        spdx_id = f"SPDXRef-{d.key}"
        description = [d.collection]
        if d.biases:
            description.append("Known biases: " + " ".join(d.biases))
        pii = {"yes": "found", "no": "none found", "noAssertion": "no assertion"}[d.pii]
        doc.packages.append(
            Package(
                spdx_id=spdx_id,
                name=d.name,
                download_location=SpdxNoAssertion(),
                files_analyzed=False,
                license_declared=licence(d.declared),
                license_concluded=licence(d.concluded),
                license_comment=f"Concluded: {d.concluded_note}.",
                summary=d.summary,
                description="\n".join(description),
                source_info=d.source_info,
                comment=f"{d.comment} Sensitive personal information: {pii}."
                + (f" Anonymization: {', '.join(d.anonymization)}." if d.anonymization else ""),
            )
        )
        if d.parent is None:  # the document describes what SPDX 3.0.1 lists as root elements
            doc.relationships.append(Relationship("SPDXRef-DOCUMENT", RelationshipType.DESCRIBES, spdx_id))
        else:
            doc.relationships.append(
                Relationship(spdx_id, RelationshipType.DESCENDANT_OF, f"SPDXRef-{d.parent}", "gate selection")
            )
    for mod in plan.models:
        spdx_id = f"SPDXRef-{mod.key}"
        hyper = ", ".join(f"{k}={v}" for k, v in mod.hyperparameters)
        comment = " ".join(
            x for x in (mod.comment, f"Limitations: {mod.limitation}" if mod.limitation else "") if x
        )
        doc.packages.append(
            Package(
                spdx_id=spdx_id,
                name=mod.name,
                download_location=SpdxNoAssertion(),
                files_analyzed=False,
                checksums=[Checksum(ChecksumAlgorithm.SHA256, mod.digest)] if mod.digest else [],
                license_declared=licence(mod.declared),
                license_concluded=licence(mod.concluded),
                license_comment=f"Declared: {mod.declared_note}. Concluded: {mod.concluded_note}.",
                summary=", ".join(mod.types),
                description=mod.training + (f" Hyperparameters: {hyper}." if hyper else ""),
                comment=comment or None,
                built_date=mod.built.replace(tzinfo=None) if mod.built else None,
            )
        )
        doc.relationships.append(Relationship("SPDXRef-DOCUMENT", RelationshipType.DESCRIBES, spdx_id))
        # SPDX 2.3 has no "trained on". GENERATED_FROM ("A is generated from B") says the weights were
        # produced from the data; DEPENDS_ON or DATA_FILE_OF would say the model needs the data to run.
        doc.relationships.append(
            Relationship(spdx_id, RelationshipType.GENERATED_FROM, f"SPDXRef-{mod.dataset}", "trained on")
        )
    for ref, text in plan.ref_texts.items():
        doc.extracted_licensing_info.append(
            ExtractedLicensingInfo(
                license_id=ref,
                extracted_text=text,
                license_name=ref.removeprefix("LicenseRef-"),
                comment="a licence reference declared in the provenance ledger",
            )
        )
    return doc


def write_spdx23(facts: dict[str, Any], out_dir: Path) -> Path:
    """Validate the SPDX 2.3 document with spdx-tools, then write ``<out_dir>/dataset.spdx.json``.

    Raises SpdxError listing the validator's messages when it finds any.
    """
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document
    from spdx_tools.spdx.writer.write_anything import write_file

    doc = spdx23_document(facts)
    problems = validate_full_spdx_document(doc)
    if problems:
        raise SpdxError(
            [
                f"{p.context.spdx_id or p.context.parent_id or 'document'}: {p.validation_message}"
                for p in problems
            ]
        )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / SPDX23_FILE
    write_file(doc, str(path), validate=False)  # validated just above
    return path
