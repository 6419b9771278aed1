"""Teacher clients. :class:`OpenAICompatibleClient` talks to any OpenAI-compatible endpoint.

Every call goes through the :class:`~generators.journal.Journal`: a request already answered (status
ok) is answered from the journal and never sent again; otherwise the request is sent with the
real ``openai`` client (its own retries off), and the request with its raw response is committed
in one write before the response is parsed. A call in flight when the process is killed has no
row, and is sent again by the next run (it never completed).

Errors, documented:

- Transport failures (429, 408, 409, 5xx, timeouts, connection errors, truncated bodies) are
  retried with exponential backoff and jitter, honouring ``Retry-After``; when retries run out the
  journal row says ``error`` and :class:`RetriesExhausted` is raised. Other HTTP errors (400, 401,
  404, …) are not retried: the row says ``error`` and :class:`TeacherRequestError` is raised.
- A response that arrived but cannot be used (not JSON, no choices, JSON where text was expected)
  is not raised: the row says ``error`` with the reason and the raw body, and the call returns a
  :class:`TeacherReply` whose ``error`` is that reason and whose ``texts`` are empty. A generation
  run counts it as a rejected request and goes on.
- An answer (ok, unusable, or a refusal) is final: a later run, live or replayed, gets the same
  outcome from the journal and never sends the request again, so rerunning a generation
  reproduces it. Only calls whose retries ran out (the endpoint was down) are sent again.
- ``replay=True`` answers from the journal only and never opens a connection; a request it has no
  answer for raises :class:`NotInJournal`.

The API key is read from the environment variable named by ``api_key_env`` and is never stored,
logged or put in an error message. The key, the user info of the base URL (sent as HTTP Basic
auth) and key-like query parameters and headers are registered with
:data:`provenance.core.secrets.SECRETS`, so every form of them (raw, ``Bearer``, Basic base64,
URL-encoded) is masked in whatever is stored or printed, even when a server echoes them back.
"""

from __future__ import annotations

import email.utils
import json
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from generators.journal import Api, Call, Journal, sanitize_endpoint
from provenance.core.errors import ProvenanceError
from provenance.core.ids import canonical_json, content_id
from provenance.core.secrets import SECRETS, redact_optional

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"
LOCAL_PLACEHOLDER_KEY = "no-key"  # sent to a local endpoint when no key is set
_PATHS: dict[str, str] = {"chat": "/chat/completions", "completions": "/completions"}
_RETRY_STATUS = frozenset({408, 409, 429})


class TeacherError(ProvenanceError):
    """A teacher call failed; the journal row (when there is one) says why."""

    exit_code = 3

    def __init__(
        self,
        message: str,
        *,
        request_hash: str | None = None,
        status: int | None = None,
        from_journal: bool = False,
    ) -> None:
        self.request_hash = request_hash
        self.status = status  # the HTTP status that ended the call, when there was one
        self.from_journal = from_journal  # the journal already held this outcome: nothing was sent
        super().__init__(message)


class MissingApiKey(TeacherError):
    """The environment variable that should hold the API key is unset."""

    exit_code = 2


class RetriesExhausted(TeacherError):
    """A retryable failure (429, 5xx, timeout, connection) persisted through every retry."""


class TeacherRequestError(TeacherError):
    """The endpoint refused the request (a 4xx other than 408/409/429); retrying will not help."""


class NotInJournal(TeacherError):
    """Replay mode met a request that the journal has no answer for."""

    exit_code = 2


@dataclass(frozen=True)
class TeacherRequest:
    """One request for :meth:`OpenAICompatibleClient.map`: a chat or a legacy completion."""

    api: Api
    messages: tuple[Mapping[str, Any], ...] | None = None
    prompt: str | None = None
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    sample: int = 0

    @classmethod
    def chat(cls, messages: Sequence[Mapping[str, Any]], *, sample: int = 0, **params: Any) -> TeacherRequest:
        """A chat completion request."""
        return cls("chat", messages=tuple(messages), params=MappingProxyType(dict(params)), sample=sample)

    @classmethod
    def completion(cls, prompt: str, *, sample: int = 0, **params: Any) -> TeacherRequest:
        """A legacy completions request."""
        return cls("completions", prompt=prompt, params=MappingProxyType(dict(params)), sample=sample)

    def body(self, model: str) -> tuple[dict[str, Any], Mapping[str, Any] | None]:
        """The request body for ``model`` and the extra headers asked for (``extra_headers``)."""
        params = dict(self.params)
        if params.get("stream"):
            raise ValueError("streaming responses are not supported by the journaled client")
        headers = params.pop("extra_headers", None)
        if self.api == "chat":
            if self.messages is None:
                raise ValueError("a chat request needs messages")
            return {"model": model, **params, "messages": [dict(m) for m in self.messages]}, headers
        if self.prompt is None:
            raise ValueError("a completions request needs a prompt")
        return {"model": model, **params, "prompt": self.prompt}, headers


