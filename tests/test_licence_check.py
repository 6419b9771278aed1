"""The licence check over a ledger: the bundled example, decisions, reuse, history, terms recall."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from policies.judge import Judge, LicencePolicy, combine
from policies.licence_check import check_licences
from policies.registry import load_registry, shipped_path
from provenance.core.ledger import Ledger
from tests.conftest import EXAMPLES, run_cli, snapshot

MISTRAL = "mistralai/Mistral-7B-v0.3"


def check(db: Path, *args: str) -> tuple[int, dict]:
    result = run_cli("licence", "check", *args, "--json", db=db)
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


def decisions(db: Path) -> list[tuple]:
    with Ledger.open(db, read_only=True) as ledger:
        return ledger.con.execute(
            "SELECT example_id, verdict, decision, registry_version, batch_id FROM decision_records "
            "WHERE check_name = 'licence' ORDER BY ALL"
        ).fetchall()


def test_openai_output_may_not_train_a_commercial_competing_student(example: Path) -> None:
    code, out = check(example, "--use", "commercial", "--student", MISTRAL)
    assert code == 1 and out["ok"] is False
    rows = {r["teacher"]: r for r in out["teachers"]}
    assert rows["text-davinci-003"]["verdict"] == "prohibited" and rows["text-davinci-003"]["examples"] == 252
    assert rows["davinci"]["verdict"] == "prohibited" and rows["davinci"]["examples"] == 252
    assert any("compete" in r for r in rows["davinci"]["reasons"])
    assert rows[None]["verdict"] == "allowed" and rows[None]["examples"] == 175
    assert out["verdicts"] == {"prohibited": 504, "allowed": 175}
    assert out["examples"] == 679 == out["judged"]
    text = run_cli("licence", "check", "--use", "commercial", "--student", MISTRAL, db=example).stdout
    assert "prohibited" in text and "not ok" in text


def test_research_and_non_competing_uses_are_allowed_with_the_condition(example: Path) -> None:
    code, out = check(example, "--use", "research", "--student", "tiny")
    assert code == 0 and out["verdicts"] == {"non_competing_only": 504, "allowed": 175}
    assert [o["kind"] for o in out["obligations"]] == ["no_competing_use"]
    code, out = check(example, "--use", "commercial", "--student", "tiny", "--non-competing")
    assert code == 0 and out["verdicts"]["non_competing_only"] == 504


def test_decisions_are_stored_once_and_reused(example: Path) -> None:
    check(example, "--use", "commercial", "--student", MISTRAL)
    first = decisions(example)
    assert len(first) == 679 and {d[2] for d in first} == {"pass", "drop"}
    _, out = check(example, "--use", "commercial", "--student", MISTRAL)
    assert out["judged"] == 0 and out["reused"] == 679
    assert decisions(example) == first
    # another policy is another context: new decisions, the old ones stay
    check(example, "--use", "research", "--student", MISTRAL)
    assert len(decisions(example)) == 2 * 679


def test_a_new_claim_makes_only_that_examples_decision_stale(example: Path, tmp_path: Path) -> None:
    check(example, "--use", "research", "--student", MISTRAL)
    # the same seed tasks, declared again under a non-commercial licence from another source
    again = tmp_path / "seeds-nc.jsonl"
    again.write_text((EXAMPLES / "seed_tasks.jsonl").read_text("utf-8"), "utf-8")
    result = run_cli(
        "seeds", "import", str(again), "--licence", "CC-BY-NC-4.0", "--origin", "human", db=example
    )
    assert result.exit_code == 0, result.output
    _, out = check(example, "--use", "commercial", "--student", MISTRAL)
    assert out["judged"] == 679  # new context
    _, out = check(example, "--use", "research", "--student", MISTRAL)
    assert out["judged"] == 175 and out["reused"] == 504
    assert out["verdicts"] == {"non_competing_only": 504, "research_only": 175}
    _, out = check(example, "--use", "commercial", "--student", MISTRAL)
    assert out["judged"] == 0 and out["verdicts"] == {"prohibited": 679}


def test_a_terms_change_is_recalled_and_rechecked_keeping_history(example: Path, tmp_path: Path) -> None:
    check(example, "--use", "commercial", "--student", MISTRAL)
    raw = yaml.safe_load(shipped_path().read_text("utf-8"))
    openai = next(e for e in raw["entries"] if e["id"] == "openai-api")
    openai["terms"]["version"] = "2026-09-01"
    override = tmp_path / "terms-2026.yaml"
    override.write_text(yaml.safe_dump({"version": "local.1", "entries": [openai]}), "utf-8")

    before = json.loads(
        run_cli("recall", "--terms", "openai-terms-of-use@2024-12-11", "--json", db=example).stdout
    )
    assert before["examples"] == 504 and before["rejudged_since"] == 0
    assert before["judged_under"][0]["registry_version"] == "2026.11.0"

    _, out = check(example, "--use", "commercial", "--student", MISTRAL, "--registry", str(override))
    assert out["registry"]["version"] == "2026.11.0+local.1" and out["judged"] == 679

    after = json.loads(
        run_cli("recall", "--terms", "openai-terms-of-use@2024-12-11", "--json", db=example).stdout
    )
    assert after["examples"] == 504 and after["rejudged_since"] == 504  # still listed: history is kept
    new = json.loads(
        run_cli("recall", "--terms", "openai-terms-of-use@2026-09-01", "--json", db=example).stdout
    )
    assert new["examples"] == 504 and new["judged_under"][0]["registry_version"] == "2026.11.0+local.1"
    versions = {d[3] for d in decisions(example)}
    assert versions == {"2026.11.0", "2026.11.0+local.1"} and len(decisions(example)) == 2 * 679
    missing = run_cli("recall", "--terms", "openai-terms-of-use@1999-01-01", db=example)
    assert missing.exit_code == 2


def test_an_unknown_teacher_is_a_verdict_not_an_error(db: Path, write_jsonl) -> None:
    path = write_jsonl([{"instruction": "Say hi.", "input": "", "output": "Hi."}])
    result = run_cli(
        "import", str(path), "--format", "jsonl", "--teacher", "acme/secret-model", "--licence", "MIT", db=db
    )
    assert result.exit_code == 0
    code, out = check(db, "--use", "research", "--student", "tiny")
    assert code == 1 and out["verdicts"] == {"unknown": 1}
    assert "matches no registry entry" in out["teachers"][0]["reasons"][0]


def test_a_failed_check_leaves_the_ledger_unchanged(example: Path, monkeypatch) -> None:
    import policies.licence_check as module

    before = snapshot(example)

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(module, "store_licence_decisions", boom)
    with Ledger.open(example) as ledger, pytest.raises(RuntimeError):
        check_licences(ledger, load_registry(), LicencePolicy(use="research", student="tiny"))
    assert snapshot(example) == before


def test_bad_options_are_usage_errors(example: Path) -> None:
    result = run_cli(
        "licence", "check", "--use", "commercial", "--student", "x", "--student-licence", "Nope-1", db=example
    )
    assert result.exit_code == 2 and "--student-licence" in result.stderr
    result = run_cli("licence", "check", "--use", "sometimes", "--student", "x", db=example)
    assert result.exit_code == 2
    result = run_cli(
        "licence",
        "check",
        "--use",
        "research",
        "--student",
        "tiny",
        "--registry",
        "/no/such.yaml",
        db=example,
    )
    assert result.exit_code == 2 and "/no/such.yaml" in result.stderr


def test_the_sql_join_agrees_with_judging_every_claim_in_python(db: Path, write_jsonl) -> None:
    """Examples with one, two and three claims: decisions equal a per-claim Python judgement."""
    records = [{"instruction": f"Task {i}", "input": "", "output": f"Answer {i}"} for i in range(60)]
    declarations = [
        (records[:40], ["--teacher", "meta-llama/Llama-3.1-8B-Instruct", "--licence", "MIT"]),
        (records[20:50], ["--teacher", "gpt-4o", "--licence", "CC-BY-4.0"]),
        (records[30:60:2], ["--origin", "human", "--licence", "CC-BY-NC-4.0 OR Apache-2.0"]),
        (records[35:37], ["--teacher", "acme/unknown", "--licence", "MIT"]),
    ]
    for i, (part, options) in enumerate(declarations):
        path = write_jsonl(part, f"part{i}.jsonl")
        result = run_cli("import", str(path), "--format", "jsonl", *options, db=db)
        assert result.exit_code == 0, result.output
    registry = load_registry()
    for policy in (
        LicencePolicy(use="commercial", student=MISTRAL, distribute=True),
        LicencePolicy(use="research", student="meta-llama/Llama-3.1-8B"),
    ):
        with Ledger.open(db) as ledger:
            result = check_licences(ledger, registry, policy)
            judge = Judge(registry, policy)
            rows = ledger.rows(
                "SELECT p.example_id, t.model, s.licence, s.origin, s.method FROM provenance p "
                "JOIN provenance_sets s USING (set_id) LEFT JOIN teachers t USING (teacher_id)"
            )
            expected: dict[str, list] = {}
            for r in rows:
                j = judge.judge(
                    teacher=r["model"], licence=r["licence"], origin=r["origin"], method=r["method"]
                )
                expected.setdefault(r["example_id"], []).append(j)
            stored = dict(
                ledger.con.execute(
                    "SELECT example_id, verdict FROM decision_records WHERE check_name = 'licence' "
                    "AND config_hash = ?",
                    [judge.config_hash],
                ).fetchall()
            )
        assert result.examples == len(expected) == len(stored) == 55  # 0-49 and the even 50-58
        assert stored == {ex: combine(js).verdict.value for ex, js in expected.items()}
        assert len(set(stored.values())) >= 3


def test_no_record_answers_the_same_and_writes_nothing(example: Path) -> None:
    args = ("licence", "check", "--use", "commercial", "--student", MISTRAL)
    before, raw = snapshot(example), example.read_bytes()
    code, out = check(example, *args[2:], "--no-record")
    assert code == 1 and out["verdicts"] == {"prohibited": 504, "allowed": 175}
    assert out["recorded"] is False and out["run_id"] is None and out["judged"] == 679
    text = run_cli(*args, "--no-record", db=example)
    assert snapshot(example) == before and example.read_bytes() == raw
    recorded = run_cli(*args, db=example)  # the first recorded run says what --no-record said
    assert text.exit_code == recorded.exit_code == 1 and text.stdout == recorded.stdout
    assert snapshot(example) != before
    code, out = check(example, *args[2:], "--no-record")  # now the stored decisions are reused
    assert code == 1 and out["judged"] == 0 and out["reused"] == 679


def test_a_read_only_ledger_file_is_judged_without_writing(example: Path, tmp_path: Path) -> None:
    import shutil

    code, first = check(example, "--use", "research", "--student", "tiny")
    copy = tmp_path / "review" / "ledger.duckdb"
    copy.parent.mkdir()
    shutil.copy(example, copy)
    copy.chmod(0o444)
    raw, files = copy.read_bytes(), sorted(copy.parent.iterdir())
    code_ro, out = check(copy, "--use", "research", "--student", "tiny")
    assert (code_ro, out["verdicts"], out["recorded"]) == (code, first["verdicts"], False)
    assert out["reused"] == 679 and out["judged"] == 0  # the decisions stored before the copy
    code_ro, out = check(copy, "--use", "commercial", "--student", MISTRAL)  # a context not stored
    assert code_ro == 1 and out["judged"] == 679 and out["run_id"] is None
    assert copy.read_bytes() == raw and sorted(copy.parent.iterdir()) == files


def test_the_api_writes_nothing_on_a_read_only_ledger(example: Path) -> None:
    before = snapshot(example)
    with Ledger.open(example, read_only=True) as ledger:
        result = check_licences(ledger, load_registry(), LicencePolicy(use="research", student="tiny"))
    assert result.ok and result.run_id is None and result.examples == 679 == result.judged
    with Ledger.open(example) as ledger:
        result = check_licences(
            ledger, load_registry(), LicencePolicy(use="research", student="tiny"), record=False
        )
    assert result.run_id is None and snapshot(example) == before
