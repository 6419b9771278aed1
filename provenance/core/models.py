"""The record model (pydantic v2): examples, seeds, teachers, terms, provenance, lineage, runs.

Unknown is stored as unknown: an undeclared teacher, licence or terms is ``None`` (NULL in the
ledger) and shown as "unknown"; an undeclared origin is ``Origin.UNKNOWN``. Nothing is guessed.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from functools import cached_property
from typing import Any, Self
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from provenance.core.ids import chat_id, content_id, instruction_id
from provenance.core.licences import normalize_licence
from provenance.core.secrets import SECRET_NAME

ID_PATTERN = r"^[0-9a-f]{64}$"

#: characters that change what a terminal shows rather than showing themselves: C0 controls
#: (newline and ESC among them), DEL, C1 controls, the line and paragraph separators, and the
#: bidirectional marks, embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069)
CONTROL_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def control_problem(value: str | None) -> str | None:
    """Why ``value`` cannot be a declared id or name (the first control character in it), or None."""
    if value is None:
        return None
    found = CONTROL_CHARS.search(value)
    if found is None:
        return None
    return (
        f"holds the control character U+{ord(found.group()):04X} at character {found.start() + 1}; "
        "declared ids and names must be plain text"
    )


def plain(value: str | None, name: str) -> str | None:
    """``value`` unchanged, or ValueError naming ``name`` when it holds a control character."""
    problem = control_problem(value)
    if problem is not None:
        raise ValueError(f"{name} {problem}")
    return value


class Origin(StrEnum):
    """Who wrote the content."""

    HUMAN = "human"
    MACHINE = "machine"
    UNKNOWN = "unknown"


class Method(StrEnum):
    """How the content entered the ledger."""

    SEED = "seed"
    IMPORTED = "imported"
    TEACHER = "teacher"
    SELF = "self"
    REDACTED = "redacted"
    VERIFIED = "verified"


class Relation(StrEnum):
    """What the parent of a lineage edge is to its child."""

    IN_CONTEXT_DEMO = "in-context-demo"
    INSTRUCTION_OF = "instruction-of"
    REDACTED_FROM = "redacted-from"
    VERIFIED_FROM = "verified-from"
    DERIVED_FROM = "derived-from"


class NodeKind(StrEnum):
    """The kinds of lineage node."""

    SEED = "seed"
    EXAMPLE = "example"
    INSTRUCTION = "instruction"  # a machine-written instruction (Self-Instruct's bootstrap)


class TermsStatus(StrEnum):
    """What the terms allow a teacher's output to train (verdict classes of teacher-terms.md)."""

    ALLOWED = "allowed"
    ALLOWED_WITH_CONDITIONS = "allowed_with_conditions"
    NON_COMPETING_ONLY = "non_competing_only"
    RESEARCH_ONLY = "research_only"
    PROHIBITED = "prohibited"
    UNKNOWN = "unknown"


class ExampleKind(StrEnum):
    """The two shapes of example content."""

    INSTRUCTION = "instruction"
    CHAT = "chat"


class Role(StrEnum):
    """Chat message roles."""

    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Message(_Frozen):
    """One chat turn."""

    role: Role
    content: str


class Example(_Frozen):
    """An instruction example (instruction / input / output) or a chat (messages)."""

    instruction: str | None = None
    input: str = ""
    output: str | None = None
    messages: tuple[Message, ...] | None = None

    @model_validator(mode="after")
    def _one_shape(self) -> Self:
        if self.messages is not None:
            if self.instruction is not None or self.output is not None or self.input:
                raise ValueError("an example has either messages or instruction/input/output")
            if not self.messages:
                raise ValueError("messages must not be empty")
        else:
            if self.instruction is None or self.output is None:
                raise ValueError("an instruction example needs instruction and output")
            if not self.instruction.strip():
                raise ValueError("instruction must not be empty")
        return self

    @property
    def kind(self) -> ExampleKind:
        """Which shape this example has."""
        return ExampleKind.CHAT if self.messages is not None else ExampleKind.INSTRUCTION

    def content(self) -> dict[str, Any]:
        """The content that the id hashes."""
        if self.messages is not None:
            return {"messages": [{"role": m.role.value, "content": m.content} for m in self.messages]}
        return {"instruction": self.instruction, "input": self.input, "output": self.output}

    @cached_property
    def id(self) -> str:
        """sha256 of the canonical JSON of :meth:`content`."""
        if self.messages is not None:
            return chat_id({"role": m.role.value, "content": m.content} for m in self.messages)
        assert self.instruction is not None and self.output is not None
        return instruction_id(self.instruction, self.input, self.output)


class SeedInstance(_Frozen):
    """One input/output pair of a seed task."""

    input: str = ""
    output: str


class Seed(_Frozen):
    """A human-written seed task: an instruction with one or more instances."""

    instruction: str
    instances: tuple[SeedInstance, ...] = Field(min_length=1)
    name: str | None = None
    external_id: str | None = None
    is_classification: bool | None = None

    @field_validator("instruction")
    @classmethod
    def _non_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("instruction must not be empty")
        return value

    def content(self) -> dict[str, Any]:
        """The content that the id hashes (instruction and instances; names are metadata)."""
        return {
            "instruction": self.instruction,
            "instances": [{"input": i.input, "output": i.output} for i in self.instances],
        }

    @cached_property
    def id(self) -> str:
        """sha256 of the canonical JSON of :meth:`content`."""
        return content_id(self.content())

    def examples(self) -> list[Example]:
        """One instruction example per instance."""
        return [Example(instruction=self.instruction, input=i.input, output=i.output) for i in self.instances]


