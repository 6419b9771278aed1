"""The generators end to end: the real ``openai`` client against a local OpenAI-compatible server
(provenance.testing.fake_openai) answering as a Self-Instruct / Alpaca / rejection-sampling teacher would."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from provenance.testing.fake_openai import FINGERPRINT, FakeOpenAI, Reply, completion, malformed
from provenance.testing.fake_teacher import ScriptedTeacher
from tests.conftest import EXAMPLES, ROOT, run_cli, snapshot

SEEDS = EXAMPLES / "seed_tasks.jsonl"
TEACHER = "gpt-3.5-turbo-instruct"  # in the registry: OpenAI API terms


@pytest.fixture
def seeded(db: Path) -> Path:
    assert run_cli("seeds", "import", str(SEEDS), "--licence", "Apache-2.0", db=db).exit_code == 0
    return db


@pytest.fixture
def teacher():
    with FakeOpenAI(ScriptedTeacher()) as server:
        yield server


def generate(db: Path, kind: str, *args: str, url: str | None = None) -> Any:
    argv = ["generate", kind, "--teacher", TEACHER, *args]
    if url is not None:
        argv += ["--base-url", url]
    return run_cli(*argv, "--json", db=db)


def rows(db: Path, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    from provenance.core.ledger import Ledger

    with Ledger.open(db, read_only=True) as ledger:
        return ledger.rows(sql, params or [])


def prompt_of(db: Path, request_hash: str) -> str:
    request = json.loads(
        rows(db, "SELECT request FROM teacher_calls WHERE request_hash = ?", [request_hash])[0]["request"]
    )
    body = request["body"]
    return body["prompt"] if "prompt" in body else body["messages"][-1]["content"]


def test_self_instruct_lineage_leads_to_the_exact_prompt(seeded: Path, teacher: FakeOpenAI):
    result = generate(seeded, "self-instruct", "-n", "40", url=teacher.url)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["accepted"] == 40 and summary["stop"].startswith("accepted 40")
    examples = rows(
        seeded,
        "SELECT p.example_id, p.extra, s.method FROM provenance p JOIN provenance_sets s USING (set_id) "
        "WHERE s.method = 'teacher'",
    )
    assert len({e["example_id"] for e in examples}) == 40
    texts = {r["seed_id"]: r["instruction"] for r in rows(seeded, "SELECT seed_id, instruction FROM seeds")}
    texts |= {
        r["instruction_id"]: r["instruction"]
        for r in rows(seeded, "SELECT instruction_id, instruction FROM instructions")
    }
    checked = 0
    for e in examples:
        (edge,) = rows(seeded, "SELECT * FROM lineage WHERE child_id = ?", [e["example_id"]])
        assert (edge["relation"], edge["parent_kind"]) == ("instruction-of", "instruction")
        extra = json.loads(e["extra"])
        # the bootstrap prompt that produced the instruction, as the journal holds it
        prompt = prompt_of(seeded, extra["instruction_request_hash"])
        numbered = re.findall(r"^(\d+)\. (.*)$", prompt, flags=re.M)
        parents = rows(
            seeded,
            "SELECT parent_id, parent_kind, position FROM lineage "
            "WHERE child_id = ? AND relation = 'in-context-demo' ORDER BY position",
            [edge["parent_id"]],
        )
        assert len(parents) == 8 and [p["position"] for p in parents] == list(range(1, 9))
        assert sum(p["parent_kind"] == "seed" for p in parents) >= 6
        for (number, text), parent in zip(numbered, parents, strict=True):
            assert int(number) == parent["position"]
            assert re.sub(r"\s+", " ", texts[parent["parent_id"]]).strip().rstrip(":") == text
        checked += 1
    assert checked == 40
    # the seed lineage is walked by recall through the instruction nodes
    seed = rows(
        seeded,
        "SELECT parent_id FROM lineage WHERE parent_kind = 'seed' AND relation = 'in-context-demo' LIMIT 1",
    )
    recall = json.loads(run_cli("recall", "--seed", seed[0]["parent_id"], "--json", db=seeded).stdout)
    assert recall["through_lineage"] >= 1
    up = json.loads(run_cli("lineage", examples[0]["example_id"], "--json", db=seeded).stdout)
    assert len(up["seeds"]) >= 6


def test_self_instruct_filters_keep_their_reasons(seeded: Path, teacher: FakeOpenAI):
    from rouge_score import rouge_scorer

    assert generate(seeded, "self-instruct", "-n", "60", url=teacher.url).exit_code == 0
    found = rows(seeded, "SELECT stage, status, reason, content, details FROM generation_candidates")
    reasons = {(c["stage"], c["reason"]) for c in found if c["status"] == "rejected"}
    assert {("instruction", "too-similar"), ("instruction", "blacklisted-word")} <= reasons
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    similar = [c for c in found if c["reason"] == "too-similar"]
    assert similar
    for c in similar:
        details, content = json.loads(c["details"]), json.loads(c["content"])
        score = scorer.score(details["collided_text"], content["instruction"])["rougeL"].fmeasure
        assert score == details["rouge_l"] and score > 0.7
    for c in found:
        if c["reason"] == "blacklisted-word":
            details = json.loads(c["details"])
            assert re.search(rf"\b{details['word']}\b", json.loads(c["content"])["instruction"], re.I)
    accepted_instructions = [
        json.loads(c["content"])["instruction"]
        for c in found
        if c["stage"] == "instruction" and c["status"] == "accepted"
    ]
    assert not any(i.startswith("Write a program") for i in accepted_instructions)
    # no two kept instructions are too similar to each other (the rule, checked with rouge-score itself)
    for i, a in enumerate(accepted_instructions):
        for b in accepted_instructions[:i]:
            assert scorer.score(b, a)["rougeL"].fmeasure <= 0.7


def test_journal_and_provenance_of_generated_examples(seeded: Path, teacher: FakeOpenAI):
    summary = json.loads(generate(seeded, "self-instruct", "-n", "20", url=teacher.url).stdout)
    calls = rows(seeded, "SELECT * FROM teacher_calls")
    assert len(calls) == summary["requests"] == teacher.count() and all(c["status"] == "ok" for c in calls)
    records = rows(seeded, "SELECT * FROM provenance_records WHERE method = 'teacher'")
    assert len(records) == 20
    hashes = {c["request_hash"] for c in calls}
    for r in records:
        extra = json.loads(r["extra"])
        assert extra["request_hash"] in hashes and r["request_id"].startswith("req-")
        assert json.loads(r["usage"])["total_tokens"] > 0
        assert r["teacher_model"] == TEACHER and r["teacher_fingerprint"] == FINGERPRINT
        assert r["teacher_endpoint"] == teacher.url and r["origin"] == "machine"
        assert r["licence"] and r["terms_id"] == "openai-terms-of-use"  # from the teacher registry
        assert (
            r["prompt_template_hash"]
            == hashlib.sha256(
                (ROOT / "generators/templates/self-instruct/instances-input-first.txt").read_bytes()
            ).hexdigest()
            or r["prompt_template_hash"]
            == hashlib.sha256(
                (ROOT / "generators/templates/self-instruct/instances-output-first.txt").read_bytes()
            ).hexdigest()
        )
        assert extra["latency_ms"] > 0


def test_rerun_adds_nothing_and_a_larger_n_continues(seeded: Path, teacher: FakeOpenAI):
    first = json.loads(generate(seeded, "alpaca", "-n", "30", url=teacher.url).stdout)
    sent = teacher.count()
    before = snapshot(seeded)
    again = json.loads(generate(seeded, "alpaca", "-n", "30", url=teacher.url).stdout)
    assert teacher.count() == sent and again["sent"] == 0 and again["from_journal"] == first["requests"]
    after = snapshot(seeded)
    for table in (
        "examples",
        "provenance",
        "lineage",
        "generation_candidates",
        "teacher_calls",
        "instructions",
    ):
        assert after.get(table, before.get(table)) == before.get(table) or table not in before
    assert rows(seeded, "SELECT count(*) AS n FROM examples")[0]["n"] == before["examples"][0]
    more = json.loads(generate(seeded, "alpaca", "-n", "60", url=teacher.url).stdout)
    assert more["accepted"] == 60 and more["from_journal"] >= first["requests"] - 1
    assert teacher.count() - sent == more["sent"]
    claims = rows(
        seeded,
        "SELECT count(*) AS n, count(DISTINCT example_id) AS d FROM provenance p "
        "JOIN provenance_sets s USING (set_id) WHERE s.method = 'teacher'",
    )[0]
    assert claims["n"] == claims["d"] == 60


def test_alpaca_examples_point_at_their_three_demonstrations(seeded: Path, teacher: FakeOpenAI):
    assert generate(seeded, "alpaca", "-n", "25", url=teacher.url).exit_code == 0
    seeds = {r["seed_id"]: r["instruction"] for r in rows(seeded, "SELECT seed_id, instruction FROM seeds")}
    expected_hash = hashlib.sha256((ROOT / "generators/templates/alpaca/prompt.txt").read_bytes()).hexdigest()
    records = rows(
        seeded,
        "SELECT example_id, extra, prompt_template_hash FROM provenance_records WHERE method = 'teacher'",
    )
    assert len(records) == 25
    for r in records:
        assert r["prompt_template_hash"] == expected_hash
        prompt = prompt_of(seeded, json.loads(r["extra"])["request_hash"])
        demos = re.findall(r"^(\d)\. Instruction: (.*)$", prompt, flags=re.M)
        edges = rows(
            seeded,
            "SELECT parent_id, position FROM lineage WHERE child_id = ? AND relation = 'in-context-demo' "
            "ORDER BY position",
            [r["example_id"]],
        )
        assert [
            (str(e["position"]), re.sub(r"\s+", " ", seeds[e["parent_id"]]).strip().rstrip(":"))
            for e in edges
        ] == demos
        assert len(edges) == 3


def test_same_result_whatever_the_concurrency(tmp_path: Path, teacher: FakeOpenAI):
    ids = []
    for concurrency in ("1", "8"):
        db = tmp_path / f"c{concurrency}.duckdb"
        assert run_cli("seeds", "import", str(SEEDS), db=db).exit_code == 0
        assert (
            generate(db, "self-instruct", "-n", "25", "--concurrency", concurrency, url=teacher.url).exit_code
            == 0
        )
        ids.append(
            sorted(
                r["example_id"]
                for r in rows(db, "SELECT example_id FROM provenance_records WHERE method = 'teacher'")
            )
        )
    assert ids[0] == ids[1] and len(ids[0]) == 25


def test_replay_without_any_server(tmp_path: Path, seeded: Path):
    with FakeOpenAI(ScriptedTeacher()) as server:
        url = server.url
        recorded = json.loads(generate(seeded, "self-instruct", "-n", "15", url=url).stdout)
    calls = tmp_path / "calls.jsonl"
    assert run_cli("journal", "export", str(calls), db=seeded).exit_code == 0
    fresh = tmp_path / "fresh.duckdb"
    assert run_cli("seeds", "import", str(SEEDS), "--licence", "Apache-2.0", db=fresh).exit_code == 0
    assert run_cli("journal", "import", str(calls), db=fresh).exit_code == 0
    # the server is gone: any connection attempt would fail
    replayed = generate(fresh, "self-instruct", "-n", "15", "--replay", url=url)
    assert replayed.exit_code == 0, replayed.output
    summary = json.loads(replayed.stdout)
    assert summary["sent"] == 0 and summary["accepted"] == 15 and summary["requests"] == recorded["requests"]
    query = "SELECT example_id FROM provenance_records WHERE method = 'teacher' ORDER BY 1"
    assert rows(fresh, query) == rows(seeded, query)
    # asking for more than was recorded stops cleanly at the end of the recording
    longer = json.loads(generate(fresh, "self-instruct", "-n", "500", "--replay", url=url).stdout)
    assert longer["stop"] == "replay reached the end of the recorded teacher calls"


def test_the_api_key_is_nowhere_in_the_ledger(
    seeded: Path, teacher: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
):
    secret = "sk-test-" + "Zq7" * 12
    monkeypatch.setenv("MY_TEACHER_KEY", secret)
    result = generate(
        seeded,
        "alpaca",
        "-n",
        "10",
        "--api-key-env",
        "MY_TEACHER_KEY",
        url=teacher.url + f"?api-key={secret}",
    )
    assert result.exit_code == 0, result.output
    assert all(r.headers.get("authorization") == f"Bearer {secret}" for r in teacher.requests)
    assert secret not in result.output
    data = b"".join(p.read_bytes() for p in seeded.parent.iterdir() if p.is_file())
    assert secret.encode() not in data and b"Zq7Zq7" not in data


def test_bad_seeds_file_is_an_error_before_any_request(tmp_path: Path, db: Path, teacher: FakeOpenAI):
    bad = tmp_path / "seeds.jsonl"
    bad.write_text(
        json.dumps({"instruction": "ok", "instances": [{"input": "", "output": "x"}]}) + "\n{not json\n"
    )
    assert run_cli("init", db=db).exit_code == 0
    before = snapshot(db)
    result = generate(db, "self-instruct", "--seeds", str(bad), url=teacher.url)
    assert result.exit_code == 2 and f"{bad}:2" in result.stderr
    assert teacher.count() == 0 and snapshot(db) == before


def test_garbage_replies_are_recorded_never_crash(seeded: Path):
    script = ScriptedTeacher()
    state = {"n": 0}

    def handler(request):
        state["n"] += 1
        k = state["n"]
        if k == 1:
            return malformed()
        if k == 2:
            return Reply(200, completion(request, [""]))
        if k == 3:
            body = completion(request, ["x"])
            body["choices"][0]["text"] = {"instruction": "JSON where text was expected"}
            return Reply(200, body)
        if k == 4:
            return Reply(200, completion(request, [script.text_for(request)], finish_reason="length"))
        if k == 5:
            return Reply(400, {"error": {"message": "prompt too long"}})
        return script(request)

    with FakeOpenAI(handler) as server:
        result = generate(
            seeded, "self-instruct", "-n", "10", "--concurrency", "1", "--max-retries", "0", url=server.url
        )
    assert result.exit_code == 0, result.output
    found = rows(seeded, "SELECT reason, details FROM generation_candidates WHERE item = -1 ORDER BY ordinal")
    reasons = [r["reason"] for r in found]
    assert reasons[:5] == [
        "unusable-response",
        "empty-response",
        "unusable-response",
        "cut-off",
        "unusable-response",
    ]
    assert "not JSON" in found[0]["details"] and "not text" in found[2]["details"]
    assert "prompt too long" in found[4]["details"]
    assert json.loads(result.stdout)["accepted"] == 10


def test_limits_stop_the_run(seeded: Path, teacher: FakeOpenAI):
    capped = json.loads(
        generate(seeded, "alpaca", "-n", "1000", "--max-requests", "5", url=teacher.url).stdout
    )
    assert capped["requests"] == 5 == teacher.count() and "--max-requests" in capped["stop"]
    budget = json.loads(
        generate(
            seeded, "alpaca", "-n", "1000", "--budget-tokens", "3000", "--random-seed", "9", url=teacher.url
        ).stdout
    )
    assert "--budget-tokens" in budget["stop"] and 3000 <= budget["tokens"] < 3000 + 4 * 1500


def test_unknown_teacher_is_recorded_as_unknown(seeded: Path, teacher: FakeOpenAI):
    result = run_cli(
        "generate",
        "alpaca",
        "--teacher",
        "acme-secret-model",
        "--base-url",
        teacher.url,
        "-n",
        "5",
        db=seeded,
    )
    assert result.exit_code == 0 and "not in the teacher registry" in result.stdout
    (r,) = rows(seeded, "SELECT DISTINCT licence, terms_id FROM provenance_records WHERE method = 'teacher'")
    assert r == {"licence": None, "terms_id": None}


def test_rejection_sampling_answer_verifier(db: Path, teacher: FakeOpenAI, write_jsonl):
    problems = write_jsonl(
        [
            {"id": f"p{i}", "question": f"What is {i} + {i + 1} + 2?", "answer": f"... so\n#### {2 * i + 3}"}
            for i in range(6)
        ]
    )
    result = run_cli(
        "generate",
        "rejection-sampling",
        str(problems),
        "--teacher",
        TEACHER,
        "--base-url",
        teacher.url,
        "-k",
        "3",
        "-n",
        "100",
        "--json",
        db=db,
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["requests"] == 18 and summary["stop"].startswith("sampled every problem")
    kept = rows(db, "SELECT example_id, extra, method FROM provenance_records WHERE method = 'verified'")
    assert kept and len(kept) == summary["accepted"]
    for r in kept:
        extra = json.loads(r["extra"])
        assert extra["verifier"] == "answer" and extra["verdict"]["ok"] and 1 <= extra["attempt"] <= 3
        (edge,) = rows(
            db,
            "SELECT l.*, s.external_id FROM lineage l JOIN seeds s ON s.seed_id = l.parent_id "
            "WHERE child_id = ?",
            [r["example_id"]],
        )
        assert edge["relation"] == "instruction-of" and edge["external_id"] == extra["problem_id"]
        assert edge["position"] == extra["attempt"]
    rejected = rows(db, "SELECT reason, details FROM generation_candidates WHERE status = 'rejected'")
    assert {r["reason"] for r in rejected} <= {"mismatch", "duplicate"} and any(
        r["reason"] == "mismatch" for r in rejected
    )
    assert len(rows(db, "SELECT * FROM seeds")) == 6


def test_rejection_sampling_python_verifier(db: Path, teacher: FakeOpenAI, write_jsonl):
    problems = write_jsonl(
        [
            {"id": "good", "prompt": "Write add(a, b).", "tests": ["assert add(2, 3) == 5"]},
            {
                "id": "bad",
                "prompt": "Write add(a, b) returning one more.",
                "tests": ["assert add(2, 2) == 5"],
            },
        ]
    )
    result = run_cli(
        "generate",
        "rejection-sampling",
        str(problems),
        "--teacher",
        TEACHER,
        "--base-url",
        teacher.url,
        "--verifier",
        "python",
        "-k",
        "1",
        "--json",
        db=db,
    )
    assert result.exit_code == 0, result.output
    (kept,) = rows(db, "SELECT extra FROM provenance_records WHERE method = 'verified'")
    assert json.loads(kept["extra"])["problem_id"] == "good"
    (bad,) = rows(db, "SELECT reason, content FROM generation_candidates WHERE status = 'rejected'")
    assert bad["reason"] == "tests-failed" and json.loads(bad["content"])["problem_id"] == "bad"


def test_bad_problems_file_is_an_error_before_any_request(db: Path, teacher: FakeOpenAI, write_jsonl):
    problems = write_jsonl([{"id": "a", "question": "1 + 1?", "answer": "2"}, {"id": "b", "answer": "3"}])
    result = run_cli(
        "generate",
        "rejection-sampling",
        str(problems),
        "--teacher",
        TEACHER,
        "--base-url",
        teacher.url,
        db=db,
    )
    assert result.exit_code == 2 and f"{problems}:2" in result.stderr and teacher.count() == 0


def test_candidates_command_lists_reasons(seeded: Path, teacher: FakeOpenAI):
    assert generate(seeded, "self-instruct", "-n", "30", url=teacher.url).exit_code == 0
    listed = json.loads(run_cli("generate", "candidates", "--status", "rejected", "--json", db=seeded).stdout)
    assert listed["rows"] and all(r["status"] == "rejected" for r in listed["rows"])
    total = rows(seeded, "SELECT count(*) AS n FROM generation_candidates WHERE status = 'rejected'")[0]["n"]
    assert sum(c["n"] for c in listed["counts"]) == total


def test_show_a_machine_instruction(seeded: Path, teacher: FakeOpenAI):
    assert generate(seeded, "self-instruct", "-n", "5", url=teacher.url).exit_code == 0
    ident = rows(seeded, "SELECT instruction_id FROM instructions LIMIT 1")[0]["instruction_id"]
    shown = json.loads(run_cli("show", ident[:10], "--json", db=seeded).stdout)
    assert shown["kind"] == "instruction" and shown["generated_by"]["method"] == "self-instruct"
    assert len(shown["parents"]) == 8


_WORKER = """
import sys
sys.path.insert(0, {root!r})
from provenance.cli import main
sys.argv = ["provenance", "--db", {db!r}, "generate", "self-instruct", "--teacher", {teacher!r},
            "--base-url", {url!r}, "-n", "40", "--concurrency", "2", "--json"]
