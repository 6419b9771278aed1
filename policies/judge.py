"""The licence and terms judgement: may data with this provenance train this student, for this use?

Each declared fact (the teacher, each licence in the SPDX expression, the terms, a dataset the
source names, a declared terms status) becomes a :class:`Finding` with a verdict class for the
policy's use. Findings combine most-restrictive-wins, as the Data Provenance Initiative does; an
``OR`` in a licence expression takes the most permissive branch the policy allows, and says so.
Anything not in the registry is ``unknown``, and unknown never permits (fail closed).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, field_validator

from policies.resolve import resolve_dataset, resolve_model
from provenance.core.ids import content_id
from provenance.core.licences import normalize_licence, spdx_field
from provenance.core.models import TermsStatus

if TYPE_CHECKING:
    from policies.registry import Entry, LicenceRule, Obligation, Registry

#: Most restrictive last. Unknown ranks below prohibited: a definite "no" says more.
RANK: dict[TermsStatus, int] = {
    TermsStatus.ALLOWED: 0,
    TermsStatus.ALLOWED_WITH_CONDITIONS: 1,
    TermsStatus.NON_COMPETING_ONLY: 2,
    TermsStatus.RESEARCH_ONLY: 3,
    TermsStatus.UNKNOWN: 4,
    TermsStatus.PROHIBITED: 5,
}
NOT_PERMITTED = frozenset({TermsStatus.PROHIBITED, TermsStatus.UNKNOWN})
SCRATCH_STUDENTS = frozenset({"tiny", "scratch"})


class Use(StrEnum):
    """What the student will be used for."""

    RESEARCH = "research"
    INTERNAL = "internal"
    COMMERCIAL = "commercial"


class LicencePolicy(BaseModel):
    """The intended use and the student that a licence judgement is made for."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    use: Use
    student: str
    student_licence: str | None = None
    distribute: bool = False
    competing: bool | None = None  # None: research does not compete; internal and commercial do

    @field_validator("student_licence")
    @classmethod
    def _spdx(cls, value: str | None) -> str | None:
        return spdx_field(value) if value is not None else None

    @property
    def competes(self) -> bool:
        """Whether the student is taken to compete with its teachers' vendors."""
        return self.competing if self.competing is not None else self.use is not Use.RESEARCH


@dataclass(frozen=True)
class Finding:
    """What one declared fact means for this policy."""

    subject: str  # "teacher text-davinci-003", "licence CC-BY-NC-4.0", …
    rule: str | None  # registry entry id or licence rule id
    terms_class: TermsStatus  # what the terms say, before the use is considered
    verdict: TermsStatus  # what that means for this use and student
    reason: str
    obligations: tuple[dict[str, Any], ...] = ()
    terms: tuple[str, str | None] | None = None  # (terms id, version) judged under

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return {
            "subject": self.subject,
            "rule": self.rule,
            "terms_class": self.terms_class.value,
            "verdict": self.verdict.value,
            "reason": self.reason,
            "obligations": list(self.obligations),
            "terms": list(self.terms) if self.terms else None,
        }


