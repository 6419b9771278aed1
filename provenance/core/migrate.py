"""Schema versioning: ordered SQL migrations shipped in ``provenance/core/migrations/NNNN_name.sql``.

Each migration runs in its own transaction together with the row that records it in
``schema_version``. Later features add tables by adding the next numbered file. A migration that
was changed after it was applied is refused (its checksum no longer matches).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from provenance.core.clock import utcnow
from provenance.core.errors import SchemaVersionError

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    """One numbered schema step."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """sha256 of the SQL text."""
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


@lru_cache(maxsize=1)
def available() -> tuple[Migration, ...]:
    """The migrations shipped with this code, in order; versions must run 1, 2, 3, … without gaps."""
    found = []
    for entry in resources.files("provenance.core").joinpath("migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise SchemaVersionError(
                f"migration numbering has a gap or a duplicate at {migration.version:04d}"
            )
    return tuple(found)


def latest_version() -> int:
    """The schema version this code writes."""
    return available()[-1].version


def current_version(con: Any) -> int:
    """The schema version recorded in an open ledger (0 for an empty database)."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchone()[0]
    if not exists:
        return 0
    return int(con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0])


def check(con: Any) -> int:
    """Verify applied migrations against the shipped ones; return the current version."""
    version = current_version(con)
    known = available()
    if version > len(known):
        raise SchemaVersionError(
            f"the ledger has schema version {version}, newer than this provenance "
            f"({len(known)}); upgrade provenance to read it"
        )
    if version:
        rows = con.execute("SELECT version, checksum FROM schema_version ORDER BY version").fetchall()
        for applied, checksum in rows:
            if known[applied - 1].checksum != checksum:
                raise SchemaVersionError(
                    f"migration {applied:04d} was changed after this ledger applied it; "
                    "restore the original file and add a new migration instead"
                )
    return version


def apply(con: Any) -> list[Migration]:
    """Apply every pending migration, each in its own transaction; return those applied."""
    version = check(con)
    applied = []
    for migration in available()[version:]:
        con.execute("BEGIN TRANSACTION")
        try:
            if migration.version == 1:
                con.execute(
                    "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,"
                    " checksum VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
                )
            con.execute(migration.sql)
            con.execute(
                "INSERT INTO schema_version VALUES (?, ?, ?, ?)",
                [migration.version, migration.name, migration.checksum, utcnow()],
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        applied.append(migration)
    return applied
