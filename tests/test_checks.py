"""The content checks through `provenance check`: what each catches on real text, the actions,
incremental re-runs, JUnit output, and bad texts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from provenance.core.ledger import Ledger
from tests.conftest import run_cli, snapshot


def pack(tmp_path: Path, checks: str, name: str = "pack.yaml", use: str = "research") -> Path:
    path = tmp_path / name
    path.write_text(f"name: test\nuse: {use}\nchecks:\n{checks}", "utf-8")
    return path


def check(db: Path, policy: Path | str, *args: str, code: int | None = 0) -> dict[str, Any]:
    result = run_cli("check", "--policy", str(policy), "--json", *args, db=db)
    if code is not None:
        assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def by_name(out: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in out["checks"]}


def records(db: Path, check_name: str) -> dict[str, dict[str, Any]]:
    """Current decision per example for a check (latest batch), with the example's text."""
    with Ledger.open(db, read_only=True) as ledger:
        rows = ledger.rows(
            "SELECT d.example_id, arg_max(d.decision, d.batch_id) AS decision, "
            "arg_max_null(d.reason, d.batch_id) AS reason, arg_max_null(d.score, d.batch_id) AS score, "
            "arg_max_null(d.details, d.batch_id)::VARCHAR AS details, "
            "any_value(e.instruction) AS instruction, any_value(e.input) AS input, "
            "any_value(e.output) AS output "
            "FROM decision_records d JOIN examples e USING (example_id) WHERE d.check_name = ? "
            "GROUP BY d.example_id",
            [check_name],
        )
    return {r["example_id"]: {**r, "details": json.loads(r["details"] or "{}")} for r in rows}


def add(db: Path, write_jsonl, records_: list[dict[str, Any]], name: str = "more.jsonl") -> None:
    path = write_jsonl(records_, name)
    result = run_cli(
        "import", str(path), "--format", "jsonl", "--origin", "machine", "--teacher", "gpt-oss-20b",
        "--licence", "Apache-2.0", db=db,
    )  # fmt: skip
    assert result.exit_code == 0, result.output


# ---- the bundled example under a shipped pack ------------------------------------------------


