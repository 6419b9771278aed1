"""Bad input: one clear message naming file and line, exit code 2, the ledger exactly as before."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, run_cli, snapshot

GOOD = {"instruction": "Add 2 and 3.", "input": "", "output": "5"}


def lines(*records: object) -> bytes:
    return b"".join((r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in records)


@pytest.fixture(scope="module")
def base_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ledger that already holds the bundled seeds: 'unchanged' has something to keep."""
    db = tmp_path_factory.mktemp("base") / "ledger.duckdb"
    result = run_cli("seeds", "import", str(EXAMPLES / "seed_tasks.jsonl"), "--licence", "Apache-2.0", db=db)
    assert result.exit_code == 0, result.output
    return db


@pytest.fixture
def db(base_ledger: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "ledger.duckdb"
    shutil.copy(base_ledger, copy)
    return copy


CASES = [
    # name, file content, --format, message pattern, line (None: no line)
    (
        "malformed JSON line",
        lines(GOOD, GOOD) + b'{"instruction": "x", "output": \n',
        "jsonl",
        r"malformed JSON: Expecting value",
        3,
    ),
    (
        "line that is not an object",
        lines(GOOD, [1, 2], GOOD),
        "jsonl",
        r"record is not a JSON object \(got array\)",
        2,
    ),
    (
        "missing required field",
        lines(GOOD, {"instruction": "x"}),
        "jsonl",
        r"missing required field 'output'",
        2,
    ),
    (
        "wrong type",
        lines(GOOD, GOOD, {"instruction": 5, "output": "y"}),
        "jsonl",
        r"field 'instruction' must be a string, got number",
        3,
    ),
    ("null output", lines({"instruction": "x", "output": None}), "alpaca", r"field 'output' is null", 1),
    (
        "empty instruction",
        lines(GOOD, {"instruction": "  ", "output": "y"}),
        "jsonl",
        r"field 'instruction' is empty",
        2,
    ),
    (
        "non-UTF-8 bytes",
        lines(GOOD) + b'{"instruction": "caf\xe9", "output": "y"}\n',
        "jsonl",
        r"not valid UTF-8: byte 0xe9 at column 21",
        2,
    ),
    (
        "non-UTF-8 in a JSON list",
        b'[\n  {"instruction": "a", "output": "b"},\n  {"instruction": "\xff"}\n]',
        "alpaca",
        r"not valid UTF-8 at column 20",
        3,
    ),
    (
        "lone surrogate escape",
        lines(GOOD, {"instruction": "x", "output": "y"}).replace(b'"y"', b'"\\ud800"'),
        "jsonl",
        r"invalid \\u escape",
        2,
    ),
    ("empty file", b"", "alpaca", r"file is empty", None),
    ("whitespace only", b"  \n\n ", "jsonl", r"file is empty", None),
    ("empty JSON list", b"[ ]", "alpaca", r"contains no records", None),
    (
        "truncated JSON list",
        json.dumps([GOOD, GOOD], indent=2).encode()[:-20],
        "alpaca",
        r"the file ends (in the middle of a record|inside the JSON list) \(truncated\?\)",
        None,
    ),
    ("trailing comma", b'[\n{"instruction": "a", "output": "b"},\n]', "alpaca", r"trailing comma", 3),
    (
        "garbage after the list",
        json.dumps([GOOD]).encode() + b"\nextra",
        "alpaca",
        r"unexpected content after the JSON list",
        2,
    ),
    (
        "not JSON at all",
        b"instruction,output\nx,y\n",
        "jsonl",
        r"expected a JSON list of objects or one JSON object per line",
        None,
    ),
    (
        "instances not a list",
        lines({"instruction": "x", "instances": "y"}),
        "self-instruct",
        r"field 'instances' must be a list, got string",
        1,
    ),
    (
        "instance without output",
        lines({"instruction": "x", "instances": [{"input": "a"}]}),
        "self-instruct",
        r"missing required field 'instances\[0\].output'",
        1,
    ),
    (
        "unknown chat role",
        lines({"messages": [{"role": "narrator", "content": "x"}]}),
        "chat",
        r"messages\[0\].role 'narrator' is not a known role",
        1,
    ),
    (
        "JSON nested 100,000 levels deep (JSON lines)",
        lines(GOOD)
        + b'{"instruction": "x", "output": "y", "extra": '
        + b"[" * 100_000
        + b"]" * 100_000
        + b"}\n",
        "jsonl",
        r"JSON nested too deeply",
        2,
    ),
    (
        "JSON nested 100,000 levels deep (JSON list)",
        b"[\n" + json.dumps(GOOD).encode() + b",\n" + b"[" * 100_000 + b"]" * 100_000 + b"\n]",
        "alpaca",
        r"record 1: JSON nested too deeply",
        3,
    ),
    (
        "prompt log without response",
        lines({"prompt": "p", "response": "r"}, {"prompt": "p"}),
        "predictions",
        r"missing required field 'response'",
        2,
    ),
]


@pytest.mark.parametrize(("name", "content", "fmt", "pattern", "line"), CASES, ids=[c[0] for c in CASES])
def test_bad_file_is_refused_and_the_ledger_is_unchanged(
    db: Path, tmp_path: Path, name: str, content: bytes, fmt: str, pattern: str, line: int | None
) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    before = snapshot(db)
    result = run_cli("import", str(path), "--format", fmt, "--licence", "MIT", db=db)
    assert result.exit_code == 2, result.output
    message = result.stderr.strip()
    assert message.count("\n") == 0 and "Traceback" not in message  # one line
    prefix = f"error: {path}:{line}:" if line is not None else f"error: {path}"
    assert message.startswith(prefix), message
    assert re.search(pattern, message), message
    assert snapshot(db) == before


def test_json_list_errors_name_the_line_and_the_record(db: Path, tmp_path: Path) -> None:
    records = [GOOD | {"instruction": f"task {i}"} for i in range(3000)]
    records[2500] = {"instruction": "task", "output": 7}
    path = tmp_path / "list.json"
    path.write_text(json.dumps(records, indent=4))
    before = snapshot(db)
    result = run_cli("import", str(path), "--format", "alpaca", db=db)
    assert result.exit_code == 2
    # each record takes 5 lines after the opening "[": record 2500 starts on line 2 + 5 * 2500
    assert result.stderr.startswith(f"error: {path}:{2 + 5 * 2500}: record 2500: field 'output'"), (
        result.stderr
    )
    assert snapshot(db) == before


def test_an_error_after_many_flushed_batches_still_leaves_nothing(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    with path.open("w") as f:
        for i in range(45_000):  # more than two write batches reach the ledger before the error
            f.write(json.dumps({"instruction": f"Say {i}.", "output": str(i)}) + "\n")
        f.write('{"instruction": "last", "output": }\n')
    before = snapshot(db)
    result = run_cli("import", str(path), "--format", "jsonl", db=db)
    assert result.exit_code == 2 and f"{path}:45001: malformed JSON" in result.stderr
    assert snapshot(db) == before


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        (
            ["--licence", "Apach-2.0"],
            r"unknown licence id 'Apach-2.0' in 'Apach-2.0' \(did you mean 'Apache-2.0'\?\)",
        ),
        (["--licence", "MIT AND ("], r"invalid licence expression"),
        (["--terms", "@2023"], r"--terms: id: String should have at least 1 character"),
        (["--teacher", ""], r"--teacher: model: String should have at least 1 character"),
    ],
)
def test_bad_declarations_are_refused(db: Path, tmp_path: Path, args: list[str], pattern: str) -> None:
    path = tmp_path / "ok.jsonl"
    path.write_bytes(lines(GOOD))
    before = snapshot(db)
    result = run_cli("import", str(path), "--format", "jsonl", *args, db=db)
    assert result.exit_code == 2 and re.search(pattern, result.stderr), result.stderr
    assert snapshot(db) == before


