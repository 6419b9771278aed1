"""Property tests: random, truncated and corrupted input to the importers.

Whatever the bytes, an import either succeeds with exactly the examples an independent oracle
(the standard library's json) finds, or raises InputError naming the file and a line or record,
and then leaves the ledger exactly as it was.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from generators.importers import import_file
from provenance.core.errors import InputError
from provenance.core.ids import instruction_id
from provenance.core.ledger import Ledger
from provenance.core.models import Declaration
from tests.conftest import EXAMPLES, snapshot

text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=30)
valid_record = st.fixed_dictionaries(
    {"instruction": text.filter(lambda s: s.strip()), "output": text},
    optional={
        "input": text,
        "id": st.one_of(st.integers(), text),
        "note": text,
        "score": st.integers(-(2**80), 2**80),
    },
)
invalid_record = st.one_of(
    st.fixed_dictionaries({"instruction": text}),  # no output
    st.fixed_dictionaries({"instruction": st.integers(), "output": text}),  # wrong type
    st.fixed_dictionaries({"instruction": st.just("  "), "output": text}),  # empty instruction
    st.lists(text, max_size=2),
    st.integers(),
    st.none(),
    text,  # not an object
)
records = st.one_of(
    st.lists(valid_record, min_size=1, max_size=12),
    st.lists(st.one_of(valid_record, valid_record, valid_record, invalid_record), max_size=12),
)


def oracle(data: bytes) -> tuple[bool, set[str]]:
    """Expected outcome: (accepted, example ids), with the standard library only."""
    try:
        text_ = data.decode("utf-8")
    except UnicodeDecodeError:
        return False, set()
    text_ = text_.removeprefix("\ufeff")
    stripped = text_.lstrip(" \t\r\n")
    if not stripped:
        return False, set()
    try:
        if stripped[0] == "[":
            values = json.loads(text_)
        elif stripped[0] == "{":
            values = [json.loads(line) for line in text_.split("\n") if line.strip(" \t\r\n")]
        else:
            return False, set()
    except (json.JSONDecodeError, RecursionError):
        return False, set()
    if not isinstance(values, list) or not values:
        return False, set()
    ids = set()
    for value in values:
        if not isinstance(value, dict):
            return False, set()
        instruction, output, input_ = value.get("instruction"), value.get("output"), value.get("input", "")
        if input_ is None:
            input_ = ""
        if not (isinstance(instruction, str) and isinstance(output, str) and isinstance(input_, str)):
            return False, set()
        if not instruction.strip():
            return False, set()
        try:
            json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")
            ids.add(instruction_id(instruction, input_, output))
        except ValueError:  # NaN, infinities, lone surrogates
            return False, set()
    return True, ids


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from generators.importers import import_seeds

    path = tmp_path_factory.mktemp("base") / "ledger.duckdb"
    with Ledger.open(path) as ledger:
        import_seeds(ledger, EXAMPLES / "seed_tasks.jsonl", Declaration())
    return path


def check(base: Path, data: bytes) -> None:
    accepted, ids = oracle(data)
    with tempfile.TemporaryDirectory() as tmp:
        db, source = Path(tmp) / "ledger.duckdb", Path(tmp) / "input.json"
        shutil.copy(base, db)
        source.write_bytes(data)
        before = snapshot(db)
        with Ledger.open(db) as ledger:
            known = {r[0] for r in ledger.con.execute("SELECT example_id FROM examples").fetchall()}
            try:
                summary = import_file(ledger, source, "jsonl", Declaration())
            except InputError as exc:
                assert not accepted, f"refused input the oracle accepts: {exc}"
                assert str(exc).startswith(str(source)), str(exc)
                assert (
                    exc.line is not None
                    or exc.record is not None
                    or exc.message in {"file is empty", "contains no records"}
                    or "expected a JSON list" in exc.message
                ), str(exc)
                failed = True
            else:
                assert accepted, "accepted input the oracle refuses"
                stored = {r[0] for r in ledger.con.execute("SELECT example_id FROM examples").fetchall()}
                assert stored == known | ids
                assert summary.examples_new == len(ids - known)
                failed = False
        if failed:
            assert snapshot(db) == before


def layouts(values: list[Any], style: str) -> bytes:
    if style == "lines":
        return "".join(json.dumps(v) + "\n" for v in values).encode()
    if style == "lines-unicode":
        return "".join(json.dumps(v, ensure_ascii=False) + "\r\n" for v in values).encode()
    indent = {"list": None, "list-1": 1, "list-4": 4}[style]
    return json.dumps(values, indent=indent, ensure_ascii=indent is None).encode()


STYLES = st.sampled_from(["lines", "lines-unicode", "list", "list-1", "list-4"])
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@SETTINGS
@given(values=records, style=STYLES)
def test_whole_files(base: Path, values: list[Any], style: str) -> None:
    check(base, layouts(values, style))


@SETTINGS
@given(values=records.filter(bool), style=STYLES, cut=st.floats(0, 1), at_newline=st.booleans())
def test_truncated_files(base: Path, values: list[Any], style: str, cut: float, at_newline: bool) -> None:
    data = layouts(values, style)
    end = int(len(data) * cut)
    if at_newline:  # a JSON-lines file cut between lines is still valid, with fewer records
        end = data.rfind(b"\n", 0, end) + 1
    check(base, data[:end])


@SETTINGS
@given(values=records.filter(bool), style=STYLES, at=st.floats(0, 1), junk=st.binary(min_size=1, max_size=4))
# a backslash that turns an escaped backslash into a lone surrogate escape in a field no one reads
@example(
    values=[{"instruction": "x", "output": "", "note": "\U00010000"}], style="lines", at=0.7542, junk=b"\\"
)
def test_corrupted_files(base: Path, values: list[Any], style: str, at: float, junk: bytes) -> None:
    data = layouts(values, style)
    i = int(len(data) * at)
    check(base, data[:i] + junk + data[i:])


@SETTINGS
@given(data=st.binary(max_size=200))
def test_random_bytes(base: Path, data: bytes) -> None:
    assume(data.strip())
    check(base, data)


column_record = st.one_of(
    valid_record,
    st.fixed_dictionaries(
        {"instruction": text.filter(lambda s: s.strip()), "output": text, "input": st.none()}
    ),
    st.fixed_dictionaries(
        {
            "instruction": text.filter(lambda s: s.strip()),
            "output": text,
            "id": st.one_of(st.integers(), text, st.dictionaries(text, text, max_size=1)),
        }
    ),
    st.fixed_dictionaries(
        {"instruction": text.filter(lambda s: s.strip()), "output": text, "response": text}
    ),
    invalid_record,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(column_record, min_size=1, max_size=8), st.booleans())
def test_the_column_path_maps_exactly_like_the_record_path(chunk: list[Any], uniform: bool) -> None:
    """map_instruction_columns either declines a chunk or gives what map_instruction gives."""
    from generators.importers.mappings import map_instruction, map_instruction_columns
    from generators.importers.source import Source

    if uniform:  # chunks of one shape take the column path most often
        chunk = [chunk[0]] * len(chunk) if isinstance(chunk[0], dict) else chunk
    columns = map_instruction_columns(chunk)
    if columns is None:
        return
    src = Source("chunk.json")
    expected = [map_instruction(r, src, None, i) for i, r in enumerate(chunk)]
    assert columns.ids == [m.example_id for m in expected]
    assert (columns.instructions, columns.inputs, columns.outputs) == (
        [m.instruction for m in expected],
        [m.input for m in expected],
        [m.output for m in expected],
    )
    assert (columns.record_ids or [None] * len(chunk)) == [m.record_id for m in expected]
    if columns.extra_key is not None:
        extras = [{columns.extra_key: v} for v in columns.extra_values]
    else:
        extras = columns.extras or [None] * len(chunk)
    assert extras == [m.extra for m in expected]