def test_commercial_pack_on_the_bundled_example(example: Path, tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    out = check(example, "commercial", "--junit", str(junit))
    checks = by_name(out)
    # OpenAI output may not train a commercial competing student: dropped, not blocking
    with Ledger.open(example, read_only=True) as ledger:
        openai = ledger.con.execute(
            "SELECT count(DISTINCT example_id) FROM provenance_records WHERE teacher_model LIKE '%davinci%'"
        ).fetchone()[0]
    assert openai >= 504  # 504 imported, plus any redacted copies (same provenance)
    assert checks["licence"]["counts"]["drop"] == openai
    # the predictions' prompts are the Self-Instruct evaluation set
    contaminated = records(example, "contamination")
    predictions = [r for r in contaminated.values() if r["decision"] == "drop"]
    assert len(predictions) >= 504
    # toxicity has no checkpoint here: not run, stated, not blocking under commercial
    assert checks["toxicity"]["status"] == "not-run" and not checks["toxicity"]["blocking"]
    assert "detoxify" in checks["toxicity"]["reason"] and "checkpoint" in checks["toxicity"]["reason"]
    assert any("PERSON detection was off" in n for n in checks["pii"]["notes"])
    # PII: the seed cover letter's e-mail was redacted into a new example
    assert checks["pii"]["counts"].get("redact", 0) >= 1 and out["redacted"] >= 1
    # profanity: the seed "This is so f… up." is dropped
    profane = [r for r in records(example, "profanity").values() if r["decision"] == "drop"]
    assert any("fucked" in (r["input"] or "") for r in profane)
    assert out["blocked"] is False
    assert junit.read_text().startswith("<?xml")


def test_pii_redaction_writes_a_new_example_with_lineage_and_keeps_the_original(example: Path) -> None:
    check(example, "commercial")
    pii = records(example, "pii")
    redacted = [
        r for r in pii.values() if r["decision"] == "redact" and "emoore@email.com" in (r["input"] or "")
    ]
    assert redacted, "the cover-letter seed with an e-mail address should be redacted"
    original = redacted[0]
    assert original["details"]["entities"]["EMAIL_ADDRESS"] >= 1
    assert "emoore" not in original["reason"]  # reasons never carry the raw PII
    with Ledger.open(example, read_only=True) as ledger:
        child = ledger.rows(
            "SELECT e.* FROM lineage l JOIN examples e ON e.example_id = l.child_id "
            "WHERE l.parent_id = ? AND l.relation = 'redacted-from'",
            [original["example_id"]],
        )
        assert len(child) == 1
        assert "<EMAIL_ADDRESS>" in child[0]["input"] and "emoore@email.com" not in child[0]["input"]
        assert "Ebony Moore" in child[0]["input"]  # no NER model here: names stay (and the notes say so)
        # the original is untouched
        kept = ledger.rows("SELECT input FROM examples WHERE example_id = ?", [original["example_id"]])
        assert "emoore@email.com" in kept[0]["input"]
        # the copy carries the original's provenance (method included) under a set that names the redaction
        prov = ledger.rows(
            "SELECT method, origin, licence, method_params FROM provenance_records WHERE example_id = ?",
            [child[0]["example_id"]],
        )
        assert prov and {p["method"] for p in prov} == {"seed"} and prov[0]["licence"] == "Apache-2.0"
        assert json.loads(prov[0]["method_params"])["redacted_by"] == "pii"
    # the copy went through the checks too, and passes PII
    assert pii[child[0]["example_id"]]["decision"] == "pass"


def test_a_rerun_scores_nothing_and_writes_no_decisions(example: Path) -> None:
    first = check(example, "commercial")
    with Ledger.open(example, read_only=True) as ledger:
        n = ledger.con.execute("SELECT count(*) FROM decisions").fetchone()[0]
    second = check(example, "commercial")
    for c in second["checks"]:
        assert c["scored"] == 0 and c["redecided"] == 0, c
    assert by_name(second)["pii"]["counts"] == by_name(first)["pii"]["counts"]
    with Ledger.open(example, read_only=True) as ledger:
        assert ledger.con.execute("SELECT count(*) FROM decisions").fetchone()[0] == n


def test_a_changed_threshold_is_decided_from_stored_scores_and_new_examples_alone_are_scored(
    example: Path, tmp_path: Path, write_jsonl
) -> None:
    base = "  - check: pii\n    action: flag\n    settings:\n      min_score: {}\n"
    check(example, pack(tmp_path, base.format(0.5), "a.yaml"))
    strict = check(example, pack(tmp_path, base.format(0.3), "b.yaml"))
    pii = by_name(strict)["pii"]
    assert pii["scored"] == 0 and pii["redecided"] == 679
    # a lower threshold flags at least as much
    loose_flags = sum(1 for r in records(example, "pii").values() if r["decision"] == "flag")
    assert loose_flags >= 1
    add(example, write_jsonl, [{"instruction": "Email me", "input": "", "output": "At jo@example.org."}])
    third = check(example, pack(tmp_path, base.format(0.3), "b.yaml"))
    assert by_name(third)["pii"]["scored"] == 1


def test_block_exits_1_and_junit_lists_each_blocked_example(example: Path, tmp_path: Path) -> None:
    junitparser = pytest.importorskip("junitparser")
    policy = pack(
        tmp_path, "  - check: profanity\n    action: block\n  - check: duplicates\n    action: drop\n"
    )
    path = tmp_path / "out.xml"
    result = run_cli("check", "--policy", str(policy), "--junit", str(path), db=example)
    assert result.exit_code == 1
    assert "blocked" in result.stdout
    xml = junitparser.JUnitXml.fromfile(str(path))
    suite = next(iter(xml))
    cases = list(suite)
    profanity = next(c for c in cases if c.name == "profanity")
    assert not profanity.is_passed and profanity.result[0].message.endswith("blocked by profanity")
    blocked = [c for c in cases if c.classname == "provenance.profanity.examples"]
    assert len(blocked) == suite.failures - 1 >= 3
    assert all("profanity in" in c.result[0].message for c in blocked)
    assert next(c for c in cases if c.name == "duplicates").is_passed


def test_release_blocks_when_toxicity_cannot_run(example: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PROVENANCE_DETOXIFY_DIR", str(tmp_path / "none"))
    junitparser = pytest.importorskip("junitparser")
    path = tmp_path / "release.xml"
    result = run_cli("check", "--policy", "release", "--json", "--junit", str(path), db=example)
    assert result.exit_code == 1
    tox = by_name(json.loads(result.stdout))["toxicity"]
    assert tox["status"] == "not-run" and tox["blocking"] is True
    case = next(c for c in next(iter(junitparser.JUnitXml.fromfile(str(path)))) if c.name == "toxicity")
    assert "not run" in case.result[0].message
    # research only reports it: the JUnit case is skipped
    result = run_cli("check", "--policy", "research", "--junit", str(path), db=example)
    case = next(c for c in next(iter(junitparser.JUnitXml.fromfile(str(path)))) if c.name == "toxicity")
    assert case.is_skipped
    assert "NOT RUN" in result.stdout


# ---- individual checks on chosen text ---------------------------------------------------------


def test_pii_patterns_quirks_allow_list_and_custom_recognizers(db: Path, tmp_path: Path, write_jsonl) -> None:
    add(db, write_jsonl, [
        {"instruction": "Reply to john.smith@example.com", "input": "", "output": "Done."},
        {"instruction": "Charge the card", "input": "4111 1111 1111 1111", "output": "Charged."},
        {"instruction": "Wire it", "input": "IBAN DE89370400440532013000", "output": "Sent."},
        {"instruction": "Ping the host", "input": "192.168.1.20", "output": "It answers."},
        {"instruction": "Contact support", "input": "support@acme.test", "output": "Mailed."},
        {"instruction": "Badge lookup", "input": "employee EMP-123456", "output": "Found."},
        {"instruction": "Say hello", "input": "", "output": "Hello, world."},
    ])  # fmt: skip
    recognizers = tmp_path / "recognizers.yaml"
    recognizers.write_text(
        "recognizers:\n  - name: Employee id\n    supported_language: en\n    supported_entity: EMPLOYEE_ID\n"
        '    patterns:\n      - name: emp\n        regex: "EMP-\\\\d{6}"\n        score: 0.9\n',
        "utf-8",
    )
    policy = pack(
        tmp_path,
        "  - check: pii\n    action: flag\n    settings:\n      recognizers: recognizers.yaml\n"
        "      entities: [EMAIL_ADDRESS, CREDIT_CARD, IBAN_CODE, IP_ADDRESS, URL, EMPLOYEE_ID]\n"
        "      allow: [support@acme.test]\n",
    )
    check(db, policy)
    found = {r["instruction"]: r for r in records(db, "pii").values()}
    entities = {k: set(v["details"].get("entities", {})) for k, v in found.items()}
    assert entities["Reply to john.smith@example.com"] == {"EMAIL_ADDRESS"}  # no URL inside the e-mail
    assert entities["Charge the card"] == {"CREDIT_CARD"}
    assert entities["Wire it"] == {"IBAN_CODE"}
    assert entities["Ping the host"] == {"IP_ADDRESS"}
    assert entities["Badge lookup"] == {"EMPLOYEE_ID"}
    assert found["Contact support"]["decision"] == "pass"  # allow-listed
    assert found["Say hello"]["decision"] == "pass"


def test_duplicates_after_normalisation_keep_the_first(db: Path, tmp_path: Path, write_jsonl) -> None:
    add(db, write_jsonl, [
        {"instruction": "Name a colour.", "input": "", "output": "Blue."},
        {"instruction": "name a  COLOUR.", "input": "", "output": "blue."},
        {"instruction": "Name a colour!", "input": "", "output": "Blue."},
    ])  # fmt: skip
    check(db, pack(tmp_path, "  - check: duplicates\n    action: drop\n"))
    rows = {r["instruction"]: r for r in records(db, "duplicates").values()}
    assert rows["Name a colour."]["decision"] == "pass"
    assert rows["name a  COLOUR."]["decision"] == "drop"
    assert rows["name a  COLOUR."]["details"]["duplicate_of"] == rows["Name a colour."]["example_id"]
    assert rows["Name a colour!"]["decision"] == "pass"


def test_diversity_drops_near_copies_of_seeds_and_earlier_kept_with_rouge_scores(
    example: Path, tmp_path: Path, write_jsonl
) -> None:
    from rouge_score import rouge_scorer

    seed = "Generate a haiku using the following word:"
    add(example, write_jsonl, [
        {"instruction": "Generate a haiku using the following words:", "input": "sea", "output": "…"},
        {"instruction": "Explain how a bicycle gear works to a child.", "input": "", "output": "…"},
        {"instruction": "Explain how bicycle gears work to a child.", "input": "", "output": "…"},
        {"instruction": "Explain how bicycle gears work to a child.", "input": "again", "output": "…"},
    ])  # fmt: skip
    check(example, pack(tmp_path, "  - check: diversity\n    action: drop\n"))
    rows = records(example, "diversity")
    by_text: dict[str, list[dict[str, Any]]] = {}
    for r in rows.values():
        by_text.setdefault(r["instruction"], []).append(r)
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    near_seed = by_text["Generate a haiku using the following words:"][0]
    with Ledger.open(example, read_only=True) as ledger:
        seeds = dict(ledger.con.execute("SELECT seed_id, instruction FROM seeds").fetchall())
    assert seed in seeds.values()
    assert near_seed["decision"] == "drop" and near_seed["details"]["collided_kind"] == "seed"
    expected = max(scorer.score(s, near_seed["instruction"])["rougeL"].fmeasure for s in seeds.values())
    assert near_seed["score"] == expected > 0.7
    assert seeds[near_seed["details"]["collided_with"]] == seed
    assert by_text["Explain how a bicycle gear works to a child."][0]["decision"] == "pass"
    copies = by_text["Explain how bicycle gears work to a child."]
    assert len(copies) == 2 and {c["decision"] for c in copies} == {"drop"}  # instances share the decision
    # every seed instance passes: it is a seed
    with Ledger.open(example, read_only=True) as ledger:
        seed_examples = {
            r[0] for r in ledger.con.execute(
                "SELECT example_id FROM provenance JOIN provenance_sets USING (set_id) WHERE method = 'seed'"
            ).fetchall()
        }  # fmt: skip
    assert all(rows[e]["decision"] == "pass" for e in seed_examples)


def test_contamination_by_ngrams_without_rouge(db: Path, tmp_path: Path, write_jsonl, shared: Path) -> None:
    evals = [
        json.loads(line) for line in (shared / "self-instruct" / "user_oriented_instructions.jsonl").open()
    ]
    long_input = next(i["input"] for e in evals for i in e["instances"] if len(i["input"].split()) > 40)
    add(db, write_jsonl, [
        {"instruction": "Summarise this.", "input": "Background: " + long_input, "output": "…"},
        {"instruction": "Summarise this.", "input": "A short note about tide pools.", "output": "…"},
    ])  # fmt: skip
    policy = pack(tmp_path, "  - check: contamination\n    action: drop\n    settings:\n"
                  "      evalsets: [self-instruct-user-oriented]\n")  # fmt: skip
    check(db, policy)
    rows = sorted(records(db, "contamination").values(), key=lambda r: len(r["input"]))
    assert rows[0]["decision"] == "pass"
    assert rows[1]["decision"] == "drop" and "13-grams" in rows[1]["reason"]
    assert rows[1]["details"]["matching_ngrams"] >= 1
    assert rows[1]["details"]["evalset"] == "self-instruct-user-oriented"


# ---- toxicity with a tiny detoxify-format checkpoint --------------------------------------------


@pytest.fixture(scope="module")
def tiny_detoxify(tmp_path_factory) -> tuple[Path, Path]:
    from provenance.testing.tinymodels import build_detoxify_checkpoint

    return build_detoxify_checkpoint(tmp_path_factory.mktemp("detox"), "original")


def test_toxicity_scores_every_label_and_reuses_them(
    db: Path, tmp_path: Path, write_jsonl, tiny_detoxify
) -> None:
    checkpoint, config = tiny_detoxify
    add(db, write_jsonl, [{"instruction": f"Say {i}", "input": "", "output": f"Text {i}"} for i in range(5)])
    body = (
        "  - check: toxicity\n    action: flag\n    settings:\n"
        f"      checkpoint: {checkpoint}\n      config: {config}\n      thresholds: {{threat: {{t}}}}\n"
    )
    first = by_name(check(db, pack(tmp_path, body.replace("{t}", "0.5"), "a.yaml")))["toxicity"]
    assert first["status"] == "ran" and first["scored"] == 5
    rows = records(db, "toxicity")
    labels = {"toxicity", "severe_toxicity", "obscene", "threat", "insult", "identity_attack"}
    for r in rows.values():
        assert set(r["details"]["scores"]["output"]) == labels
        assert set(r["details"]["scores"]["instruction"]) == labels
    # a threshold below every score flags everything, from the stored scores, without the model
    low = by_name(check(db, pack(tmp_path, body.replace("{t}", "0.001"), "b.yaml")))["toxicity"]
    assert low["scored"] == 0 and low["redecided"] == 5 and low["counts"] == {"flag": 5}


# ---- bad texts ----------------------------------------------------------------------------------

BAD_TEXTS = [
    "",
    "x " * 600_000,  # 1.2 MB, beyond spaCy's default limit
    "\x00\x01\x02\ufffd\x7f binary-looking \x1b[31m",
    "مرحبا بالعالم، هذا نص من اليمين إلى اليسار",
    "Mixed: English, русский, 中文, العربية, हिन्दी 🙂",
]


def test_bad_texts_get_a_decision_from_every_check(
    db: Path, tmp_path: Path, write_jsonl, tiny_detoxify
) -> None:
    checkpoint, config = tiny_detoxify
    add(
        db,
        write_jsonl,
        [
            {"instruction": f"Echo {i}: {t[:80]}", "input": t, "output": t or "-"}
            for i, t in enumerate(BAD_TEXTS)
        ],
    )
    body = (
        "  - check: pii\n    action: flag\n  - check: profanity\n    action: flag\n"
        "  - check: contamination\n    action: flag\n"
        "    settings: {evalsets: [self-instruct-user-oriented], rouge_l: 0.7}\n"
        "  - check: duplicates\n    action: flag\n  - check: diversity\n    action: flag\n"
        "  - check: toxicity\n    action: flag\n"
        f"    settings: {{checkpoint: {checkpoint}, config: {config}}}\n"
        "  - check: licence\n    action: flag\n"
    )
    out = check(db, pack(tmp_path, body))
    for c in out["checks"]:
        assert c["status"] == "ran", c
        assert c["examples"] == len(BAD_TEXTS), c


def test_a_failed_check_run_leaves_earlier_commits_consistent(
    example: Path, tmp_path: Path, monkeypatch
) -> None:
    from policies.checks.profanity import ProfanityCheck

    def boom(self, batch):
        raise RuntimeError("model crashed")

    monkeypatch.setattr(ProfanityCheck, "score", boom)
    before = snapshot(example)
    result = run_cli(
        "check", "--policy", str(pack(tmp_path, "  - check: profanity\n    action: drop\n")), db=example
    )
    assert result.exit_code == 3 and "model crashed" in result.stderr
    after = snapshot(example)
    assert after["decisions"] == before["decisions"]  # the failed page wrote nothing


def test_small_pages_and_pages_of_redacted_copies_only(
    db: Path, tmp_path: Path, write_jsonl, monkeypatch
) -> None:
    import policies.engine

    monkeypatch.setattr(policies.engine, "PAGE", 1)  # every page is one example; some only a redacted copy
    add(db, write_jsonl, [
        {"instruction": f"Write to person {i}", "input": f"p{i}@example.org", "output": "Sent."}
        for i in range(4)
    ] + [{"instruction": "Write to person 0", "input": "p0@example.org", "output": "Sent."}])  # fmt: skip
    body = "  - check: pii\n    action: redact\n  - check: duplicates\n    action: drop\n"
    body += "  - check: diversity\n    action: drop\n"
    out = check(db, pack(tmp_path, body))
    assert out["redacted"] == 4
    dup = by_name(out)["duplicates"]
    assert dup["examples"] == 8 and dup["counts"] == {"pass": 8}
    # a redacted copy takes its original's diversity decision
    rows = records(db, "diversity")
    with Ledger.open(db, read_only=True) as ledger:
        edges = ledger.con.execute(
            "SELECT child_id, parent_id FROM lineage WHERE relation = 'redacted-from'"
        ).fetchall()
    assert len(edges) == 4
    for child, parent in edges:
        assert rows[child]["decision"] == rows[parent]["decision"]


def test_ner_entities_come_from_an_installed_spacy_pipeline(db: Path, tmp_path: Path, write_jsonl) -> None:
    """A local spaCy pipeline with an entity ruler stands in for en_core_web_sm (no download)."""
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler").add_patterns([{"label": "PERSON", "pattern": "Ebony Moore"}])
    model = tmp_path / "ner-model"
    nlp.to_disk(model)
    letter = {"instruction": "Write a cover letter.", "input": "Name: Ebony Moore", "output": "Dear …"}
    add(db, write_jsonl, [letter])
    out = check(
        db,
        pack(tmp_path, f"  - check: pii\n    action: redact\n    settings: {{spacy_model: {model}}}\n"),
    )
    pii = by_name(out)["pii"]
    assert any("PERSON and other NER entities came from spaCy model" in n for n in pii["notes"])
    assert pii["counts"].get("redact") == 1
    with Ledger.open(db, read_only=True) as ledger:
        inputs = [r[0] for r in ledger.con.execute("SELECT input FROM examples").fetchall()]
    assert "Name: <PERSON>" in inputs and "Name: Ebony Moore" in inputs


def test_a_redacted_copy_is_judged_exactly_as_its_original(db: Path, tmp_path: Path, write_jsonl) -> None:
    path = write_jsonl(
        [{"instruction": "Mail her", "input": "ann@example.org", "output": "Done."}], "x.jsonl"
    )
    assert run_cli("import", str(path), "--format", "jsonl", "--origin", "human", db=db).exit_code == 0
    body = "  - check: licence\n    action: drop\n  - check: pii\n    action: redact\n"
    out = check(db, pack(tmp_path, body, use="commercial"))
    assert out["redacted"] == 1
    licence = records(db, "licence")
    assert len(licence) == 2 and {r["decision"] for r in licence.values()} == {"drop"}  # no licence declared


def test_a_teachers_verbatim_copy_of_a_seed_is_not_diverse(
    example: Path, tmp_path: Path, write_jsonl
) -> None:
    with Ledger.open(example, read_only=True) as ledger:
        seed = ledger.con.execute("SELECT instruction FROM seeds ORDER BY rowid LIMIT 1").fetchone()[0]
    add(example, write_jsonl, [{"instruction": seed, "input": "", "output": "A new answer."}])
    check(example, pack(tmp_path, "  - check: diversity\n    action: drop\n"))
    rows = [r for r in records(example, "diversity").values() if r["output"] == "A new answer."]
    assert rows[0]["decision"] == "drop" and rows[0]["score"] == 1.0
    assert rows[0]["details"]["collided_kind"] == "seed"


def test_sequential_decisions_follow_a_later_seed_import(db: Path, tmp_path: Path, write_jsonl) -> None:
    """Seeds imported after the examples change the pool: the diversity decisions are made again."""
    add(
        db,
        write_jsonl,
        [{"instruction": "List three primary colours.", "input": "", "output": "Red, blue, yellow."}],
    )
    policy = pack(tmp_path, "  - check: diversity\n    action: drop\n")
    check(db, policy)
    assert {r["decision"] for r in records(db, "diversity").values()} == {"pass"}
    seeds = write_jsonl(
        [{"id": "s1", "name": "colours", "instruction": "List the three primary colours.",
          "instances": [{"input": "", "output": "Red, yellow, blue."}], "is_classification": False}],
        "seeds.jsonl",
    )  # fmt: skip
    result = run_cli("seeds", "import", str(seeds), "--licence", "Apache-2.0", db=db)
    assert result.exit_code == 0, result.output
    check(db, policy)
    rows = {r["instruction"]: r for r in records(db, "diversity").values()}
    assert rows["List three primary colours."]["decision"] == "drop"
    assert rows["List the three primary colours."]["decision"] == "pass"


def test_a_redacted_copy_keeps_its_originals_declaration_under_a_set_of_its_own(
    db: Path, tmp_path: Path, write_jsonl
) -> None:
    path = write_jsonl([{"instruction": "Mail her", "input": "ann@example.org", "output": "Done."}])
    result = run_cli(
        "import", str(path), "--format", "jsonl", "--origin", "machine", "--teacher", "gpt-4o",
        "--licence", "MIT", "--terms", "openai-terms-of-use@2024-12-11", db=db,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = check(db, pack(tmp_path, "  - check: pii\n    action: redact\n"))
    assert out["redacted"] == 1
    with Ledger.open(db, read_only=True) as ledger:
        sets = ledger.rows(
            "SELECT p.example_id, s.*, p.claim, p.source_index, p.run_id AS claim_run "
            "FROM provenance p JOIN provenance_sets s USING (set_id) ORDER BY s.created_at"
        )
        edges = ledger.rows("SELECT * FROM lineage WHERE relation = 'redacted-from'")
    original, copy = sets
    assert [(e["child_id"], e["parent_id"]) for e in edges] == [(copy["example_id"], original["example_id"])]
    assert edges[0]["run_id"] == out["run_id"] == copy["run_id"] == copy["claim_run"]
    for key in ("origin", "method", "teacher_id", "licence", "terms_id", "terms_version", "terms_status",
                "source", "source_file", "source_sha256", "declaration_hash"):  # fmt: skip
        assert copy[key] == original[key], key
    assert copy["set_id"] != original["set_id"]
    params = json.loads(copy["method_params"])
    assert params["redacted_by"] == "pii" and params["from_set"] == original["set_id"]
    assert copy["claim"] == f"{original['example_id']}:{original['claim']}"
    assert copy["source_index"] == original["source_index"]


def test_a_redaction_that_would_close_a_lineage_cycle_is_refused(db: Path, tmp_path: Path) -> None:
    """The copy of A would be B, an ancestor of A: Ledger.write's cycle check refuses the edge."""
    from provenance.core.batch import WriteBatch
    from provenance.core.ids import instruction_id
    from provenance.core.ledger import ProvenanceSet
    from provenance.core.models import Declaration, Method, Origin

    a = ("Mail her", "ann@example.org", "Done.")
    b = ("Mail her", "<EMAIL_ADDRESS>", "Done.")
    ids = [instruction_id(*a), instruction_id(*b)]
    with Ledger.open(db) as ledger, ledger.run("import") as run:
        context = ProvenanceSet(run.run_id, Declaration(origin=Origin.HUMAN, licence="MIT"), Method.IMPORTED)
        ledger.ensure_set(context)
        batch = WriteBatch()
        for i, (example_id, content) in enumerate(zip(ids, (a, b), strict=True)):
            batch.add_example(example_id, "instruction", *content, None)
            batch.add_claim(example_id, i)
        batch.add_edge(ids[0], ids[1], "example", "derived-from")
        ledger.write(batch, context)
    before = snapshot(db)
    result = run_cli("check", "--policy", str(pack(tmp_path, "  - check: pii\n    action: redact\n")), db=db)
    assert result.exit_code == 2 and "its own ancestor" in result.stderr
    after = snapshot(db)
    assert after["lineage"] == before["lineage"] and after["decisions"] == before["decisions"]
    with Ledger.open(db, read_only=True) as ledger:
        status = ledger.con.execute("SELECT status FROM runs WHERE kind = 'check'").fetchall()
    assert status == [("failed",)]