def test_missing_file_and_folder(db: Path, tmp_path: Path) -> None:
    before = snapshot(db)
    result = run_cli("import", str(tmp_path / "nope.json"), "--format", "alpaca", db=db)
    assert (
        result.exit_code == 2
        and result.stderr.strip() == f"error: {tmp_path / 'nope.json'}: file does not exist"
    )
    result = run_cli("import", str(tmp_path), "--format", "alpaca", db=db)
    assert result.exit_code == 2 and "is a folder" in result.stderr
    result = run_cli("import", str(tmp_path), "--format", "hf", db=db)
    assert result.exit_code == 2 and "not a saved Hugging Face dataset" in result.stderr
    assert snapshot(db) == before


@pytest.mark.parametrize(
    ("manifest", "pattern"),
    [
        ("origin: machine\nteachr: davinci\n", r"manifest.yaml:2: teachr: unknown field"),
        ("origin: machine\nlicence: [MIT\n", r"manifest.yaml:3: YAML syntax error"),
        ("source: x\nlicence: Apach-2.0\n", r"manifest.yaml:2: licence: unknown licence id 'Apach-2.0'"),
        ("origin: robot\n", r"manifest.yaml:1: origin: Input should be 'human', 'machine' or 'unknown'"),
        ("teacher:\n  provider: openai\n", r"manifest.yaml:1: teacher.model: Field required"),
        ("origin: human\nteacher: davinci\n", r"origin 'human' contradicts a declared teacher"),
        ("- a\n- b\n", r"manifest.yaml:1: manifest must be a YAML mapping"),
    ],
)
def test_bad_manifests_name_file_line_and_field(
    db: Path, tmp_path: Path, manifest: str, pattern: str
) -> None:
    data = tmp_path / "ok.jsonl"
    data.write_bytes(lines(GOOD))
    (tmp_path / "manifest.yaml").write_text(manifest)
    before = snapshot(db)
    result = run_cli(
        "import", str(data), "--format", "jsonl", "--manifest", str(tmp_path / "manifest.yaml"), db=db
    )
    assert result.exit_code == 2 and re.search(pattern, result.stderr), result.stderr
    assert snapshot(db) == before


