"""Rows no finished run vouches for (issue 15, section 1): each attack is reproduced with raw SQL on a
copy of a ledger and shown to fail. A run left ``running`` with forged waivers or decisions fools
neither the gate nor ``verify``; the next writer closes it failed (its rows never count) instead of
sealing it; a waiver counts only when ``provenance waive`` wrote it; and deleting the latest runs
with their audit rows is caught by whoever holds a report of them."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.conftest import BuiltLedgers, run_cli
from tests.test_audit import build_example, gate_json, pack, rows

FORGED = "f0" * 16


@pytest.fixture
def ledger_db(tmp_path: Path, built_ledgers: BuiltLedgers) -> Path:
    """A copy of the bundled seeds and text-davinci-003 outputs."""
    return built_ledgers.copy("seeds-text-davinci-003", build_example, tmp_path / "ledger.duckdb")


@pytest.fixture
def commercial(tmp_path: Path) -> Path:
    """A pack under which the licence check drops the 252 text-davinci-003 outputs."""
    return pack(tmp_path, use="commercial", share=1.0)


def forge_run(con: duckdb.DuckDBPyConnection, kind: str, run_id: str = FORGED) -> None:
    """A run of its own, left running, as SQL writes it."""
    con.execute(
        "INSERT INTO runs (run_id, kind, started_at, status, tool_version, params) "
        "VALUES (?, ?, now()::TIMESTAMP, 'running', '0.1.0', NULL)",
        [run_id, kind],
    )


def forge_waiver(con: duckdb.DuckDBPyConnection, run_id: str, **fields: Any) -> None:
    """A waiver row for the licence check of every text-davinci-003 example."""
    row = {
        "waiver_id": "w" + run_id[:20] + str(len(fields)),
        "check_name": "licence",
        "example_id": None,
        "teacher": "text-davinci-003",
        "reason": "forged",
        "approver": "Legal",
        "expires": date(2099, 1, 1),
        "run_id": run_id,
    } | fields
    con.execute("INSERT INTO waivers VALUES (?, ?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP)", list(row.values()))


def verify_json(db: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = run_cli("verify", *args, "--json", db=db)
    return result.exit_code, json.loads(result.stdout)


def selection(found: dict[str, Any]) -> tuple[int, int, str]:
    return found["selected_examples"], found["examples"], found["merkle_root"]


def test_forged_waiver_under_a_running_run_fools_neither_the_gate_nor_verify(
    ledger_db: Path, commercial: Path
):
    _, before = gate_json(ledger_db, commercial)
    with duckdb.connect(str(ledger_db)) as con:
        forge_run(con, "waiver")
        forge_waiver(con, FORGED)
    code, found = verify_json(ledger_db)
    assert code == 1
    named = [p for p in found["problems"] if p["run_id"] == FORGED]
    assert [(p["table"], "1 rows" in p["message"]) for p in named] == [("waivers", True)]
    _, after = gate_json(ledger_db, commercial)
    assert selection(after) == selection(before) and not after["waivers_used"]
    assert after["excluded"]["licence"]["drop"] == 252


def test_forged_decisions_under_a_running_run_fool_neither_the_gate_nor_verify(
    ledger_db: Path, commercial: Path
):
    _, before = gate_json(ledger_db, commercial)
    (licence,) = [c for c in before["checks"] if c["kind"] == "licence"]
    with duckdb.connect(str(ledger_db)) as con:
        forge_run(con, "check")
        (ref,) = con.execute("SELECT min(judgement_no) FROM licence_judgements WHERE permitted").fetchone()
        (batch,) = con.execute(
            "INSERT INTO decision_batches (context_id, run_id, decided_at, decisions) "
            "VALUES (?, ?, now()::TIMESTAMP, 0) RETURNING batch_id",
            [licence["context_id"], FORGED],
        ).fetchone()
        con.execute(
            "INSERT INTO decisions SELECT example_id, ?, 0, 'permitted', 'pass', NULL, NULL, NULL, ? "
            "FROM examples",
            [batch, ref],
        )
        (forged,) = con.execute("SELECT count(*) FROM examples").fetchone()
    code, found = verify_json(ledger_db)
    assert code == 1
    named = {p["table"]: p["message"] for p in found["problems"] if p["run_id"] == FORGED}
    assert set(named) == {"decision_batches", "decisions"}
    assert f"{forged} rows of run {FORGED[:12]}" in named["decisions"]
    _, after = gate_json(ledger_db, commercial)
    assert selection(after) == selection(before)


def test_a_legitimate_run_after_the_forgery_closes_it_failed_and_does_not_count_it(
    ledger_db: Path, commercial: Path
):
    _, before = gate_json(ledger_db, commercial)
    with duckdb.connect(str(ledger_db)) as con:
        forge_run(con, "waiver")
        forge_waiver(con, FORGED)
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    honest = run_cli(
        "waive", "--check", "profanity", "--teacher", "text-davinci-003", "--reason", "checked by hand",
        "--approver", "J. Doe", "--expires", tomorrow, db=ledger_db,
    )  # fmt: skip
    assert honest.exit_code == 0, honest.output
    ((status, summary),) = rows(ledger_db, "SELECT status, summary FROM runs WHERE run_id = ?", [FORGED])
    assert status == "failed" and json.loads(summary)["interrupted"] is True
    # the forged run's audit row is its own, vouching for it as failed; no other run's row covers it
    audited = rows(ledger_db, "SELECT run_id, payload FROM audit_log ORDER BY seq")
    own = [json.loads(p) for r, p in audited if r == FORGED]
    assert len(own) == 1 and own[0]["status"] == "failed"
    assert all(FORGED not in json.dumps(json.loads(p)) for r, p in audited if r != FORGED)
    code, found = verify_json(ledger_db)
    assert code == 0 and found["interrupted_runs"] == [FORGED]
    _, after = gate_json(ledger_db, commercial)
    assert selection(after) == selection(before)
    assert [w["check"] for w in after["waivers_used"]] == [] and after["excluded"]["licence"]["drop"] == 252


def test_a_killed_run_is_closed_failed_with_its_own_audit_row(ledger_db: Path, commercial: Path):
    from provenance.core.ledger import Ledger

    ledger = Ledger.open(ledger_db)
    with ledger.transaction():
        killed = ledger.begin_run("check", {"pack": "light"})
    ledger.close()  # the process is gone without ending its run
    code, found = verify_json(ledger_db)
    assert code == 0 and killed in found["unsealed_runs"]  # it wrote nothing: a note
    gate_json(ledger_db, commercial)
    ((status, summary),) = rows(ledger_db, "SELECT status, summary FROM runs WHERE run_id = ?", [killed])
    assert status == "failed" and "interrupted" in json.loads(summary)["error"]
    ((kind, payload),) = rows(ledger_db, "SELECT kind, payload FROM audit_log WHERE run_id = ?", [killed])
    assert kind == "check" and json.loads(payload)["status"] == "failed"
    assert verify_json(ledger_db)[0] == 0


def test_only_waivers_that_provenance_waive_wrote_count(ledger_db: Path, commercial: Path):
    result = run_cli(
        "waive", "--check", "licence", "--teacher", "text-davinci-003", "--reason", "written permission",
        "--approver", "Legal", "--expires", "2099-01-01", db=ledger_db,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    ((honest_run, honest_seq),) = rows(
        ledger_db,
        "SELECT r.run_id, a.seq FROM runs r JOIN audit_log a USING (run_id) WHERE r.kind = 'waiver'",
    )
    with duckdb.connect(str(ledger_db)) as con:
        # under the honest waiver's sealed run: without an approver, expired, for another teacher
        forge_waiver(con, honest_run, approver="", waiver_id="no-approver")
        forge_waiver(con, honest_run, expires=date(2001, 1, 1), waiver_id="expired")
        forge_waiver(con, honest_run, teacher="davinci", waiver_id="other-teacher")
        # under a finished run that no audit row seals
        con.execute(
            "INSERT INTO runs VALUES (?, 'waiver', now()::TIMESTAMP, now()::TIMESTAMP, 'ok', '0.1.0', "
            "NULL, NULL)",
            [FORGED],
        )
        forge_waiver(con, FORGED, waiver_id="unsealed")
    from audits.waivers import active_waivers, all_waivers
    from provenance.core.ledger import Ledger

    with Ledger.open(ledger_db, read_only=True) as ledger:
        listed = all_waivers(ledger)
        active = active_waivers(ledger, date.today())
    assert [(w.approver, w.seq) for w in listed] == [("Legal", honest_seq)]
    assert [w.waiver_id for w in active] == [listed[0].waiver_id]
    assert verify_json(ledger_db)[0] == 1  # the forged rows do not match what the audit rows vouch for


def test_the_gate_lists_each_waiver_it_honoured_with_its_approver_and_audit_row(
    ledger_db: Path, commercial: Path
):
    result = run_cli(
        "waive", "--check", "licence", "--teacher", "text-davinci-003", "--reason", "written permission",
        "--approver", "Legal", "--expires", "2099-01-01", db=ledger_db,
    )  # fmt: skip
    assert result.exit_code == 0
    ((seq,),) = rows(
        ledger_db, "SELECT a.seq FROM audit_log a JOIN runs r USING (run_id) WHERE r.kind = 'waiver'"
    )
    _, found = gate_json(ledger_db, commercial)
    (used,) = found["waivers_used"]
    assert used["approver"] == "Legal" and used["audit_seq"] == seq and used["examples"] >= 240
    (head,) = rows(ledger_db, "SELECT summary FROM runs WHERE kind = 'gate'")[0]
    assert json.loads(head)["chain_head"]["seq"] == seq + 1  # the head the verdict saw (after its check run)


def _delete_runs_from(db: Path, seq: int) -> None:
    """Delete audit rows ``seq``.. and everything their runs wrote, as a careful forger would."""
    with duckdb.connect(str(db)) as con:
        runs = [r for (r,) in con.execute("SELECT run_id FROM audit_log WHERE seq >= ?", [seq]).fetchall()]
        con.execute(
            "DELETE FROM decisions WHERE batch_id IN (SELECT batch_id FROM decision_batches "
            "WHERE run_id IN (SELECT UNNEST(?::VARCHAR[])))",
            [runs],
        )
        con.execute(
            "DELETE FROM judgement_terms WHERE judgement_no IN (SELECT judgement_no FROM licence_judgements "
            "WHERE first_run_id IN (SELECT UNNEST(?::VARCHAR[])))",
            [runs],
        )
        tables = con.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE column_name IN ('run_id', 'first_run_id') AND table_name NOT IN ('runs', 'audit_log') "
            "AND table_name IN (SELECT table_name FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE')"
        ).fetchall()
        for table, column in tables:
            con.execute(f"DELETE FROM {table} WHERE {column} IN (SELECT UNNEST(?::VARCHAR[]))", [runs])
        con.execute("DELETE FROM audit_log WHERE seq >= ?", [seq])
        con.execute("DELETE FROM runs WHERE run_id IN (SELECT UNNEST(?::VARCHAR[]))", [runs])


def test_deleting_the_latest_runs_with_their_audit_rows_is_caught_by_the_report(
    ledger_db: Path, tmp_path: Path
):
    light = pack(tmp_path)
    (before,) = rows(ledger_db, "SELECT max(seq) FROM audit_log")[0]
    out = tmp_path / "student"
    result = run_cli(
        "train", "--policy", str(light), "--student", "tiny", "--out", str(out),
        "--max-steps", "2", "--max-length", "128", "--json", db=ledger_db,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    recorded = json.loads((out / "AUDIT.json").read_text())["audit_chain"]
    (train_head,) = rows(ledger_db, "SELECT summary FROM runs WHERE kind = 'train'")[0]
    assert json.loads(train_head)["chain_head"]["seq"] == recorded["seq"] - 1
    copy = Path(shutil.copy(ledger_db, tmp_path / "truncated.duckdb"))
    _delete_runs_from(copy, before + 1)
    code, found = verify_json(copy, "--report", str(out / "AUDIT.json"))
    assert code == 1 and not found["report"]["ok"]
    (line,) = [x for x in found["report"]["lines"] if "deleted" in x]
    assert (
        f"ends at row {before}" in line and recorded["head"][:12] in line and f"row {recorded['seq']}" in line
    )
    assert verify_json(ledger_db, "--report", str(out / "AUDIT.json"))[0] == 0