@dataclass(frozen=True)
class Judgement:
    """The combined verdict for one provenance (or several, for an example with several claims)."""

    verdict: TermsStatus
    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = ()

    @property
    def permitted(self) -> bool:
        """Whether the data may train the student for this use."""
        return self.verdict not in NOT_PERMITTED

    @cached_property
    def reasons(self) -> tuple[str, ...]:
        """The findings' reasons (most restrictive first), then notes."""
        ordered = sorted(self.findings, key=lambda f: -RANK[f.verdict])
        return (*_unique(f"{f.subject}: {f.reason}" for f in ordered), *self.notes)

    @cached_property
    def obligations(self) -> tuple[dict[str, Any], ...]:
        """Duties that travel to the student's card (none when the data may not train it)."""
        if not self.permitted:
            return ()
        seen: dict[str, dict[str, Any]] = {}
        for f in self.findings:
            for o in f.obligations:
                seen.setdefault(content_id(o), o)
        return tuple(seen.values())

    @cached_property
    def terms(self) -> tuple[tuple[str, str, str | None], ...]:
        """(entry id, terms id, version) of every registry terms this was judged under."""
        found = {(f.rule or "", f.terms[0], f.terms[1]) for f in self.findings if f.terms}
        return tuple(sorted(found, key=lambda t: (t[0], t[1], t[2] or "")))

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return {
            "verdict": self.verdict.value,
            "permitted": self.permitted,
            "reasons": list(self.reasons),
            "obligations": list(self.obligations),
            "findings": [f.as_dict() for f in self.findings],
        }


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def combine(parts: Sequence[Judgement], note: str | None = None) -> Judgement:
    """Most restrictive wins."""
    unique: dict[tuple[str, str | None, str, str], Finding] = {}
    for j in parts:
        for f in j.findings:
            unique.setdefault((f.subject, f.rule, f.verdict.value, f.reason), f)
    findings = tuple(unique.values())
    notes = tuple(_unique([*(n for j in parts for n in j.notes), *([note] if note else [])]))
    verdict = max((j.verdict for j in parts), key=RANK.__getitem__, default=TermsStatus.UNKNOWN)
    return Judgement(verdict, findings, notes)


@dataclass(frozen=True)
class Student:
    """The student being trained: its base model's registry entry and licence, if known."""

    model: str
    entry: Entry | None
    licence: str | None
    scratch: bool = False
    reason: str | None = None

    @property
    def families(self) -> frozenset[str]:
        """Families the student belongs to (for same-family exceptions)."""
        return self.entry.families if self.entry else frozenset()

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON and the config hash."""
        return {
            "model": self.model,
            "entry": self.entry.id if self.entry else None,
            "family": self.entry.family if self.entry else None,
            "licence": self.licence,
            "scratch": self.scratch,
        }


def resolve_student(registry: Registry, policy: LicencePolicy) -> Student:
    """Resolve the policy's student base model against the registry."""
    if policy.student.strip().lower() in SCRATCH_STUDENTS:
        return Student(policy.student, None, policy.student_licence, scratch=True)
    res = resolve_model(registry, policy.student)
    licence = policy.student_licence or (res.entry.licence if res.entry else None)
    return Student(policy.student, res.entry, licence, reason=res.reason)


