"""The EU AI Act public summary of training content (``provenance report eu-summary``).

On the bundled demo and on a tiny student trained from two teachers' imported datasets: every value
the ledger answers equals a direct SQL count, names its query and the chain head; what only the
provider can answer is marked until an answers file gives it; the JSON follows the schema and the
Markdown the template's order.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import duckdb
import pytest

from reports.eu_summary_model import SCHEMA_FILE, TO_BE_COMPLETED, SummaryInvalidError, schema, validate
from tests.conftest import BuiltLedgers, import_example, run_cli

PACK = """
name: eu-light
use: research
student: tiny
checks:
  - check: licence
    action: drop
  - check: profanity
    action: drop
  - check: duplicates
    action: drop
gate: {max_dropped_share: 0.9, min_examples: 10}
"""
ANSWERS = """\
provider:
  name: Example Labs B.V.
  contact: ai-office@example.org
model:
  name: example-tiny
  version: "1.0"
  placed_on_market: 2026-09-01
content_types: instructions and answers in English (non-fiction)
private_data: {used: false}
crawled_data: {used: true, crawlers: [ExampleBot]}
user_data: {used: false}
other_sources: {used: false}
opt_out:
  measures: no crawling; only datasets whose licence permits training
  code_of_practice_signatory: false
illegal_content:
  measures: the checks listed above, and a manual review of flagged examples
other_information: none
"""
HEADINGS = [
    "## 1. General information",
    "### 1.1 ",
    "### 1.2 ",
    "### 1.3 ",
    "## 2. List of data sources",
    "### 2.1 ",
    "### 2.2 ",
    "### 2.3 ",
    "### 2.4 ",
    "### 2.5 ",
    "### 2.6 ",
    "## 3. Data processing aspects",
    "### 3.1 ",
    "### 3.2 ",
    "### 3.3 ",
]
IN_DATASET = "example_id IN (SELECT example_id FROM dataset_examples WHERE dataset_id = ?)"


def sql(db: Path, query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(query, params or []).fetchall()


def summarize(db: Path, *args: str) -> tuple[Any, dict[str, Any], str]:
    """Run ``report eu-summary``; return the result, the JSON and the Markdown it wrote."""
    result = run_cli("report", "eu-summary", *args, "--json", db=db)
    assert result.exit_code == 0, result.output
    files = [Path(p) for p in json.loads(result.stdout)["files"]]
    md = next(p for p in files if p.suffix == ".md").read_text("utf-8")
    return result, json.loads(next(p for p in files if p.suffix == ".json").read_text("utf-8")), md


def values(node: Any) -> list[dict[str, Any]]:
    """Every value object of the summary (a dict with ``value`` and ``source``)."""
    if isinstance(node, dict):
        if "source" in node and "value" in node:
            return [node]
        return [v for child in node.values() for v in values(child)]
    return []


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The bundled demo, run once (a tiny student trained a few steps)."""
    folder = tmp_path_factory.mktemp("eu-demo") / "demo"
    result = run_cli("demo", "--dir", str(folder), "--steps", "2")
    assert result.exit_code == 0, result.output
    db, student = folder / "provenance.duckdb", folder / "student"
    _, data, md = summarize(db, "--student", str(student))  # once: language detection takes a while
    return {"db": db, "student": student, "folder": folder, "data": data, "md": md}


@pytest.fixture(scope="module")
def two_teachers(tmp_path_factory: pytest.TempPathFactory, built_ledgers: BuiltLedgers) -> dict[str, Any]:
    """Seeds and two imported datasets (text-davinci-003's and davinci's outputs), checked, and a
    tiny student trained on the selection."""
    folder = tmp_path_factory.mktemp("eu-two")
    db = built_ledgers.copy("example", import_example, folder / "ledger.duckdb")
    pack = folder / "eu-light.yaml"
    pack.write_text(PACK, "utf-8")
    assert run_cli("check", "--policy", str(pack), db=db).exit_code in (0, 1)
    out = folder / "student"
    args = ["--student", "tiny", "--out", str(out), "--max-steps", "2", "--max-length", "128"]
    result = run_cli("train", "--policy", str(pack), *args, db=db)
    assert result.exit_code == 0, result.output
    _, data, md = summarize(db, "--student", str(out))
    return {"db": db, "student": out, "folder": folder, "data": data, "md": md}