def strip_secrets(url: str) -> str:
    """Drop user info, secret-looking query parameters and the fragment from a URL."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not SECRET_NAME.search(k)]
    return urlunsplit((parts.scheme, host, parts.path, urlencode(query), ""))


class Teacher(_Frozen):
    """The model that wrote an example. ``endpoint`` never holds secrets."""

    model: str = Field(min_length=1)
    provider: str | None = None
    revision: str | None = None
    fingerprint: str | None = None
    endpoint: str | None = None

    @field_validator("endpoint")
    @classmethod
    def _no_secrets(cls, value: str | None) -> str | None:
        return strip_secrets(value) if value else value

    def declared_problem(self) -> str | None:
        """The first field that holds a control character, and why ("model holds …"), or None."""
        for name in ("model", "provider", "revision", "fingerprint", "endpoint"):
            problem = control_problem(getattr(self, name))
            if problem is not None:
                return f"{name} {problem}"
        return None

    @cached_property
    def id(self) -> str:
        """sha256 of the canonical JSON of all fields."""
        return content_id(self.model_dump(mode="json"))


class Terms(_Frozen):
    """A teacher's terms of use or licence terms, as declared for an import or a call."""

    id: str = Field(min_length=1)
    version: str | None = None
    retrieved: date | None = None
    status: TermsStatus = TermsStatus.UNKNOWN

    @classmethod
    def parse(cls, text: str) -> Terms:
        """Parse ``ID`` or ``ID@VERSION`` as given on the command line."""
        ident, _, version = text.partition("@")
        return cls(id=ident.strip(), version=version.strip() or None)

    def label(self) -> str:
        """``id@version`` or ``id``."""
        return f"{self.id}@{self.version}" if self.version else self.id

    def declared_problem(self) -> str | None:
        """The first field that holds a control character, and why ("id holds …"), or None."""
        for name in ("id", "version"):
            problem = control_problem(getattr(self, name))
            if problem is not None:
                return f"{name} {problem}"
        return None


class Declaration(_Frozen):
    """What an import declares about its data. Anything left out is recorded as unknown."""

    origin: Origin = Origin.UNKNOWN
    teacher: Teacher | None = None
    licence: str | None = None
    terms: Terms | None = None
    source: str | None = None

    @field_validator("licence")
    @classmethod
    def _spdx(cls, value: str | None) -> str | None:
        return normalize_licence(value) if value is not None else None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.origin is Origin.HUMAN and self.teacher is not None:
            raise ValueError("origin 'human' contradicts a declared teacher")
        return self

    @model_validator(mode="after")
    def _plain(self) -> Self:
        """Declared ids and names are plain text: no newline, ESC, C1 or bidi control."""
        for name, part in (("teacher", self.teacher), ("terms", self.terms)):
            problem = part.declared_problem() if part is not None else None
            if problem is not None:
                raise ValueError(f"{name}.{problem}")
        plain(self.licence, "licence")
        plain(self.source, "source")
        return self

    @cached_property
    def hash(self) -> str:
        """Content id of the declaration; part of every provenance row's identity."""
        return content_id(self.model_dump(mode="json"))


class ProvenanceRecord(_Frozen):
    """One claim about where an example came from. An example may have several."""

    provenance_id: str = Field(pattern=ID_PATTERN)
    example_id: str = Field(pattern=ID_PATTERN)
    run_id: str
    origin: Origin
    method: Method
    teacher: Teacher | None = None
    licence: str | None = None
    terms: Terms | None = None
    source: str | None = None
    source_file: str | None = None
    source_sha256: str | None = None
    source_format: str | None = None
    source_index: int | None = None
    source_line: int | None = None
    source_part: str | None = None
    source_row: int | None = None
    source_item: int | None = None
    source_record_id: str | None = None
    method_params: dict[str, Any] | None = None
    prompt: str | None = None
    prompt_template_hash: str | None = None
    request_id: str | None = None
    usage: dict[str, Any] | None = None
    extra: dict[str, Any] | None = None
    created_at: datetime

    def locator(self) -> str:
        """Where in its source file the example was: "line 12", "train/….arrow row 7", …"""
        if self.source_line is not None:
            where = f"line {self.source_line}"
        elif self.source_row is not None:
            where = f"{self.source_part} row {self.source_row}"
        else:
            where = f"record {self.source_index}" if self.source_index is not None else "unknown"
        return f"{where}, instance {self.source_item}" if self.source_item is not None else where


class LineageEdge(_Frozen):
    """child → parent: the child example was made with or from the parent."""

    child_id: str = Field(pattern=ID_PATTERN)
    parent_id: str = Field(pattern=ID_PATTERN)
    parent_kind: NodeKind
    relation: Relation
    position: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _no_self_loop(self) -> Self:
        if self.child_id == self.parent_id:
            raise ValueError("an example cannot be its own parent")
        return self


class Run(_Frozen):
    """One invocation that wrote to the ledger."""

    run_id: str
    kind: str
    started_at: datetime
    finished_at: datetime | None = None
    status: str
    tool_version: str
    params: dict[str, Any] | None = None
    summary: dict[str, Any] | None = None
