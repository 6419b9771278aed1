"""Lineage and recall: walks over the lineage edges, as recursive CTEs in DuckDB.

Edges point child → parent. ``ancestry`` walks up to the human seeds, ``descendants`` walks down,
``recall`` starts from everything a teacher, a seed or a terms version produced and walks down.
Cycles cannot be stored (the ledger refuses them), and every walk stops at ``max_depth``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from provenance.core.errors import InputError, NotFoundError
from provenance.core.ledger import Ledger
from provenance.core.models import NodeKind, Terms

MAX_DEPTH = 256


@dataclass
class Walk:
    """The edges a walk crossed, each with the depth at which it was first reached."""

    root: str
    root_kind: NodeKind
    direction: str  # "up" or "down"
    edges: list[dict[str, Any]] = field(default_factory=list)

    @property
    def seeds(self) -> list[str]:
        """Seeds reached (walking up)."""
        return sorted({e["parent_id"] for e in self.edges if e["parent_kind"] == "seed"})

    @property
    def nodes(self) -> int:
        """Distinct nodes reached, the root excluded."""
        key = "parent_id" if self.direction == "up" else "child_id"
        return len({e[key] for e in self.edges})

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for --json."""
        return {
            "root": self.root,
            "root_kind": self.root_kind.value,
            "direction": self.direction,
            "nodes": self.nodes,
            "seeds": self.seeds if self.direction == "up" else None,
            "edges": self.edges,
        }


def ancestry(ledger: Ledger, ref: str, *, max_depth: int = MAX_DEPTH) -> Walk:
    """Every edge from an example up to the human seeds it descends from."""
    kind, node = ledger.resolve(ref)
    walk = Walk(node, kind, "up")
    if kind is NodeKind.SEED:
        return walk  # seeds are roots
    walk.edges = ledger.rows(
        """
        WITH RECURSIVE up(child_id, parent_id, parent_kind, relation, position, depth) AS (
            SELECT child_id, parent_id, parent_kind, relation, position, 1
            FROM lineage WHERE child_id = ?
            UNION
            SELECT l.child_id, l.parent_id, l.parent_kind, l.relation, l.position, up.depth + 1
            FROM lineage l JOIN up ON l.child_id = up.parent_id
            WHERE up.parent_kind <> 'seed' AND up.depth < ?
        )
        SELECT child_id, parent_id, parent_kind, relation, position, min(depth) AS depth
        FROM up GROUP BY ALL ORDER BY depth, child_id, position, parent_id
        """,
        [node, max_depth],
    )
    return walk


def descendants(ledger: Ledger, ref: str, *, max_depth: int = MAX_DEPTH) -> Walk:
    """Every edge below a seed or an example."""
    kind, node = ledger.resolve(ref)
    walk = Walk(node, kind, "down")
    walk.edges = ledger.rows(
        """
        WITH RECURSIVE down(child_id, parent_id, parent_kind, relation, position, depth) AS (
            SELECT child_id, parent_id, parent_kind, relation, position, 1
            FROM lineage WHERE parent_id = ?
            UNION
            SELECT l.child_id, l.parent_id, l.parent_kind, l.relation, l.position, d.depth + 1
            FROM lineage l JOIN down d ON l.parent_id = d.child_id
            WHERE l.parent_kind <> 'seed' AND d.depth < ?
        )
        SELECT child_id, parent_id, parent_kind, relation, position, min(depth) AS depth
        FROM down GROUP BY ALL ORDER BY depth, parent_id, position, child_id
        """,
        [node, max_depth],
    )
    return walk


