"""The record model: licences, examples, teachers, terms, declarations, edges."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from provenance.core.errors import LicenceError
from provenance.core.licences import normalize_licence
from provenance.core.models import (
    Declaration,
    Example,
    LineageEdge,
    Message,
    Origin,
    Seed,
    SeedInstance,
    Teacher,
    Terms,
    TermsStatus,
)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Apache-2.0", "Apache-2.0"),
        ("apache-2.0", "Apache-2.0"),
        (
            "cc-by-nc-4.0 and LicenseRef-scancode-openai-tou-20230314",
            "CC-BY-NC-4.0 AND LicenseRef-scancode-openai-tou-20230314",
        ),
        ("(MIT OR Apache-2.0) AND BSD-3-Clause", "(MIT OR Apache-2.0) AND BSD-3-Clause"),
        ("Apache-2.0 WITH LLVM-exception", "Apache-2.0 WITH LLVM-exception"),
        ("GPL-2.0+", "GPL-2.0-or-later"),
        ("LicenseRef-scancode-llama-2-license-2023", "LicenseRef-scancode-llama-2-license-2023"),
        # a ScanCode key newer than the installed database is still a valid LicenseRef
        ("LicenseRef-scancode-gemma-tou-2025-03-24", "LicenseRef-scancode-gemma-tou-2025-03-24"),
        ("LicenseRef-acme-internal-1.0", "LicenseRef-acme-internal-1.0"),
        ("DocumentRef-spdx-tool:LicenseRef-x", "DocumentRef-spdx-tool:LicenseRef-x"),
    ],
)
def test_valid_licences_are_normalised(given: str, expected: str) -> None:
    assert normalize_licence(given) == expected


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("Apach-2.0", "did you mean 'Apache-2.0'"),
        ("llama2", "unknown licence id 'llama2'"),
        ("MIT OR Foo", "unknown licence id 'Foo'"),
        ("MIT AND (", "invalid licence expression"),
        ("MIT AND", "invalid licence expression"),
        ("MIT WITH Apache-2.0", "invalid licence expression"),
        ("", "empty"),
        ("NOASSERTION", "leave the licence out"),
    ],
)
def test_invalid_licences_are_refused_with_a_reason(given: str, message: str) -> None:
    with pytest.raises(LicenceError, match=message) as info:
        normalize_licence(given)
    assert info.value.exit_code == 2


def test_example_shapes() -> None:
    ex = Example(instruction="Say hi", output="hi")
    assert ex.kind == "instruction" and ex.input == ""
    chat = Example(messages=(Message(role="user", content="hi"), Message(role="assistant", content="hello")))
    assert chat.kind == "chat"
    assert chat.id == Example(messages=chat.messages).id != ex.id
    with pytest.raises(ValidationError, match="either messages or"):
        Example(instruction="x", output="y", messages=(Message(role="user", content="x"),))
    with pytest.raises(ValidationError, match="instruction and output"):
        Example(instruction="x")
    with pytest.raises(ValidationError, match="must not be empty"):
        Example(instruction="   ", output="y")
    with pytest.raises(ValidationError):
        Message(role="narrator", content="x")


def test_seed_id_covers_instruction_and_instances_not_names() -> None:
    seed = Seed(instruction="Name a colour.", instances=(SeedInstance(output="red"),), name="a")
    renamed = Seed(instruction="Name a colour.", instances=(SeedInstance(output="red"),), name="b")
    other = Seed(instruction="Name a colour.", instances=(SeedInstance(output="blue"),))
    assert seed.id == renamed.id != other.id
    assert [e.output for e in seed.examples()] == ["red"]
    with pytest.raises(ValidationError):
        Seed(instruction="x", instances=())


def test_teacher_endpoint_never_keeps_secrets() -> None:
    teacher = Teacher(
        model="gpt-4o-mini-2024-07-18",
        endpoint="https://user:hunter2@api.example.com:8443/v1?api-version=2024-02&api_key=sk-123&sig=abc#frag",
    )
    assert teacher.endpoint == "https://api.example.com:8443/v1?api-version=2024-02"
    assert "hunter2" not in teacher.model_dump_json() and "sk-123" not in teacher.model_dump_json()
    with pytest.raises(ValidationError):
        Teacher(model="")


def test_terms_parse_and_label() -> None:
    terms = Terms.parse("openai-terms-of-use@2023-03-14")
    assert (terms.id, terms.version, terms.status) == (
        "openai-terms-of-use",
        "2023-03-14",
        TermsStatus.UNKNOWN,
    )
    assert terms.label() == "openai-terms-of-use@2023-03-14"
    assert Terms.parse("gemma-tou").version is None
    assert Terms(id="x", retrieved="2026-11-01").retrieved == date(2026, 11, 1)


def test_declaration_validates_licence_and_consistency() -> None:
    d = Declaration(origin=Origin.MACHINE, teacher=Teacher(model="davinci"), licence="apache-2.0")
    assert d.licence == "Apache-2.0"
    assert Declaration().origin is Origin.UNKNOWN and Declaration().licence is None
    assert d.hash != Declaration(origin=Origin.MACHINE, teacher=Teacher(model="davinci")).hash
    with pytest.raises(ValidationError, match="contradicts"):
        Declaration(origin=Origin.HUMAN, teacher=Teacher(model="davinci"))
    with pytest.raises(LicenceError):
        Declaration(licence="not a licence")


def test_lineage_edges_refuse_self_loops_and_bad_ids() -> None:
    a, b = "a" * 64, "b" * 64
    assert LineageEdge(child_id=a, parent_id=b, parent_kind="seed", relation="instruction-of").position == 0
    with pytest.raises(ValidationError, match="own parent"):
        LineageEdge(child_id=a, parent_id=a, parent_kind="example", relation="derived-from")
    with pytest.raises(ValidationError):
        LineageEdge(child_id="xyz", parent_id=b, parent_kind="example", relation="derived-from")
    with pytest.raises(ValidationError):
        LineageEdge(child_id=a, parent_id=b, parent_kind="example", relation="copied-from")
