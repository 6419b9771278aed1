"""The ledger: one DuckDB file, its schema, transactions and Arrow bulk writes.

Every write goes through :meth:`Ledger.write` inside :meth:`Ledger.transaction`, so a failed
import leaves the ledger exactly as it was. Uniqueness of examples, provenance rows, lineage
edges and seeds is kept here, by anti-joins against what is stored.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Self

import duckdb
import pyarrow as pa

from provenance.core import audit_log, migrate, vouched
from provenance.core.batch import WriteBatch
from provenance.core.clock import utcnow
from provenance.core.errors import (
    AmbiguousIdError,
    LedgerError,
    LedgerLockedError,
    LedgerMissingError,
    LineageCycleError,
    NotFoundError,
    SchemaVersionError,
)
from provenance.core.ids import content_id
from provenance.core.models import Declaration, Method, NodeKind, Teacher
from provenance.core.secrets import redact_json

DEFAULT_PATH = "provenance.duckdb"
#: The fewest hex digits of an id that ``Ledger.resolve`` looks up as a prefix.
MIN_PREFIX = 4
_PID = re.compile(r"\(PID (\d+)\)")


def default_path() -> Path:
    """``$PROVENANCE_DB`` or ``./provenance.duckdb``."""
    return Path(os.environ.get("PROVENANCE_DB") or DEFAULT_PATH)


def tool_version() -> str:
    """The installed version of this package."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("provenance")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


@dataclass(frozen=True)
class ProvenanceSet:
    """What every provenance row of one write shares: a provenance set.

    The set's id hashes the declaration, the method, the source file's digest and the method
    parameters, so writing the same file twice under the same declaration reuses one set.
    """

    run_id: str
    declaration: Declaration
    method: Method
    source_file: str | None = None
    source_sha256: str | None = None
    source_format: str | None = None
    method_params: dict[str, Any] | None = None
    created_at: datetime = field(default_factory=utcnow)

    @property
    def set_id(self) -> str:
        """Content id of the set."""
        return content_id([self.declaration.hash, self.method.value, self.source_sha256, self.method_params])

    def row(self) -> dict[str, Any]:
        """Column name → value for the provenance_sets table."""
        d = self.declaration
        return {
            "set_id": self.set_id,
            "run_id": self.run_id,
            "origin": d.origin.value,
            "method": self.method.value,
            "teacher_id": d.teacher.id if d.teacher else None,
            "licence": d.licence,
            "terms_id": d.terms.id if d.terms else None,
            "terms_version": d.terms.version if d.terms else None,
            "terms_retrieved": d.terms.retrieved if d.terms else None,
            "terms_status": d.terms.status.value if d.terms else None,
            "source": d.source,
            "source_file": self.source_file,
            "source_sha256": self.source_sha256,
            "source_format": self.source_format,
            "declaration_hash": d.hash,
            "method_params": json.dumps(self.method_params) if self.method_params else None,
            "created_at": self.created_at,
        }


@dataclass
class WriteCounts:
    """Rows a write added (rows already present are not counted)."""

    examples: int = 0
    provenance: int = 0
    edges: int = 0
    seeds: int = 0

    def __iadd__(self, other: WriteCounts) -> Self:
        self.examples += other.examples
        self.provenance += other.provenance
        self.edges += other.edges
        self.seeds += other.seeds
        return self


class Run:
    """A run in progress (see :meth:`Ledger.run`): its id, and the summary and status it ends with."""

    def __init__(self, ledger: Ledger, run_id: str) -> None:
        self.ledger = ledger
        self.run_id = run_id
        self.summary: dict[str, Any] = {}
        self.status = "ok"
        self.error: str | None = None  # the summary's error when the body fails
        self.ended = False

    def step(self) -> AbstractContextManager[None]:
        """A transaction of its own inside a non-atomic run."""
        return self.ledger.transaction()

    def end(self, summary: dict[str, Any] | None = None, status: str | None = None) -> None:
        """End the run now, inside the current transaction (else it ends when the body returns)."""
        if summary is not None:
            self.summary = summary
        if status is not None:
            self.status = status
        self.ledger.end_run(self.run_id, self.summary, self.status)
        self.ended = True


