"""``provenance report croissant``: a Croissant 1.1 description with RAI fields that mlcroissant
validates offline, whose records and numbers agree with the ledger, with no raw PII in it."""

from __future__ import annotations

import hashlib
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.conftest import BuiltLedgers, import_example, run_cli
from tests.test_reports import raw_pii


@pytest.fixture(scope="module")
def mlc() -> Any:
    """mlcroissant (the ``croissant`` extra, part of ``test``)."""
    return pytest.importorskip("mlcroissant", reason="pip install 'provenance[croissant]'")


def _cli(db: Path, *args: str) -> Any:
    result = run_cli(*args, db=db)
    assert result.exit_code in (0, 1), result.output
    return result


@pytest.fixture(scope="module")
def described(
    tmp_path_factory: pytest.TempPathFactory, built_ledgers: BuiltLedgers, mlc: Any
) -> dict[str, Any]:
    """The bundled example checked under the research pack, described by ``report croissant``."""
    folder = tmp_path_factory.mktemp("croissant")
    db = built_ledgers.copy("example", import_example, folder / "ledger.duckdb")
    _cli(db, "check", "--policy", "research")
    out = folder / "out"
    result = run_cli("report", "croissant", "--out", str(out), "--json", db=db)
    assert result.exit_code == 0, result.output
    return {
        "db": db,
        "out": out,
        "result": json.loads(result.stdout),
        "doc": json.loads((out / "croissant.json").read_text("utf-8")),
        "stats": json.loads(run_cli("stats", "--json", db=db).stdout),
        "verify": json.loads(run_cli("verify", "--json", db=db).stdout),
    }


def _records(mlc: Any, path: Path) -> list[dict[str, Any]]:
    dataset = mlc.Dataset(jsonld=path)
    return list(dataset.records("examples"))


def _chain(exc: BaseException | None) -> str:
    """The messages of an exception and of everything that caused it."""
    out = []
    while exc is not None:
        out.append(str(exc))
        exc = exc.__cause__ or exc.__context__
    return " <- ".join(out)


def test_it_validates_and_its_records_are_the_ledgers_examples(described: dict[str, Any], mlc: Any):
    out, doc, stats = described["out"], described["doc"], described["stats"]
    assert "http://mlcommons.org/croissant/1.1" in doc["conformsTo"]
    assert doc["@context"]["rai"] == "http://mlcommons.org/croissant/RAI/"
    validated = described["result"]["validated"]
    assert validated["records_checked"] == 5 and validated["examples"] == 679
    assert validated["warnings"] == []  # among them: a JSON-LD @context mlcroissant finds non-standard
    assert set(validated["recommended_missing"]) == {"citeAs", "datePublished", "version"}
    records = _records(mlc, out / "croissant.json")  # raises on an invalid description or a hash mismatch
    assert len(records) == stats["counts"]["examples"] == 679
    ids = {r["examples/example_id"].decode() for r in records}
    with duckdb.connect(str(described["db"]), read_only=True) as con:
        assert ids == {row[0] for row in con.execute("SELECT example_id FROM examples").fetchall()}
    teachers = Counter(
        claim["examples/provenance/teacher"].decode()
        for r in records
        for claim in r["examples/provenance"]
        if claim["examples/provenance/teacher"] is not None
    )
    assert teachers == {"davinci": 252, "text-davinci-003": 252}


def test_the_file_object_names_the_files_sha256(described: dict[str, Any], mlc: Any, tmp_path: Path):
    (data,) = described["doc"]["distribution"]
    assert (data["@type"], data["contentUrl"], data["encodingFormat"]) == (
        "cr:FileObject",
        "data.jsonl",
        "application/jsonlines",
    )
    body = (described["out"] / "data.jsonl").read_bytes()
    assert data["sha256"] == hashlib.sha256(body).hexdigest()
    # one byte changed: mlcroissant refuses to read the records
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "croissant.json").write_text(json.dumps(described["doc"]), "utf-8")
    (copy / "data.jsonl").write_bytes(body.replace(b'"kind":"instruction"', b'"kind":"instructioN"', 1))
    with pytest.raises(Exception) as raised:
        _records(mlc, copy / "croissant.json")
    assert "Hash of downloaded file" in _chain(raised.value)


