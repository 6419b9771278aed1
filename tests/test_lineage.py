"""Lineage walks and recall over a DAG built through the ledger's public write API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generators.importers import import_seeds
from provenance.core.batch import WriteBatch
from provenance.core.errors import InputError, NotFoundError
from provenance.core.ids import instruction_id
from provenance.core.ledger import Ledger, ProvenanceSet
from provenance.core.lineage import ancestry, descendants, recall
from provenance.core.models import Declaration, LineageEdge, Method, Origin, Teacher, Terms
from tests.conftest import EXAMPLES, run_cli

TEACHER = Declaration(
    origin=Origin.MACHINE,
    teacher=Teacher(model="gpt-4o-mini-2024-07-18"),
    terms=Terms(id="openai-terms-of-use", version="2024-01-31"),
)
OTHER = Declaration(origin=Origin.MACHINE, teacher=Teacher(model="llama-3.1-8b-instruct"))


def write(
    ledger: Ledger,
    declaration: Declaration,
    method: Method,
    rows: list[tuple[str, list[tuple[str, str, str]]]],
) -> dict[str, str]:
    """Add examples (text, [(parent id, parent kind, relation)]) under one declaration."""
    ids: dict[str, str] = {}
    with ledger.transaction():
        context = ProvenanceSet(
            run_id=ledger.begin_run("test"),
            declaration=declaration,
            method=method,
            source_sha256=method.value + declaration.hash,
        )
        ledger.ensure_set(context)
        batch = WriteBatch()
        for i, (text, parents) in enumerate(rows):
            eid = instruction_id(text, "", f"answer to {text}")
            ids[text] = eid
            batch.add_example(eid, "instruction", text, "", f"answer to {text}", None)
            batch.add_claim(eid, i)
            for position, (parent, kind, relation) in enumerate(parents):
                batch.add_lineage(
                    LineageEdge(
                        child_id=eid, parent_id=parent, parent_kind=kind, relation=relation, position=position
                    )
                )
        ledger.write(batch, context)
    return ids


@pytest.fixture
def graph(ledger: Ledger) -> dict[str, str]:
    """seed instances ← g1, g2 (in-context demos) ← g3 (demos g1, g2, a seed) ← r3 (redaction)."""
    import_seeds(
        ledger, EXAMPLES / "seed_tasks.jsonl", Declaration(origin=Origin.HUMAN, licence="Apache-2.0")
    )
    seeds = {r["external_id"]: r["seed_id"] for r in ledger.rows("SELECT external_id, seed_id FROM seeds")}
    inst = {r["parent_id"]: r["child_id"] for r in ledger.rows("SELECT parent_id, child_id FROM lineage")}
    s0, s1, s2 = (inst[seeds[f"seed_task_{i}"]] for i in range(3))
    demo = "in-context-demo"
    ids = write(
        ledger,
        TEACHER,
        Method.TEACHER,
        [
            ("g1", [(s0, "example", demo), (s1, "example", demo)]),
            ("g2", [(s1, "example", demo), (s2, "example", demo)]),
        ],
    )
    ids |= write(
        ledger,
        TEACHER,
        Method.TEACHER,
        [
            ("g3", [(ids["g1"], "example", demo), (ids["g2"], "example", demo), (s0, "example", demo)]),
        ],
    )
    ids |= write(ledger, OTHER, Method.REDACTED, [("r3", [(ids["g3"], "example", "redacted-from")])])
    ids |= {
        "s0": s0,
        "s1": s1,
        "s2": s2,
        "seed0": seeds["seed_task_0"],
        "seed1": seeds["seed_task_1"],
        "seed2": seeds["seed_task_2"],
        "seed3": seeds["seed_task_3"],
    }
    return ids


def test_ancestry_reaches_exactly_the_human_seeds(ledger: Ledger, graph: dict[str, str]) -> None:
    walk = ancestry(ledger, graph["r3"])
    assert set(walk.seeds) == {graph["seed0"], graph["seed1"], graph["seed2"]}
    depth = {(e["child_id"], e["parent_id"]): e["depth"] for e in walk.edges}
    assert depth[(graph["r3"], graph["g3"])] == 1
    assert depth[(graph["g3"], graph["g1"])] == 2
    assert depth[(graph["g3"], graph["s0"])] == 2  # shortest way to s0 wins
    assert depth[(graph["s0"], graph["seed0"])] == 3
    assert len(walk.edges) == len({(e["child_id"], e["parent_id"]) for e in walk.edges}) == 11
    assert ancestry(ledger, graph["g2"]).seeds == sorted([graph["seed1"], graph["seed2"]])
    assert ancestry(ledger, "seed_task_0").edges == []  # seeds are roots


def test_descendants_of_a_seed(ledger: Ledger, graph: dict[str, str]) -> None:
    below = {e["child_id"] for e in descendants(ledger, "seed_task_2").edges}
    assert below == {graph["s2"], graph["g2"], graph["g3"], graph["r3"]}
    assert {e["child_id"] for e in descendants(ledger, graph["seed3"]).edges} == {
        r["child_id"]
        for r in ledger.rows("SELECT child_id FROM lineage WHERE parent_id = ?", [graph["seed3"]])
    }
    assert descendants(ledger, graph["r3"]).edges == []


def test_recall_by_teacher_follows_lineage(ledger: Ledger, graph: dict[str, str]) -> None:
    result = recall(ledger, teacher="gpt-4o-mini-2024-07-18")
    got = {r["example_id"]: r["depth"] for r in result.rows}
    assert got == {graph["g1"]: 0, graph["g2"]: 0, graph["g3"]: 0, graph["r3"]: 1}
    assert (result.examples, result.direct) == (4, 3)
    other = recall(ledger, teacher="llama-3.1-8b-instruct")
    assert {r["example_id"] for r in other.rows} == {graph["r3"]}


def test_recall_by_seed_and_terms(ledger: Ledger, graph: dict[str, str]) -> None:
    by_seed = recall(ledger, seed="seed_task_1")
    assert {r["example_id"] for r in by_seed.rows} == {
        graph["s1"],
        graph["g1"],
        graph["g2"],
        graph["g3"],
        graph["r3"],
    }
    by_terms = recall(ledger, terms="openai-terms-of-use@2024-01-31")
    assert by_terms.examples == 4 and by_terms.direct == 3
    assert recall(ledger, terms="openai-terms-of-use").examples == 4
    with pytest.raises(NotFoundError, match="under terms"):
        recall(ledger, terms="openai-terms-of-use@2023-03-14")
    limited = recall(ledger, seed="seed_task_1", limit=2)
    assert len(limited.rows) == 2 and limited.examples == 5


def test_recall_errors(ledger: Ledger, graph: dict[str, str]) -> None:
    with pytest.raises(NotFoundError, match=r"no teacher 'gpt-5'.*known: gpt-4o-mini-2024-07-18, llama"):
        recall(ledger, teacher="gpt-5")
    with pytest.raises(NotFoundError, match="is an example, not a seed"):
        recall(ledger, seed=graph["g1"])
    with pytest.raises(InputError, match="exactly one"):
        recall(ledger, teacher="x", seed="y")


def test_walks_stop_at_max_depth(ledger: Ledger) -> None:
    import_seeds(ledger, EXAMPLES / "seed_tasks.jsonl", Declaration(origin=Origin.HUMAN))
    parent = ledger.rows("SELECT child_id FROM lineage LIMIT 1")[0]["child_id"]
    rows, chain = [], []
    for i in range(300):  # a derivation chain 300 generations deep, written as one batch
        rows.append((f"c{i}", [(parent, "example", "derived-from")]))
        parent = instruction_id(f"c{i}", "", f"answer to c{i}")
        chain.append(parent)
    write(ledger, OTHER, Method.SELF, rows)
    assert len(ancestry(ledger, chain[-1], max_depth=1000).seeds) == 1
    capped = ancestry(ledger, chain[-1], max_depth=50)
    assert max(e["depth"] for e in capped.edges) == 50 and capped.seeds == []


def test_cli_lineage_and_recall(db: Path, ledger: Ledger, graph: dict[str, str]) -> None:
    ledger.close()
    up = run_cli("lineage", graph["r3"][:10], "--json", db=db)
    assert up.exit_code == 0 and len(json.loads(up.stdout)["seeds"]) == 3
    text = run_cli("lineage", graph["r3"], db=db)
    assert text.exit_code == 0 and "human seeds reached: 3" in text.stdout
    down = run_cli("lineage", "seed_task_2", "--descendants", db=db)
    assert down.exit_code == 0 and "redacted-from" in down.stdout
    found = run_cli("recall", "--teacher", "gpt-4o-mini-2024-07-18", "--json", db=db)
    assert found.exit_code == 0 and json.loads(found.stdout)["through_lineage"] == 1
    counts = run_cli("recall", "--seed", "seed_task_1", "--limit", "0", db=db)
    assert counts.exit_code == 0 and counts.stdout.startswith("5 examples affected by seed seed_task_1")
    missing = run_cli("recall", "--teacher", "gpt-5", db=db)
    assert missing.exit_code == 2 and "no teacher 'gpt-5'" in missing.stderr
    both = run_cli("recall", "--teacher", "a", "--seed", "b", db=db)
    assert both.exit_code == 2 and "exactly one" in both.stderr


def test_cli_wording_is_singular_for_one_and_never_prints_none(
    db: Path, ledger: Ledger, graph: dict[str, str]
) -> None:
    ledger.close()
    up = run_cli("lineage", graph["s0"], db=db)
    assert up.exit_code == 0 and "↑ 1 node over 1 edge\n" in up.stdout
    many = run_cli("lineage", graph["r3"], db=db)
    assert " nodes over " in many.stdout and " edges\n" in many.stdout
    one = run_cli("recall", "--teacher", "llama-3.1-8b-instruct", db=db)
    assert one.exit_code == 0 and one.stdout.startswith("1 example affected by teacher llama")
    assert "0 trained students used them" in one.stdout
    shown = run_cli("show", graph["g1"], db=db)  # written with no source file
    assert shown.exit_code == 0 and "(1 claim)" in shown.stdout
    assert "None" not in shown.stdout and "record 0 (no source file)" in shown.stdout
    seed = run_cli("show", "seed_task_3", db=db)
    assert seed.exit_code == 0 and "· 1 descendant\n" in seed.stdout