class Ledger:
    """An open provenance ledger. Use :meth:`open`; close it, or use it as a context manager."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path, read_only: bool) -> None:
        self.con = con
        self.path = path
        self.read_only = read_only
        self._in_transaction = False
        self._column_cache: dict[str, list[str]] = {}
        self._active_runs: set[str] = set()  # runs begun through this connection and not yet ended

    @classmethod
    def open(cls, path: str | Path | None = None, *, read_only: bool = False) -> Ledger:
        """Open (and, when writable, create or migrate) the ledger at ``path``.

        Raises:
            LedgerMissingError: read-only and there is no file.
            LedgerLockedError: another process holds the write lock.
            SchemaVersionError: the file's schema is newer than this code or needs migrating.
            LedgerError: the file is not a DuckDB database.
        """
        path = Path(path) if path is not None else default_path()
        if read_only and not path.exists():
            raise LedgerMissingError(
                f"no ledger at {path}; create one with `provenance init` or choose one with "
                "--db / PROVENANCE_DB"
            )
        if not read_only and path.parent and not path.parent.exists():
            raise LedgerMissingError(f"cannot create ledger {path}: folder {path.parent} does not exist")
        con = _connect(path, read_only)
        try:
            if read_only:
                version = migrate.check(con)
                if version < migrate.latest_version():
                    raise SchemaVersionError(
                        f"ledger {path} has schema version {version}; this provenance needs "
                        f"{migrate.latest_version()}: run `provenance init` to migrate it"
                    )
            else:
                migrate.apply(con)
        except BaseException:
            con.close()
            raise
        return cls(con, path, read_only)

    def close(self) -> None:
        """Close the connection (DuckDB checkpoints on close)."""
        self.con.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        """The schema version of this ledger."""
        return migrate.current_version(self.con)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or not at all."""
        if self._in_transaction:
            raise LedgerError("transactions do not nest")
        self.con.execute("BEGIN TRANSACTION")
        self._in_transaction = True
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        else:
            self.con.execute("COMMIT")
        finally:
            self._in_transaction = False

    def _require_transaction(self) -> None:
        if not self._in_transaction:
            raise LedgerError("ledger writes must run inside Ledger.transaction()")

    # ---- runs and teachers -------------------------------------------------------------

    @contextmanager
    def run(self, kind: str, params: dict[str, Any] | None = None, *, atomic: bool = True) -> Iterator[Run]:
        """Begin a run; end it with its audit row when the body returns, or mark it failed.

        ``atomic`` (the default): the run and everything written under it commit in one
        transaction, and a failure leaves the ledger as it was. Otherwise the run row commits at
        once, the body writes in :meth:`Run.step` transactions of its own (what committed stays),
        and a failure ends the run ``failed`` with the error in its summary.
        """
        if atomic:
            with self.transaction():
                scope = Run(self, self.begin_run(kind, params))
                yield scope
                if not scope.ended:
                    scope.end()
            return
        with self.transaction():
            scope = Run(self, self.begin_run(kind, params))
        try:
            yield scope
        except BaseException as exc:
            if not scope.ended:
                if self._in_transaction:  # pragma: no cover - a step's own rollback runs first
                    raise
                with self.transaction():
                    scope.end(
                        {**scope.summary, "error": scope.error or f"{type(exc).__name__}: {exc}"}, "failed"
                    )
            raise
        if not scope.ended:
            with self.transaction():
                scope.end()

    def begin_run(self, kind: str, params: dict[str, Any] | None = None) -> str:
        """Record the start of a run; return its id.

        Runs that another process left running (it was killed: this process holds the write lock
        now) are closed ``failed`` with an audit row of their own first (their rows never count),
        and runs from before the audit log get their audit row. Credentials in
        ``params`` are masked (:func:`provenance.core.secrets.redact`).
        """
        self._require_transaction()
        self._seal_unaudited()
        run_id = uuid.uuid4().hex
        self._active_runs.add(run_id)
        self._note_own_runs()
        self.con.execute(
            "INSERT INTO runs (run_id, kind, started_at, status, tool_version, params) "
            "VALUES (?, ?, ?, 'running', ?, ?)",
            [run_id, kind, utcnow(), tool_version(), redact_json(params) if params else None],
        )
        return run_id

    def end_run(self, run_id: str, summary: dict[str, Any], status: str = "ok") -> None:
        """Record a run's end and its summary (credentials masked), and append its row to the audit log."""
        self._require_transaction()
        self.con.execute(
            "UPDATE runs SET finished_at = ?, status = ?, summary = ? WHERE run_id = ?",
            [utcnow(), status, redact_json(summary, default=str), run_id],
        )
        audit_log.append(self.con, run_id)
        self._active_runs.discard(run_id)

    def _seal_unaudited(self) -> None:
        """Close what no run of this process began. A run another process left running is dead
        (this process holds the write lock now): it is closed ``failed`` with its own audit row, so
        what it wrote stays visible but never counts (:mod:`provenance.core.vouched`); whether a
        killed run of this tool or rows forged with SQL under a run of their own, no other run's audit
        row vouches for them. Runs from before the audit log existed get their audit row. A finished
        run without an audit row can only come from an altered log: refuse to write."""
        active = list(self._active_runs) or [""]
        orphans = self.con.execute(
            "SELECT run_id, status, run_id IN (SELECT run_id FROM audit_legacy) FROM runs "
            "WHERE run_id NOT IN (SELECT run_id FROM audit_log) "
            "AND run_id NOT IN (SELECT UNNEST(?::VARCHAR[])) ORDER BY started_at, run_id",
            [active],
        ).fetchall()
        for run_id, status, legacy in orphans:
            if status == "running":
                self._close_dead_run(run_id)
            elif not legacy:
                raise LedgerError(
                    f"run {run_id[:12]} finished ({status}) but has no audit row: the audit log of "
                    f"{self.path} was altered; `provenance verify` names what changed"
                )
            audit_log.append(self.con, run_id)

    def _close_dead_run(self, run_id: str) -> None:
        """Mark a run whose process is gone ``failed``, interrupted (its rows never count)."""
        row = self.con.execute("SELECT summary FROM runs WHERE run_id = ?", [run_id]).fetchone()
        try:
            summary = json.loads(row[0]) if row and row[0] else {}
        except ValueError:
            summary = {"summary": row[0] if row else None}
        if not isinstance(summary, dict):
            summary = {"summary": summary}
        summary |= {
            vouched.INTERRUPTED: True,
            "error": "interrupted: its process ended without finishing the run; closed by the next "
            "writer, and what it wrote does not count",
        }
        self.con.execute(
            "UPDATE runs SET finished_at = ?, status = 'failed', summary = ? WHERE run_id = ?",
            [utcnow(), json.dumps(summary, default=str), run_id],
        )

    def _note_own_runs(self) -> None:
        """Tell the counted-runs filter (:mod:`provenance.core.vouched`) which runs this connection began."""
        self.con.execute(f"SET VARIABLE {vouched.OWN_RUNS_VARIABLE} = ?", [sorted(self._active_runs)])

    def live_runs(self) -> frozenset[str]:
        """Runs begun through this connection and not yet ended: the only runs in progress while this
        process holds the ledger (DuckDB's lock keeps any other process out)."""
        return frozenset(self._active_runs)

    def ensure_teacher(self, teacher: Teacher | None, run_id: str) -> str | None:
        """Store a teacher row if it is new; return its id (None for no teacher)."""
        if teacher is None:
            return None
        self._require_transaction()
        self.con.execute(
            "INSERT INTO teachers SELECT ?, ?, ?, ?, ?, ?, ? "
            "WHERE NOT EXISTS (SELECT 1 FROM teachers WHERE teacher_id = ?)",
            [
                teacher.id,
                teacher.model,
                teacher.provider,
                teacher.revision,
                teacher.fingerprint,
                teacher.endpoint,
                run_id,
                teacher.id,
            ],
        )
        return teacher.id

    def ensure_set(self, context: ProvenanceSet) -> str:
        """Store the context's provenance set (and its teacher) if new; return the set id."""
        self._require_transaction()
        self.ensure_teacher(context.declaration.teacher, context.run_id)
        row = context.row()
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        self.con.execute(
            f"INSERT INTO provenance_sets ({names}) SELECT {marks} "
            "WHERE NOT EXISTS (SELECT 1 FROM provenance_sets WHERE set_id = ?)",
            [*row.values(), row["set_id"]],
        )
        return row["set_id"]

    # ---- bulk writes -------------------------------------------------------------------

    def write(self, batch: WriteBatch, context: ProvenanceSet) -> WriteCounts:
        """Write a batch of seeds, examples, provenance rows and edges; skip what is stored.

        Call :meth:`ensure_set` for the context first."""
        self._require_transaction()
        counts = WriteCounts()
        if batch.seeds:
            counts.seeds = self._insert(
                "seeds",
                batch.seeds_table(),
                key=("seed_id",),
                constants={
                    "origin": context.declaration.origin.value,
                    "licence": context.declaration.licence,
                    "source": context.declaration.source,
                    "source_file": context.source_file,
                    "source_sha256": context.source_sha256,
                    "run_id": context.run_id,
                    "created_at": context.created_at,
                },
            )
        if batch.examples:
            counts.examples = self._insert(
                "examples",
                batch.examples_table(),
                key=("example_id",),
                constants={"first_run_id": context.run_id, "created_at": context.created_at},
            )
        if batch.claims:
            set_id = context.set_id
            counts.provenance = self._insert(
                "provenance",
                batch.claims_table(),
                key=("example_id", "claim"),
                # a claim a run wrote whose rows do not count (its process died) is written again
                scope=(f"set_id = ? AND run_id IN ({vouched.COUNTED_RUNS})", [set_id]),
                constants={"set_id": set_id, "run_id": context.run_id},
                computed={
                    "claim": (
                        "coalesce(b.claim_key, b.source_index::VARCHAR || '.' || "
                        "coalesce(b.source_item::VARCHAR, ''))",
                        [],
                    ),
                    "extra": (
                        "CASE WHEN b.extra_key IS NULL THEN b.extra::JSON "
                        "ELSE json_object(b.extra_key, b.extra_text) END",
                        [],
                    ),
                    "usage": ("b.usage::JSON", []),
                },
            )
        if batch.edges:
            edges = batch.edges_table()
            self._check_edges(edges)
            counts.edges = self._insert(
                "lineage",
                edges,
                key=("child_id", "parent_id", "relation", "position"),
                constants={"run_id": context.run_id, "created_at": context.created_at},
            )
            if counts.edges:
                self._check_acyclic(edges)
        return counts

    def _insert(
        self,
        table: str,
        rows: Any,
        *,
        key: Sequence[str],
        constants: dict[str, Any],
        computed: dict[str, tuple[str, list[Any]]] | None = None,
        scope: tuple[str, list[Any]] | None = None,
    ) -> int:
        """INSERT … SELECT from an Arrow table, skipping rows whose key is already stored.

        Columns come from ``computed`` (an SQL expression over the batch ``b`` and its
        parameters), else the table, else ``constants``, else NULL. Rows repeated within the
        batch are written once. ``scope`` (SQL and parameters) limits the stored rows compared
        with: a key need only be unique within it."""
        computed = computed or {}
        columns = self._columns(table)
        have = set(rows.column_names)
        select: list[str] = []
        params: list[Any] = []
        for name in columns:
            if name in computed:
                expression, expression_params = computed[name]
                select.append(f"{expression} AS {name}")
                params.extend(expression_params)
            elif name in have:
                select.append(f"b.{name} AS {name}")
            elif name in constants:
                select.append(f"? AS {name}")
                params.append(constants[name])
            else:
                select.append(f"NULL AS {name}")
        keys = ", ".join(key)
        where = ""
        if scope is not None:
            where = f" WHERE {scope[0]}"
            params.extend(scope[1])
        sql = (
            f"INSERT INTO {table} ({', '.join(columns)}) "
            f"WITH batch AS (SELECT {', '.join(select)} FROM _provenance_rows b), "
            f"n AS (SELECT DISTINCT ON ({keys}) * FROM batch), "
            # the semi join builds its hash table on the batch, not on the stored table
            f"known AS (SELECT {keys} FROM {table} t SEMI JOIN n USING ({keys}){where}) "
            f"SELECT n.* FROM n ANTI JOIN known USING ({keys})"
        )
        return _insert_arrow(self.con, sql, params, rows)

    def _columns(self, table: str) -> list[str]:
        if table not in self._column_cache:
            self._column_cache[table] = [
                name
                for (name,) in self.con.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                    "ORDER BY ordinal_position",
                    [table],
                ).fetchall()
            ]
        return self._column_cache[table]

    def _check_edges(self, _new_edges: pa.Table) -> None:
        """Every edge's child must be a stored example or instruction, its parent a stored node."""
        missing = self.con.execute(
            """
            SELECT child_id, 'example' AS kind FROM _new_edges n
            WHERE NOT EXISTS (SELECT 1 FROM examples e WHERE e.example_id = n.child_id)
              AND NOT EXISTS (SELECT 1 FROM instructions i WHERE i.instruction_id = n.child_id)
            UNION ALL
            SELECT parent_id, parent_kind FROM _new_edges n
            WHERE parent_kind = 'instruction'
              AND NOT EXISTS (SELECT 1 FROM instructions i WHERE i.instruction_id = n.parent_id)
            UNION ALL
            SELECT parent_id, parent_kind FROM _new_edges n
            WHERE parent_kind = 'example'
              AND NOT EXISTS (SELECT 1 FROM examples e WHERE e.example_id = n.parent_id)
            UNION ALL
            SELECT parent_id, parent_kind FROM _new_edges n
            WHERE parent_kind = 'seed'
              AND NOT EXISTS (SELECT 1 FROM seeds s WHERE s.seed_id = n.parent_id)
            LIMIT 1
            """
        ).fetchone()
        if missing:
            raise NotFoundError(f"lineage edge names {missing[1]} {missing[0]}, which is not in the ledger")

    def _check_acyclic(self, _new_edges: pa.Table) -> None:
        """Refuse edges that make an example its own ancestor.

        A cycle needs a new edge child → parent whose child is reachable walking up from the
        parent. The cheap pass unions the ancestors of every new parent; only children found in
        that union are walked edge by edge (generators add edges from new examples to older
        ones, so the cheap pass almost always ends it).
        """
        candidates = [
            c
            for (c,) in self.con.execute(
                """
            WITH RECURSIVE anc(id) AS (
                SELECT parent_id FROM _new_edges WHERE parent_kind <> 'seed'
                UNION
                SELECT l.parent_id FROM lineage l JOIN anc ON l.child_id = anc.id
                WHERE l.parent_kind <> 'seed'
            )
            SELECT DISTINCT child_id FROM _new_edges WHERE child_id IN (SELECT id FROM anc)
            """
            ).fetchall()
        ]
        if not candidates:
            return
        row = self.con.execute(
            """
            WITH RECURSIVE walk(start, id) AS (
                SELECT child_id, parent_id FROM _new_edges
                WHERE parent_kind <> 'seed' AND child_id IN (SELECT UNNEST(?::VARCHAR[]))
                UNION
                SELECT w.start, l.parent_id FROM lineage l JOIN walk w ON l.child_id = w.id
                WHERE l.parent_kind <> 'seed'
            )
            SELECT start FROM walk WHERE id = start LIMIT 1
            """,
            [candidates],
        ).fetchone()
        if row:
            raise LineageCycleError(f"lineage edges would make example {row[0]} its own ancestor")

    # ---- reads -------------------------------------------------------------------------

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run a query; return rows as dicts."""
        cur = self.con.execute(sql, list(params))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def resolve(self, ref: str) -> tuple[NodeKind, str]:
        """Resolve an example, seed or machine instruction by full id, unique id prefix (at least
        ``MIN_PREFIX`` hex digits) or seed name/id.

        Raises:
            NotFoundError: nothing matches (or the prefix is too short to look up).
            AmbiguousIdError: the prefix matches several nodes; the message lists some of them.
        """
        ref = ref.strip()
        hex_ref = re.fullmatch(r"[0-9a-fA-F]{1,64}", ref) is not None
        candidates: list[tuple[str, str]] = []
        if hex_ref and len(ref) >= MIN_PREFIX:
            prefix = ref.lower() + "%"
            candidates = self.con.execute(
                "SELECT DISTINCT 'example', example_id FROM examples WHERE example_id LIKE ? "
                "UNION SELECT 'seed', seed_id FROM seeds WHERE seed_id LIKE ? "
                "UNION SELECT 'instruction', instruction_id FROM instructions WHERE instruction_id LIKE ? "
                "ORDER BY 2 LIMIT 6",
                [prefix, prefix, prefix],
            ).fetchall()
        if not candidates:
            candidates = self.con.execute(
                "SELECT 'seed', seed_id FROM seeds WHERE external_id = ? OR name = ? LIMIT 6",
                [ref, ref],
            ).fetchall()
        if not candidates and hex_ref and len(ref) < MIN_PREFIX:
            raise NotFoundError(
                f"{ref!r} is too short to look up: give at least {MIN_PREFIX} hex digits of an id "
                "(or a seed's own id or name)"
            )
        if not candidates:
            raise NotFoundError(f"no example, seed or instruction matches {ref!r}")
        if len(candidates) > 1:
            listed = ", ".join(f"{kind} {ident[:12]}" for kind, ident in candidates[:5])
            more = ", …" if len(candidates) > 5 else ""
            raise AmbiguousIdError(f"{ref!r} matches several nodes ({listed}{more}); give more digits")
        kind, ident = candidates[0]
        return NodeKind(kind), ident


def _insert_arrow(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[Any], _provenance_rows: pa.Table
) -> int:
    """Run an INSERT that reads the Arrow table ``_provenance_rows`` by name.

    DuckDB resolves the name through a replacement scan of this frame's locals. Unlike
    ``register``, that does not pin the Arrow buffers until the transaction commits, so memory
    stays bounded over a long import.
    """
    return int(con.execute(sql, params).fetchone()[0])


def memory_limit() -> str:
    """DuckDB's memory limit: ``$PROVENANCE_MEMORY_LIMIT`` or 256MB (DuckDB spills beyond it)."""
    return os.environ.get("PROVENANCE_MEMORY_LIMIT") or "256MB"