def test_the_description_states_licences_teachers_and_the_audit_chain(described: dict[str, Any]):
    doc, stats = described["doc"], described["stats"]
    assert {w["name"] for w in doc["license"]} == set(stats["licences"])
    assert any(w.get("url") == "https://spdx.org/licenses/Apache-2.0.html" for w in doc["license"])
    tools = " ".join(doc["rai:machineAnnotationTools"])
    for model, n in stats["teachers"].items():
        if model != "none (human)":
            assert f"{model} (openai): teacher model that wrote {n} examples" in tools
    assert described["verify"]["head"] in doc["description"]
    assert "provenance verify passed" in doc["description"]
    assert "compete with OpenAI" in " ".join(doc["rai:dataUseCases"]) and doc["rai:dataSocialImpact"]
    assert f"{stats['counts']['examples']} examples recorded" in doc["rai:dataCollection"]


def test_the_pii_field_states_what_the_pii_check_found(described: dict[str, Any]):
    with duckdb.connect(str(described["db"]), read_only=True) as con:
        rows = con.execute(
            "SELECT example_id, details FROM decision_records WHERE check_name = 'pii' AND decision <> 'pass'"
        ).fetchall()
    entities: Counter[str] = Counter()
    for _, details in rows:
        entities.update(json.loads(details)["entities"])
    found = len({example_id for example_id, _ in rows})
    assert found > 0 and entities
    text = " ".join(described["doc"]["rai:personalSensitiveInformation"])
    assert f"found personal information in {found} of 679 examples" in text
    for entity, n in entities.items():
        assert f"{entity} {n}" in text
    assert f"No redacted copies: the {found} examples are in data.jsonl" in text


def test_no_raw_pii_in_the_description(described: dict[str, Any]):
    secrets = raw_pii(described["db"])
    assert secrets, "the bundled example holds e-mail addresses the PII check finds"
    text = (described["out"] / "croissant.json").read_text("utf-8")
    for s in secrets:
        assert s not in text, f"{s!r} appears in croissant.json"
    data = (described["out"] / "data.jsonl").read_text("utf-8")
    assert any(s in data for s in secrets)  # the data itself is exported as recorded, and says so


def test_a_check_that_did_not_run_is_named_with_its_reason(described: dict[str, Any]):
    with duckdb.connect(str(described["db"]), read_only=True) as con:
        status, reason = con.execute(
            "SELECT status, reason FROM check_runs WHERE check_name = 'toxicity'"
        ).fetchone()
    doc = described["doc"]
    if status == "ran":
        assert any(b.startswith("Toxicity scores of ") for b in doc["rai:dataBiases"])
        return
    assert reason
    clause = reason.split(": ")[0]
    assert f"Not assessed: the toxicity check did not run ({clause})." in doc["rai:dataLimitations"]
    assert not any("toxicity" in b.lower() for b in doc["rai:dataBiases"])


def test_only_what_the_ledger_knows(example: Path, mlc: Any, tmp_path: Path):
    """No check has run: no use cases, no social impact, PII not assessed, nothing invented."""
    out = tmp_path / "desc"
    result = run_cli("report", "croissant", "--out", str(out), db=example)
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "croissant.json").read_text("utf-8"))
    for absent in ("rai:dataUseCases", "rai:dataSocialImpact", "rai:dataPreprocessingProtocol"):
        assert absent not in doc
    assert doc["rai:personalSensitiveInformation"][0].startswith("Not assessed: the PII check did not run")
    assert "No policy checks have run" in doc["description"]
    assert len(_records(mlc, out / "croissant.json")) == 679


