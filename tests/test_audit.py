"""The gate, waivers, training through the gate, the audit trail and its verification."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.conftest import EXAMPLES, BuiltLedgers, run_cli, snapshot

LIGHT = """
name: light
use: {use}
student: tiny
checks:
{checks}
gate: {{max_dropped_share: {share}, min_examples: {minimum}}}
"""
LICENCE = "  - check: licence\n    action: drop\n"
PROFANITY = "  - check: profanity\n    action: {action}\n"
DUPLICATES = "  - check: duplicates\n    action: drop\n"


def pack(
    folder: Path,
    name: str = "light",
    *,
    use: str = "research",
    licence: bool = True,
    profanity: str = "drop",
    share: float = 0.9,
    minimum: int = 10,
    extra: str = "",
) -> Path:
    checks = (LICENCE if licence else "") + PROFANITY.format(action=profanity) + DUPLICATES + extra
    path = folder / f"{name}.yaml"
    path.write_text(LIGHT.format(use=use, checks=checks, share=share, minimum=minimum), "utf-8")
    return path


def build_example(db: Path) -> Path:
    for args in (
        ["seeds", "import", str(EXAMPLES / "seed_tasks.jsonl"), "--manifest", str(EXAMPLES / "seeds.yaml")],
        [
            "import",
            str(EXAMPLES / "text-davinci-003_predictions.jsonl"),
            "--manifest",
            str(EXAMPLES / "text-davinci-003.yaml"),
        ],
    ):
        assert run_cli(*args, db=db).exit_code == 0
    return db


def rows(db: Path, sql: str, params: list[Any] | None = None) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, built_ledgers: BuiltLedgers) -> dict[str, Path]:
    """A ledger with the bundled seeds and text-davinci-003 outputs, and a tiny student trained on it."""
    folder = tmp_path_factory.mktemp("trained")
    db = built_ledgers.copy("seeds-text-davinci-003", build_example, folder / "ledger.duckdb")
    light = pack(folder)
    key = folder / "audit.key"
    assert run_cli("keygen", "--out", str(key)).exit_code == 0
    out = folder / "student"
    result = run_cli(
        "train",
        "--policy",
        str(light),
        "--student",
        "tiny",
        "--out",
        str(out),
        "--max-steps",
        "4",
        "--max-length",
        "128",
        "--sign",
        str(key),
        "--json",
        db=db,
    )
    assert result.exit_code == 0, result.output
    return {"db": db, "out": out, "key": key, "pack": light, "folder": folder}


def copy_ledger(trained: dict[str, Path], tmp_path: Path) -> Path:
    """A copy of the trained ledger to alter."""
    return Path(shutil.copy(trained["db"], tmp_path / "copy.duckdb"))


def test_trained_student_holds_model_and_audit(trained: dict[str, Path]):
    out, db = trained["out"], trained["db"]
    names = {p.name for p in out.iterdir()}
    assert {
        "model.safetensors",
        "config.json",
        "tokenizer.json",
        "AUDIT.md",
        "AUDIT.json",
        "manifest.json",
    } <= names
    assert not [p for p in out.parent.iterdir() if ".partial-" in p.name]
    report = json.loads((out / "AUDIT.json").read_text())
    assert report["verdict"] == "passed" and report["training"]["metrics"]["steps"] == 4
    assert (
        report["training"]["student"]["kind"] == "tiny"
        and "not a pretrained model" in report["training"]["student"]["label"]
    )
    assert report["policy_pack"]["name"] == "light" and report["registry_version"]
    assert report["teacher_mix"]["text-davinci-003"] > 0 and report["teacher_mix"]["none (human)"] > 0
    assert report["licence"]["obligations"], "OpenAI's non-competing condition travels with the student"
    from audits.manifest import read_manifest

    manifest = read_manifest(out / "manifest.json")
    assert manifest["merkle_root"] == report["dataset"]["merkle_root"]
    stored = sorted(
        r[0]
        for r in rows(
            db, "SELECT example_id FROM dataset_examples WHERE dataset_id = ?", [manifest["merkle_root"]]
        )
    )
    assert stored == manifest["example_ids"] and len(stored) == report["dataset"]["examples"]
    (training,) = rows(db, "SELECT dataset_id, model_digest, out_dir FROM trainings")
    assert training[0] == manifest["merkle_root"] and training[2] == str(out.resolve())
    assert training[1] == report["training"]["model_digest"]
    import transformers

    model = transformers.AutoModelForCausalLM.from_pretrained(out, local_files_only=True)
    assert model.num_parameters() > 0
    md = (out / "AUDIT.md").read_text()
    assert "Gate: PASSED" in md and report["dataset"]["merkle_root"] in md and "Do not use" in md


def test_recall_names_the_trained_model(trained: dict[str, Path]):
    found = json.loads(run_cli("recall", "--teacher", "text-davinci-003", "--json", db=trained["db"]).stdout)
    (model,) = found["models"]
    assert model["out_dir"] == str(trained["out"].resolve()) and model["examples_trained_on"] > 0
    seed = json.loads(run_cli("recall", "--seed", "seed_task_0", "--json", db=trained["db"]).stdout)
    assert [m["training_id"] for m in seed["models"]] == [model["training_id"]]


def test_verify_passes_and_checks_the_signed_report(trained: dict[str, Path], tmp_path: Path):
    db, out, key = trained["db"], trained["out"], trained["key"]
    ok = run_cli("verify", "--report", str(out / "AUDIT.json"), "--pubkey", f"{key}.pub", "--json", db=db)
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["ok"] is True
    other = tmp_path / "other.key"
    assert run_cli("keygen", "--out", str(other)).exit_code == 0
    wrong = run_cli("verify", "--report", str(out / "AUDIT.json"), "--pubkey", f"{other}.pub", db=db)
    assert wrong.exit_code == 1 and "INVALID" in wrong.stdout
    forged = json.loads((out / "AUDIT.json").read_text())
    forged["dataset"]["merkle_root"] = "0" * 64
    (tmp_path / "AUDIT.json").write_text(json.dumps(forged))
    bad = run_cli("verify", "--report", str(tmp_path / "AUDIT.json"), "--pubkey", f"{key}.pub", db=db)
    assert bad.exit_code == 1 and "INVALID" in bad.stdout
    assert run_cli("keygen", "--out", str(key)).exit_code == 2  # never overwrites a key


@pytest.mark.parametrize(
    ("table", "sql"),
    [
        (
            "examples",
            "UPDATE examples SET output = output || ' (edited)' WHERE example_id = "
            "(SELECT min(example_id) FROM examples)",
        ),
        (
            "decisions",
            "UPDATE decisions SET decision = 'pass' WHERE decision = 'drop' AND example_id = "
            "(SELECT min(example_id) FROM decisions WHERE decision = 'drop')",
        ),
        ("provenance_sets", "UPDATE provenance_sets SET licence = 'MIT' WHERE method = 'imported'"),
        ("provenance", "DELETE FROM provenance WHERE example_id = (SELECT min(example_id) FROM provenance)"),
        (
            "provenance",
            "UPDATE provenance SET run_id = NULL WHERE example_id = (SELECT min(example_id) FROM provenance)",
        ),
        (
            "decisions",
            "INSERT INTO decisions SELECT example_id, 999999, basis, verdict, 'pass', score, reason, "
            "details, ref FROM decisions LIMIT 1",
        ),
        ("audit_log", "DELETE FROM audit_log WHERE seq = 2"),
        ("audit_log", "DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)"),
        ("audit_log", "UPDATE audit_log SET payload = json_object('kind', 'forged') WHERE seq = 1"),
    ],
)
def test_verify_detects_sql_edits(trained: dict[str, Path], tmp_path: Path, table: str, sql: str):
    copy = copy_ledger(trained, tmp_path)
    assert run_cli("verify", db=copy).exit_code == 0
    with duckdb.connect(str(copy)) as con:
        con.execute(sql)
    result = run_cli("verify", "--json", db=copy)
    assert result.exit_code == 1
    found = json.loads(result.stdout)
    assert not found["ok"] and found["first_problem"]["table"] == table
    assert "audit row" in found["first_problem"]["message"] or "run" in found["first_problem"]["message"]


def _rewrite_as_digest_version_1(db: Path) -> None:
    """Re-vouch every audit row with version-1 digests, as a ledger audited before version 2 holds."""
    from provenance.core import audit_log

    with duckdb.connect(str(db)) as con:
        old = audit_log.digests(con, version=1)
        prev = audit_log.GENESIS
        entries = con.execute("SELECT seq, recorded_at, kind, run_id, payload FROM audit_log ORDER BY seq")
        for seq, at, kind, run_id, payload in entries.fetchall():
            vouched = old.get(run_id, {})
            body = audit_log.entry_body(seq, str(at), kind, run_id, json.loads(payload), vouched, 1)
            digest = audit_log.entry_hash(prev, body)
            con.execute(
                "UPDATE audit_log SET vouched = ?, digest_version = 1, prev_hash = ?, hash = ? WHERE seq = ?",
                [json.dumps(vouched), prev, digest, seq],
            )
            prev = digest


def test_version_1_digests_still_verify_and_still_catch_edits(trained: dict[str, Path], tmp_path: Path):
    """Audit rows written before digest version 2 verify under version 1; edits are still found."""
    import hashlib

    from provenance.core import audit_log

    copy = copy_ledger(trained, tmp_path)
    with duckdb.connect(str(copy), read_only=True) as con:
        # version 1, computed here independently: sha256 over the sorted sha256 of chr(31)-joined columns
        columns = ["example_id", "kind", "instruction", "input", "output", "messages", "first_run_id"]
        columns.append("created_at")
        values = con.execute(
            f"SELECT first_run_id, {', '.join(f'CAST({c} AS VARCHAR)' for c in columns)} FROM examples"
        ).fetchall()
        by_run: dict[str, list[str]] = {}
        for run, *fields in values:
            line = chr(31).join(chr(1) if v is None else v for v in fields)
            by_run.setdefault(run, []).append(hashlib.sha256(line.encode("utf-8")).hexdigest())
        old = audit_log.digests(con, version=1)
        new = audit_log.digests(con, version=2)
    for run, hashes in by_run.items():
        want = hashlib.sha256("".join(sorted(hashes)).encode("ascii")).hexdigest()
        assert old[run]["examples"] == {"rows": len(hashes), "digest": want}
        assert new[run]["examples"]["rows"] == len(hashes) and new[run]["examples"]["digest"] != want
    _rewrite_as_digest_version_1(copy)
    assert {r[0] for r in rows(copy, "SELECT digest_version FROM audit_log")} == {1}
    result = run_cli("verify", "--json", db=copy)
    assert result.exit_code == 0, result.output
    with duckdb.connect(str(copy)) as con:
        con.execute(
            "UPDATE examples SET input = input || ' ' "
            "WHERE example_id = (SELECT max(example_id) FROM examples)"
        )
    found = json.loads(run_cli("verify", "--json", db=copy).stdout)
    assert not found["ok"] and found["first_problem"]["table"] == "examples"


def test_the_digest_version_of_an_audit_row_is_covered_by_its_hash(trained: dict[str, Path], tmp_path: Path):
    copy = copy_ledger(trained, tmp_path)
    with duckdb.connect(str(copy)) as con:
        con.execute("UPDATE audit_log SET digest_version = 1 WHERE seq = 1")
    found = json.loads(run_cli("verify", "--json", db=copy).stdout)
    assert not found["ok"] and found["first_problem"]["seq"] == 1
    assert "altered" in found["first_problem"]["message"]


def test_training_refuses_an_altered_ledger(trained: dict[str, Path], tmp_path: Path):
    copy = copy_ledger(trained, tmp_path)
    with duckdb.connect(str(copy)) as con:
        con.execute(
            "UPDATE examples SET output = 'tampered' "
            "WHERE example_id = (SELECT min(example_id) FROM examples)"
        )
    out = tmp_path / "student"
    result = run_cli(
        "train",
        "--policy",
        str(trained["pack"]),
        "--student",
        "tiny",
        "--out",
        str(out),
        "--max-steps",
        "1",
        db=copy,
    )
    assert result.exit_code == 1 and "ledger-altered" in result.stdout
    assert {p.name for p in out.iterdir()} == {"AUDIT.json", "AUDIT.md", "manifest.json"}


@pytest.fixture
def ledger_db(tmp_path: Path, built_ledgers: BuiltLedgers) -> Path:
    return built_ledgers.copy("seeds-text-davinci-003", build_example, tmp_path / "ledger.duckdb")


def gate_json(db: Path, policy: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = run_cli("gate", "--policy", str(policy), *args, "--json", db=db)
    return result.exit_code, json.loads(result.stdout)


def test_gate_passes_then_reuses_every_decision_without_models(ledger_db: Path, tmp_path: Path, monkeypatch):
    light = pack(tmp_path)
    code, first = gate_json(ledger_db, light)
    assert code == 0 and first["passed"] and first["selected_examples"] > 400
    from audits.manifest import merkle_root

    ids = sorted(r[0] for r in rows(ledger_db, "SELECT example_id FROM dataset_examples"))
    assert merkle_root(ids) == first["merkle_root"] and len(ids) == first["selected_examples"]
    from policies.checks.profanity import ProfanityCheck

    def no_model(self: Any) -> None:
        raise AssertionError("the gate loaded a check's model although every decision was stored")

    monkeypatch.setattr(ProfanityCheck, "load", no_model)
    code, second = gate_json(ledger_db, light)
    assert code == 0 and second["merkle_root"] == first["merkle_root"]
    assert all(c["scored"] == 0 for c in second["checks"])
    kinds = [r[0] for r in rows(ledger_db, "SELECT kind FROM audit_log ORDER BY seq")]
    assert kinds.count("gate") == 2 and kinds.count("check") == 2


@pytest.mark.parametrize(
    ("reason", "kwargs", "args"),
    [
        ("blocked", {"profanity": "block"}, []),
        ("check-not-run", {"extra": "  - check: toxicity\n    action: drop\n    if_not_run: block\n"}, []),
        (
            "student-not-permitted",
            {"use": "commercial", "share": 1.0},
            ["--student", "mistralai/Codestral-22B-v0.1"],
        ),
        ("no-licence-check", {"licence": False}, []),
        ("too-many-dropped", {"use": "commercial", "share": 0.1}, []),
        ("too-few-examples", {"minimum": 100000}, []),
    ],
)
def test_gate_fails_for_each_reason(
    ledger_db: Path, tmp_path: Path, monkeypatch, reason: str, kwargs: dict, args: list[str]
):
    monkeypatch.setenv("PROVENANCE_DETOXIFY_DIR", str(tmp_path / "no-detoxify"))
    code, found = gate_json(ledger_db, pack(tmp_path, **kwargs), *args)
    assert code == 1 and not found["passed"]
    assert reason in [r["code"] for r in found["reasons"]], found["reasons"]
    (status,) = rows(ledger_db, "SELECT status FROM runs WHERE kind = 'gate'")[0]
    assert status == "failed"


def test_waivers_count_until_they_expire(ledger_db: Path, tmp_path: Path):
    strict = pack(tmp_path, profanity="block")
    code, found = gate_json(ledger_db, strict)
    assert code == 1
    blocked = [
        r[0]
        for r in rows(
            ledger_db,
            "SELECT example_id FROM decision_records WHERE check_name = 'profanity' AND decision = 'block'",
        )
    ]
    assert blocked
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    for example_id in blocked:
        result = run_cli(
            "waive",
            "--check",
            "profanity",
            "--example",
            example_id[:12],
            "--reason",
            "quoted lyrics",
            "--approver",
            "J. Doe",
            "--expires",
            tomorrow,
            db=ledger_db,
        )
        assert result.exit_code == 0, result.output
    code, found = gate_json(ledger_db, strict)
    assert code == 0 and found["passed"]
    assert sorted(w["example_id"] for w in found["waivers_used"]) == sorted(blocked)
    assert all(w["approver"] == "J. Doe" and w["examples"] == 1 for w in found["waivers_used"])
    # the day after tomorrow the waivers have expired: the gate blocks again and lists none
    from audits.gate import evaluate
    from policies.packs import load_pack
    from policies.registry import load_registry
    from provenance.core.ledger import Ledger

    with Ledger.open(ledger_db) as ledger:
        later = evaluate(
            ledger, load_pack(str(strict)), load_registry(()), today=date.today() + timedelta(days=2)
        )
    assert not later.passed and not later.waivers_used and "blocked" in [r.code for r in later.reasons]
    listed = json.loads(run_cli("waivers", "--json", db=ledger_db).stdout)
    assert len(listed) == len(blocked) and not any(w["expired"] for w in listed)


def test_teacher_waiver_lets_a_teachers_examples_through(ledger_db: Path, tmp_path: Path):
    commercial = pack(tmp_path, use="commercial", share=1.0)
    _, before = gate_json(ledger_db, commercial)
    assert before["excluded"]["licence"]["drop"] == 252
    result = run_cli(
        "waive",
        "--check",
        "licence",
        "--teacher",
        "text-davinci-003",
        "--reason",
        "written permission",
        "--approver",
        "Legal",
        "--expires",
        "2099-01-01",
        db=ledger_db,
    )
    assert result.exit_code == 0
    _, after = gate_json(ledger_db, commercial)
    assert after["selected_examples"] - before["selected_examples"] >= 240
    (used,) = after["waivers_used"]
    gained = after["selected_examples"] - before["selected_examples"]
    assert used["teacher"] == "text-davinci-003" and used["examples"] == gained
    assert after["excluded"]["licence"]["drop (waived)"] == 252 and "drop" not in after["excluded"]["licence"]


@pytest.mark.parametrize(
    ("target", "expires", "message"),
    [
        (["--example", "ffffffffff"], "2099-01-01", "no example"),
        (["--teacher", "no-such-model"], "2099-01-01", "no teacher"),
        (["--example", "a", "--teacher", "b"], "2099-01-01", "exactly one"),
        (["--teacher", "text-davinci-003"], "2001-01-01", "in the past"),
        (["--teacher", "text-davinci-003"], "soon", "not a date"),
    ],
)
def test_bad_waivers_are_refused(ledger_db: Path, target: list[str], expires: str, message: str):
    result = run_cli(
        "waive",
        "--check",
        "licence",
        *target,
        "--reason",
        "r",
        "--approver",
        "a",
        "--expires",
        expires,
        db=ledger_db,
    )
    assert result.exit_code == 2 and message in result.stderr
    assert not rows(ledger_db, "SELECT * FROM waivers")


def test_out_dir_rules(ledger_db: Path, tmp_path: Path):
    out = tmp_path / "student"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    failing = pack(tmp_path, "failing", minimum=100000)
    refused = run_cli("train", "--policy", str(failing), "--student", "tiny", "--out", str(out), db=ledger_db)
    assert refused.exit_code == 2 and str(out) in refused.stderr
    forced = run_cli(
        "train", "--policy", str(failing), "--student", "tiny", "--out", str(out), "--force", db=ledger_db
    )
    assert forced.exit_code == 1 and "too-few-examples" in forced.stdout
    assert {p.name for p in out.iterdir()} == {"AUDIT.json", "AUDIT.md", "manifest.json"}
    report = json.loads((out / "AUDIT.json").read_text())
    assert (
        report["verdict"] == "failed"
        and report["training"] is None
        and "Nothing was trained" in (out / "AUDIT.md").read_text()
    )


def test_a_student_that_is_not_a_model(ledger_db: Path, tmp_path: Path):
    before = snapshot(ledger_db)
    fake = tmp_path / "not-a-model"
    fake.mkdir()
    (fake / "README").write_text("hello")
    out = tmp_path / "student"
    result = run_cli(
        "train", "--policy", str(pack(tmp_path)), "--student", str(fake), "--out", str(out), db=ledger_db
    )
    assert result.exit_code == 2 and str(fake) in result.stderr
    assert not out.exists() and not [p for p in tmp_path.iterdir() if ".partial-" in p.name]
    assert snapshot(ledger_db) == before  # refused before anything ran


def test_a_training_crash_leaves_no_finished_looking_student(ledger_db: Path, tmp_path: Path, monkeypatch):
    import audits.train

    def crash(records: Any, student: str, out_dir: Path, config: Any, **kwargs: Any) -> Any:
        (out_dir / "model.safetensors").write_bytes(b"half")
        raise RuntimeError("out of memory")

    monkeypatch.setattr(audits.train, "train_student", crash)
    out = tmp_path / "student"
    result = run_cli(
        "train", "--policy", str(pack(tmp_path)), "--student", "tiny", "--out", str(out), db=ledger_db
    )
    assert result.exit_code == 3 and "out of memory" in result.stderr
    assert not out.exists() and not [p for p in tmp_path.iterdir() if ".partial-" in p.name]
    assert rows(ledger_db, "SELECT status FROM runs WHERE kind = 'train'") == [("failed",)]


def test_a_trained_student_trains_again_as_a_checkpoint(trained: dict[str, Path], tmp_path: Path):
    copy = copy_ledger(trained, tmp_path)
    out = tmp_path / "student-2"
    result = run_cli(
        "train",
        "--policy",
        str(trained["pack"]),
        "--student",
        str(trained["out"]),
        "--out",
        str(out),
        "--max-steps",
        "2",
        "--max-length",
        "128",
        "--json",
        db=copy,
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)["report"]
    assert report["student"] == "tiny"  # judged as what its own audit says it is
    assert report["training"]["student"]["kind"] == "checkpoint"
    assert run_cli("verify", db=copy).exit_code == 0


def test_redacted_copies_train_only_in_place_of_their_originals(ledger_db: Path, tmp_path: Path):
    redact = pack(tmp_path, "redact", extra="  - check: pii\n    action: redact\n")
    code, found = gate_json(ledger_db, redact)
    assert code == 0 and found["redacted_replaced"] > 0
    pairs = rows(ledger_db, "SELECT child_id, parent_id FROM lineage WHERE relation = 'redacted-from'")
    selected = {
        r[0]
        for r in rows(
            ledger_db, "SELECT example_id FROM dataset_examples WHERE dataset_id = ?", [found["merkle_root"]]
        )
    }
    assert all(child in selected and parent not in selected for child, parent in pairs)
    # under a pack that only flags PII the originals train, and their copies do not
    flag = pack(tmp_path, "flag", extra="  - check: pii\n    action: flag\n")
    code, found = gate_json(ledger_db, flag)
    selected = {
        r[0]
        for r in rows(
            ledger_db, "SELECT example_id FROM dataset_examples WHERE dataset_id = ?", [found["merkle_root"]]
        )
    }
    assert all(parent in selected and child not in selected for child, parent in pairs)
    assert found["redacted_replaced"] == 0 and found["redacted_copies_unused"] == len(pairs)


def test_a_deleted_last_audit_row_is_not_laundered_by_the_next_command(
    trained: dict[str, Path], tmp_path: Path
):
    copy = copy_ledger(trained, tmp_path)
    with duckdb.connect(str(copy)) as con:
        con.execute("UPDATE trainings SET model_digest = repeat('0', 64)")
        con.execute("DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)")
    result = run_cli(
        "waive",
        "--check",
        "licence",
        "--teacher",
        "text-davinci-003",
        "--reason",
        "r",
        "--approver",
        "a",
        "--expires",
        "2099-01-01",
        db=copy,
    )
    assert result.exit_code == 3 and "audit log" in result.stderr and "altered" in result.stderr
    assert run_cli("verify", db=copy).exit_code == 1
    # marking the run as still running does not hide it either
    with duckdb.connect(str(copy)) as con:
        con.execute("UPDATE runs SET status = 'running' WHERE kind = 'train'")
    found = json.loads(run_cli("verify", "--json", db=copy).stdout)
    assert not found["ok"] and any("marked running" in p["message"] for p in found["problems"])


def test_force_never_replaces_the_ledgers_folder(tmp_path: Path, built_ledgers: BuiltLedgers):
    (tmp_path / "project").mkdir()
    db = built_ledgers.copy("seeds-text-davinci-003", build_example, tmp_path / "project" / "ledger.duckdb")
    (tmp_path / "project" / "notes.txt").write_text("mine")
    result = run_cli(
        "train",
        "--policy",
        str(pack(tmp_path)),
        "--student",
        "tiny",
        "--out",
        str(tmp_path / "project"),
        "--force",
        db=db,
    )
    assert result.exit_code == 2 and "holds the ledger" in result.stderr
    assert (tmp_path / "project" / "notes.txt").read_text() == "mine" and db.exists()
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("keep")
    assert run_cli("demo", "--dir", str(other), "--force").exit_code == 2
    assert (other / "keep.txt").exists()


def test_a_bad_signing_key_fails_before_training(ledger_db: Path, tmp_path: Path):
    bad = tmp_path / "bad.key"
    bad.write_text("not a key")
    out = tmp_path / "student"
    result = run_cli(
        "train",
        "--policy",
        str(pack(tmp_path)),
        "--student",
        "tiny",
        "--out",
        str(out),
        "--sign",
        str(bad),
        db=ledger_db,
    )
    assert result.exit_code == 2 and str(bad) in result.stderr
    assert not out.exists() and not rows(ledger_db, "SELECT * FROM trainings")


def test_the_signature_covers_the_whole_report(trained: dict[str, Path], tmp_path: Path):
    report = json.loads((trained["out"] / "AUDIT.json").read_text())
    report["verdict"] = "failed"  # any edit of the report body
    forged = tmp_path / "AUDIT.json"
    forged.write_text(json.dumps(report))
    result = run_cli("verify", "--report", str(forged), "--pubkey", f"{trained['key']}.pub", db=trained["db"])
    assert result.exit_code == 1 and "INVALID" in result.stdout


def test_audit_digests_of_long_rows_stay_within_duckdbs_memory_limit(tmp_path: Path):
    """Rows longer than INLINE_BYTES are sorted by their sha256, so the sort spills: 150,000 rows of
    1.2 KB (180 MB) digest under a 128 MB limit, where sorting the rows themselves runs out of memory."""
    from provenance.core import audit_log
    from provenance.core.ledger import Ledger

    with Ledger.open(tmp_path / "long.duckdb") as ledger:
        with ledger.transaction():
            run = ledger.begin_run("test", {})
            ledger.con.execute(
                "INSERT INTO examples SELECT sha256(i::VARCHAR), 'instruction', 'task ' || i, '', "
                "repeat(sha256(i::VARCHAR), 17), NULL, ?, now() FROM range(150000) t(i)",
                [run],
            )
            ledger.end_run(run, {})
        ledger.con.execute("SET memory_limit = '128MB'")
        every = audit_log.digests(ledger.con)[run]["examples"]
        assert every == audit_log.digests(ledger.con, run)[run]["examples"]
        assert every["rows"] == 150000
        vouched = ledger.con.execute("SELECT vouched FROM audit_log WHERE run_id = ?", [run]).fetchone()[0]
        assert json.loads(vouched)["examples"] == every
        with pytest.MonkeyPatch.context() as patch, pytest.raises(duckdb.OutOfMemoryException):
            patch.setattr(audit_log, "INLINE_BYTES", 1 << 20)  # the rows themselves in the sort
            audit_log.digests(ledger.con, run)