@dataclass
class Judge:
    """Judges declared provenance against one registry, policy and student."""

    registry: Registry
    policy: LicencePolicy
    student: Student = field(init=False)

    def __post_init__(self) -> None:
        self.student = resolve_student(self.registry, self.policy)

    @cached_property
    def config(self) -> dict[str, Any]:
        """What, besides the registry, a verdict depends on."""
        return {"policy": self.policy.model_dump(mode="json"), "student": self.student.as_dict()}

    @cached_property
    def config_hash(self) -> str:
        """Content id of :attr:`config`."""
        return content_id(self.config)

    # ---------------------------------------------------------------- one provenance set
    def judge(
        self,
        *,
        teacher: str | None = None,
        licence: str | None = None,
        terms_id: str | None = None,
        terms_version: str | None = None,
        terms_status: str | None = None,
        origin: str | None = None,
        method: str | None = None,
        source: str | None = None,
    ) -> Judgement:
        """The verdict for data with this declared provenance."""
        findings: list[Finding] = []
        notes: list[str] = []
        used: set[str] = set()
        if teacher:
            res = resolve_model(self.registry, teacher)
            if res.entry is None:
                findings.append(self._unknown(f"teacher {teacher}", res.reason or "not in the registry"))
            else:
                findings.append(self.entry_finding(res.entry, f"teacher {teacher}"))
                used.add(res.entry.id)
        elif origin == "machine":
            findings.append(self._unknown("teacher", "machine-written, but the teacher was not declared"))
        if licence:
            parts, choices = self.licence_findings(licence, used)
            findings.extend(parts)
            notes.extend(choices)
        elif method in (None, "imported", "seed"):
            findings.append(
                self._unknown("licence", "no licence was declared for this data; declare one with --licence")
            )
        if terms_id:
            findings.extend(self._terms_findings(terms_id, terms_version, used, notes))
        if source:
            res = resolve_dataset(self.registry, source)
            entry = res.entry
            if entry is not None and not (entry.origin == "machine" and origin == "human"):
                findings.append(self.entry_finding(entry, f"dataset {entry.id}"))
                notes.extend(_conflicts(entry, licence))
        if terms_status and terms_status != TermsStatus.UNKNOWN.value:
            declared = TermsStatus(terms_status)
            findings.append(
                Finding(
                    "declared terms status",
                    None,
                    declared,
                    self._for_use(declared, None)[0],
                    f"the import declared {declared.value}",
                )
            )
        if not findings:
            findings.append(self._unknown("provenance", "no teacher, licence or terms were declared"))
        verdict = max((f.verdict for f in findings), key=RANK.__getitem__)
        return Judgement(verdict, tuple(findings), tuple(notes))

    # ---------------------------------------------------------------- building blocks
    def entry_finding(self, entry: Entry, subject: str) -> Finding:
        """A registry entry's terms, judged for this use and student."""
        cls = entry.training
        why = [f"{entry.name}"]
        if entry.terms is not None:
            why[0] += f" ({entry.terms.label()})"
        why.append(f"training other models: {cls.value}")
        if entry.same_family and self.student.families & set(entry.same_family.families):
            cls = entry.same_family.training
            why.append(
                f"the student ({self.student.model}) is in the same family, so {cls.value}: "
                + entry.same_family.reason
            )
        elif entry.same_family:
            why.append(
                f"exception only for {', '.join(entry.same_family.families)} students; "
                f"this student is {self._student_family()}"
            )
        verdict, because = self._for_use(cls, entry)
        if because:
            why.append(because)
        if entry.terms and entry.terms.clause and verdict in NOT_PERMITTED:
            why.append(f"terms: {entry.terms.clause}")
        obligations = self._obligations(entry.obligations, verdict, entry.provider, entry.name)
        terms = (entry.terms.id, entry.terms.version) if entry.terms else None
        return Finding(subject, entry.id, cls, verdict, "; ".join(why), obligations, terms)

    def licence_findings(
        self, expression: str, used: set[str] | None = None
    ) -> tuple[list[Finding], list[str]]:
        """Findings for an SPDX expression: AND keeps all, OR keeps the best permitted branch."""
        from policies.licence_tree import parse_tree

        used = set() if used is None else used
        notes: list[str] = []
        findings = self._tree(parse_tree(expression), used, notes)
        return findings, notes

    def _tree(self, node: Any, used: set[str], notes: list[str]) -> list[Finding]:
        op, value = node
        if op == "symbol":
            finding = self._symbol(value, used)
            return [finding] if finding else []
        branches = [self._tree(child, used, notes) for child in value]
        if op == "and":
            return [f for b in branches for f in b]
        scored = [(self._rank(b), i, b) for i, b in enumerate(branches)]
        allowed = [s for s in scored if s[0] < min(RANK[v] for v in NOT_PERMITTED)]
        best = min(allowed or scored)
        from policies.licence_tree import render

        options = [render(child) for child in value]
        chosen = options[best[1]]
        if allowed:
            notes.append(
                f"licence choice: {' OR '.join(options)} offers a choice; took {chosen}, the most "
                "permissive option this policy allows"
            )
        else:
            notes.append(f"licence choice: no option of {' OR '.join(options)} is allowed for this policy")
        return best[2]

    @staticmethod
    def _rank(findings: list[Finding]) -> int:
        return max((RANK[f.verdict] for f in findings), default=0)

    def _symbol(self, licence_id: str, used: set[str]) -> Finding | None:
        entry = self.registry.by_licence_ref.get(licence_id)
        if entry is not None:
            if entry.id in used:
                return None
            used.add(entry.id)
            return self.entry_finding(entry, f"licence {licence_id}")
        rule = self.registry.licence_rule(licence_id)
        if rule is not None:
            return self._rule_finding(rule, licence_id)
        category = scancode_category(licence_id)
        if category in ("Permissive", "Public Domain"):
            return Finding(
                f"licence {licence_id}",
                None,
                TermsStatus.ALLOWED,
                TermsStatus.ALLOWED,
                f"{category.lower()} licence (ScanCode category)",
            )
        if category in ("Copyleft", "Copyleft Limited"):
            cls = TermsStatus.ALLOWED_WITH_CONDITIONS
            obligation = {
                "kind": "share_alike",
                "text": f"{licence_id} is copyleft: adaptations of the data carry the same licence",
                "when": "distributed",
                "value": None,
                "source": licence_id,
            }
            return Finding(
                f"licence {licence_id}",
                None,
                cls,
                cls,
                f"{category.lower()} licence (ScanCode category)",
                (obligation,) if self.policy.distribute else (),
            )
        why = (
            f"{licence_id} is in ScanCode's {category!r} category, which the registry has no rule for"
            if category
            else f"{licence_id} is not in the registry"
        )
        return self._unknown(
            f"licence {licence_id}", why + "; add a licence rule or entry with --registry FILE"
        )

    def _rule_finding(self, rule: LicenceRule, licence_id: str) -> Finding:
        verdict, because = self._for_use(rule.training, None)
        reason = f"{rule.reason} ({rule.training.value})" + (f"; {because}" if because else "")
        obligations = self._obligations(rule.obligations, verdict, None, licence_id)
        return Finding(f"licence {licence_id}", rule.id, rule.training, verdict, reason, obligations)

    def _terms_findings(
        self, terms_id: str, version: str | None, used: set[str], notes: list[str]
    ) -> list[Finding]:
        label = f"{terms_id}@{version}" if version else terms_id
        entry = self.registry.by_terms_id.get(terms_id)
        if entry is None:
            return [self._unknown(f"terms {label}", f"terms {terms_id!r} are not in the registry")]
        assert entry.terms is not None
        known = [entry.terms.version, *(p.version for p in entry.terms.previous)]
        findings = []
        if entry.id not in used:
            used.add(entry.id)
            findings.append(self.entry_finding(entry, f"terms {label}"))
        if version and version not in known:
            findings.append(
                self._unknown(
                    f"terms {label}",
                    f"version {version!r} is not one the registry knows for {terms_id} "
                    f"(known: {', '.join(v for v in known if v)})",
                )
            )
        elif version and version != entry.terms.version:
            notes.append(
                f"terms version: the data was declared under {label}, an earlier version; it is judged "
                f"under the registry's current {entry.terms.label()}"
            )
        return findings

    def _for_use(self, cls: TermsStatus, entry: Entry | None) -> tuple[TermsStatus, str | None]:
        use = self.policy.use
        if cls is TermsStatus.RESEARCH_ONLY and use is not Use.RESEARCH:
            return TermsStatus.PROHIBITED, f"research only, and this policy's use is {use.value}"
        if cls is TermsStatus.NON_COMPETING_ONLY and self.policy.competes:
            if self.policy.competing:
                return TermsStatus.PROHIBITED, "the policy declares the student competes"
            return (
                TermsStatus.PROHIBITED,
                f"a {use.value} student is taken to compete with the vendor unless the policy "
                "declares it does not (--non-competing)",
            )
        if entry is not None and entry.student_commercial == "no" and use is not Use.RESEARCH:
            return TermsStatus.PROHIBITED, f"no {use.value} use of a student trained on it"
        return cls, None

    def _obligations(
        self, items: Sequence[Obligation], verdict: TermsStatus, provider: str | None, source: str
    ) -> tuple[dict[str, Any], ...]:
        if verdict in NOT_PERMITTED:
            return ()
        out = [
            {**o.model_dump(mode="json"), "source": source}
            for o in items
            if o.when == "always" or self.policy.distribute
        ]
        if verdict is TermsStatus.NON_COMPETING_ONLY:
            out.append(
                {
                    "kind": "no_competing_use",
                    "text": "Do not use the student to develop models that compete with "
                    f"{provider or 'the vendor'}.",
                    "when": "always",
                    "value": None,
                    "source": source,
                }
            )
        if verdict is TermsStatus.RESEARCH_ONLY:
            out.append(
                {
                    "kind": "research_only",
                    "text": "Research and non-commercial use only.",
                    "when": "always",
                    "value": None,
                    "source": source,
                }
            )
        return tuple(out)

    def _unknown(self, subject: str, reason: str) -> Finding:
        return Finding(
            subject, None, TermsStatus.UNKNOWN, TermsStatus.UNKNOWN, reason + " (unknown fails closed)"
        )

    def _student_family(self) -> str:
        if self.student.scratch:
            return "trained from scratch"
        if self.student.entry is None:
            return f"{self.student.model}, not in the registry"
        return f"{self.student.entry.family} ({self.student.entry.name})"

    # ---------------------------------------------------------------- the student itself
    def student_finding(self) -> Finding:
        """Whether the student's own base model licence allows this use."""
        s = self.student
        if s.scratch and not s.licence:
            return Finding(
                f"student {s.model}",
                None,
                TermsStatus.ALLOWED,
                TermsStatus.ALLOWED,
                "trained from scratch by provenance: no base model licence applies",
            )
        if s.entry is not None and not self.policy.student_licence:
            e = s.entry
            cls = {
                "yes": TermsStatus.ALLOWED_WITH_CONDITIONS if e.obligations else TermsStatus.ALLOWED,
                "no": TermsStatus.RESEARCH_ONLY,
                "non_competing": TermsStatus.NON_COMPETING_ONLY,
                "unknown": TermsStatus.UNKNOWN,
            }[e.student_commercial]
            verdict, because = self._for_use(cls, e)
            reason = (
                f"base model {e.name} ({e.licence}): commercial use of derivatives: {e.student_commercial}"
            )
            obligations = self._obligations(e.obligations, verdict, e.provider, e.name)
            return Finding(
                f"student {s.model}",
                e.id,
                cls,
                verdict,
                reason + (f"; {because}" if because else ""),
                obligations,
            )
        if s.licence:
            findings, _ = self.licence_findings(s.licence)
            worst = max(findings, key=lambda f: RANK[f.verdict])
            obligations = tuple(o for f in findings for o in f.obligations)
            return Finding(
                f"student {s.model}",
                worst.rule,
                worst.terms_class,
                worst.verdict,
                f"declared base licence {s.licence}: {worst.reason}",
                obligations,
            )
        return self._unknown(
            f"student {s.model}",
            (s.reason or "not in the registry") + "; give its licence with --student-licence",
        )


