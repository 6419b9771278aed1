"""A real local OpenAI-compatible HTTP server for tests.

``FakeOpenAI`` serves ``POST /v1/chat/completions`` and ``POST /v1/completions`` on 127.0.0.1 (a
free port) from a thread. Each request is answered by the next scripted :class:`Reply` (see
:meth:`FakeOpenAI.push`), else by ``handler(request)``, else by an echo of the prompt. Every
request is recorded (path, headers, body) before it is answered. With ``echo_headers`` every JSON
object reply also carries ``"echo": {"url": ..., "headers": {...}}``, the request's path with its
query string and its headers (Authorization included), as a careless or hostile server might.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

MODEL = "fake-teacher-1"
FINGERPRINT = "fp_fake_0001"


@dataclass
class Reply:
    """One scripted answer. ``body``: a dict is sent as JSON, a str or bytes verbatim."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    truncate: bool = False  # promise more bytes than are sent, then close the connection


@dataclass(frozen=True)
class Received:
    """One request the server received."""

    path: str  # without the query string
    query: str
    headers: dict[str, str]
    body: Any  # the parsed JSON, or None when it was not JSON
    raw: bytes
    at: float


def rate_limited(retry_after: str = "0", message: str = "rate limited") -> Reply:
    """A 429 with a Retry-After header."""
    return Reply(429, {"error": {"message": message, "type": "rate_limit"}}, {"Retry-After": retry_after})


def server_error(status: int = 500) -> Reply:
    """A 5xx with an OpenAI-style error body."""
    return Reply(status, {"error": {"message": "internal error", "type": "server_error"}})


def malformed(text: str = '{"id": "x", "choices": [') -> Reply:
    """A 200 whose body is not JSON."""
    return Reply(200, text)


def truncated() -> Reply:
    """A 200 whose body is cut off before its announced length."""
    return Reply(200, '{"id": "cmpl-cut", "object": "chat.completion", "choices": [{"ind', truncate=True)


def _prompt_text(request: Received) -> str:
    body = request.body if isinstance(request.body, dict) else {}
    if body.get("messages"):
        return str(body["messages"][-1].get("content", ""))
    return str(body.get("prompt", ""))


def completion(request: Received, texts: list[str], *, finish_reason: str = "stop") -> dict[str, Any]:
    """A well-formed chat or legacy completion body for ``request`` with the given choice texts."""
    chat = request.path.endswith("/chat/completions")
    prompt_tokens = len(_prompt_text(request).split())
    completion_tokens = sum(len(t.split()) for t in texts)
    if chat:
        choices = [
            {"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": finish_reason}
            for i, t in enumerate(texts)
        ]
    else:
        choices = [
            {"index": i, "text": t, "finish_reason": finish_reason, "logprobs": None}
            for i, t in enumerate(texts)
        ]
    return {
        "id": f"{'chatcmpl' if chat else 'cmpl'}-{abs(hash(request.raw)) % 10**12}",
        "object": "chat.completion" if chat else "text_completion",
        "created": int(time.time()),
        "model": MODEL,
        "system_fingerprint": FINGERPRINT,
        "choices": choices,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def echo(request: Received) -> Reply:
    """The default answer: ``echo: <prompt>`` for each of the ``n`` choices asked for."""
    n = request.body.get("n", 1) if isinstance(request.body, dict) else 1
    text = f"echo: {_prompt_text(request)}"
    return Reply(200, completion(request, [f"{text} #{i}" if i else text for i in range(n)]))


class FakeOpenAI:
    """The server; use as a context manager. ``url`` is the base URL to give a client."""

    def __init__(
        self,
        handler: Callable[[Received], Reply] | None = None,
        *,
        delay: float = 0.0,
        echo_headers: bool = False,
    ) -> None:
        self.handler = handler or echo
        self.delay = delay
        self.echo_headers = echo_headers
        self.requests: list[Received] = []
        self.answered = 0
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._connections: set[socket.socket] = set()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopped = False

    def push(self, *replies: Reply) -> None:
        """Queue scripted replies; they answer the next requests, in order."""
        with self._lock:
            self._script.extend(replies)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT/v1``."""
        assert self._server is not None, "the server is not running"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def count(self, path_suffix: str = "") -> int:
        """How many requests arrived (on paths ending with ``path_suffix``)."""
        with self._lock:
            return sum(1 for r in self.requests if r.path.endswith(path_suffix))

    def start(self) -> Self:
        """Start serving in a daemon thread."""
        server = _Server(("127.0.0.1", 0), _handler_class(self))
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop every open connection."""
        if self._server is None or self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # called from the handler threads
    def _answer(self, received: Received) -> Reply:
        with self._lock:
            self.requests.append(received)
            scripted = self._script.popleft() if self._script else None
        reply = scripted if scripted is not None else self.handler(received)
        if self.echo_headers and isinstance(reply.body, dict):
            url = f"{received.path}?{received.query}" if received.query else received.path
            reply = replace(reply, body={**reply.body, "echo": {"url": url, "headers": received.headers}})
        return reply


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up (timeouts, a killed process) are expected here; stay quiet."""


def _handler_class(server: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go in two writes: no 40 ms delayed-ACK stall

        def setup(self) -> None:
            super().setup()
            with server._lock:
                server._connections.add(self.connection)

        def finish(self) -> None:
            with server._lock:
                server._connections.discard(self.connection)
            super().finish()

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            path, _, query = self.path.partition("?")
            headers = {k.lower(): v for k, v in self.headers.items()}
            received = Received(path, query, headers, body, raw, time.time())
            if path not in ("/v1/chat/completions", "/v1/completions"):
                reply = Reply(404, {"error": {"message": f"no route {path}"}})
            else:
                reply = server._answer(received)
            if server.delay or reply.delay:
                time.sleep(server.delay + reply.delay)
            payload = reply.body
            if isinstance(payload, dict | list):
                data = json.dumps(payload).encode()
            elif isinstance(payload, str):
                data = payload.encode()
            else:
                data = payload or b""
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("x-request-id", f"req-{next(server._ids)}")
            for key, value in reply.headers.items():
                self.send_header(key, value)
            if reply.truncate:
                self.send_header("Content-Length", str(len(data) + 100))
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
            else:
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            with server._lock:
                server.answered += 1

    return Handler
