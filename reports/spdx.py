"""What the SPDX documents say about the dataset and the models trained on it, format-neutral.

:mod:`reports.spdx3` writes it as SPDX 3.0.1 (JSON-LD, through ``spdx-python-model``, the official
generated bindings); :mod:`reports.spdx23` as SPDX 2.3 (JSON, through spdx-tools, which only writes a
pre-release SPDX 3 model), validated with spdx-tools' own validator before it is written.

Both documents have the same shape. One dataset package stands for everything in the ledger (the
checks, PII findings and teachers of the facts are ledger-wide); each distinct dataset a training
used (a gate selection, named by its Merkle root) gets a package of its own that descends from it,
unless it holds every example of the ledger, in which case it is the ledger package. Each trained
model is a package trained on (3.0.1) or generated from (2.3) the package of its dataset.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from provenance.core.errors import ProvenanceError
from provenance.core.ids import content_id
from provenance.core.vocabulary import NOT_PERMITTED
from reports.facts import Facts, Obligation, Training
from reports.statements import (
    NOASSERTION,
    anonymization_methods,
    check_biases,
    collection_process,
    combined_licence,
    count_list,
    obligation_texts,
    pii_presence,
    preprocessing_steps,
    ref_texts,
    teacher_bias,
    teacher_written,
)

BASE = "https://provenance.invalid"
LEDGER_KEY = "dataset-ledger"
HUMAN = "none (human)"
# Training config keys that describe the machine, not the training: they go into the training text.
_ENVIRONMENT = ("device", "torch", "transformers", "accelerate")


class SpdxError(ProvenanceError):
    """An SPDX document that its library finds invalid; ``problems`` lists what it said."""

    def __init__(self, problems: list[str], *, what: str = "SPDX 2.3") -> None:
        self.problems = problems
        super().__init__(f"the {what} document is invalid:\n" + "\n".join(f"- {p}" for p in problems))


@dataclass
class DatasetPackage:
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
class ModelPackage:
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
class Plan:
    """Everything both SPDX documents state: their packages, namespace, time and tool."""

    namespace: str
    created: datetime
    tool: str
    datasets: list[DatasetPackage] = field(default_factory=list)
    models: list[ModelPackage] = field(default_factory=list)
    chain: str = ""
    ref_texts: dict[str, str] = field(default_factory=dict)  # LicenseRef id -> what it stands for


def default_namespace(facts: Facts) -> str:
    """The document namespace: the audit chain head, so a document of an unchanged ledger keeps its ids."""
    head = facts.audit.head
    if head:
        return f"audit-{head[:16]}"
    d = facts.to_dict()
    basis = {k: d.get(k) for k in ("ledger", "dataset", "licences", "trainings")}
    return f"facts-{content_id(json.loads(json.dumps(basis, default=str)))[:16]}"


def utc(raw: Any) -> datetime:
    """A time from the facts, as an aware UTC datetime."""
    when = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw))
    # The ledger keeps naive UTC; spdx-python-model would read a naive time as local time.
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


# ---- the dataset packages ----------------------------------------------------------------------


def _ledger_concluded(facts: Facts, declared: str) -> tuple[str, str]:
    """Concluded = declared when the licence check judged every example and permitted them all."""
    examples = int(facts.dataset.examples or 0)
    check = facts.check("licence")
    if declared == NOASSERTION:
        return NOASSERTION, "the declared licence is not known for every example"
    if check is None or not check.ran:
        return NOASSERTION, "the licence check has not run on this ledger"
    counts = {k: int(v) for k, v in check.counts.items() if v}
    if set(counts) != {"pass"} or counts["pass"] != examples:
        refused = count_list({k: v for k, v in counts.items() if k != "pass"}) or "not every example judged"
        return NOASSERTION, f"the licence check did not permit every example ({refused})"
    return declared, (
        f"the licence check (policy pack {check.pack}) permitted all {examples} examples, so the "
        "declared licences are concluded as they stand"
    )


def _teacher_key(model: str | None) -> str:
    return model if model else "unknown"  # the gate's teacher mix names an unknown teacher "unknown"


def _selection_licences(facts: Facts, gate: dict[str, Any]) -> set[str]:
    """The ledger's licence expressions less those no selected example can carry.

    An expression is left out only when one teacher, absent from the selection's teacher mix, is
    provably its only carrier: that teacher's examples all carry it and are exactly as many as the
    examples under it. Everything else stays: over-declaring a licence is safe, missing one is not.
    """
    expressions = {k: int(v) for k, v in facts.licences.expressions.items()}
    mix = gate.get("teacher_mix")
    if not mix:
        return set(expressions)
    keep = set()
    for expr, n in expressions.items():
        only = [t for t in facts.teachers if t.licences == [expr] and int(t.examples or 0) == n]
        if only and _teacher_key(only[0].model) not in mix:
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


def _ledger_comment(facts: Facts) -> str:
    ds, lic, pii = facts.dataset, facts.licences, facts.pii
    obligations = [o for t in facts.teachers for o in t.obligations]
    unknown = {k: v for k, v in ds.unknown.items() if v}
    comment = [
        f"Teacher mix: {count_list(ds.teachers) or 'none'}.",
        f"Licences: {count_list(lic.expressions) or 'none recorded'}.",
        f"Terms: {count_list(lic.terms) or 'none recorded'}.",
    ]
    if obligations:
        comment.append("Obligations: " + " ".join(obligation_texts(obligations)))
    if unknown:
        comment.append(f"Unknown (examples): {count_list(unknown)}.")
    if pii.ran:
        comment.append(
            f"PII check: {pii.examples_with_pii} examples with PII "
            f"({count_list(pii.entities) or 'no entities'}); "
            f"{pii.redacted} redacted copies."
        )
    comment.extend(str(note) for note in pii.notes)
    return " ".join(comment)


def _ledger_dataset(facts: Facts, expressions: list[str]) -> DatasetPackage:
    ds = facts.dataset
    n = int(ds.examples or 0)
    declared = combined_licence(expressions)
    concluded, note = _ledger_concluded(facts, declared)
    return DatasetPackage(
        key=LEDGER_KEY,
        name=f"provenance dataset ({n} examples)",
        summary=(
            f"Instruction data recorded in a provenance ledger: {n} examples "
            f"({ds.instruction_examples} instruction, {ds.chat_examples} chat)."
        ),
        examples=n,
        declared=declared,
        concluded=concluded,
        concluded_note=note,
        pii=pii_presence(facts),
        collection=collection_process(facts),
        biases=[*teacher_bias(teacher_written(facts)), *check_biases(facts)],
        preprocessing=preprocessing_steps(facts),
        anonymization=anonymization_methods(facts),
        comment=_ledger_comment(facts),
        source_info="; ".join(f"{s.source} ({s.examples} examples)" for s in facts.sources) or None,
        teachers=list(teacher_written(facts)),
    )


def _selection_comment(gate: dict[str, Any], selected: str, pii: str, ledger: DatasetPackage) -> str:
    comment = [f"Gate {'passed' if gate.get('passed') else 'not recorded as passed'}; {selected}."]
    if gate.get("teacher_mix"):
        comment.append(f"Teacher mix: {count_list(gate['teacher_mix'])}.")
    if gate.get("licence_verdicts"):
        comment.append(f"Licence verdicts: {count_list(gate['licence_verdicts'])}.")
    if gate.get("obligations"):
        comment.append("Obligations: " + " ".join(obligation_texts(gate["obligations"])))
    if gate.get("waivers_used"):
        comment.append(f"Waivers used: {', '.join(map(str, gate['waivers_used']))}.")
    if pii == "noAssertion" and ledger.pii == "yes":
        comment.append(
            "The PII check found PII in the ledger; the facts do not say whether this selection holds those "
            "examples, so no assertion is made."
        )
    return " ".join(comment)


def _intended_use(gate: dict[str, Any], pack: str | None) -> str | None:
    use = gate.get("use")
    if not use:
        return None
    return (
        f"Training a student model for {use} use"
        + ("" if gate.get("distribute") is not False else ", without distributing it")
        + f" (policy pack {pack})"
    )


def _selection_dataset(facts: Facts, training: Training, ledger: DatasetPackage) -> DatasetPackage:
    root = str(training.dataset_id)
    n = int(training.dataset_examples or 0)
    gate = training.gate or {}
    declared = combined_licence(_selection_licences(facts, gate))
    concluded, note = _selection_concluded(gate, declared)
    pii = ledger.pii if ledger.pii != "yes" else "noAssertion"
    pack = training.pack
    selected = f"selected by the gate under policy pack {pack}: {n} of {gate.get('examples', '?')} examples"
    mix = gate.get("teacher_mix")
    teachers = (
        {k: int(v) for k, v in mix.items() if k not in (HUMAN, "unknown")} if mix else teacher_written(facts)
    )
    return DatasetPackage(
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
        biases=[*teacher_bias(teachers), *check_biases(facts)],
        preprocessing=[selected[0].upper() + selected[1:]],
        anonymization=ledger.anonymization,
        comment=_selection_comment(gate, selected, pii, ledger),
        root=root,
        intended_use=_intended_use(gate, pack),
        source_info=ledger.source_info,
        parent=LEDGER_KEY,
        teachers=list(teachers),
    )


# ---- the model packages --------------------------------------------------------------------------


def _num(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _config_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _training_text(training: Training) -> str:
    """How the model was trained: student, base model, dataset, metrics and environment."""
    config, metrics = training.config or {}, training.metrics or {}
    kind, base, student = training.student_kind, training.base_model, training.student
    about = ", ".join(
        x for x in (kind if kind != student else None, f"base model {base}" if base else None) if x
    )
    parts = [
        f"Supervised fine-tuning of the {student} student"
        + (f" ({about})" if about else "")
        + f" on dataset {training.dataset_id} ({training.dataset_examples} examples selected "
        f"by the gate under policy pack {training.pack}, teacher registry "
        f"{training.registry_version})."
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
    return " ".join(parts)


def _model_obligations(facts: Facts, gate: dict[str, Any]) -> list[Obligation]:
    obligations = gate.get("obligations")
    if obligations is None:  # an older gate record: every teacher's obligations, as the conservative set
        obligations = [o for t in facts.teachers for o in t.obligations]
    return list(obligations)


def _limitation(duties: list[str], gate: dict[str, Any]) -> str | None:
    limits = list(duties)
    if gate.get("use"):
        limits.append(
            f"The training data was cleared for {gate['use']} use"
            + (" only, not for distribution." if gate.get("distribute") is False else ".")
        )
    finding = gate.get("student_finding") or {}
    if finding.get("verdict") not in (None, "allowed"):
        limits.append(f"Student: {finding.get('verdict')}: {finding.get('reason')}")
    return " ".join(limits) or None


def _model_comment(training: Training, gate: dict[str, Any], duties: list[str]) -> str:
    comment = []
    if gate.get("teacher_mix"):
        comment.append(f"Teacher mix: {count_list(gate['teacher_mix'])}.")
    if gate.get("licence_verdicts"):
        comment.append(f"Licence verdicts: {count_list(gate['licence_verdicts'])}.")
    if duties:
        comment.append("Obligations: " + " ".join(duties))
    if training.model_digest:
        comment.append(
            f"Weights in {training.out_dir}; digest: sha256 over the weight files (name, size, bytes) "
            "in name order."
        )
    return " ".join(comment)


def _model(facts: Facts, training: Training, dataset: DatasetPackage) -> ModelPackage:
    tid = str(training.training_id)
    config, metrics = training.config or {}, training.metrics or {}
    gate = training.gate or {}
    types = ["causal language model (transformer decoder)"]
    if training.student_kind == "tiny":
        types.append("trained from scratch (tiny student)")
    elif training.base_model:
        types.append(f"fine-tuned from {training.base_model}")
    duties = obligation_texts(_model_obligations(facts, gate))
    # Declared: what the model's maker declared. The training record carries no licence: a student
    # trained from scratch into a local folder declares none, and the ledger does not keep a base
    # model's licence as an expression.
    declared = NOASSERTION
    # Concluded: never. The weights' licence is for their maker to grant within the base model's licence
    # and the data's terms (their obligations are the limitation); provenance records those constraints
    # but does not make that legal determination.
    return ModelPackage(
        key=f"model-{tid[:16]}",
        name=f"{training.student} student, training {tid[:12]}",
        training_id=tid,
        dataset=dataset.key,
        declared=declared,
        declared_note="no licence is declared for the trained weights",
        concluded=NOASSERTION,
        concluded_note=(
            "the licence of trained weights is for their maker to grant within the base model's licence and "
            "the training data's terms (see the limitation and obligations); provenance does not conclude it"
        ),
        types=types,
        training=_training_text(training),
        hyperparameters=[
            (k, _config_value(v))
            for k, v in config.items()
            if k not in _ENVIRONMENT and not k.endswith("_requested") and v is not None
        ],
        metrics=[
            (k, _config_value(metrics[k])) for k in ("train_loss", "last_loss") if metrics.get(k) is not None
        ],
        limitation=_limitation(duties, gate),
        pii=dataset.pii,
        comment=_model_comment(training, gate, duties),
        digest=training.model_digest,
        built=utc(training.created_at) if training.created_at else None,
    )


def plan(facts: Facts, namespace: str | None = None) -> Plan:
    """The packages and relationships both SPDX documents state."""
    expressions = list(facts.licences.expressions)
    ledger = _ledger_dataset(facts, expressions)
    out = Plan(
        namespace=quote(namespace or default_namespace(facts), safe="-._~"),
        created=utc(facts.generated_at),
        tool=f"provenance {facts.tool_version or 'unknown'}",
        datasets=[ledger],
    )
    if facts.audit.head:
        out.chain = f"audit chain head {facts.audit.head} ({facts.audit.entries} entries)"
    by_root: dict[str, DatasetPackage] = {}
    for t in facts.trainings:
        root = str(t.dataset_id)
        if root not in by_root:
            if int(t.dataset_examples or -1) == ledger.examples:
                ledger.root = ledger.root or root  # the selection is the whole ledger
                by_root[root] = ledger
            else:
                by_root[root] = _selection_dataset(facts, t, ledger)
                out.datasets.append(by_root[root])
        out.models.append(_model(facts, t, by_root[root]))
    used = [p.declared for p in [*out.datasets, *out.models]] + [p.concluded for p in out.datasets]
    out.ref_texts = ref_texts(facts, used)
    return out