def test_an_unknown_property_and_a_record_unlike_the_ledger_are_errors(
    described: dict[str, Any], tmp_path: Path
):
    from provenance.core.ledger import Ledger
    from reports.croissant import CroissantError
    from reports.croissant_validate import load, validate

    copy = tmp_path / "copy"
    copy.mkdir()
    body = (described["out"] / "data.jsonl").read_bytes()
    (copy / "data.jsonl").write_bytes(body)
    doc = {**described["doc"], "rai:hasSyntheticData": True}  # not in the RAI vocabulary
    (copy / "croissant.json").write_text(json.dumps(doc), "utf-8")
    with pytest.raises(CroissantError, match="rai:hasSyntheticData"):
        load(copy / "croissant.json")

    first = json.loads(body.split(b"\n", 1)[0])
    first["output"] = "changed"
    changed = json.dumps(first, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
    body = changed + body.split(b"\n", 1)[1]
    (copy / "data.jsonl").write_bytes(body)
    doc = json.loads(json.dumps(described["doc"]))
    doc["distribution"][0]["sha256"] = hashlib.sha256(body).hexdigest()
    (copy / "croissant.json").write_text(json.dumps(doc), "utf-8")
    with Ledger.open(described["db"], read_only=True) as ledger:
        with pytest.raises(CroissantError, match="output differs from the ledger"):
            validate(copy / "croissant.json", ledger, expected=679)
        (copy / "data.jsonl").write_bytes(body + b"\n")  # no longer the file the sha256 names
        with pytest.raises(CroissantError, match="does not have the sha256 the description states"):
            validate(copy / "croissant.json", ledger, expected=679)


def test_without_mlcroissant_it_says_what_to_install(example: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlcroissant", None)  # import mlcroissant raises ImportError
    out = tmp_path / "desc"
    result = run_cli("report", "croissant", "--out", str(out), db=example)
    assert result.exit_code == 3  # an environment error, like a missing torch
    assert "pip install 'provenance[croissant]'" in result.stderr
    assert not out.exists()  # it stops before exporting anything


def test_chat_messages_and_a_column_mlcroissant_reads_as_numbers(db: Path, write_jsonl, mlc: Any):
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]
    chat = write_jsonl([{"id": "conv-1", "messages": messages}], "chat.jsonl")
    plain = write_jsonl([{"instruction": "Add 1 and 1.", "input": "", "output": "2"}], "plain.jsonl")
    argv = ("--origin", "machine", "--teacher", "gpt-4o")
    assert run_cli("import", str(chat), "--format", "chat", *argv, db=db).exit_code == 0
    assert run_cli("import", str(plain), "--format", "jsonl", *argv, db=db).exit_code == 0
    out = db.parent / "desc"
    result = run_cli("report", "croissant", "--out", str(out), "--json", db=db)
    assert result.exit_code == 0, result.output
    (warning,) = json.loads(result.stdout)["validated"]["warnings"]
    assert "every output in data.jsonl looks like a number" in warning
    doc = json.loads((out / "croissant.json").read_text("utf-8"))
    assert doc["license"] == [
        {
            "@type": "sc:CreativeWork",
            "name": "unknown",
            "description": "No licence is recorded for 2 examples (stored as unknown, not guessed).",
        }
    ]
    records = {r["examples/kind"]: r for r in _records(mlc, out / "croissant.json")}
    said = [
        {"role": m["examples/messages/role"].decode(), "content": m["examples/messages/content"].decode()}
        for m in records[b"chat"]["examples/messages"]
    ]
    assert said == messages
    assert records[b"instruction"]["examples/output"] == b"2.0"  # what pandas makes of "2"


def test_a_description_that_reads_wrong_data_is_rejected(
    example: Path, tmp_path: Path, mlc: Any, monkeypatch
):
    import reports.croissant as croissant

    wrong = tuple((n, "instruction" if n == "output" else c, t) for n, c, t in croissant._COLUMNS)
    monkeypatch.setattr(croissant, "_COLUMNS", wrong)  # the output field reads the instruction column
    out = tmp_path / "desc"
    result = run_cli("report", "croissant", "--out", str(out), db=example)
    assert result.exit_code == 3
    assert "output differs from the ledger" in result.stderr
    assert not (out / "croissant.json").exists() and (out / "rejected-croissant.json").exists()


def test_a_nan_looking_text_read_back_as_a_number_still_matches(db: Path, write_jsonl, mlc: Any):
    """pandas reads a numeric-looking column's "NaN" as NaN, which equals nothing: still the ledger's text."""
    chats = [
        {
            "id": f"conv-{i}",
            "messages": [{"role": "user", "content": f"Hi {i}"}, {"role": "assistant", "content": "Hi"}],
        }
        for i in range(2)
    ]
    plain = [
        {"instruction": f"Task {i}.", "input": "", "output": out} for i, out in enumerate(["2", "NaN", "3"])
    ]
    argv = ("--origin", "machine", "--teacher", "gpt-4o")
    assert (
        run_cli("import", str(write_jsonl(chats, "chat.jsonl")), "--format", "chat", *argv, db=db).exit_code
        == 0
    )
    assert (
        run_cli("import", str(write_jsonl(plain, "plain.jsonl")), "--format", "jsonl", *argv, db=db).exit_code
        == 0
    )
    result = run_cli("report", "croissant", "--out", str(db.parent / "desc"), "--json", db=db)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["validated"]["records_checked"] == 5