BAD_CHARS = ["\n", "\x1b[31m", "\x9b", "\u202e", "\u2066"]


@pytest.mark.parametrize("char", BAD_CHARS, ids=["newline", "ESC", "C1", "RLO", "LRI"])
@pytest.mark.parametrize("option", ["--teacher", "--source", "--terms", "--licence"])
def test_control_characters_in_declared_options_are_refused(
    db: Path, tmp_path: Path, option: str, char: str
) -> None:
    path = tmp_path / "ok.jsonl"
    path.write_bytes(lines(GOOD))
    before = snapshot(db)
    result = run_cli("import", str(path), "--format", "jsonl", option, f"gpt{char}4", db=db)
    assert result.exit_code == 2, result.output
    assert re.search(
        rf"^error: {option}: the value holds the control character U\+[0-9A-F]{{4}}", result.stderr
    )
    assert "\x1b" not in result.stderr and "\u202e" not in result.stderr
    assert snapshot(db) == before


@pytest.mark.parametrize(
    ("manifest", "pattern"),
    [
        ('teacher: "gpt\\e[2J"\n', r"manifest.yaml:1: teacher: model holds the control character U\+001B"),
        ('origin: machine\nsource: "a\\u202eb"\n', r"manifest.yaml:2: source: the value holds .* U\+202E"),
        ('terms: {id: "tos\\x85", version: "1"}\n', r"manifest.yaml:1: terms: id holds .* U\+0085"),
    ],
)
def test_control_characters_in_manifest_fields_are_refused(
    db: Path, tmp_path: Path, manifest: str, pattern: str
) -> None:
    data = tmp_path / "ok.jsonl"
    data.write_bytes(lines(GOOD))
    (tmp_path / "manifest.yaml").write_text(manifest)
    before = snapshot(db)
    result = run_cli(
        "import", str(data), "--format", "jsonl", "--manifest", str(tmp_path / "manifest.yaml"), db=db
    )
    assert result.exit_code == 2 and re.search(pattern, result.stderr), result.stderr
    assert snapshot(db) == before


