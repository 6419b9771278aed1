"""Everything the reports state, read from the ledger once (read-only): typed facts.

Every number in the audit report, the data card, the model card and the SPDX and Croissant documents
comes from here, so they agree with each other and with ``provenance stats``. Example texts appear only
with every span the PII check found replaced by ``<ENTITY>``; where the PII check has not run, no
example text is shown at all. :meth:`Facts.to_dict` is the JSON form (``audit.json``);
:meth:`Facts.from_dict` reads it back.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from provenance.core.clock import utcnow
from provenance.core.ledger import Ledger, tool_version
from provenance.queries import reports as q
from provenance.queries.summary import stats
from reports.eu_summary_model import JSON_FILE as EU_JSON_FILE
from reports.eu_summary_model import MD_FILE as EU_MD_FILE

SAMPLES = 3  # examples shown per check
_FIELDS = ("instruction", "input", "output")
_T = TypeVar("_T")

#: An obligation as the licence judgement recorded it (kind, text, when, value, source).
Obligation = dict[str, Any]


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _build(cls: type[_T], data: dict[str, Any], **nested: Any) -> _T:
    """``cls`` from a dict of its fields (keys it does not have are ignored; ``nested`` overrides)."""
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{**{k: v for k, v in data.items() if k in names}, **nested})


@dataclass
class Sample:
    """One example a check decided on, its texts with PII masked."""

    example_id: str
    decision: str
    reason: str | None
    text: dict[str, str]


@dataclass
class Check:
    """One check of the latest check run, with what it decided."""

    name: str
    kind: str
    version: str | None = None
    pack: str | None = None
    pack_hash: str | None = None
    context_id: int | None = None
    action: str | None = None
    status: str = "not-run"
    blocking: bool = False
    not_run_reason: str | None = None
    notes: list[str] = field(default_factory=list)
    examples: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    top_reasons: list[list[Any]] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    samples_note: str | None = None

    @property
    def ran(self) -> bool:
        """Whether the check ran (else ``not_run_reason`` says why not)."""
        return self.status == "ran"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Check:
        """A check from its JSON form."""
        return _build(cls, data, samples=[_build(Sample, s) for s in data.get("samples") or []])


@dataclass
class DatasetFacts:
    """The ledger's examples: counts and the origin, method, teacher and unknown mixes."""

    examples: int = 0
    instruction_examples: int = 0
    chat_examples: int = 0
    seeds: int = 0
    machine_instructions: int = 0
    provenance_rows: int = 0
    lineage_edges: int = 0
    runs: int = 0
    size_category: str = "n<1K"
    origin: dict[str, int] = field(default_factory=dict)
    method: dict[str, int] = field(default_factory=dict)
    teachers: dict[str, int] = field(default_factory=dict)
    unknown: dict[str, int] = field(default_factory=dict)


@dataclass
class ConflictSet:
    """Licences declared for the same example, and how many examples carry that set."""

    licences: list[str]
    examples: int


@dataclass
class LicenceFacts:
    """Declared licence expressions and terms (examples each) and the conflicts between them."""

    expressions: dict[str, int] = field(default_factory=dict)
    terms: dict[str, int] = field(default_factory=dict)
    conflicts: int = 0
    conflict_sets: list[ConflictSet] = field(default_factory=list)


