"""The teacher-call journal: every request to a teacher, and its raw response, in the ledger.

A request and its raw response are written and committed before anything parses the response:
:meth:`Journal.record_call` does it in one write once the outcome is in (the HTTP client's path,
one commit per call), or :meth:`Journal.record_pending` before a long job and
:meth:`Journal.record_result` after it (the local transformers client's batches). A killed run
therefore never sends a completed call again: on resume, :meth:`Journal.lookup` answers it. The
request is keyed by :meth:`Journal.request_hash`, the content id of the request as stored. The
journal remembers which hashes are stored (it writes them all), so a new request costs no lookup.

Secrets never reach the journal: endpoints lose their userinfo, query string and fragment, and
headers or query parameters that carry credentials are dropped before hashing and storing; every
text a call stores, and every line an export writes, passes through
:func:`provenance.core.secrets.redact` (a server may echo a credential back).

The journal writes through a :class:`~provenance.core.journal_store.CallStore`, a cursor of its
own, so its commits neither nest in nor wait for a transaction the caller holds on the ledger; a
lock makes it safe to share between threads.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from provenance.core.clock import utcnow
from provenance.core.files import atomic_open
from provenance.core.ids import content_id
from provenance.core.journal_store import CALL_FIELDS, CallStore, Outcome
from provenance.core.journal_store import import_calls as store_calls
from provenance.core.ledger import Ledger
from provenance.core.secrets import SECRET_NAME, redact_json
from provenance.queries.journal import call_row, call_rows, iter_call_rows, stored_hashes

Api = Literal["chat", "completions"]
Status = Literal["pending", "ok", "error"]
APIS: tuple[str, ...] = ("chat", "completions")


def sanitize_endpoint(url: str) -> str:
    """``url`` without userinfo, query string or fragment, and without a trailing slash."""
    parts = urlsplit(url.strip())
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port is not None else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", "")).rstrip("/")


def sanitize_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Headers or query parameters without those whose names suggest a credential (never stored,
    never hashed)."""
    return {str(k): v for k, v in (params or {}).items() if not SECRET_NAME.search(str(k))}


def _outcome(
    status: str,
    response: str | None,
    error: str | None,
    http_status: int | None,
    response_model: str | None,
    system_fingerprint: str | None,
    request_id: str | None,
    usage: Mapping[str, Any] | None,
    latency_ms: float | None,
) -> Outcome:
    """A call's outcome as stored; a status other than ok or error is a bug."""
    if status not in ("ok", "error"):
        raise ValueError(f"a result's status is ok or error, not {status!r}")
    usage_json = _json(dict(usage) if usage is not None else None)
    return Outcome(
        status,
        response,
        error,
        http_status,
        response_model,
        system_fingerprint,
        request_id,
        usage_json,
        latency_ms,
    )


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