@pytest.mark.parametrize("key", ["name", "id"])
def test_control_characters_in_seed_names_are_refused(db: Path, tmp_path: Path, key: str) -> None:
    seed = {"id": "seed_1", "name": "add", "instruction": "Add.", "instances": [{"input": "", "output": "5"}]}
    path = tmp_path / "seeds.jsonl"
    path.write_bytes(lines(seed, seed | {key: "x\u202ey"}))
    before = snapshot(db)
    result = run_cli("seeds", "import", str(path), "--licence", "MIT", db=db)
    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"error: {path}:2: record 1: field '{key}' holds the control character U+202E"
    )
    assert snapshot(db) == before


def test_control_characters_in_text_content_are_kept_verbatim(db: Path, tmp_path: Path) -> None:
    from provenance.core.ledger import Ledger

    text = "red \x1b[31mtext\x1b[0m, \u202eright to left\u202c, C1 \x9b"
    path = tmp_path / "ok.jsonl"
    path.write_bytes(lines({"instruction": text, "output": text}))
    assert run_cli("import", str(path), "--format", "jsonl", db=db).exit_code == 0
    with Ledger.open(db, read_only=True) as ledger:
        stored = ledger.con.execute("SELECT output FROM examples WHERE instruction = ?", [text]).fetchall()
    assert stored == [(text,)]


@pytest.mark.slow
def test_a_50_mb_field_imports_and_verifies_at_the_default_memory_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROVENANCE_MEMORY_LIMIT", raising=False)
    path = tmp_path / "big.jsonl"
    big = 'a\x1b"\\\u00e9' * 10_000_000  # 50 MB of text that JSON escapes
    path.write_bytes(lines(GOOD, {"instruction": "Repeat it.", "output": big}))
    db = tmp_path / "ledger.duckdb"
    result = run_cli("import", str(path), "--format", "jsonl", "--licence", "MIT", db=db)
    assert result.exit_code == 0, result.output
    result = run_cli("verify", db=db)
    assert result.exit_code == 0, result.output
    out = tmp_path / "out.jsonl"
    result = run_cli("export", str(out), "--format", "jsonl", db=db)
    assert result.exit_code == 0, result.output
    exported = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert sorted(len(e["output"]) for e in exported) == [1, len(big)]


def test_exported_long_rows_are_the_objects_copy_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ranges holding long rows are written in Python: the same JSON objects DuckDB's COPY writes."""
    from provenance.core import export

    records = [GOOD | {"instruction": f"task {i} \x1b\u202e\n", "id": i} for i in range(50)]
    chat = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    (tmp_path / "a.jsonl").write_bytes(lines(*records))
    (tmp_path / "c.jsonl").write_bytes(lines(chat))
    db = tmp_path / "ledger.duckdb"
    assert (
        run_cli("import", str(tmp_path / "a.jsonl"), "--format", "jsonl", "--licence", "MIT", db=db).exit_code
        == 0
    )
    assert run_cli("import", str(tmp_path / "c.jsonl"), "--format", "chat", db=db).exit_code == 0
    assert run_cli("export", str(tmp_path / "copy.jsonl"), "--format", "jsonl", db=db).exit_code == 0
    monkeypatch.setattr(export, "LONG_BYTES", 0)
    assert run_cli("export", str(tmp_path / "python.jsonl"), "--format", "jsonl", db=db).exit_code == 0
    copied, written = ((tmp_path / n).read_text("utf-8").splitlines() for n in ("copy.jsonl", "python.jsonl"))
    assert [json.loads(x) for x in written] == [json.loads(x) for x in copied] and len(copied) == 51