@dataclass
class Toxicity:
    """The toxicity check's score distribution (ten bins over 0..1), or why there is none."""

    ran: bool = False
    reason: str | None = None
    bins: list[int] = field(default_factory=list)
    scored: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: bins and count when it ran, else the reason."""
        if self.ran:
            return {"ran": True, "bins": self.bins, "scored": self.scored}
        return {"ran": False, "reason": self.reason}


@dataclass
class Source:
    """A declared source of imported examples."""

    source: str
    examples: int


@dataclass
class Teacher:
    """A teacher (None: human data) with its declared licence and terms and, when the licence check
    ran, its verdicts and obligations."""

    model: str | None
    provider: str | None = None
    examples: int = 0
    licences: list[str] = field(default_factory=list)
    terms: list[str] = field(default_factory=list)
    terms_status: list[str] = field(default_factory=list)
    verdicts: dict[str, int] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    obligations: list[Obligation] = field(default_factory=list)


@dataclass
class Generation:
    """One generation: its method, teacher, parameters and what came of it."""

    generation_id: str
    method: str
    teacher_model: str | None = None
    endpoint: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    accepted: int = 0
    rejected: int = 0
    calls: int = 0


@dataclass
class CheckRun:
    """The check run the checks come from."""

    run_id: str
    at: str
    pack: str | None = None
    pack_hash: str | None = None
    student: str | None = None


@dataclass
class PiiFacts:
    """What the PII check found, and how many redacted copies there are."""

    ran: bool = False
    examples_with_pii: int = 0
    entities: dict[str, int] = field(default_factory=dict)
    redacted: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass
class SeedCoverage:
    """One seed with the examples that descend from it and the depth of the deepest."""

    seed_id: str
    name: str | None = None
    external_id: str | None = None
    examples: int = 0
    depth: int = 0


@dataclass
class LineageFacts:
    """Lineage depth and seed coverage."""

    max_depth: int = 0
    seeds: int = 0
    seeds_with_machine_descendants: int = 0
    per_seed: list[SeedCoverage] = field(default_factory=list)


@dataclass
class Waiver:
    """A waiver as recorded."""

    waiver_id: str
    check_name: str
    example_id: str | None
    teacher: str | None
    reason: str
    approver: str
    expires: str
    run_id: str
    created_at: str


@dataclass
class GateFacts:
    """The latest gate run's verdict."""

    run_id: str
    at: str | None = None
    verdict: str = "failed"
    reasons: list[dict[str, Any]] = field(default_factory=list)
    dataset: str | None = None
    selected: int | None = None
    examples: int | None = None
    pack: str | None = None
    student: str | None = None
    waivers_used: list[Any] = field(default_factory=list)


@dataclass
class Training:
    """One training, its dataset and, as recorded, the summary of the gate run that selected it."""

    training_id: str
    run_id: str | None = None
    student: str | None = None
    student_kind: str | None = None
    base_model: str | None = None
    out_dir: str | None = None
    model_digest: str | None = None
    dataset_id: str = ""
    dataset_examples: int = 0
    pack: str | None = None
    pack_hash: str | None = None
    registry_version: str | None = None
    config: dict[str, Any] | None = None
    metrics: dict[str, Any] | None = None
    created_at: str | None = None
    gate: dict[str, Any] | None = None  # the gate run's summary, as the gate wrote it
    eu_summary: dict[str, str] | None = None  # file name → sha256 of the EU summary in the student folder


@dataclass
class AuditFacts:
    """The audit chain head and what ``provenance verify`` found (None: not run)."""

    entries: int = 0
    head: str = ""
    verify: dict[str, Any] | None = None