def _load(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


@dataclass(frozen=True)
class Call:
    """One journaled teacher call, as stored."""

    request_hash: str
    run_id: str
    endpoint: str
    api: str
    model: str
    request: dict[str, Any]
    status: str
    response: str | None
    error: str | None
    http_status: int | None
    response_model: str | None
    system_fingerprint: str | None
    request_id: str | None
    usage: dict[str, Any] | None
    latency_ms: float | None
    attempts: int
    created_at: datetime
    completed_at: datetime | None

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> Call:
        """Build from a row selected with the table's columns in order."""
        values = list(row)
        values[5] = _load(values[5])
        values[13] = _load(values[13])
        return cls(*values)


class Journal:
    """The teacher-call journal of one run in an open, writable ledger."""

    def __init__(self, ledger: Ledger, run_id: str) -> None:
        self.ledger = ledger
        self.run_id = run_id
        self._store = CallStore(ledger)
        self._lock = threading.Lock()
        self._known: set[str] | None = (
            None  # hashes stored, loaded on first use (this journal writes them all)
        )

    def _stored(self, request_hash: str) -> bool:
        """Whether a call with this hash is stored (call with the lock held)."""
        if self._known is None:
            self._known = stored_hashes(self._store)
        return request_hash in self._known

    def close(self) -> None:
        """Close the journal's cursor (closing the ledger closes it too)."""
        with self._lock:
            self._store.close()

    # ---- requests and their hashes ---------------------------------------------------------

    @staticmethod
    def request(
        endpoint: str,
        api: str,
        body: Mapping[str, Any],
        *,
        sample: int = 0,
        headers: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The request as journaled and hashed: sanitised endpoint, API kind, model and body.

        ``sample`` tells apart deliberate repeats of one body (k samples of one prompt); it is
        part of the hash but is not sent. Extra headers and query parameters are kept only when
        given, without credentials.
        """
        if api not in APIS:
            raise ValueError(f"api must be one of {', '.join(APIS)}, not {api!r}")
        request: dict[str, Any] = {
            "endpoint": sanitize_endpoint(endpoint),
            "api": api,
            "model": body.get("model"),
            "body": dict(body),
        }
        if sample:
            request["sample"] = sample
        if headers and (kept := sanitize_params(headers)):
            request["headers"] = kept
        if query and (kept := sanitize_params(query)):
            request["query"] = kept
        return request

    @classmethod
    def request_hash(
        cls,
        endpoint: str,
        api: str,
        body: Mapping[str, Any],
        *,
        sample: int = 0,
        headers: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
    ) -> str:
        """sha256 of the canonical JSON of :meth:`request`."""
        return content_id(cls.request(endpoint, api, body, sample=sample, headers=headers, query=query))

    # ---- reads ---------------------------------------------------------------------------

    def get(self, request_hash: str) -> Call | None:
        """The journaled call with this hash, whatever its status."""
        with self._lock:
            if not self._stored(request_hash):
                return None
            row = call_row(self._store, request_hash)
        return Call.from_row(row) if row else None

    def lookup(self, request_hash: str) -> Call | None:
        """The completed, successful call with this hash, or None."""
        call = self.get(request_hash)
        return call if call is not None and call.status == "ok" else None

    def final(self, request_hash: str) -> Call | None:
        """The call with this hash when its outcome is final: ok, an unusable answer (HTTP 200), or
        a refusal (a 4xx other than 408, 409, 429). Calls whose retries ran out are not final."""
        call = self.get(request_hash)
        if call is None or call.status == "pending":
            return None
        if call.status == "ok" or call.http_status == 200:
            return call
        status = call.http_status
        return call if status is not None and 400 <= status < 500 and status not in (408, 409, 429) else None

    def calls(self, run_id: str | None = None) -> list[Call]:
        """Every journaled call (of one run when given), oldest first."""
        with self._lock:
            rows = call_rows(self._store, run_id)
        return [Call.from_row(row) for row in rows]

    # ---- writes (each one committed before it returns) -----------------------------------

    def record_pending(self, request_hash: str, request: Mapping[str, Any]) -> None:
        """Commit the request as pending, before it is sent.

        A call already stored (pending from a killed run, or an error) is reset to pending under
        this run; its attempt count and creation time are kept. A completed ok call is left alone.
        The common case, a new request, is one auto-committed INSERT.
        """
        if content_id(request) != request_hash:
            raise ValueError("request_hash is not the content id of the request")
        with self._lock:
            self._store.add_pending(request_hash, self.run_id, request)
            self._remember(request_hash)

    def record_call(
        self,
        request_hash: str,
        request: Mapping[str, Any],
        *,
        status: Status,
        attempts: int,
        response: str | None = None,
        error: str | None = None,
        http_status: int | None = None,
        response_model: str | None = None,
        system_fingerprint: str | None = None,
        request_id: str | None = None,
        usage: Mapping[str, Any] | None = None,
        latency_ms: float | None = None,
    ) -> None:
        """Commit a call and its outcome in one write, once the reply (or the final failure) is in,
        before anything parses it. A stored call that is not ok (an earlier error, a pending row
        of a killed run) takes the new outcome; a stored ok call is left alone.
        """
        if content_id(request) != request_hash:
            raise ValueError("request_hash is not the content id of the request")
        outcome = _outcome(
            status,
            response,
            error,
            http_status,
            response_model,
            system_fingerprint,
            request_id,
            usage,
            latency_ms,
        )
        with self._lock:
            self._store.add_call(request_hash, self.run_id, request, outcome, attempts)
            self._remember(request_hash)

    def _remember(self, request_hash: str) -> None:
        """Count a hash as stored (call with the lock held)."""
        self._stored(request_hash)
        assert self._known is not None
        self._known.add(request_hash)

    def record_result(
        self,
        request_hash: str,
        *,
        status: Status,
        attempts: int,
        response: str | None = None,
        error: str | None = None,
        http_status: int | None = None,
        response_model: str | None = None,
        system_fingerprint: str | None = None,
        request_id: str | None = None,
        usage: Mapping[str, Any] | None = None,
        latency_ms: float | None = None,
    ) -> None:
        """Commit the outcome of sending a pending call: the raw response, or why there is none."""
        outcome = _outcome(
            status,
            response,
            error,
            http_status,
            response_model,
            system_fingerprint,
            request_id,
            usage,
            latency_ms,
        )
        with self._lock:  # one statement: committed on its own
            if self._store.set_result(request_hash, outcome, attempts) != 1:
                raise LookupError(f"no journaled call {request_hash}; record_pending must come first")


_FIELDS = CALL_FIELDS


def export_calls(ledger: Ledger, path: str | Path, *, run_id: str | None = None) -> int:
    """Write the journaled calls (all, or one run's) as JSON lines, oldest first; return how many.

    The file is a recording: :func:`import_calls` loads it into another ledger, where ``--replay``
    answers from it with no network. It holds what the journal holds, so no secrets; each line
    is passed through :func:`~provenance.core.secrets.redact_json` all the same.
    """
    n = 0
    with atomic_open(path, "w") as out:  # a planted symlink is replaced; a failed write leaves none
        for row in iter_call_rows(ledger, run_id):
            record = dict(zip(_FIELDS, row, strict=True))
            record["request"] = _load(record["request"])
            record["usage"] = _load(record["usage"])
            out.write(redact_json(record, ensure_ascii=False, default=str) + "\n")
            n += 1
    return n


def import_calls(ledger: Ledger, path: str | Path) -> tuple[int, int]:
    """Load a recording written by :func:`export_calls`; return (new calls, calls already known).

    Each line is checked (JSON object, the table's fields, a request whose content id is its hash)
    before anything is written; one bad line is an InputError naming the file and line, and the
    ledger is left unchanged. A call the ledger already has as ok is kept as it is.
    """
    from provenance.core.errors import InputError

    path = Path(path)
    if not path.is_file():
        raise InputError("file does not exist", path=path)
    rows: list[list[Any]] = []
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise InputError(f"not JSON: {exc}", path=path, line=number) from None
            if not isinstance(record, dict):
                raise InputError("a recorded call must be a JSON object", path=path, line=number)
            missing = [f for f in ("request_hash", "request", "status", "endpoint", "api") if f not in record]
            if missing:
                raise InputError(f"missing {', '.join(missing)}", path=path, line=number)
            if (
                not isinstance(record["request"], dict)
                or content_id(record["request"]) != record["request_hash"]
            ):
                raise InputError("request_hash is not the content id of the request", path=path, line=number)
            if record["status"] not in ("pending", "ok", "error"):
                raise InputError(
                    f"status {record['status']!r} is not pending, ok or error", path=path, line=number
                )
            values = [record.get(f) for f in _FIELDS]
            values[5] = json.dumps(record["request"], ensure_ascii=False)
            values[13] = _json(record.get("usage"))
            values[15] = int(record.get("attempts") or 0)
            values[16] = record.get("created_at") or utcnow()
            rows.append(values)
    if not rows:
        raise InputError("contains no recorded calls", path=path)
    return _insert_calls(ledger, rows, str(path))


def import_rows(ledger: Ledger, records: list[dict[str, Any]], source: str | None = None) -> tuple[int, int]:
    """Load journal rows given as dicts (see :func:`export_calls`); return (new, already known)."""
    rows = []
    for record in records:
        values = [record.get(f) for f in _FIELDS]
        values[5] = json.dumps(record["request"], ensure_ascii=False)
        values[13] = _json(record.get("usage"))
        values[15] = int(record.get("attempts") or 0)
        values[16] = record.get("created_at") or utcnow()
        rows.append(values)
    return _insert_calls(ledger, rows, source)


def _insert_calls(ledger: Ledger, rows: list[list[Any]], source: str | None = None) -> tuple[int, int]:
    """Insert the calls in one transaction, as a run of their own (``journal-import``) that the audit
    log vouches for: the calls take that run's id, whatever run recorded them elsewhere."""
    with ledger.run("journal-import", {"source": source, "calls": len(rows)}) as run:
        new, known = store_calls(ledger, run.run_id, rows)
        run.summary = {"source": source, "new": new, "known": known}
    return new, known
