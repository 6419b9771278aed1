"""Each importer on real files from ../shared/data, idempotence, cross-format identity."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generators.importers import import_file, import_seeds
from provenance.core.ids import chat_id, instruction_id
from provenance.core.ledger import Ledger
from provenance.core.models import Declaration, Origin, Teacher, Terms, TermsStatus
from tests.conftest import EXAMPLES

PREDICTION_MODELS = [
    "davinci",
    "text-davinci-001",
    "text-davinci-002",
    "text-davinci-003",
    "davinci-self-instruct",
    "davinci-superni-ft",
    "davinci-t0-ft",
    "davinci-self-instruct-and-superni-ft",
]
OPENAI = "Apache-2.0 AND LicenseRef-scancode-openai-tou-20230314"


def count(ledger: Ledger, sql: str, params: list | None = None) -> int:
    return ledger.con.execute(sql, params or []).fetchone()[0]


def test_alpaca_code_alpaca_keeps_and_reports_the_unused_response(ledger: Ledger, shared: Path) -> None:
    path = shared / "code-alpaca" / "new_codealpaca.json"
    records = json.loads(path.read_text())
    summary = import_file(ledger, path, "alpaca", Declaration(licence="CC-BY-NC-4.0"))
    assert (summary.records, summary.examples, summary.examples_new) == (4535, 4535, 4535)
    assert summary.unused_fields == {"response": 4535}
    assert summary.declaration["teacher"] == "unknown" and summary.declaration["origin"] == "unknown"
    assert count(ledger, "SELECT count(*) FROM examples") == 4535
    # content verbatim, id = hash of the content, the unused field kept with the claim
    first = records[0]
    eid = instruction_id(first["instruction"], first["input"], first["output"])
    row = ledger.rows(
        "SELECT e.output, p.extra, p.source_index, p.licence, p.teacher_id, p.origin "
        "FROM examples e JOIN provenance_records p USING (example_id) "
        "WHERE example_id = ?",
        [eid],
    )[0]
    assert row["output"] == first["output"]
    assert json.loads(row["extra"]) == {"response": first["response"]}
    assert (row["source_index"], row["licence"], row["teacher_id"], row["origin"]) == (
        0,
        "CC-BY-NC-4.0",
        None,
        "unknown",
    )


def test_reimporting_the_same_file_adds_nothing(ledger: Ledger, shared: Path) -> None:
    path = shared / "code-alpaca" / "new_codealpaca.json"
    import_file(ledger, path, "alpaca", Declaration())
    tables = ("examples", "provenance", "provenance_sets")
    before = {t: count(ledger, f"SELECT count(*) FROM {t}") for t in tables}
    again = import_file(ledger, path, "alpaca", Declaration())
    assert (again.examples_new, again.provenance_new, again.examples_known) == (0, 0, 4535)
    assert {t: count(ledger, f"SELECT count(*) FROM {t}") for t in tables} == before
    assert count(ledger, "SELECT count(*) FROM runs WHERE kind = 'import'") == 2  # both runs recorded


@pytest.mark.parametrize("model", PREDICTION_MODELS)
def test_predictions_keep_prompt_and_response_verbatim(ledger: Ledger, shared: Path, model: str) -> None:
    path = shared / "self-instruct" / "predictions" / f"{model}_predictions.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    declaration = Declaration(
        origin=Origin.MACHINE,
        teacher=Teacher(model=model, provider="openai"),
        licence=OPENAI,
        terms=Terms(id="openai-terms-of-use", version="2023-03-14", status=TermsStatus.NON_COMPETING_ONLY),
    )
    summary = import_file(ledger, path, "predictions", declaration)
    assert summary.records == 252 and summary.unused_fields == {"target": 252}
    distinct = {instruction_id(r["instruction"], r["input"], r["response"]) for r in lines}
    assert summary.examples_new == len(distinct)
    assert summary.duplicates_in_file == 252 - len(distinct)
    rec = lines[100]
    eid = instruction_id(rec["instruction"], rec["input"], rec["response"])
    row = ledger.rows("SELECT * FROM provenance_records WHERE example_id = ? AND source_index = 100", [eid])[
        0
    ]
    assert row["prompt"] == rec["prompt"] and row["source_line"] == 101
    assert json.loads(row["extra"]) == {"target": rec["target"]}
    assert (row["teacher_model"], row["teacher_provider"], row["licence"]) == (model, "openai", OPENAI)
    assert (row["terms_id"], row["terms_version"], row["terms_status"]) == (
        "openai-terms-of-use",
        "2023-03-14",
        "non_competing_only",
    )


def test_self_instruct_tasks_give_one_example_per_instance(ledger: Ledger, shared: Path) -> None:
    path = shared / "self-instruct" / "user_oriented_instructions.jsonl"
    tasks = [json.loads(line) for line in path.read_text().splitlines()]
    summary = import_file(
        ledger, path, "self-instruct", Declaration(origin=Origin.HUMAN, licence="Apache-2.0")
    )
    instances = sum(len(t["instances"]) for t in tasks)
    assert (summary.records, summary.examples) == (252, instances)
    assert summary.unused_fields == {"motivation_app": 252}
    task = tasks[3]
    for i, inst in enumerate(task["instances"]):
        eid = instruction_id(task["instruction"], inst["input"], inst["output"])
        row = ledger.rows(
            "SELECT source_line, source_item, source_record_id FROM provenance "
            "WHERE example_id = ? AND source_index = 3",
            [eid],
        )[0]
        assert (row["source_line"], row["source_item"], row["source_record_id"]) == (4, i, task["id"])


def test_seed_import_links_instances_to_their_seeds(ledger: Ledger, shared: Path) -> None:
    path = shared / "self-instruct" / "seed_tasks.jsonl"
    summary = import_seeds(ledger, path, Declaration(origin=Origin.HUMAN, licence="Apache-2.0"))
    assert (summary.seeds_new, summary.examples_new, summary.edges_new) == (175, 175, 175)
    assert count(ledger, "SELECT count(*) FROM seeds WHERE is_classification") == 26
    seed = ledger.rows("SELECT * FROM seeds WHERE external_id = 'seed_task_0'")[0]
    assert seed["name"] == "breakfast_suggestion" and seed["source_line"] == 1
    edge = ledger.rows("SELECT * FROM lineage WHERE parent_id = ?", [seed["seed_id"]])[0]
    assert edge["relation"] == "instruction-of" and edge["parent_kind"] == "seed"
    claims = ledger.rows(
        "SELECT origin, method, licence FROM provenance_records WHERE example_id = ?", [edge["child_id"]]
    )
    assert claims == [{"origin": "human", "method": "seed", "licence": "Apache-2.0"}]
    again = import_seeds(ledger, path, Declaration(origin=Origin.HUMAN, licence="Apache-2.0"))
    assert (again.seeds_new, again.seeds_known, again.edges_new) == (0, 175, 0)


def test_code_alpaca_seeds_without_a_final_newline(ledger: Ledger, shared: Path) -> None:
    path = shared / "code-alpaca" / "seed_tasks.jsonl"
    assert not path.read_bytes().endswith(b"\n")  # 21 tasks, though `wc -l` says 20
    tasks = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    summary = import_seeds(ledger, path, Declaration(origin=Origin.HUMAN))
    assert summary.seeds_new == len(tasks) == 21 and summary.examples == 21


def test_jsonl_and_alpaca_formats_agree_on_ids(ledger: Ledger, shared: Path, write_jsonl) -> None:
    records = json.loads((shared / "code-alpaca" / "new_codealpaca.json").read_text())[:500]
    path = write_jsonl([{k: r[k] for k in ("instruction", "input", "output")} for r in records])
    summary = import_file(ledger, path, "jsonl", Declaration())
    assert summary.examples_new == 500 and summary.unused_fields == {}
    alpaca = import_file(
        ledger, shared / "code-alpaca" / "new_codealpaca.json", "alpaca", Declaration(licence="MIT")
    )
    # the first 500 are known examples; a second claim each, not a second example
    assert alpaca.examples_known == 500 and alpaca.examples_new == 4035
    assert count(ledger, "SELECT count(*) FROM provenance") == 500 + 4535
    lines = ledger.rows(
        "SELECT source_line FROM provenance p JOIN provenance_sets s USING (set_id) "
        "WHERE s.source_format = 'jsonl' ORDER BY source_line LIMIT 2"
    )
    assert [r["source_line"] for r in lines] == [1, 2]


def test_chat_messages_and_sharegpt_conversations(
    ledger: Ledger, shared: Path, write_jsonl, tmp_path: Path
) -> None:
    tasks = [
        json.loads(line) for line in (shared / "self-instruct" / "seed_tasks.jsonl").read_text().splitlines()
    ]
    openai_style = [
        {
            "id": t["id"],
            "messages": [
                {"role": "user", "content": t["instruction"]},
                {"role": "assistant", "content": t["instances"][0]["output"]},
            ],
        }
        for t in tasks
    ]
    sharegpt = [
        {
            "id": t["id"],
            "conversations": [
                {"from": "human", "value": t["instruction"]},
                {"from": "gpt", "value": t["instances"][0]["output"], "markdown": None},
            ],
        }
        for t in tasks
    ]
    a = import_file(ledger, write_jsonl(openai_style, "chat.jsonl"), "chat", Declaration())
    list_file = tmp_path / "sharegpt.json"
    list_file.write_text(json.dumps(sharegpt, indent=2))
    b = import_file(ledger, list_file, "chat", Declaration(licence="LicenseRef-sharegpt-noncommercial"))
    assert a.examples_new == 175
    assert b.examples_new == 0 and b.examples_known == 175  # same conversations, same ids
    assert b.unused_fields == {"conversations[].markdown": 175}
    msgs = openai_style[5]["messages"]
    row = ledger.rows("SELECT kind, messages FROM examples WHERE example_id = ?", [chat_id(msgs)])[0]
    assert row["kind"] == "chat" and json.loads(row["messages"]) == msgs


def test_hf_datasets_saved_to_disk_and_parquet(ledger: Ledger, shared: Path, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    rows = [
        {k: r[k] for k in ("instruction", "input", "output", "response")}
        for r in json.loads((shared / "code-alpaca" / "new_codealpaca.json").read_text())[:1000]
    ]
    ds = datasets.Dataset.from_list(rows)
    ds.save_to_disk(str(tmp_path / "ds"), max_shard_size="150KB")  # several data files
    assert len(list((tmp_path / "ds").glob("*.arrow"))) > 1
    summary = import_file(ledger, tmp_path / "ds", "hf", Declaration())
    assert (summary.records, summary.examples_new, summary.mapping) == (1000, 1000, "instruction")
    assert summary.unused_fields == {"response": 1000}
    last = ledger.rows(
        "SELECT source_part, source_row, source_index FROM provenance WHERE source_index = 999"
    )[0]
    assert last["source_part"].endswith(".arrow") and last["source_row"] < 999
    # a DatasetDict with two splits, and the same rows as Parquet: nothing new, claims added
    datasets.DatasetDict({"train": ds.select(range(800)), "test": ds.select(range(800, 1000))}).save_to_disk(
        str(tmp_path / "dd")
    )
    dd = import_file(ledger, tmp_path / "dd", "hf", Declaration(licence="CC-BY-NC-4.0"))
    assert (dd.records, dd.examples_new, dd.provenance_new) == (1000, 0, 1000)
    ds.to_parquet(str(tmp_path / "rows.parquet"))
    pq = import_file(ledger, tmp_path / "rows.parquet", "hf", Declaration(source="parquet"))
    assert (pq.records, pq.examples_new, pq.examples_known) == (1000, 0, 1000)


def test_hf_chat_columns_are_detected(ledger: Ledger, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_list(
        [
            {"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]}
            for i in range(50)
        ]
    )
    ds.save_to_disk(str(tmp_path / "chat"))
    summary = import_file(ledger, tmp_path / "chat", "hf", Declaration())
    assert (summary.mapping, summary.examples_new) == ("chat", 50)


def test_json_list_fast_path_agrees_with_the_standard_library(tmp_path: Path) -> None:
    from generators.importers.json_files import json_source

    records = [
        {
            "instruction": f"i{i} }},\n {{ \\u00e9",
            "n": 2**70 + i if i % 7 == 0 else i,
            "f": 1.5,
            "nested": [{"a": "},\n    {"}],
            "s": "\u2028 \U0001f600",
        }
        for i in range(3000)
    ]
    for indent in (None, 1, 4):
        path = tmp_path / f"list{indent}.json"
        path.write_text(json.dumps(records, indent=indent, ensure_ascii=indent is None))
        got = [value for value, _ in json_source(path)]
        assert got == json.loads(path.read_text())
        assert [type(r["n"]) for r in got] == [int] * 3000  # integers beyond 64 bits stay exact


def test_seeds_as_a_json_list_with_a_repeated_task(ledger: Ledger, tmp_path: Path) -> None:
    tasks = [json.loads(line) for line in (EXAMPLES / "seed_tasks.jsonl").read_text().splitlines()][:5]
    path = tmp_path / "seeds.json"
    path.write_text(json.dumps([*tasks, tasks[2]], indent=2))
    summary = import_seeds(ledger, path, Declaration(origin=Origin.HUMAN))
    assert (summary.records, summary.seeds, summary.seeds_new, summary.seeds_known) == (6, 5, 5, 0)
    assert (summary.examples, summary.examples_new, summary.duplicates_in_file) == (6, 5, 1)
    assert count(ledger, "SELECT count(*) FROM lineage") == 5


def test_a_ledger_path_with_a_quote(tmp_path: Path) -> None:
    path = tmp_path / "it's a ledger.duckdb"
    with Ledger.open(path) as ledger:
        import_seeds(ledger, EXAMPLES / "seed_tasks.jsonl", Declaration(origin=Origin.HUMAN))
    with Ledger.open(path, read_only=True) as ledger:
        assert count(ledger, "SELECT count(*) FROM seeds") == 175


def test_show_a_chat_example(db: Path, write_jsonl) -> None:
    from tests.conftest import run_cli

    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello."},
    ]
    path = write_jsonl([{"id": "conv-1", "messages": messages}])
    assert run_cli("import", str(path), "--format", "chat", "--origin", "machine", db=db).exit_code == 0
    shown = run_cli("show", chat_id(messages), "--json", db=db)
    data = json.loads(shown.stdout)
    assert data["example_kind"] == "chat" and data["content"]["messages"] == messages
    assert data["provenance"][0]["source_record_id"] == "conv-1"
    assert "messages:" in run_cli("show", chat_id(messages)[:12], db=db).stdout