@dataclass
class Recall:
    """Examples affected by a teacher, a seed or a terms version, directly or through lineage, and the
    students trained on any of them."""

    by: str  # "teacher", "seed" or "terms"
    matched: list[dict[str, Any]]
    examples: int = 0
    direct: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)
    judged: list[dict[str, Any]] = field(default_factory=list)  # terms: licence judgements under it
    rejudged: int = 0  # terms: of those examples, how many were judged again under other terms since
    models: list[dict[str, Any]] = field(default_factory=list)  # students trained on any of them

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for --json."""
        return {
            "by": self.by,
            "matched": self.matched,
            "examples": self.examples,
            "direct": self.direct,
            "through_lineage": self.examples - self.direct,
            "judged_under": self.judged,
            "rejudged_since": self.rejudged,
            "rows": self.rows,
            "models": self.models,
        }


def _walk_down(roots: str) -> str:
    """SQL: the examples below ``roots`` (a query of example ids), with their depth and totals."""
    return (
        _reach(roots)
        + """
        SELECT example_id, depth, count(*) OVER () AS total, count_if(depth = 0) OVER () AS direct
        FROM best ORDER BY depth, example_id LIMIT ?
    """
    )


def _models(roots: str) -> str:
    """SQL: the trained students whose dataset holds any example below ``roots``."""
    return (
        _reach(roots)
        + """
        SELECT t.training_id, t.student, t.student_kind, t.base_model, t.out_dir, t.model_digest,
               t.dataset_id, count(*) AS examples_trained_on, CAST(t.created_at AS VARCHAR) AS trained_at
        FROM trainings t JOIN dataset_examples d USING (dataset_id) SEMI JOIN best USING (example_id)
        GROUP BY ALL ORDER BY trained_at, t.training_id
    """
    )


def _reach(roots: str) -> str:
    return f"""
        WITH RECURSIVE roots AS ({roots}),
        hit(example_id, depth) AS (
            SELECT example_id, 0 FROM roots
            UNION
            SELECT l.child_id, h.depth + 1 FROM lineage l JOIN hit h ON l.parent_id = h.example_id
            WHERE l.parent_kind <> 'seed' AND h.depth < ?
        ),
        best AS (
            SELECT example_id, min(depth) AS depth FROM hit SEMI JOIN examples USING (example_id)
            GROUP BY example_id
        )"""


#: Licence decisions made under a terms id (and version): parameters id, version, version.
_JUDGED = """
    SELECT d.example_id, d.ref, c.registry_version FROM decisions d
    JOIN decision_batches b USING (batch_id) JOIN decision_contexts c USING (context_id)
    WHERE c.check_name = 'licence' AND d.ref IN (
        SELECT judgement_no FROM judgement_terms WHERE terms_id = ? AND (? IS NULL OR terms_version = ?))
"""
#: Of the examples judged under those terms, how many have a later licence decision that is not.
_REJUDGED = f"""
    WITH old AS (SELECT DISTINCT example_id FROM ({_JUDGED})),
    latest AS (
        SELECT d.example_id, arg_max(d.ref, d.batch_id) AS ref
        FROM decisions d JOIN decision_batches b USING (batch_id) JOIN decision_contexts c USING (context_id)
        SEMI JOIN old USING (example_id) WHERE c.check_name = 'licence' GROUP BY d.example_id
    )
    SELECT count(*) FROM latest WHERE ref NOT IN (SELECT ref FROM ({_JUDGED}))