@dataclass(frozen=True)
class TeacherReply:
    """A teacher's answer with what provenance needs. ``error`` is set when it was unusable."""

    texts: tuple[str, ...]
    finish_reasons: tuple[str | None, ...]
    model: str | None
    system_fingerprint: str | None
    request_id: str | None
    usage: dict[str, Any] | None
    latency_ms: float | None
    request_hash: str
    from_journal: bool
    attempts: int
    http_status: int | None
    endpoint: str
    api: str
    requested_model: str
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the reply carries usable text."""
        return self.error is None

    @property
    def text(self) -> str:
        """The first choice's text ('' for an error reply)."""
        return self.texts[0] if self.texts else ""

    @property
    def finish_reason(self) -> str | None:
        """The first choice's finish reason."""
        return self.finish_reasons[0] if self.finish_reasons else None


@dataclass(frozen=True)
class _Digest:
    texts: tuple[str, ...] = ()
    finish_reasons: tuple[str | None, ...] = ()
    model: str | None = None
    system_fingerprint: str | None = None
    response_id: str | None = None
    usage: dict[str, Any] | None = None
    error: str | None = None


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def digest(api: str, raw: str | None) -> _Digest:
    """Read a raw response body: its texts and metadata, or the reason it is unusable. Never raises."""
    if raw is None:
        return _Digest(error="no response body")
    try:
        data = json.loads(raw)
    except ValueError as exc:
        return _Digest(error=f"response is not JSON: {exc}")
    if not isinstance(data, dict):
        return _Digest(error=f"response is JSON {type(data).__name__}, not an object")
    meta: dict[str, Any] = {
        "model": _opt_str(data.get("model")),
        "system_fingerprint": _opt_str(data.get("system_fingerprint")),
        "response_id": _opt_str(data.get("id")),
        "usage": data.get("usage") if isinstance(data.get("usage"), dict) else None,
    }
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        detail = data.get("error")
        reason = f"response has no choices{f' (error: {detail})' if detail else ''}"
        return _Digest(error=reason, **meta)
    texts: list[str] = []
    reasons: list[str | None] = []
    indexed = [
        (c.get("index") if isinstance(c, dict) else None, position, c) for position, c in enumerate(choices)
    ]
    ordered = [
        c for _, _, c in sorted(indexed, key=lambda t: (t[0] if isinstance(t[0], int) else t[1], t[1]))
    ]
    for position, choice in enumerate(ordered):
        if not isinstance(choice, dict):
            return _Digest(error=f"choice {position} is JSON {type(choice).__name__}, not an object", **meta)
        if api == "chat":
            message = choice.get("message")
            text = message.get("content") if isinstance(message, dict) else None
            where = "message content"
        else:
            text = choice.get("text")
            where = "text"
        if not isinstance(text, str):
            got = "nothing" if text is None else f"JSON {type(text).__name__}"
            return _Digest(error=f"choice {position} {where} is {got}, not text", **meta)
        texts.append(text)
        reasons.append(_opt_str(choice.get("finish_reason")))
    return _Digest(texts=tuple(texts), finish_reasons=tuple(reasons), **meta)


def reply_from_call(call: Call) -> TeacherReply:
    """A final journaled call as the reply it was (possibly unusable: ``error`` says why)."""
    found = digest(call.api, call.response)
    return TeacherReply(
        texts=found.texts,
        finish_reasons=found.finish_reasons,
        model=call.response_model,
        system_fingerprint=call.system_fingerprint,
        request_id=call.request_id,
        usage=call.usage,
        latency_ms=call.latency_ms,
        request_hash=call.request_hash,
        from_journal=True,
        attempts=call.attempts,
        http_status=call.http_status,
        endpoint=call.endpoint,
        api=call.api,
        requested_model=call.model,
        error=call.error if call.status == "error" else found.error,
    )


def refusal_from_call(call: Call) -> TeacherRequestError | None:
    """The refusal a journaled call ended with (a 4xx, or a request a local model could not take)."""
    if call.status != "error" or call.http_status == 200:
        return None
    return TeacherRequestError(
        f"{call.api} request {call.request_hash[:12]} to {call.endpoint} was refused "
        f"(journaled): {call.error}",
        request_hash=call.request_hash,
        status=call.http_status,
        from_journal=True,
    )


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if (ms := lowered.get("retry-after-ms")) is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _response_class() -> type:
    """The HTTP response class the installed ``openai`` returns for ``cast_to`` (httpx2, or httpx)."""
    try:
        import httpx2

        return httpx2.Response
    except ImportError:  # pragma: no cover - openai < 3 uses httpx
        import httpx

        return httpx.Response


