"""The teacher registry: versioned YAML, validated by pydantic, with user overrides.

The shipped file is ``policies/teachers.yaml``. A user file with the same shape adds entries or
replaces shipped ones (same ``id``). Loading rejects, naming the file, the line and the entry: an
unknown field, an invalid SPDX expression, a missing evidence source, a bad regular expression,
an alias claimed twice, and two entries whose patterns both match one known id.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from policies.model_ids import derivative_words, extra_words, normalize_model_id, source_key, split_org
from provenance.core.clock import utcnow
from provenance.core.errors import InputError
from provenance.core.ids import content_id
from provenance.core.licences import spdx_field
from provenance.core.models import TermsStatus
from provenance.core.yamlfile import line_of, load_yaml, validation_error

SHIPPED = "teachers.yaml"
_SLUG = r"^[a-z0-9][a-z0-9.\-]*$"
_ORG = r"^[a-z0-9][a-z0-9._\-]*$"


def _lower(value: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(v.strip().lower() for v in value)


def _regexes(value: tuple[str, ...]) -> tuple[str, ...]:
    for pattern in value:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EntryKind(StrEnum):
    """What an entry describes."""

    API = "api"
    OPEN_WEIGHTS = "open-weights"
    DATASET = "dataset"


class ObligationKind(StrEnum):
    """Kinds of duty that travel from a teacher's terms to the student."""

    NAME_PREFIX = "name_prefix"
    ATTRIBUTION = "attribution"
    NOTICE = "notice"
    NOTICE_FILE = "notice_file"
    PASS_THROUGH = "pass_through"
    USER_THRESHOLD = "user_threshold"
    SHARE_ALIKE = "share_alike"
    NO_COMPETING_USE = "no_competing_use"
    RESEARCH_ONLY = "research_only"
    AUTHORIZATION = "authorization"
    OTHER = "other"