@dataclass
class Facts:
    """Everything the reports state about one ledger."""

    ledger: str
    generated_at: str
    tool_version: str
    dataset: DatasetFacts = field(default_factory=DatasetFacts)
    licences: LicenceFacts = field(default_factory=LicenceFacts)
    toxicity: Toxicity = field(default_factory=Toxicity)
    sources: list[Source] = field(default_factory=list)
    teachers: list[Teacher] = field(default_factory=list)
    generation: list[Generation] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    check_run: CheckRun | None = None
    pii: PiiFacts = field(default_factory=PiiFacts)
    lineage: LineageFacts = field(default_factory=LineageFacts)
    waivers: list[Waiver] = field(default_factory=list)
    gate: GateFacts | None = None
    trainings: list[Training] = field(default_factory=list)
    audit: AuditFacts = field(default_factory=AuditFacts)

    def check(self, kind: str) -> Check | None:
        """The collected check of ``kind`` (licence, pii, ...), or None when the pack has none."""
        return next((c for c in self.checks if c.kind == kind), None)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of the facts (``audit.json``)."""
        out = asdict(self)
        out["toxicity"] = self.toxicity.to_dict()
        for check in out["checks"]:
            if check["samples_note"] is None:
                del check["samples_note"]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Facts:
        """Facts from their JSON form (keys a report does not read may be missing)."""
        lic = data.get("licences") or {}
        lineage = data.get("lineage") or {}
        return _build(
            cls,
            data,
            dataset=_build(DatasetFacts, data.get("dataset") or {}),
            licences=_build(
                LicenceFacts,
                lic,
                conflict_sets=[_build(ConflictSet, c) for c in lic.get("conflict_sets") or []],
            ),
            toxicity=_build(Toxicity, data.get("toxicity") or {}),
            sources=[_build(Source, s) for s in data.get("sources") or []],
            teachers=[_build(Teacher, t) for t in data.get("teachers") or []],
            generation=[_build(Generation, g) for g in data.get("generation") or []],
            checks=[Check.from_dict(c) for c in data.get("checks") or []],
            check_run=_build(CheckRun, data["check_run"]) if data.get("check_run") else None,
            pii=_build(PiiFacts, data.get("pii") or {}),
            lineage=_build(
                LineageFacts,
                lineage,
                per_seed=[_build(SeedCoverage, s) for s in lineage.get("per_seed") or []],
            ),
            waivers=[_build(Waiver, w) for w in data.get("waivers") or []],
            gate=_build(GateFacts, data["gate"]) if data.get("gate") else None,
            trainings=[_build(Training, t) for t in data.get("trainings") or []],
            audit=_build(AuditFacts, data.get("audit") or {}),
        )


def size_category(n: int) -> str:
    """The Hugging Face hub's size_categories value for ``n`` examples."""
    for limit, label in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
        (10_000_000, "1M<n<10M"),
    ):
        if n < limit:
            return label
    return "n>1T" if n > 10**12 else "10M<n<100M" if n < 100_000_000 else "100M<n<1B"


# ---- reading the ledger ---------------------------------------------------------------------------


def _checks(ledger: Ledger, run_id: str | None) -> list[Check]:
    if run_id is None:
        return []
    return [
        Check(
            name=r["check_name"],
            kind=r["check_kind"],
            version=r["check_version"],
            pack=r["pack"],
            pack_hash=r["pack_hash"],
            context_id=r["context_id"],
            action=r["action"],
            status=r["status"],
            blocking=bool(r["blocking"]),
            not_run_reason=r["reason"],
            notes=_json(r["notes"]) or [],
            examples=int(r["examples"] or 0),
            counts=_json(r["counts"]) or {},
            top_reasons=[list(x) for x in _json(r["top_reasons"]) or []],
        )
        for r in q.checks_of_run(ledger, run_id)
    ]


def _pii_spans(ledger: Ledger, context_id: int | None) -> dict[str, list[tuple[str, int, int, str]]]:
    """example id → [(field, start, end, entity)] for everything the PII check found, whatever it
    decided (a finding under the pack's threshold is still shown masked)."""
    if context_id is None:
        return {}
    spans: dict[str, list[tuple[str, int, int, str]]] = {}
    for example_id, details in q.decision_details(ledger, context_id):
        found = (_json(details) or {}).get("scores", {}).get("findings", [])
        for field_name, entity, start, end, *_ in found:
            spans.setdefault(example_id, []).append((field_name, int(start), int(end), entity))
    return spans


def _masked(row: dict[str, Any], spans: list[tuple[str, int, int, str]], limit: int = 240) -> dict[str, str]:
    out = {}
    for name in _FIELDS:
        text = row.get(name) or ""
        for _, start, end, entity in sorted((s for s in spans if s[0] == name), key=lambda s: -s[1]):
            text = text[:start] + f"<{entity}>" + text[end:]
        if text:
            out[name] = text if len(text) <= limit else text[:limit] + "…"
    return out


def _samples(ledger: Ledger, checks: list[Check]) -> None:
    """A few examples per check with a finding, PII masked; none when the PII check did not run."""
    pii = next((c for c in checks if c.kind == "pii" and c.ran), None)
    if pii is None:
        for c in checks:
            c.samples = []
            c.samples_note = "no example text is shown: the PII check has not run on this ledger"
        return
    spans = _pii_spans(ledger, pii.context_id)
    for c in checks:
        c.samples = []
        if not c.ran or c.context_id is None:
            continue
        for r in q.decided_instruction_examples(ledger, c.context_id, SAMPLES):
            red = q.redacted_copy(ledger, r["example_id"]) if c.kind == "pii" else None
            # a PII sample shows the redacted copy where there is one, else the masked text
            text = _masked(red, []) if red else _masked(r, spans.get(r["example_id"], []))
            c.samples.append(Sample(r["example_id"], r["decision"], r["reason"], text))


