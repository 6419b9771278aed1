"""Content ids: the fast paths must equal the documented definition byte for byte."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provenance.core.ids import canonical_json, chat_id, content_id, digest_file, instruction_id

# any text Python can hold as valid UTF-8 (no lone surrogates): control characters, quotes,
# backslashes, U+2028, astral planes, …
text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=60)


def definition(obj: object) -> str:
    """sha256 of json.dumps(sort_keys, compact separators, ensure_ascii=False) as UTF-8."""
    data = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


@given(text, text, text)
def test_instruction_id_matches_the_definition(instruction: str, input: str, output: str) -> None:
    content = {"instruction": instruction, "input": input, "output": output}
    assert instruction_id(instruction, input, output) == definition(content) == content_id(content)


@given(
    st.lists(
        st.tuples(st.sampled_from(["system", "user", "assistant", "tool"]), text), min_size=1, max_size=5
    )
)
def test_chat_id_matches_the_definition(turns: list[tuple[str, str]]) -> None:
    messages = [{"role": r, "content": c} for r, c in turns]
    assert chat_id(messages) == definition({"messages": messages})


def test_every_control_character_and_escape_hashes_like_the_definition() -> None:
    for cp in [*range(0x80), 0x2028, 0x2029, 0xFEFF, 0x1F600]:
        s = f'a{chr(cp)}"\\b'
        assert instruction_id(s, s, s) == definition({"instruction": s, "input": s, "output": s})


def test_ids_depend_on_every_field_and_on_exact_text() -> None:
    base = instruction_id("Add 2 and 3.", "", "5")
    assert base != instruction_id("Add 2 and 3. ", "", "5")  # verbatim: no trimming
    assert base != instruction_id("Add 2 and 3.", "", "5.0")
    assert base != instruction_id("", "Add 2 and 3.", "5")  # fields do not run together
    assert base == content_id({"output": "5", "input": "", "instruction": "Add 2 and 3."})


def test_lone_surrogates_are_refused() -> None:
    with pytest.raises(ValueError, match="surrogate"):
        instruction_id("bad \ud800", "", "x")
    with pytest.raises(ValueError, match="surrogate"):
        chat_id([{"role": "user", "content": "\udfff"}])
    with pytest.raises(ValueError, match="surrogate"):
        canonical_json({"a": "\ud83d"})


def test_canonical_json_is_sorted_and_compact() -> None:
    assert canonical_json({"b": 1, "a": ["é", None]}) == '{"a":["é",null],"b":1}'.encode()


def test_digest_file_streams_the_bytes(tmp_path) -> None:
    path = tmp_path / "f.bin"
    data = bytes(range(256)) * 10_000
    path.write_bytes(data)
    assert digest_file(str(path), chunk_size=4096) == hashlib.sha256(data).hexdigest()