def _conflicts(entry: Entry, declared: str | None) -> list[str]:
    notes = []
    if declared and normalize_licence(declared) != entry.licence:
        notes.append(
            f"declaration conflict: the data declares {normalize_licence(declared)}, the registry records "
            f"{entry.licence} for {entry.name}"
        )
    for c in entry.conflicts:
        notes.append(f"declaration conflict: {entry.name} is also declared {c.licence} in {c.where}")
    return notes


def scancode_category(licence_id: str) -> str | None:
    """ScanCode LicenseDB's category for an SPDX id or ``LicenseRef-scancode-*`` key."""
    return _categories().get(licence_id.lower())


@lru_cache(maxsize=1)
def _categories() -> dict[str, str]:
    """Licence key (lower case) → ScanCode category, from license-expression's bundled index."""
    import json
    from importlib import resources

    data = json.loads(
        resources.files("license_expression")
        .joinpath("data/scancode-licensedb-index.json")
        .read_text("utf-8")
    )
    table: dict[str, str] = {}
    for item in data:
        category = item.get("category")
        if not category:
            continue
        table.setdefault(f"licenseref-scancode-{item['license_key']}".lower(), category)
        for key in [item.get("spdx_license_key"), *(item.get("other_spdx_license_keys") or [])]:
            if key:
                table.setdefault(key.lower(), category)
    return table