def _teachers(ledger: Ledger, checks: list[Check]) -> list[Teacher]:
    """Each teacher with its declared licence and terms and, when the licence check ran, its verdict
    and obligations."""
    licence = next((c for c in checks if c.kind == "licence" and c.context_id is not None), None)
    verdicts: dict[str | None, dict[str, Any]] = {}
    if licence is not None and licence.context_id is not None:
        for model, verdict, n, obligations, reason in q.licence_verdicts_by_teacher(
            ledger, licence.context_id
        ):
            entry = verdicts.setdefault(model, {"verdicts": {}, "obligations": {}, "reasons": []})
            entry["verdicts"][verdict] = int(n)
            entry["reasons"].append(reason)
            for o in _json(obligations) or []:
                entry["obligations"].setdefault(json.dumps(o, sort_keys=True), o)
    out = []
    for r in q.teacher_claims(ledger):
        v = verdicts.get(r["model"], {})
        out.append(
            Teacher(
                model=r["model"],
                provider=r["provider"],
                examples=int(r["examples"]),
                licences=sorted(x for x in r["licences"] if x),
                terms=sorted(x for x in r["terms"] if x),
                terms_status=sorted(x for x in r["terms_status"] if x),
                verdicts=v.get("verdicts", {}),
                reasons=v.get("reasons", []),
                obligations=list(v.get("obligations", {}).values()),
            )
        )
    return out


def _toxicity(ledger: Ledger, checks: list[Check]) -> Toxicity:
    """The toxicity check's score distribution (ten bins over 0..1), or why there is none."""
    tox = next((c for c in checks if c.kind == "toxicity"), None)
    if tox is None or not tox.ran or tox.context_id is None:
        return Toxicity(
            ran=False, reason=(tox.not_run_reason if tox else None) or "no toxicity check in the pack"
        )
    bins = [0] * 10
    for score in q.current_scores(ledger, tox.context_id):
        if score is not None:
            bins[min(9, max(0, int(float(score) * 10)))] += 1
    return Toxicity(ran=True, bins=bins, scored=sum(bins))


def _lineage(ledger: Ledger) -> LineageFacts:
    per_seed = q.seed_coverage(ledger)
    depth = q.deepest_example_lineage(ledger)
    return LineageFacts(
        max_depth=depth + (1 if per_seed else 0),
        seeds=len(per_seed),
        seeds_with_machine_descendants=sum(1 for s in per_seed if s["examples"] > 1),
        per_seed=[
            _build(SeedCoverage, {**s, "examples": int(s["examples"]), "depth": int(s["depth"])})
            for s in per_seed
        ],
    )


def _gate(ledger: Ledger) -> GateFacts | None:
    row = q.latest_gate_run(ledger)
    if row is None:
        return None
    summary, params = _json(row["summary"]) or {}, _json(row["params"]) or {}
    return GateFacts(
        run_id=row["run_id"],
        at=row["at"],
        verdict="passed" if summary.get("passed") else "failed",
        reasons=summary.get("reasons", []),
        dataset=summary.get("dataset"),
        selected=summary.get("selected"),
        examples=summary.get("examples"),
        pack=params.get("pack"),
        student=params.get("student"),
        waivers_used=summary.get("waivers_used", []),
    )


def eu_summary_hashes(folder: str | Path | None) -> dict[str, str] | None:
    """sha256 of each file of the EU training-content summary in a student's folder (None: none there)."""
    if not folder:
        return None
    files = [Path(folder) / name for name in (EU_MD_FILE, EU_JSON_FILE)]
    found = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files if p.is_file()}
    return found or None