"""


def recall(
    ledger: Ledger,
    *,
    teacher: str | None = None,
    seed: str | None = None,
    terms: str | None = None,
    limit: int | None = None,
    max_depth: int = MAX_DEPTH,
) -> Recall:
    """Every example that descends from a teacher's output, a seed, or data under a terms version.

    Raises:
        InputError: not exactly one of teacher / seed / terms.
        NotFoundError: nothing in the ledger matches it.
    """
    if sum(x is not None for x in (teacher, seed, terms)) != 1:
        raise InputError("recall needs exactly one of --teacher, --seed or --terms")
    if teacher is not None:
        roots = _teacher_roots(ledger, teacher)
    elif seed is not None:
        roots = _seed_roots(ledger, seed)
    else:
        roots = _terms_roots(ledger, str(terms))
    result = Recall(by=roots.by, matched=roots.matched, judged=roots.judged, rejudged=roots.rejudged)
    fetch = max(limit, 1) if limit is not None else 2**62  # one row at least: it carries the totals
    rows = ledger.rows(_walk_down(roots.sql), [*roots.params, max_depth, fetch])
    if rows:
        result.examples, result.direct = rows[0]["total"], rows[0]["direct"]
    result.rows = [{"example_id": r["example_id"], "depth": r["depth"]} for r in rows[:limit]]
    result.models = ledger.rows(_models(roots.sql), [*roots.params, max_depth])
    return result


@dataclass
class _Roots:
    """Where a recall starts: the examples a query selects (SQL and its parameters), and what matched."""

    by: str
    matched: list[dict[str, Any]]
    sql: str
    params: list[Any]
    judged: list[dict[str, Any]] = field(default_factory=list)
    rejudged: int = 0


def _teacher_roots(ledger: Ledger, teacher: str) -> _Roots:
    """The examples a teacher (model id, or teacher id prefix of 6+ digits) produced."""
    matched = ledger.rows(
        "SELECT teacher_id, model, provider, revision, fingerprint FROM teachers "
        "WHERE model = ? OR teacher_id LIKE ? ORDER BY model, teacher_id",
        [teacher, teacher.lower() + "%" if len(teacher) >= 6 else "-"],
    )
    if not matched:
        known = [r["model"] for r in ledger.rows("SELECT DISTINCT model FROM teachers ORDER BY 1")]
        raise NotFoundError(f"no teacher {teacher!r} in the ledger (known: {', '.join(known) or 'none'})")
    sql = (
        "SELECT DISTINCT p.example_id FROM provenance p JOIN provenance_sets s USING (set_id) "
        "WHERE s.teacher_id IN (SELECT UNNEST(?::VARCHAR[]))"
    )
    return _Roots("teacher", matched, sql, [[m["teacher_id"] for m in matched]])


def _seed_roots(ledger: Ledger, seed: str) -> _Roots:
    """The instance examples of one seed."""
    kind, node = ledger.resolve(seed)
    if kind is not NodeKind.SEED:
        raise NotFoundError(f"{seed!r} is an example, not a seed")
    matched = ledger.rows("SELECT seed_id, external_id, name FROM seeds WHERE seed_id = ?", [node])
    sql = "SELECT child_id AS example_id FROM lineage WHERE parent_id = ? AND parent_kind = 'seed'"
    return _Roots("seed", matched, sql, [node])


def _terms_roots(ledger: Ledger, terms: str) -> _Roots:
    """The examples declared under a terms id (and version), or judged under it by the licence check."""
    wanted = Terms.parse(terms)
    version = [wanted.id, wanted.version, wanted.version]
    matched = ledger.rows(
        "SELECT DISTINCT terms_id, terms_version, terms_status FROM provenance_sets "
        "WHERE terms_id = ? AND (? IS NULL OR terms_version = ?) ORDER BY ALL",
        version,
    )
    judged = ledger.rows(
        "SELECT jt.terms_id, jt.terms_version, d.registry_version, "
        "count(DISTINCT d.example_id) AS examples "
        f"FROM ({_JUDGED}) d JOIN judgement_terms jt ON jt.judgement_no = d.ref "
        "WHERE jt.terms_id = ? AND (? IS NULL OR jt.terms_version = ?) GROUP BY ALL ORDER BY ALL",
        [*version, *version],
    )
    if not matched and not judged:
        raise NotFoundError(f"no data in the ledger was declared or judged under terms {terms!r}")
    sql = (
        "SELECT DISTINCT p.example_id FROM provenance p JOIN provenance_sets s USING (set_id) "
        "WHERE s.terms_id = ? AND (? IS NULL OR s.terms_version = ?) "
        f"UNION SELECT example_id FROM ({_JUDGED})"
    )
    params = [*version, *version]
    rejudged = int(ledger.con.execute(_REJUDGED, params).fetchone()[0])
    return _Roots("terms", matched, sql, params, judged, rejudged)