def test_long_rows_hash_as_duckdb_would(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows over LONG_BYTES are serialized in Python: the digests are those DuckDB's own JSON gives."""
    from provenance.core import audit_log
    from provenance.core.ledger import Ledger

    texts = ["short", "x" * 300, '\x00\x1f\x7f\t\n\r\b\f"\\/\u2028\U0001f600' * 40, "é" * 2_000, "~" * 5_000]
    records = [{"instruction": f"task {i} {t}", "output": t} for i, t in enumerate(texts * 3)]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(lines(*records))
    db = tmp_path / "ledger.duckdb"
    assert run_cli("import", str(path), "--format", "jsonl", "--teacher", "gpt-4", db=db).exit_code == 0
    with Ledger.open(db, read_only=True) as ledger:
        expected = audit_log.digests(ledger.con)
        monkeypatch.setattr(audit_log, "LONG_BYTES", 200)
        assert audit_log.digests(ledger.con) == expected
        run_id = next(iter(expected))
        assert audit_log.digests(ledger.con, run_id) == {run_id: expected[run_id]}


@pytest.mark.parametrize(
    ("content", "fmt", "where"),
    [
        (lines(GOOD, GOOD | {"output": "é" * 600_000}), "jsonl", ":2: record 1: field 'output'"),
        (
            json.dumps([GOOD, GOOD | {"input": "x" * 1_200_000}], indent=2).encode(),
            "alpaca",
            ":7: record 1: field 'input'",
        ),
        (
            lines(
                {
                    "messages": [
                        {"role": "user", "content": "hi"},
                        {"role": "assistant", "content": "z" * 1_200_000},
                    ]
                }
            ),
            "chat",
            ":1: record 0: field 'messages[1].content'",
        ),
        (
            lines(GOOD | {"meta": {"notes": ["x" * 1_200_000]}}),
            "jsonl",
            ":1: record 0: field 'meta.notes[0]'",
        ),
    ],
    ids=["jsonl", "json-list", "chat", "nested-unused"],
)
def test_a_field_over_the_limit_names_record_field_size_and_setting(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes, fmt: str, where: str
) -> None:
    monkeypatch.setenv("PROVENANCE_MAX_FIELD_BYTES", "1000000")
    path = tmp_path / "big.json"
    path.write_bytes(content)
    before = snapshot(db)
    result = run_cli("import", str(path), "--format", fmt, db=db)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(
        f"error: {path}{where} is 1,200,000 bytes, over the limit of 1,000,000 bytes"
    ), result.stderr
    assert "PROVENANCE_MAX_FIELD_BYTES" in result.stderr
    assert snapshot(db) == before


def test_a_bad_field_limit_setting_is_refused(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROVENANCE_MAX_FIELD_BYTES", "lots")
    path = tmp_path / "ok.jsonl"
    path.write_bytes(lines(GOOD))
    result = run_cli("import", str(path), "--format", "jsonl", db=db)
    assert result.exit_code == 2 and "PROVENANCE_MAX_FIELD_BYTES='lots' is not a positive" in result.stderr


@pytest.mark.parametrize("option", ["--teacher", "--licence", "--terms"])
def test_control_characters_in_generate_options_are_refused(db: Path, option: str) -> None:
    args = ["--teacher", "gpt-4o-mini", "--base-url", "http://127.0.0.1:9/v1", "-n", "1"]
    args += [option, "gpt\x1b]8;;https://e.vil\x07x"]
    before = snapshot(db)
    result = run_cli("generate", "alpaca", *args, db=db)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {option}: the value holds the control character U+001B"), (
        result.stderr
    )
    assert snapshot(db) == before
