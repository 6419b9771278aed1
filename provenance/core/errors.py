"""Exception types. Each carries the CLI exit code it maps to.

Exit codes: 0 ok, 1 a policy or the gate said no, 2 bad input or usage, 3 an internal or
environment error.
"""

from __future__ import annotations

from pathlib import Path


class ProvenanceError(Exception):
    """Base class of every error this package raises on purpose."""

    exit_code: int = 3


class InputError(ProvenanceError):
    """Bad input from the user: a file, a record, an option. Exit code 2.

    The message names the file and the line (or record index) when one is known, in the
    compiler style ``path:line: message`` so editors and CI logs can link to it.
    """

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        record: int | None = None,
    ) -> None:
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        self.record = record
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.path is not None:
            where.append(self.path)
        if self.line is not None:
            where.append(str(self.line))
        prefix = ":".join(where)
        if self.record is not None:
            prefix = f"{prefix}: record {self.record}" if prefix else f"record {self.record}"
        return f"{prefix}: {self.message}" if prefix else self.message


class LicenceError(InputError):
    """A licence expression that is not valid SPDX."""


class NotFoundError(InputError):
    """An id or prefix that matches nothing in the ledger."""


class AmbiguousIdError(InputError):
    """An id prefix that matches more than one node."""


class LineageCycleError(InputError):
    """Lineage edges that would make a node its own ancestor."""


class LedgerMissingError(InputError):
    """A read command pointed at a ledger file that does not exist."""


class LedgerError(ProvenanceError):
    """The ledger cannot be opened or written. Exit code 3."""


class LedgerLockedError(LedgerError):
    """Another process holds the ledger's write lock."""


class SchemaVersionError(LedgerError):
    """The ledger's schema is newer than this code, or a migration was altered."""