#: Rows per row group. Smaller than DuckDB's default (122,880) so that a long import writes
#: compressed row groups while it streams, instead of all of them at commit.
ROW_GROUP_SIZE = int(os.environ.get("PROVENANCE_ROW_GROUP_SIZE") or 20_480)


def sql_literal(text: str) -> str:
    """``text`` as a SQL string literal, for statements that take no bound parameter (ATTACH, COPY)."""
    return "'" + text.replace("'", "''") + "'"


def _connect(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    options = ["READ_ONLY"] if read_only else [f"ROW_GROUP_SIZE {ROW_GROUP_SIZE}"]
    # spill files go next to the ledger, not into the working directory
    con = duckdb.connect(":memory:", config={"memory_limit": memory_limit(), "temp_directory": f"{path}.tmp"})
    con.execute("SET enable_progress_bar = false")  # commands show their own; --json output stays clean
    try:
        con.execute(f"ATTACH {sql_literal(str(path))} AS ledger ({', '.join(options)})")  # no bound parameter
        con.execute("USE ledger")
        return con
    except duckdb.IOException as exc:
        con.close()
        text = str(exc)
        if "lock" in text.lower():
            pid = _PID.search(text)
            holder = f"process {pid.group(1)}" if pid else "another process"
            raise LedgerLockedError(
                f"ledger {path} is in use by {holder}; wait for it to finish, or use another ledger with --db"
            ) from None
        signs = ("not a valid DuckDB", "Could not read enough bytes", "checksum", "Corrupt")
        damaged = any(k in text for k in signs)
        hint = "; the file is truncated or damaged: restore it from a copy" if damaged else ""
        raise LedgerError(f"cannot open ledger {path}: {text}{hint}") from None
    except duckdb.Error as exc:
        con.close()
        raise LedgerError(f"cannot open ledger {path}: {exc}") from None