class OpenAICompatibleClient:
    """A journaled client of an OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp, TGI).

    ``base_url`` None means OpenAI's API (then the key must be set). A query string in the base URL
    (``?api-version=…&api-key=…``) is sent with every request; credentials in it are never stored.
    Thread-safe; :meth:`map` runs requests on a pool of ``concurrency`` threads.
    """

    def __init__(
        self,
        base_url: str | None,
        api_key_env: str | None,
        model: str,
        *,
        journal: Journal,
        max_retries: int = 5,
        timeout: float = 60.0,
        concurrency: int = 4,
        replay: bool = False,
        base_delay: float = 0.5,
        max_delay: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        self.model = model
        self.journal = journal
        self.max_retries = max_retries
        self.timeout = timeout
        self.concurrency = concurrency
        self.replay = replay
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.api_key_env = api_key_env or DEFAULT_API_KEY_ENV
        self._sleep = sleep
        url = base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        parts = urlsplit(url)
        self._query = dict(parse_qsl(parts.query, keep_blank_values=True))
        self._send_url = urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")).rstrip("/")
        self.endpoint = sanitize_endpoint(url)
        SECRETS.register_url(url)
        self._key: str | None = None
        self._client: Any = None
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._inflight: dict[str, threading.Event] = {}
        if replay:
            return  # answers come from the journal only: no key needed, no connection opened
        key = os.environ.get(self.api_key_env)
        if not key:
            if base_url is None:
                raise MissingApiKey(
                    f"the environment variable {self.api_key_env} is not set; set it to your API key "
                    "(or give --base-url of a local server, or choose the variable with --api-key-env)"
                )
            key = LOCAL_PLACEHOLDER_KEY
        else:
            self._key = key
            SECRETS.register(key)
        import openai

        self._client = openai.OpenAI(
            base_url=self._send_url,
            api_key=key,
            max_retries=0,
            timeout=timeout,
            default_query=self._query or None,
        )

    # ---- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the worker threads and close the HTTP connections."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._client is not None:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- calls -----------------------------------------------------------------------------

    def chat(self, messages: Sequence[Mapping[str, Any]], *, sample: int = 0, **params: Any) -> TeacherReply:
        """A chat completion. ``params`` go into the request body (temperature, n, max_tokens, …)."""
        return self.request(TeacherRequest.chat(messages, sample=sample, **params))

    def complete(self, prompt: str, *, sample: int = 0, **params: Any) -> TeacherReply:
        """A legacy completion of ``prompt``."""
        return self.request(TeacherRequest.completion(prompt, sample=sample, **params))

    def map(
        self, requests: Iterable[TeacherRequest], *, return_exceptions: bool = False
    ) -> list[TeacherReply] | list[TeacherReply | TeacherError]:
        """Run requests on at most ``concurrency`` threads; replies in request order.

        Every request runs to its end (and into the journal) before the first error, if any, is
        raised. With ``return_exceptions`` a :class:`TeacherError` takes its request's place in
        the list instead (other exceptions are still raised).
        """
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="teacher")
            pool = self._pool
        futures: list[Future[TeacherReply]] = [pool.submit(self.request, r) for r in requests]
        replies: list[Any] = []
        first: BaseException | None = None
        for future in futures:
            try:
                replies.append(future.result())
            except TeacherError as exc:
                if not return_exceptions:
                    first = first or exc
                replies.append(exc)
            except BaseException as exc:
                first = first or exc
        if first is not None:
            raise first
        return replies

    def request(self, request: TeacherRequest) -> TeacherReply:
        """Answer one request: from the journal when it holds the answer, else by sending it."""
        body, headers = request.body(self.model)
        SECRETS.register_params(headers)
        stored = Journal.request(
            self.endpoint, request.api, body, sample=request.sample, headers=headers, query=self._query
        )
        if self._key and self._key in canonical_json(stored).decode("utf-8"):
            raise TeacherError(
                f"the request contains the value of {self.api_key_env}; refusing to send or journal it"
            )
        request_hash = content_id(stored)
        event = self._claim(request_hash)
        while event is None:  # an identical request is in flight on another thread: share its answer
            self._wait(request_hash)
            if (call := self.journal.final(request_hash)) is not None:
                return self._from_call(call)
            event = self._claim(request_hash)
        try:
            if (call := self.journal.final(request_hash)) is not None:
                return self._from_call(call)
            if self.replay:
                return self._replayed(request_hash, stored)
            return self._send(request_hash, stored, body, headers)
        finally:
            with self._lock:
                del self._inflight[request_hash]
            event.set()

    # ---- internals -------------------------------------------------------------------------

    def _claim(self, request_hash: str) -> threading.Event | None:
        with self._lock:
            if request_hash in self._inflight:
                return None
            event = self._inflight[request_hash] = threading.Event()
            return event

    def _wait(self, request_hash: str) -> None:
        with self._lock:
            event = self._inflight.get(request_hash)
        if event is not None:
            event.wait()

    def _replayed(self, request_hash: str, stored: Mapping[str, Any]) -> TeacherReply:
        call = self.journal.get(request_hash)
        state = (
            "is not in the journal" if call is None else f"is journaled as {call.status}, without an answer"
        )
        raise NotInJournal(
            f"replay: the {stored['api']} request {request_hash[:12]} to model {stored['model']!r} at "
            f"{stored['endpoint']} {state}; run without --replay to send it",
            request_hash=request_hash,
        )

    def _from_call(self, call: Call) -> TeacherReply:
        """The journaled outcome again: the reply (possibly unusable), or the same refusal raised."""
        refusal = refusal_from_call(call)
        if refusal is not None:
            raise refusal
        return reply_from_call(call)

    def _backoff(self, attempt: int, headers: Mapping[str, str] | None) -> float:
        if headers is not None and (wait := retry_after_seconds(headers)) is not None:
            return min(wait, self.max_delay)
        return min(self.max_delay, self.base_delay * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)

    def _send(
        self,
        request_hash: str,
        stored: Mapping[str, Any],
        body: dict[str, Any],
        headers: Mapping[str, Any] | None,
    ) -> TeacherReply:
        import openai

        path = _PATHS[stored["api"]]
        options: dict[str, Any] = {"headers": dict(headers)} if headers else {}
        response_class = _response_class()
        attempt = 0
        while True:
            attempt += 1
            started = time.perf_counter()
            retry_headers: Mapping[str, str] | None = None
            try:
                response = self._client.post(path, cast_to=response_class, body=body, options=options)
                raw = response.text
            except openai.APIStatusError as exc:
                latency = (time.perf_counter() - started) * 1000
                status = exc.status_code
                raw = redact_optional(exc.response.text)
                reason = f"HTTP {status}: {(raw or '')[:500]}"
                retryable = status in _RETRY_STATUS or status >= 500
                retry_headers = exc.response.headers
            except openai.APIConnectionError as exc:
                latency = (time.perf_counter() - started) * 1000
                status, raw, retryable = None, None, True
                cause = exc.__cause__ or exc
                kind = "timeout" if isinstance(exc, openai.APITimeoutError) else "connection error"
                reason = redact_optional(f"{kind}: {type(cause).__name__}: {cause}") or kind
            except openai.OpenAIError as exc:
                latency = (time.perf_counter() - started) * 1000
                status, raw, retryable = None, None, False
                reason = redact_optional(f"{type(exc).__name__}: {exc}") or type(exc).__name__
            else:
                latency = (time.perf_counter() - started) * 1000
                return self._received(request_hash, stored, response, raw, latency, attempt)
            if retryable and attempt <= self.max_retries:
                self._sleep(self._backoff(attempt, retry_headers))
                continue
            self.journal.record_call(
                request_hash,
                stored,
                status="error",
                attempts=attempt,
                response=raw,
                error=reason,
                http_status=status,
                latency_ms=latency,
            )
            where = f"{stored['api']} request {request_hash[:12]} to {stored['endpoint']}"
            if retryable:
                raise RetriesExhausted(
                    f"{where} failed after {attempt} attempts: {reason}", request_hash=request_hash
                )
            raise TeacherRequestError(
                f"{where} was refused: {reason}", request_hash=request_hash, status=status
            )

    def _received(
        self,
        request_hash: str,
        stored: Mapping[str, Any],
        response: Any,
        raw: str,
        latency: float,
        attempts: int,
    ) -> TeacherReply:
        raw = redact_optional(raw) or ""
        found = digest(stored["api"], raw)
        request_id = redact_optional(response.headers.get("x-request-id")) or found.response_id
        self.journal.record_call(
            request_hash,
            stored,
            status="error" if found.error else "ok",
            attempts=attempts,
            response=raw,
            error=found.error,
            http_status=response.status_code,
            response_model=found.model,
            system_fingerprint=found.system_fingerprint,
            request_id=request_id,
            usage=found.usage,
            latency_ms=latency,
        )
        return TeacherReply(
            texts=found.texts,
            finish_reasons=found.finish_reasons,
            model=found.model,
            system_fingerprint=found.system_fingerprint,
            request_id=request_id,
            usage=found.usage,
            latency_ms=latency,
            request_hash=request_hash,
            from_journal=False,
            attempts=attempts,
            http_status=response.status_code,
            endpoint=stored["endpoint"],
            api=stored["api"],
            requested_model=str(stored["model"]),
            error=found.error,
        )