main()
"""


@pytest.mark.slow
def test_killed_generation_resumes_without_resending_or_losing(tmp_path: Path):
    """SIGKILL mid-run, then run again: the result equals an uninterrupted run's, and no request
    that the journal held as answered is sent again."""
    reference = tmp_path / "reference.duckdb"
    killed = tmp_path / "killed.duckdb"
    for db in (reference, killed):
        assert run_cli("seeds", "import", str(SEEDS), db=db).exit_code == 0
    with FakeOpenAI(ScriptedTeacher()) as server:
        assert (
            generate(reference, "self-instruct", "-n", "40", "--concurrency", "2", url=server.url).exit_code
            == 0
        )
    with FakeOpenAI(ScriptedTeacher(), delay=0.05) as server:
        script = _WORKER.format(root=str(ROOT), db=str(killed), teacher=TEACHER, url=server.url)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        worker = subprocess.Popen(
            [sys.executable, "-c", script], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.time() + 60
        while server.count() < 30 and time.time() < deadline and worker.poll() is None:
            time.sleep(0.02)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
        assert worker.returncode == -signal.SIGKILL
        answered = {
            r["request_hash"]
            for r in rows(killed, "SELECT request_hash FROM teacher_calls WHERE status = 'ok'")
        }
        assert answered
        first_bodies = len(server.requests)
        rerun = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, timeout=120)
        assert rerun.returncode == 0, rerun.stderr.decode()
        resent = server.requests[first_bodies:]
    from generators.journal import Journal

    endpoint = server.url
    for r in resent:
        api = "chat" if r.path.endswith("/chat/completions") else "completions"
        hashes = {Journal.request_hash(endpoint, api, r.body, sample=s) for s in range(0, 400)}
        assert not hashes & answered, "a request answered before the kill was sent again"
    # the rerun wrote again, under its own run, every claim the killed run had written (the killed
    # run is closed failed and its rows never count, issue 15): nothing accepted is lost
    counted = "JOIN runs r ON r.run_id = p.run_id AND r.status = 'ok'"
    query = f"SELECT p.example_id FROM provenance p {counted} JOIN provenance_sets s USING (set_id) "
    query += "WHERE s.method = 'teacher' ORDER BY 1"
    assert rows(killed, query) == rows(reference, query)
    dup = rows(
        killed,
        f"SELECT count(*) AS n, count(DISTINCT (example_id, set_id, claim)) AS d FROM provenance p {counted}",
    )[0]
    assert dup["n"] == dup["d"]
    statuses = {
        r["status"] for r in rows(killed, "SELECT status FROM runs WHERE kind = 'generate-self-instruct'")
    }
    assert statuses == {"failed", "ok"}  # the killed run never finished; the rerun closed it failed
    assert run_cli("verify", db=killed).exit_code == 0


def test_alpaca_over_the_chat_api(seeded: Path, teacher: FakeOpenAI):
    result = generate(seeded, "alpaca", "-n", "12", "--api", "chat", url=teacher.url)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["accepted"] == 12
    assert teacher.count("/chat/completions") == teacher.count() > 0


def test_local_transformers_teacher(tmp_path: Path, db: Path, write_jsonl):
    """--local: a tiny GPT-2 on disk writes the candidates; every call is journaled under local:PATH."""
    from tests.test_local_client import build_tiny_gpt2

    model = build_tiny_gpt2(tmp_path / "tiny-gpt2")
    problems = write_jsonl([{"id": f"q{i}", "question": f"{i} + 1?", "answer": str(i + 1)} for i in range(3)])
    args = [
        "generate",
        "rejection-sampling",
        str(problems),
        "--teacher",
        "tiny-gpt2",
        "--local",
        str(model),
        "-k",
        "2",
        "--max-tokens",
        "8",
        "--api",
        "completions",
        "--json",
    ]
    result = run_cli(*args, db=db)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["requests"] == 6 and summary["sent"] == 6
    calls = rows(db, "SELECT endpoint, status, response FROM teacher_calls")
    assert len(calls) == 6 and {c["endpoint"] for c in calls} == {f"local:{model.resolve()}"}
    assert {c["status"] for c in calls} == {"ok"}
    found = rows(db, "SELECT status, reason FROM generation_candidates")
    assert len(found) == 6 and {f["reason"] for f in found} <= {
        "no-answer",
        "mismatch",
        "accepted",
        "duplicate",
        "empty-response",
    }
    again = json.loads(run_cli(*args, db=db).stdout)
    assert again["sent"] == 0 and again["from_journal"] == 6


STABLE = (
    "examples",
    "provenance",
    "lineage",
    "teacher_calls",
    "generations",
    "instructions",
    "generation_candidates",
    "seeds",
    "provenance_sets",
)


def _garbage_then_teacher():
    script = ScriptedTeacher()
    state = {"n": 0}

    def handler(request):
        state["n"] += 1
        if state["n"] == 1:
            return malformed()
        if state["n"] == 2:
            return Reply(400, {"error": {"message": "prompt too long"}})
        return script(request)

    return handler


def test_a_rerun_after_unusable_replies_changes_nothing(seeded: Path):
    """Unusable and refused replies are final: a rerun neither resends them nor takes another path."""
    with FakeOpenAI(_garbage_then_teacher()) as server:
        first = generate(
            seeded, "alpaca", "-n", "20", "--round-size", "4", "--concurrency", "1", url=server.url
        )
        assert first.exit_code == 0, first.output
        sent = server.count()
        before = snapshot(seeded)
        again = generate(
            seeded, "alpaca", "-n", "20", "--round-size", "4", "--concurrency", "1", url=server.url
        )
        assert again.exit_code == 0 and server.count() == sent
    after = snapshot(seeded)
    assert {t: after[t] for t in STABLE} == {t: before[t] for t in STABLE}


def test_replay_reproduces_refused_requests(seeded: Path, tmp_path: Path):
    with FakeOpenAI(_garbage_then_teacher()) as server:
        url = server.url
        recorded = json.loads(
            generate(seeded, "alpaca", "-n", "20", "--round-size", "4", "--concurrency", "1", url=url).stdout
        )
    calls = tmp_path / "calls.jsonl"
    assert run_cli("journal", "export", str(calls), db=seeded).exit_code == 0
    fresh = tmp_path / "fresh.duckdb"
    assert run_cli("seeds", "import", str(SEEDS), "--licence", "Apache-2.0", db=fresh).exit_code == 0
    assert run_cli("journal", "import", str(calls), db=fresh).exit_code == 0
    replayed = json.loads(
        generate(
            fresh, "alpaca", "-n", "20", "--round-size", "4", "--concurrency", "1", "--replay", url=url
        ).stdout
    )
    assert replayed["accepted"] == recorded["accepted"] == 20 and replayed["sent"] == 0
    assert replayed["requests"] == recorded["requests"]


def test_replay_of_nothing_is_an_error(seeded: Path):
    result = generate(seeded, "alpaca", "-n", "5", "--replay", url="http://127.0.0.1:9/v1")
    assert result.exit_code == 2 and "holds none of this generation's requests" in result.stderr


def test_bad_input_leaves_the_ledger_unchanged(
    tmp_path: Path, seeded: Path, teacher: FakeOpenAI, write_jsonl, monkeypatch: pytest.MonkeyPatch
):
    before = snapshot(seeded)
    few = write_jsonl(
        [
            {"instruction": f"Task number {i} here", "instances": [{"input": "", "output": "x"}]}
            for i in range(3)
        ]
    )
    result = generate(seeded, "self-instruct", "--seeds", str(few), url=teacher.url)
    assert result.exit_code == 2 and "needs at least 8" in result.stderr
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    result = generate(seeded, "alpaca")
    assert result.exit_code == 2 and "OPENAI_API_KEY" in result.stderr
    no_answer = write_jsonl([{"id": "a", "question": "1 + 1?"}], name="problems.jsonl")
    result = run_cli(
        "generate",
        "rejection-sampling",
        str(no_answer),
        "--teacher",
        TEACHER,
        "--base-url",
        teacher.url,
        db=seeded,
    )
    assert result.exit_code == 2 and "no reference 'answer'" in result.stderr
    assert snapshot(seeded) == before and teacher.count() == 0


def test_rejection_sampling_samples_every_problem_and_keeps_them_out_of_the_seeds(seeded: Path, write_jsonl):
    def wrong(request):
        return Reply(200, completion(request, ["I think it is\n#### -1"]))

    problems = write_jsonl(
        [{"id": f"p{i}", "question": f"What is {i} + 1?", "answer": str(i + 1)} for i in range(10)]
    )
    with FakeOpenAI(wrong) as server:
        result = run_cli(
            "generate",
            "rejection-sampling",
            str(problems),
            "--teacher",
            TEACHER,
            "--base-url",
            server.url,
            "-k",
            "1",
            "--round-size",
            "1",
            "--json",
            db=seeded,
        )
        summary = json.loads(result.stdout)
        assert summary["requests"] == 10 and summary["accepted"] == 0 and "every problem" in summary["stop"]
        again = json.loads(
            run_cli(
                "generate",
                "rejection-sampling",
                str(problems),
                "--teacher",
                TEACHER,
                "--base-url",
                server.url,
                "-k",
                "1",
                "--random-seed",
                "1",
                "--json",
                db=seeded,
            ).stdout
        )
        assert again["sent"] == 10  # another seed asks for other samples
    from generators.generation import load_seeds
    from provenance.core.ledger import Ledger

    with Ledger.open(seeded, read_only=True) as ledger:
        assert len(load_seeds(ledger)) == 175  # the problems are not demonstrations


def test_a_larger_n_accepts_what_the_quota_cut(seeded: Path, teacher: FakeOpenAI):
    assert generate(seeded, "self-instruct", "-n", "7", url=teacher.url).exit_code == 0
    assert not rows(seeded, "SELECT * FROM generation_candidates WHERE reason = 'quota-reached'")
    assert generate(seeded, "self-instruct", "-n", "30", url=teacher.url).exit_code == 0
    examples = {
        r["example_id"]
        for r in rows(seeded, "SELECT example_id FROM provenance_records WHERE method = 'teacher'")
    }
    accepted = {
        r["node_id"]
        for r in rows(
            seeded,
            "SELECT node_id FROM generation_candidates WHERE stage = 'instance' AND status = 'accepted'",
        )
    }
    assert len(examples) == 30 and examples == accepted
    assert (
        rows(
            seeded,
            "SELECT count(*) AS n FROM instructions i WHERE is_classification IS NULL AND EXISTS "
            "(SELECT 1 FROM lineage l WHERE l.parent_id = i.instruction_id)",
        )[0]["n"]
        == 0
    )
    assert run_cli("verify", db=seeded).exit_code == 0