class Evidence(_Strict):
    """Where a fact comes from, how directly, and when it was read."""

    source: str = Field(min_length=1)
    url: str | None = None
    level: Literal["P", "M", "S", "U"]
    retrieved: str = Field(pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$")


class Obligation(_Strict):
    """A duty that travels with the data to the student (and its card)."""

    kind: ObligationKind
    text: str = Field(min_length=1)
    when: Literal["always", "distributed"] = "always"
    value: str | int | None = None


class PreviousTerms(_Strict):
    """An earlier version of an entry's terms, so data declared under it is recognised."""

    version: str
    licence: str | None = None
    clause: str | None = None

    @field_validator("licence")
    @classmethod
    def _spdx(cls, value: str | None) -> str | None:
        return spdx_field(value) if value is not None else None


class TermsInfo(_Strict):
    """The terms an entry is judged under: id, current version, the clause that matters."""

    id: str = Field(pattern=_SLUG)
    version: str | None = None
    clause: str | None = None
    previous: tuple[PreviousTerms, ...] = ()

    def label(self) -> str:
        """``id@version`` or ``id``."""
        return f"{self.id}@{self.version}" if self.version else self.id


class SameFamily(_Strict):
    """A verdict that replaces the entry's when the student belongs to one of ``families``."""

    families: tuple[str, ...] = Field(min_length=1)
    training: TermsStatus
    reason: str = Field(min_length=1)


class DeclaredElsewhere(_Strict):
    """A licence some other document of a dataset declares (a conflict to report)."""

    licence: str
    where: str

    @field_validator("licence")
    @classmethod
    def _spdx(cls, value: str) -> str:
        return spdx_field(value)


class Entry(_Strict):
    """One teacher family and version, or one dataset that is imported whole."""

    id: str = Field(pattern=_SLUG)
    name: str = Field(min_length=1)
    provider: str = Field(min_length=1)
    kind: EntryKind
    family: str = Field(pattern=_SLUG)
    derived_from: tuple[str, ...] = ()
    origin: Literal["human", "machine"] | None = None
    match: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    publishers: tuple[str, ...] = ()
    rehosts: tuple[str, ...] = ()
    variants: tuple[str, ...] = ()
    licence: str
    terms: TermsInfo | None = None
    training: TermsStatus
    student_commercial: Literal["yes", "no", "non_competing", "unknown"]
    obligations: tuple[Obligation, ...] = ()
    same_family: SameFamily | None = None
    conflicts: tuple[DeclaredElsewhere, ...] = ()
    notes: str | None = None
    evidence: tuple[Evidence, ...] = Field(min_length=1)

    @field_validator("licence")
    @classmethod
    def _spdx(cls, value: str) -> str:
        return spdx_field(value)

    @field_validator("match", "variants")
    @classmethod
    def _regex(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _regexes(value)

    @field_validator("publishers", "rehosts")
    @classmethod
    def _orgs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for org in _lower(value):
            if not re.match(_ORG, org):
                raise ValueError(f"{org!r} is not a Hugging Face organisation name")
        return _lower(value)

    @field_validator("aliases")
    @classmethod
    def _normal_aliases(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        normal = source_key if info.data.get("kind") is EntryKind.DATASET else normalize_model_id
        return tuple(normal(a) for a in value)

    @cached_property
    def patterns(self) -> tuple[re.Pattern[str], ...]:
        """The compiled ``match`` patterns."""
        return tuple(re.compile(p) for p in self.match)

    @cached_property
    def vouched_orgs(self) -> frozenset[str]:
        """Organisations whose ``org/name`` ids are this entry's own: its ``publishers`` and
        ``rehosts`` (an entry that declares no publishers: the organisations of its aliases)."""
        publishers = self.publishers or tuple(split_org(a)[0] or "" for a in self.aliases if split_org(a)[0])
        return frozenset((*publishers, *self.rehosts))

    @property
    def families(self) -> frozenset[str]:
        """The entry's family and the families it derives from (for same-family exceptions)."""
        return frozenset((self.family, *self.derived_from))

    def licence_refs(self) -> set[str]:
        """LicenseRef ids that name this entry's terms, current and previous."""
        refs = {self.licence} if self.licence.startswith("LicenseRef-") else set()
        if self.terms:
            refs.update(
                p.licence for p in self.terms.previous if p.licence and p.licence.startswith("LicenseRef-")
            )
        return refs


class LicenceRule(_Strict):
    """How one dataset licence (an SPDX id, or a LicenseRef) is judged."""

    id: str = Field(pattern=_SLUG)
    match: str
    training: TermsStatus
    reason: str = Field(min_length=1)
    obligations: tuple[Obligation, ...] = ()
    evidence: tuple[Evidence, ...] = Field(min_length=1)

    @field_validator("match")
    @classmethod
    def _regex(cls, value: str) -> str:
        try:
            re.compile(value, re.I)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {value!r}: {exc}") from None
        return value

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        """The compiled ``match`` pattern (full match, case-insensitive)."""
        return re.compile(self.match, re.I)


class Rehost(_Strict):
    """An organisation that re-uploads open weights unchanged (conversions, quantisations) and
    keeps their licence: its ``org/name`` ids resolve like the publisher's."""

    org: str = Field(pattern=_ORG)
    what: str = Field(min_length=1)
    entries: tuple[str, ...] = ()  # only these entries; empty: every open-weights entry
    evidence: tuple[Evidence, ...] = Field(min_length=1)

    @field_validator("org", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value


class RegistryFile(_Strict):
    """One registry YAML file: the shipped one or a user's override."""

    version: str = Field(min_length=1)
    entries: tuple[Entry, ...] = ()
    licences: tuple[LicenceRule, ...] = ()
    rehosts: tuple[Rehost, ...] = ()


@dataclass(frozen=True)
class Claim:
    """How one entry's pattern matched a normalised model id, and what keeps it from resolving."""

    pattern: str
    org: str | None  # the id's organisation, if it has one
    unvouched: bool  # the organisation is neither a publisher nor a declared re-host
    extra: tuple[str, ...]  # words the name adds to the model's own name

    @property
    def holds(self) -> bool:
        """The id is the entry's model on whole tokens, from an organisation the registry vouches for."""
        return not self.unvouched and not self.extra


class Registry:
    """The merged registry: shipped entries, with user files applied in order."""

    def __init__(self, files: Sequence[tuple[str, RegistryFile]]) -> None:
        self.sources = [name for name, _ in files]
        entries: dict[str, Entry] = {}
        rules: dict[str, LicenceRule] = {}
        rehosts: dict[str, Rehost] = {}
        self.origin: dict[str, str] = {}
        for name, f in files:
            for e in f.entries:
                entries[e.id] = e
                self.origin[e.id] = name
            for r in f.licences:
                rules[r.id] = r
            for h in f.rehosts:
                rehosts[h.org] = h
        self.entries = entries
        self.rehosts = rehosts
        self.licence_rules = list(rules.values())
        self.versions = [f.version for _, f in files]

    @property
    def version(self) -> str:
        """The shipped version, followed by each override's version."""
        return "+".join(self.versions)

    @cached_property
    def hash(self) -> str:
        """Content id of everything that can change a verdict."""
        return content_id(
            [
                [e.model_dump(mode="json") for e in sorted(self.entries.values(), key=lambda e: e.id)],
                [r.model_dump(mode="json") for r in self.licence_rules],
                [h.model_dump(mode="json") for h in self.rehosts.values()],
            ]
        )

    def get(self, entry_id: str) -> Entry | None:
        """The entry with this id."""
        return self.entries.get(entry_id)

    def vouches(self, entry: Entry, org: str) -> bool:
        """Whether ``org/…`` ids may be ``entry``'s: a publisher or a re-host that keeps the licence."""
        if org in entry.vouched_orgs:
            return True
        host = self.rehosts.get(org)
        return (
            host is not None
            and entry.kind is EntryKind.OPEN_WEIGHTS
            and (not host.entries or entry.id in host.entries)
        )

    def claim(self, entry: Entry, normalized: str) -> Claim | None:
        """How ``entry``'s patterns match a normalised model id (one that holds, if any does).

        A pattern is searched in the name (it may look back at the ``/``). The organisation must be
        vouched for; the name must be the model's name on whole tokens: before the match only the
        entry's ``variants``, after it only known suffixes (:data:`policies.model_ids.SUFFIX_WORDS`)
        and the entry's ``variants``. API names (no organisation; vendors' own namespaces) may add
        words, except words that mark a derivative.
        """
        org, name = split_org(normalized)
        start = len(normalized) - len(name)
        found: Claim | None = None
        for p in entry.patterns:
            m = p.search(normalized, max(start - 1, 0))
            if m is None or m.end() <= start:
                continue
            begin, end = max(m.start(), start) - start, m.end() - start
            if entry.kind is EntryKind.API:
                extra = derivative_words(f"{name[:begin]}-{name[end:]}")
            else:
                rest = name[end - 1 :] if name[end - 1] in "-_.:" else name[end:]
                extra = extra_words(name[:begin], rest, entry.variants)
            claim = Claim(p.pattern, org, org is not None and not self.vouches(entry, org), tuple(extra))
            if claim.holds:
                return claim
            found = found or claim
        return found

    @cached_property
    def by_licence_ref(self) -> dict[str, Entry]:
        """LicenseRef id → the teacher entry whose terms it names."""
        owned: dict[str, Entry] = {}
        for e in self.entries.values():
            if e.kind is EntryKind.DATASET:
                continue
            for ref in e.licence_refs():
                owned.setdefault(ref, e)
        return owned

    @cached_property
    def by_terms_id(self) -> dict[str, Entry]:
        """Terms id → the entry judged under those terms (an original before its derivatives)."""
        found: dict[str, Entry] = {}
        for e in sorted(
            self.entries.values(), key=lambda e: (bool(e.derived_from), e.kind is EntryKind.DATASET)
        ):
            if e.terms is not None:
                found.setdefault(e.terms.id, e)
        return found

    def licence_rule(self, licence_id: str) -> LicenceRule | None:
        """The first rule whose pattern fully matches a licence id."""
        for rule in self.licence_rules:
            if rule.pattern.fullmatch(licence_id):
                return rule
        return None


def shipped_path() -> Path:
    """Path of the registry shipped with the package."""
    return Path(str(resources.files("policies").joinpath(SHIPPED)))


def load_registry(overrides: Iterable[str | Path] = ()) -> Registry:
    """The shipped registry with ``overrides`` applied in order.

    Raises:
        InputError: a file is malformed (see the module docstring); the message names the file,
            the line and the entry.
    """
    loaded = [(str(p), *_load_file(p)) for p in [shipped_path(), *overrides]]
    registry = Registry([(name, parsed) for name, parsed, _ in loaded])
    for host in registry.rehosts.values():
        missing = sorted(set(host.entries) - set(registry.entries))
        if missing:
            raise InputError(f"re-host {host.org!r} names entries that do not exist: {', '.join(missing)}")
    _check_overlaps(registry, {name: (parsed, node) for name, parsed, node in loaded})
    return registry


def _load_file(path: str | Path) -> tuple[RegistryFile, Any]:
    """A registry file, validated, and its YAML node tree (for line numbers)."""
    data, node = load_yaml(path, "registry file")
    for section in ("entries", "licences"):
        for item in data.get(section) or []:
            if isinstance(item, dict) and "license" in item and "licence" not in item:
                item["licence"] = item.pop("license")

    def describe(loc: list[Any]) -> str | None:
        if len(loc) >= 2 and loc[0] in ("entries", "licences") and isinstance(loc[1], int):
            items = data.get(loc[0]) or []
            ident = (
                items[loc[1]].get("id") if loc[1] < len(items) and isinstance(items[loc[1]], dict) else None
            )
            kind = "entry" if loc[0] == "entries" else "licence rule"
            return f"{kind} {ident!r}" if ident else f"{kind} #{loc[1] + 1}"
        return None

    try:
        parsed = RegistryFile.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, path=path, node=node, model=RegistryFile, describe=describe) from None
    seen: dict[str, int] = {}
    for i, e in enumerate(parsed.entries):
        if e.id in seen:
            raise InputError(
                f"entry {e.id!r}: id is used twice (entries #{seen[e.id] + 1} and #{i + 1})",
                path=path,
                line=line_of(node, ["entries", i, "id"]),
            )
        seen[e.id] = i
        if not e.match and not e.aliases:
            raise InputError(
                f"entry {e.id!r}: needs at least one `match` pattern or alias",
                path=path,
                line=line_of(node, ["entries", i]),
            )
    return parsed, node


def _check_overlaps(registry: Registry, files: dict[str, tuple[RegistryFile, Any]]) -> None:
    """Every known id (each entry's aliases) must resolve to its own entry alone."""

    def error(entry_id: str, message: str) -> InputError:
        path = registry.origin[entry_id]
        parsed, node = files[path]
        index = next(i for i, e in enumerate(parsed.entries) if e.id == entry_id)
        return InputError(f"entry {entry_id!r}: {message}", path=path, line=line_of(node, ["entries", index]))

    alias_owner: dict[str, str] = {}
    for e in registry.entries.values():
        for alias in e.aliases:
            other = alias_owner.get(alias)
            if other is not None and other != e.id:
                raise error(e.id, f"alias {alias!r} is also an alias of entry {other!r}")
            alias_owner[alias] = e.id
    entries = list(registry.entries.values())
    for e in entries:
        for alias in e.aliases:
            space = e.kind is EntryKind.DATASET
            hits = [
                (o, p.pattern)
                for o in entries
                if (o.kind is EntryKind.DATASET) == space
                for p in o.patterns
                if p.search(alias) and (space or not o.publishers or _holds(registry, o, alias))
            ]
            others = [(o, p) for o, p in hits if o.id != e.id]
            if others:
                o, p = others[0]
                mine = [p2 for o2, p2 in hits if o2.id == e.id]
                raise error(
                    o.id,
                    f"pattern {p!r} overlaps entry {e.id!r}: both match {alias!r}"
                    + (f" ({e.id!r} through {mine[0]!r})" if mine else f" (an alias of {e.id!r})")
                    + "; narrow the pattern, or override the entry by its id",
                )


def _holds(registry: Registry, entry: Entry, alias: str) -> bool:
    """Whether ``entry`` would resolve ``alias`` (a pattern that only looks like it does not overlap)."""
    claim = registry.claim(entry, alias)
    return claim is not None and claim.holds


def add_alias(model: str, entry_id: str, target: str | Path, overrides: Iterable[str | Path] = ()) -> Entry:
    """Vouch that ``model`` is ``entry_id``'s model: write the alias into the override ``target``.

    ``target`` (created if missing) gets the entry as the registry has it (shipped file, then
    ``overrides``, then ``target`` itself) with the alias added and an evidence row saying who
    vouched; the file is validated with the rest of the registry before it is written.

    Raises:
        InputError: no such entry, a dataset entry, or a registry file that does not load.
    """
    import yaml

    target = Path(target)
    files = [*overrides, *([target] if target.exists() else [])]
    entry = load_registry(files).get(entry_id)
    if entry is None or entry.kind is EntryKind.DATASET:
        raise InputError(f"no teacher entry {entry_id!r} in the registry (see `provenance teachers list`)")
    data = load_yaml(target, "registry file")[0] if target.exists() else {"version": "local.1"}
    entries = [e for e in data.get("entries") or [] if not (isinstance(e, dict) and e.get("id") == entry_id)]
    dumped = entry.model_dump(mode="json", exclude_defaults=True)
    dumped["aliases"] = [*dumped.get("aliases", []), model]
    dumped["evidence"] = [
        *dumped["evidence"],
        {
            "source": f"`provenance teachers alias`: {model} is this entry's model under its terms",
            "level": "U",
            "retrieved": utcnow().date().isoformat(),
        },
    ]
    data["entries"] = [*entries, dumped]
    staged = target.with_name(f".{target.name}.new")
    staged.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), "utf-8")
    try:
        load_registry([*overrides, staged])
    except InputError:
        staged.unlink()
        raise
    staged.replace(target)
    return entry