def _trainings(ledger: Ledger) -> list[Training]:
    return [
        Training(
            training_id=r["training_id"],
            run_id=r["run_id"],
            student=r["student"],
            student_kind=r["student_kind"],
            base_model=r["base_model"],
            out_dir=r["out_dir"],
            model_digest=r["model_digest"],
            dataset_id=r["dataset_id"],
            dataset_examples=int(r["dataset_examples"]),
            pack=r["pack_name"],
            pack_hash=r["pack_hash"],
            registry_version=r["registry_version"],
            config=_json(r["config"]),
            metrics=_json(r["metrics"]),
            created_at=str(r["created_at"]),
            gate=_json(q.latest_gate_summary(ledger, r["dataset_id"])),
            eu_summary=eu_summary_hashes(r["out_dir"]),
        )
        for r in q.trainings(ledger)
    ]


def _generation(ledger: Ledger) -> list[Generation]:
    out = []
    for r in q.generations(ledger):
        params = dict(_json(r["params"]) or {})
        seeds = params.pop("seeds", None)
        params["seeds_in_pool"] = len(seeds) if isinstance(seeds, list) else None
        out.append(_build(Generation, {**r, "params": params}))
    return out


def _dataset(s: dict[str, Any]) -> DatasetFacts:
    counts = s["counts"]
    return DatasetFacts(
        examples=int(counts["examples"]),
        instruction_examples=int(counts["instruction_examples"]),
        chat_examples=int(counts["chat_examples"]),
        seeds=int(counts["seeds"]),
        machine_instructions=int(counts.get("machine_instructions", 0)),
        provenance_rows=int(counts["provenance_rows"]),
        lineage_edges=int(counts["lineage_edges"]),
        runs=int(counts["runs"]),
        size_category=size_category(int(counts["examples"])),
        origin=s["origin"],
        method=s["method"],
        teachers=s["teachers"],
        unknown=s["unknown"],
    )


def _pii(ledger: Ledger, checks: list[Check]) -> PiiFacts:
    pii = next((c for c in checks if c.kind == "pii"), None)
    ran = pii is not None and pii.ran
    entities: Counter[str] = Counter()
    if pii is not None and ran and pii.context_id is not None:
        for details in q.current_findings_details(ledger, pii.context_id):
            entities.update((_json(details) or {}).get("entities", {}))
    return PiiFacts(
        ran=ran,
        examples_with_pii=sum(v for k, v in (pii.counts if pii else {}).items() if k != "pass"),
        entities=dict(entities),
        redacted=q.redacted_copies(ledger),
        notes=pii.notes if pii else [],
    )


def collect(ledger: Ledger, *, verified: dict[str, Any] | None = None) -> Facts:
    """The facts every report is written from. ``verified`` is what ``provenance verify`` found
    (the command wires it in: reports only read the ledger)."""
    s = stats(ledger)
    check_run = q.latest_check_run(ledger)
    checks = _checks(ledger, check_run)
    run = q.check_run_info(ledger, check_run)
    _samples(ledger, checks)
    seq, head = q.audit_head(ledger)
    return Facts(
        ledger=str(ledger.path),
        generated_at=str(utcnow()),
        tool_version=tool_version(),
        dataset=_dataset(s),
        licences=LicenceFacts(
            expressions=s["licences"],
            terms=s["terms"],
            conflicts=int(s["licence_conflicts"]),
            conflict_sets=[
                ConflictSet(sorted(x for x in lic if x), int(n)) for lic, n in q.licence_conflict_sets(ledger)
            ],
        ),
        toxicity=_toxicity(ledger, checks),
        sources=[Source(r["source"], r["examples"]) for r in q.sources(ledger)],
        teachers=_teachers(ledger, checks),
        generation=_generation(ledger),
        checks=checks,
        check_run=CheckRun(**run) if run else None,
        pii=_pii(ledger, checks),
        lineage=_lineage(ledger),
        waivers=[
            _build(Waiver, {**w, "expires": str(w["expires"]), "created_at": str(w["created_at"])})
            for w in q.waivers(ledger)
        ],
        gate=_gate(ledger),
        trainings=_trainings(ledger),
        audit=AuditFacts(entries=seq, head=head, verify=verified),
    )
