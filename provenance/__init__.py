"""provenance: a per-example provenance ledger for synthetic instruction data.

Importing this package is cheap: DuckDB, pyarrow and pydantic load when a submodule needs them.

>>> from provenance.core.ledger import Ledger
>>> with Ledger.open("provenance.duckdb") as ledger: ...  # doctest: +SKIP
"""

__version__ = "0.1.0"
