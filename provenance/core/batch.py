"""Column buffers for one bulk write, turned into Arrow tables for the ledger.

Producers (importers, generators) append rows here; :meth:`provenance.core.ledger.Ledger.write` inserts
them with one INSERT … SELECT per table. Columns constant across a write (run, declaration,
source file) are not buffered: the ledger fills them from a ``ProvenanceSet``.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from provenance.core.models import LineageEdge

_STR = pa.string()

EXAMPLE_SCHEMA = pa.schema(
    [
        ("example_id", _STR),
        ("kind", _STR),
        ("instruction", _STR),
        ("input", _STR),
        ("output", _STR),
        ("messages", _STR),
    ]
)
CLAIM_SCHEMA = pa.schema(
    [
        ("example_id", _STR),
        ("source_index", pa.int64()),
        ("source_line", pa.int64()),
        ("source_part", _STR),
        ("source_row", pa.int64()),
        ("source_item", pa.int32()),
        ("source_record_id", _STR),
        ("prompt", _STR),
        ("extra", _STR),  # unused fields as JSON text, or:
        ("extra_key", _STR),  # one unused field's name and text, turned into JSON by DuckDB
        ("extra_text", _STR),
        ("claim_key", _STR),
        ("prompt_template_hash", _STR),
        ("request_id", _STR),
        ("usage", _STR),  # JSON text
    ]
)
EDGE_SCHEMA = pa.schema(
    [
        ("child_id", _STR),
        ("parent_id", _STR),
        ("parent_kind", _STR),
        ("relation", _STR),
        ("position", pa.int32()),
    ]
)
SEED_SCHEMA = pa.schema(
    [
        ("seed_id", _STR),
        ("external_id", _STR),
        ("name", _STR),
        ("instruction", _STR),
        ("instances", _STR),
        ("is_classification", pa.bool_()),
        ("source_line", pa.int64()),
        ("extra", _STR),
    ]
)


def _table(columns: list[list[Any]], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_arrays(
        [pa.array(col, type=f.type) for col, f in zip(columns, schema, strict=True)], schema=schema
    )


class WriteBatch:
    """Rows waiting to be written, kept as one Python list per column (pa.array per column is
    the fastest way into Arrow). JSON-valued fields are passed as JSON text."""

    def __init__(self) -> None:
        self._examples: list[list[Any]] = [[] for _ in EXAMPLE_SCHEMA]
        self._claims: list[list[Any]] = [[] for _ in CLAIM_SCHEMA]
        self._edges: list[list[Any]] = [[] for _ in EDGE_SCHEMA]
        self._seeds: list[list[Any]] = [[] for _ in SEED_SCHEMA]
        self._ex = tuple(col.append for col in self._examples)
        self._cl = tuple(col.append for col in self._claims)
        self._frozen: tuple[pa.Table, pa.Table, pa.Table, pa.Table] | None = None

    def add_example(
        self,
        example_id: str,
        kind: str,
        instruction: str | None,
        input: str | None,
        output: str | None,
        messages: str | None,
    ) -> None:
        """Buffer an example (skipped at write time if its id is stored)."""
        a = self._ex
        a[0](example_id)
        a[1](kind)
        a[2](instruction)
        a[3](input)
        a[4](output)
        a[5](messages)

    def add_claim(
        self,
        example_id: str,
        source_index: int | None,
        source_line: int | None = None,
        source_part: str | None = None,
        source_row: int | None = None,
        source_item: int | None = None,
        source_record_id: str | None = None,
        prompt: str | None = None,
        extra: str | None = None,
        claim_key: str | None = None,
        extra_key: str | None = None,
        extra_text: str | None = None,
        prompt_template_hash: str | None = None,
        request_id: str | None = None,
        usage: str | None = None,
    ) -> None:
        """Buffer a provenance row (``usage`` as JSON text).

        A row is identified by its example, the declaration, the method, the source file's
        digest and its claim key (by default ``source_index.source_item``), so writing the same
        claim twice stores it once.
        """
        a = self._cl
        a[0](example_id)
        a[1](source_index)
        a[2](source_line)
        a[3](source_part)
        a[4](source_row)
        a[5](source_item)
        a[6](source_record_id)
        a[7](prompt)
        a[8](extra)
        a[9](extra_key)
        a[10](extra_text)
        a[11](claim_key)
        a[12](prompt_template_hash)
        a[13](request_id)
        a[14](usage)

    def extend_examples(
        self, ids: list[str], kind: str, instructions: list[str], inputs: list[str], outputs: list[str]
    ) -> None:
        """Buffer many instruction examples given as columns."""
        c = self._examples
        c[0].extend(ids)
        c[1].extend([kind] * len(ids))
        c[2].extend(instructions)
        c[3].extend(inputs)
        c[4].extend(outputs)
        c[5].extend([None] * len(ids))

    def extend_claims(
        self,
        ids: list[str],
        first_index: int,
        *,
        lines: list[int | None] | None = None,
        part: str | None = None,
        rows: list[int | None] | None = None,
        record_ids: list[str | None] | None = None,
        extras: list[str | None] | None = None,
        extra_key: str | None = None,
        extra_texts: list[str] | None = None,
    ) -> None:
        """Buffer many provenance rows given as columns (source_index counts up from
        ``first_index``); see :meth:`add_claim`."""
        n = len(ids)
        none = [None] * n
        c = self._claims
        c[0].extend(ids)
        c[1].extend(range(first_index, first_index + n))
        c[2].extend(lines or none)
        c[3].extend([part] * n)
        c[4].extend(rows or none)
        c[5].extend(none)
        c[6].extend(record_ids or none)
        c[7].extend(none)
        c[8].extend(extras or none)
        c[9].extend([extra_key] * n)
        c[10].extend(extra_texts or none)
        c[11].extend(none)
        c[12].extend(none)
        c[13].extend(none)
        c[14].extend(none)

    def add_edge(
        self, child_id: str, parent_id: str, parent_kind: str, relation: str, position: int = 0
    ) -> None:
        """Buffer a lineage edge child → parent."""
        for col, value in zip(
            self._edges, (child_id, parent_id, parent_kind, relation, position), strict=True
        ):
            col.append(value)

    def add_lineage(self, edge: LineageEdge) -> None:
        """Buffer a validated lineage edge."""
        self.add_edge(
            edge.child_id, edge.parent_id, edge.parent_kind.value, edge.relation.value, edge.position
        )

    def add_seed(self, **row: Any) -> None:
        """Buffer a seed row (keys: the names of ``SEED_SCHEMA``; missing ones are NULL)."""
        for col, name in zip(self._seeds, SEED_SCHEMA.names, strict=True):
            col.append(row.get(name))

    def _count(self, slot: int, columns: list[list[Any]]) -> int:
        return self._frozen[slot].num_rows if self._frozen else len(columns[0])

    @property
    def examples(self) -> int:
        """Buffered examples."""
        return self._count(0, self._examples)

    @property
    def claims(self) -> int:
        """Buffered provenance rows."""
        return self._count(1, self._claims)

    @property
    def edges(self) -> int:
        """Buffered lineage edges."""
        return self._count(2, self._edges)

    @property
    def seeds(self) -> int:
        """Buffered seeds."""
        return self._count(3, self._seeds)

    def __len__(self) -> int:
        return self.examples + self.claims + self.edges + self.seeds

    def freeze(self) -> None:
        """Convert the buffers to Arrow now, in this thread, and drop the Python lists.

        A producer calls this before handing the batch to a writer thread: building Arrow
        arrays from Python objects needs the GIL, DuckDB's insert does not.
        """
        if self._frozen is None:
            self._frozen = (
                _table(self._examples, EXAMPLE_SCHEMA),
                _table(self._claims, CLAIM_SCHEMA),
                _table(self._edges, EDGE_SCHEMA),
                _table(self._seeds, SEED_SCHEMA),
            )
            for columns in (self._examples, self._claims, self._edges, self._seeds):
                for col in columns:
                    col.clear()

    def examples_table(self) -> pa.Table:
        """Buffered examples as Arrow."""
        return self._frozen[0] if self._frozen else _table(self._examples, EXAMPLE_SCHEMA)

    def claims_table(self) -> pa.Table:
        """Buffered provenance rows as Arrow."""
        return self._frozen[1] if self._frozen else _table(self._claims, CLAIM_SCHEMA)

    def edges_table(self) -> pa.Table:
        """Buffered lineage edges as Arrow."""
        return self._frozen[2] if self._frozen else _table(self._edges, EDGE_SCHEMA)

    def seeds_table(self) -> pa.Table:
        """Buffered seeds as Arrow."""
        return self._frozen[3] if self._frozen else _table(self._seeds, SEED_SCHEMA)