# ---- the demo ---------------------------------------------------------------------------------------


def test_demo_summary_follows_the_template_and_marks_what_is_missing(demo: dict[str, Any]) -> None:
    db, data, md = demo["db"], demo["data"], demo["md"]
    validate(data)
    positions = [md.index(h) for h in HEADINGS]
    assert positions == sorted(positions), "the Markdown follows the template's order"
    (training_id, dataset_id) = sql(db, "SELECT training_id, dataset_id FROM trainings")[0]
    assert data["scope"] == {
        "kind": "student",
        "dataset_id": dataset_id,
        "examples": sql(db, "SELECT count(*) FROM dataset_examples WHERE dataset_id = ?", [dataset_id])[0][0],
        "training_id": training_id,
        "student": "tiny",
    }
    seq, head = sql(db, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")[0]
    assert data["snapshot"] == {"seq": seq, "hash": head}
    for v in values(data):
        if v["source"] == "ledger":
            assert v["query"].startswith("provenance.queries.eu.") and v["snapshot"] == data["snapshot"]
        else:
            assert v["source"] == "missing" and v["value"] == TO_BE_COMPLETED, v
    general = data["1"]
    assert general["1.1"]["provider_name"]["value"] == TO_BE_COMPLETED
    assert general["1.1"]["model_dependencies"]["value"].startswith("none: trained from scratch")
    missing = sum(1 for v in values(data) if v["source"] == "missing")
    assert md.count(TO_BE_COMPLETED) == 1 + missing, "the introduction, and each missing answer once"
    # the demo's student trained on human seeds only (the commercial pack drops OpenAI's outputs)
    assert data["2"]["2.5"]["value"] == [] and "### 2.5 Synthetic data\n\nNone:" in md
    illegal = data["3"]["3.2"]["evidence"]["value"]
    assert (
        "pii" in illegal["ran"] and "contamination" in illegal["ran"] and illegal["not_run"] == ["toxicity"]
    )
    assert "**toxicity did NOT run**" in md
    assert "/root/" not in md and str(demo["folder"]) not in md, "no local paths in a public document"
    langs = general["1.3"]["languages"]["value"]
    assert "en" in langs["covered"] and langs["detected_with"].startswith("langdetect ")
    assert sum(langs["examples_by_language"].values()) == data["scope"]["examples"]


def test_model_card_links_and_audit_carries_the_hash(demo: dict[str, Any], tmp_path: Path) -> None:
    db, student = demo["db"], demo["student"]
    sums = {
        n: hashlib.sha256((student / n).read_bytes()).hexdigest()
        for n in ("EU-SUMMARY.md", "EU-SUMMARY.json")
    }
    (training_id,) = sql(db, "SELECT training_id FROM trainings")[0]
    assert (
        run_cli("report", "model-card", "--training", training_id, "--out", str(student), db=db).exit_code
        == 0
    )
    card = (student / "README.md").read_text("utf-8")
    assert "[EU-SUMMARY.md](EU-SUMMARY.md)" in card and all(h in card for h in sums.values())
    assert run_cli("report", "audit", "--out", str(tmp_path), db=db).exit_code == 0
    audit = json.loads((tmp_path / "audit.json").read_text("utf-8"))
    assert audit["trainings"][0]["eu_summary"] == sums
    assert all(h in (tmp_path / "audit.md").read_text("utf-8") for h in sums.values())
    assert sums["EU-SUMMARY.json"] in (tmp_path / "audit.html").read_text("utf-8")


# ---- two teachers, two datasets ---------------------------------------------------------------------


def test_every_number_equals_a_direct_sql_count(two_teachers: dict[str, Any]) -> None:
    db, data, md = two_teachers["db"], two_teachers["data"], two_teachers["md"]
    dataset_id = data["scope"]["dataset_id"]
    total = sql(
        db, "SELECT count(DISTINCT example_id) FROM dataset_examples WHERE dataset_id = ?", [dataset_id]
    )
    assert data["scope"]["examples"] == total[0][0] > 0
    n = data["scope"]["examples"]
    teachers = dict(
        sql(db, "SELECT teacher_model, count(DISTINCT example_id) FROM provenance_records "
            f"WHERE origin = 'machine' AND {IN_DATASET} GROUP BY 1", [dataset_id])
    )  # fmt: skip
    synthetic = data["2"]["2.5"]["value"]
    assert {t["model"]: t["examples"] for t in synthetic} == teachers
    assert set(teachers) == {"text-davinci-003", "davinci"}
    providers = dict(
        sql(
            db,
            "SELECT DISTINCT teacher_model, teacher_provider FROM provenance_records "
            "WHERE origin = 'machine'",
        )
    )
    for t in synthetic:
        assert t["provider"] == providers[t["model"]] == "openai", "the provider as the ledger records it"
        assert t["registry_entry"] == "openai-api" and t["link"].startswith("https://")
        assert t["share"] == round(t["examples"] / n, 4)
        assert t["model"] in md and t["link"] in md
    sources = dict(
        sql(db, f"SELECT source, count(DISTINCT example_id) FROM provenance_records WHERE source IS NOT NULL "
            f"AND {IN_DATASET} GROUP BY 1", [dataset_id])
    )  # fmt: skip
    public = data["2"]["2.1"]["value"]
    assert {s["name"]: s["examples"] for s in public} == sources and len(sources) == 3
    assert all(s["named_by_template"] == (s["examples"] / n >= 0.03) for s in public)
    licences = sql(
        db,
        "SELECT coalesce(licence, 'unknown'), count(DISTINCT example_id) FROM provenance_records "
        f"WHERE {IN_DATASET} GROUP BY ALL",
        [dataset_id],
    )
    stated: dict[str, int] = {}
    for x in data["2"]["2.2"]["licences"]["value"]:
        stated[x["licence"]] = stated.get(x["licence"], 0) + x["examples"]
    assert stated == dict(licences)
    kinds = dict(sql(db, f"SELECT kind, count(*) FROM examples WHERE {IN_DATASET} GROUP BY 1", [dataset_id]))
    assert f"instruction {kinds['instruction']:,}" in data["1"]["1.2"]["modalities"]["note"]
    (newest,) = sql(
        db, f"SELECT CAST(max(created_at) AS VARCHAR) FROM examples WHERE {IN_DATASET}", [dataset_id]
    )[0]
    assert data["1"]["1.3"]["latest_acquisition"]["value"] == newest[:19]
    not_run = data["3"]["3.2"]["evidence"]["value"]["not_run"]
    assert not_run == [f"{k} (not in the policy pack)" for k in ("pii", "toxicity", "contamination")]
    assert "- **pii (not in the policy pack)**: NOT RUN" in md, "a check that did not run is said plainly"


def test_tokens_are_counted_with_the_students_tokenizer(two_teachers: dict[str, Any]) -> None:
    from transformers import AutoTokenizer

    db, student = two_teachers["db"], two_teachers["student"]
    data = two_teachers["data"]
    tokenizer = AutoTokenizer.from_pretrained(str(student), local_files_only=True)
    rows = sql(
        db,
        f"SELECT instruction, input, output FROM examples WHERE {IN_DATASET}",
        [data["scope"]["dataset_id"]],
    )
    expected = sum(len(tokenizer(x, add_special_tokens=False)["input_ids"]) for row in rows for x in row if x)
    tokens = data["1"]["1.2"]["text_tokens"]["value"]
    assert tokens["tokens"] == expected and "the student's tokenizer" in tokens["counted_with"]
    assert data["1"]["1.2"]["text_size_band"]["value"] == "Less than 1 billion tokens"


def test_answers_fill_what_only_the_provider_knows(two_teachers: dict[str, Any], tmp_path: Path) -> None:
    answers = tmp_path / "answers.yaml"
    answers.write_text(ANSWERS, "utf-8")
    out = tmp_path / "out"
    _, data, md = summarize(
        two_teachers["db"],
        "--student",
        str(two_teachers["student"]),
        "--answers",
        str(answers),
        "--out",
        str(out),
    )
    validate(data)
    assert not [v for v in values(data) if v["source"] == "missing"]
    marked = json.dumps(data).count(TO_BE_COMPLETED)
    assert marked == 4 and md.count(TO_BE_COMPLETED) == 1 + marked, (
        "the intro, and each missing crawler answer"
    )
    p = data["1"]["1.1"]
    assert p["provider_name"] == {
        "value": "Example Labs B.V.",
        "source": "answers",
        "query": None,
        "snapshot": None,
        "note": None,
    }
    assert p["model_name"]["value"] == "example-tiny" and p["placed_on_market"]["value"] == "2026-09-01"
    assert data["3"]["3.1"]["code_of_practice_signatory"]["value"] is False
    crawled = data["2"]["2.3"]["value"]
    assert crawled["crawlers"] == ["ExampleBot"] and crawled["robots_txt"] == TO_BE_COMPLETED, (
        "the rest marked"
    )
    assert data["2"]["2.4"]["value"] == {"used": False}, "not used: nothing else to complete"
    assert "Example Labs B.V." in md and (out / "EU-SUMMARY.json").exists()


def test_dataset_without_a_student_names_its_counting_rule(
    two_teachers: dict[str, Any], tmp_path: Path
) -> None:
    db = two_teachers["db"]
    (dataset_id,) = sql(db, "SELECT dataset_id FROM trainings")[0]
    no_out = run_cli("report", "eu-summary", "--dataset", dataset_id, db=db)
    assert no_out.exit_code == 2 and "--out" in no_out.output
    _, data, _ = summarize(db, "--dataset", dataset_id, "--out", str(tmp_path))
    assert data["scope"]["kind"] == "dataset" and data["scope"]["training_id"] is None
    assert data["1"]["1.2"]["text_tokens"]["value"]["counted_with"].startswith("whitespace-separated words")
    assert data["1"]["1.1"]["model_name"]["value"] == TO_BE_COMPLETED
    assert (
        run_cli("report", "eu-summary", "--dataset", "0" * 64, "--out", str(tmp_path), db=db).exit_code == 2
    )
    both = run_cli("report", "eu-summary", "--dataset", dataset_id, "--student", str(tmp_path), db=db)
    assert both.exit_code == 2


# ---- schema and answers ----------------------------------------------------------------------------


def test_schema_file_is_the_models_schema() -> None:
    assert json.loads(SCHEMA_FILE.read_text("utf-8")) == schema()
    assert set(schema()["properties"]) >= {"1", "2", "3", "snapshot", "scope"}


def test_broken_json_fails_validation(two_teachers: dict[str, Any]) -> None:
    data = two_teachers["data"]
    validate(data)
    for breaking in (
        lambda d: d["2"].pop("2.5"),
        lambda d: d["1"]["1.1"]["provider_name"].update(source="guessed"),
        lambda d: d["snapshot"].update(hash="not a hash"),
        lambda d: d["3"]["3.2"].update(extra=1),
        lambda d: d.pop("3"),
    ):
        broken = copy.deepcopy(data)
        breaking(broken)
        with pytest.raises(SummaryInvalidError):
            validate(broken)


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        ("provider:\n  name: A\n  telephone: 1\n", 3, "unknown field 'telephone'"),
        ("opt_out:\n  code_of_practice_signatory: perhaps\n", 2, "opt_out.code_of_practice_signatory"),
        ("model:\n  placed_on_market: someday\n", 2, "model.placed_on_market"),
        ("provider: [unclosed\n", None, "YAML syntax error"),
    ],
)
def test_bad_answers_exit_2_with_file_and_line(
    two_teachers: dict[str, Any], tmp_path: Path, text: str, line: int | None, says: str
) -> None:
    answers = tmp_path / "bad-answers.yaml"
    answers.write_text(text, "utf-8")
    result = run_cli(
        "report",
        "eu-summary",
        "--student",
        str(two_teachers["student"]),
        "--answers",
        str(answers),
        "--out",
        str(tmp_path),
        db=two_teachers["db"],
    )
    assert result.exit_code == 2
    assert str(answers) in result.output and says in result.output
    if line is not None:
        assert re.search(rf"{re.escape(str(answers))}:{line}:", result.output)
    assert not (tmp_path / "EU-SUMMARY.json").exists()


def test_a_folder_that_is_not_a_student(two_teachers: dict[str, Any], tmp_path: Path) -> None:
    result = run_cli("report", "eu-summary", "--student", str(tmp_path), db=two_teachers["db"])
    assert result.exit_code == 2 and "manifest.json" in result.output
