"""The journaled OpenAI-compatible teacher client, with the real `openai` client against a local server."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from generators.clients import (
    LOCAL_PLACEHOLDER_KEY,
    MissingApiKey,
    NotInJournal,
    OpenAICompatibleClient,
    RetriesExhausted,
    TeacherError,
    TeacherReply,
    TeacherRequest,
    TeacherRequestError,
    retry_after_seconds,
)
from generators.journal import Journal, sanitize_endpoint
from provenance.core.ids import content_id
from provenance.core.ledger import Ledger
from provenance.testing.fake_openai import (
    FakeOpenAI,
    Reply,
    completion,
    malformed,
    rate_limited,
    server_error,
    truncated,
)

ROOT = Path(__file__).resolve().parents[1]
KEY_ENV = "PROVENANCE_TEST_TEACHER_KEY"
KEY = "sk-test-DISTINCTIVE-5e1f0c9a7b3d"
MESSAGES = [{"role": "user", "content": "Name a colour."}]


@pytest.fixture
def server():
    with FakeOpenAI() as running:
        yield running


@pytest.fixture
def journal(ledger: Ledger) -> Journal:
    with ledger.transaction():
        run_id = ledger.begin_run("generate", {"test": True})
    return Journal(ledger, run_id)


@pytest.fixture
def make_client(journal: Journal, server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    made: list[OpenAICompatibleClient] = []

    def make(**options) -> OpenAICompatibleClient:
        options.setdefault("base_url", server.url)
        options.setdefault("journal", journal)
        options.setdefault("base_delay", 0.01)
        client = OpenAICompatibleClient(options.pop("base_url"), KEY_ENV, "teacher-x", **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def row(ledger: Ledger, request_hash: str) -> dict:
    rows = ledger.rows("SELECT * FROM teacher_calls WHERE request_hash = ?", [request_hash])
    assert len(rows) == 1
    return rows[0]


# ---- the journal -------------------------------------------------------------------------------


def test_sanitize_endpoint_strips_credentials():
    assert sanitize_endpoint("https://user:pw@api.example.com:8443/v1/?api-key=abc#x") == (
        "https://api.example.com:8443/v1"
    )
    assert sanitize_endpoint("http://127.0.0.1:8000/v1") == "http://127.0.0.1:8000/v1"


def test_request_hash_is_the_content_id_of_the_stored_request():
    body = {"model": "m", "messages": MESSAGES, "temperature": 0.7}
    request = Journal.request(
        "http://u:p@h/v1?key=s", "chat", body, headers={"Authorization": "x", "X-Trace": "1"}
    )
    assert request == {
        "endpoint": "http://h/v1",
        "api": "chat",
        "model": "m",
        "body": body,
        "headers": {"X-Trace": "1"},
    }
    assert Journal.request_hash("http://h/v1", "chat", body, headers={"X-Trace": "1"}) == content_id(request)
    assert Journal.request_hash("http://h/v1", "chat", body, sample=1) != content_id(request)
    with pytest.raises(ValueError, match="api must be"):
        Journal.request("http://h/v1", "embeddings", body)


def test_journal_pending_then_result(journal: Journal):
    request = Journal.request("http://h/v1", "completions", {"model": "m", "prompt": "p"})
    request_hash = content_id(request)
    journal.record_pending(request_hash, request)
    assert journal.lookup(request_hash) is None
    assert journal.get(request_hash).status == "pending"
    journal.record_result(request_hash, status="error", attempts=2, error="HTTP 500: boom", http_status=500)
    assert journal.lookup(request_hash) is None
    journal.record_pending(request_hash, request)
    journal.record_result(request_hash, status="ok", attempts=1, response="{}", usage={"total_tokens": 3})
    call = journal.lookup(request_hash)
    assert call is not None and call.attempts == 3 and call.usage == {"total_tokens": 3}
    assert call.request == request and call.error is None and call.completed_at is not None
    with pytest.raises(LookupError, match="record_pending"):
        journal.record_result("0" * 64, status="ok", attempts=1)
    with pytest.raises(ValueError):
        journal.record_pending("0" * 64, request)


# ---- replies and their provenance -------------------------------------------------------------


def test_chat_reply_lands_in_journal(make_client, server: FakeOpenAI, ledger: Ledger, journal: Journal):
    reply = make_client().chat(MESSAGES, temperature=0.0, n=2)
    assert isinstance(reply, TeacherReply) and reply.ok and not reply.from_journal
    assert reply.texts == ("echo: Name a colour.", "echo: Name a colour. #1")
    assert reply.finish_reasons == ("stop", "stop")
    assert reply.model == "fake-teacher-1" and reply.system_fingerprint == "fp_fake_0001"
    assert reply.request_id == "req-1" and reply.usage["total_tokens"] == 3 + 4 + 5
    assert reply.attempts == 1 and reply.latency_ms > 0
    sent = server.requests[0]
    assert sent.path == "/v1/chat/completions"
    assert sent.body == {"model": "teacher-x", "temperature": 0.0, "n": 2, "messages": MESSAGES}
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    stored = row(ledger, reply.request_hash)
    assert stored["status"] == "ok" and stored["api"] == "chat" and stored["model"] == "teacher-x"
    assert stored["run_id"] == journal.run_id and stored["endpoint"] == server.url
    assert stored["response_model"] == "fake-teacher-1" and stored["system_fingerprint"] == "fp_fake_0001"
    assert stored["request_id"] == "req-1" and stored["http_status"] == 200 and stored["attempts"] == 1
    assert json.loads(stored["usage"])["prompt_tokens"] == 3 and stored["latency_ms"] > 0
    assert json.loads(stored["response"])["choices"][0]["message"]["content"] == "echo: Name a colour."
    assert content_id(json.loads(stored["request"])) == reply.request_hash


def test_completion_reply_lands_in_journal(make_client, server: FakeOpenAI, ledger: Ledger):
    reply = make_client().complete("Once upon a time", max_tokens=5)
    assert reply.text == "echo: Once upon a time" and reply.api == "completions"
    assert server.requests[0].path == "/v1/completions"
    assert server.requests[0].body == {"model": "teacher-x", "max_tokens": 5, "prompt": "Once upon a time"}
    stored = row(ledger, reply.request_hash)
    assert stored["status"] == "ok" and stored["api"] == "completions" and stored["request_id"] == "req-1"


def test_same_request_again_comes_from_the_journal(make_client, server: FakeOpenAI):
    client = make_client()
    first = client.chat(MESSAGES, temperature=0.7)
    again = client.chat(MESSAGES, temperature=0.7)
    assert server.count() == 1
    assert again.from_journal and again.texts == first.texts and again.request_hash == first.request_hash
    assert again.request_id == first.request_id and again.usage == first.usage
    other_sample = client.chat(MESSAGES, temperature=0.7, sample=1)
    assert server.count() == 2 and not other_sample.from_journal
    assert server.requests[1].body == server.requests[0].body  # `sample` is hashed, never sent


# ---- retries ------------------------------------------------------------------------------------


def test_retries_on_429_and_500_then_succeed(make_client, server: FakeOpenAI, ledger: Ledger):
    server.push(rate_limited("0.4"), server_error(500))
    started = time.perf_counter()
    reply = make_client(max_retries=3).chat(MESSAGES)
    assert time.perf_counter() - started >= 0.4  # Retry-After honoured, not the 10 ms base delay
    assert reply.ok and reply.attempts == 3 and server.count() == 3
    stored = row(ledger, reply.request_hash)
    assert stored["status"] == "ok" and stored["attempts"] == 3 and stored["http_status"] == 200


def test_exhausted_retries_raise_and_journal_says_error(make_client, server: FakeOpenAI, ledger: Ledger):
    server.push(server_error(503), server_error(503), server_error(503))
    client = make_client(max_retries=2)
    with pytest.raises(RetriesExhausted, match="after 3 attempts: HTTP 503") as info:
        client.chat(MESSAGES)
    assert server.count() == 3
    stored = row(ledger, info.value.request_hash)
    assert stored["status"] == "error" and stored["http_status"] == 503 and stored["attempts"] == 3
    assert "HTTP 503" in stored["error"] and "internal error" in stored["response"]
    reply = client.chat(MESSAGES)  # a later run sends it again; attempts add up
    assert reply.ok and not reply.from_journal and server.count() == 4
    assert row(ledger, reply.request_hash)["attempts"] == 4


def test_timeouts_are_retried(make_client, server: FakeOpenAI, ledger: Ledger):
    server.push(Reply(200, {"never": "read"}, delay=1.0))
    reply = make_client(timeout=0.3, max_retries=1).chat(MESSAGES)
    assert reply.ok and reply.attempts == 2 and server.count() == 2


def test_client_errors_are_not_retried(make_client, server: FakeOpenAI, ledger: Ledger):
    server.push(Reply(400, {"error": {"message": "bad temperature"}}))
    with pytest.raises(TeacherRequestError, match=r"refused: HTTP 400.*bad temperature") as info:
        make_client().chat(MESSAGES, temperature=9)
    assert server.count() == 1
    assert row(ledger, info.value.request_hash)["status"] == "error"


def test_retry_after_forms():
    assert retry_after_seconds({"Retry-After": "2"}) == 2.0
    assert retry_after_seconds({"retry-after-ms": "250"}) == 0.25
    assert retry_after_seconds({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert retry_after_seconds({"Retry-After": "soon"}) is None
    assert retry_after_seconds({}) is None


# ---- bad responses ---------------------------------------------------------------------------------


def test_malformed_json_is_recorded_not_raised(make_client, server: FakeOpenAI, ledger: Ledger):
    server.push(malformed())
    reply = make_client().chat(MESSAGES)
    assert not reply.ok and reply.texts == () and reply.text == ""
    assert reply.error.startswith("response is not JSON")
    stored = row(ledger, reply.request_hash)
    assert stored["status"] == "error" and stored["error"] == reply.error
    assert stored["response"] == '{"id": "x", "choices": [' and stored["http_status"] == 200


def test_json_where_text_was_expected_is_recorded(make_client, server: FakeOpenAI, ledger: Ledger):
    def object_content(request):
        body = completion(request, ["placeholder"])
        body["choices"][0]["message"]["content"] = {"instruction": "not text"}
        return Reply(200, body)

    server.handler = object_content
    reply = make_client().chat(MESSAGES)
    assert reply.error == "choice 0 message content is JSON dict, not text"
    assert reply.model == "fake-teacher-1"
    server.handler = lambda request: Reply(200, {"error": {"message": "overloaded"}})
    reply = make_client().complete("x")
    assert reply.error.startswith("response has no choices") and "overloaded" in reply.error
    assert row(ledger, reply.request_hash)["status"] == "error"


def test_truncated_body_is_retried_then_recorded(make_client, server: FakeOpenAI, ledger: Ledger):
    server.push(truncated())
    reply = make_client(max_retries=2).chat(MESSAGES)
    assert reply.ok and reply.attempts == 2
    server.push(truncated())
    with pytest.raises(RetriesExhausted, match="connection error") as info:
        make_client(max_retries=0).complete("cut me off")
    stored = row(ledger, info.value.request_hash)
    assert stored["status"] == "error" and stored["error"].startswith("connection error")
    assert stored["response"] is None


# ---- replay ------------------------------------------------------------------------------------


def test_replay_answers_from_journal_without_a_server(make_client, server: FakeOpenAI):
    live = make_client()
    recorded = live.chat(MESSAGES)
    server.push(malformed("garbage"))
    bad = live.complete("garbage please")
    server.stop()
    count = server.count()
    replay = make_client(replay=True)
    again = replay.chat(MESSAGES)
    assert again.from_journal and again.texts == recorded.texts and again.request_id == recorded.request_id
    assert replay.complete("garbage please").error == bad.error  # the recorded unusable answer
    with pytest.raises(NotInJournal, match="is not in the journal; run without --replay"):
        replay.chat([{"role": "user", "content": "never asked"}])
    with pytest.raises(NotInJournal):
        replay.map([TeacherRequest.chat(MESSAGES), TeacherRequest.completion("never asked")])
    assert server.count() == count


def test_replay_needs_no_key(journal: Journal, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    client = OpenAICompatibleClient(None, None, "gpt-x", journal=journal, replay=True)
    with pytest.raises(NotInJournal, match=re.escape("https://api.openai.com/v1")):
        client.chat(MESSAGES)


# ---- keys --------------------------------------------------------------------------------------


def test_missing_key_for_openai_is_a_clear_error(journal: Journal, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("MY_TEACHER_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(MissingApiKey, match="MY_TEACHER_KEY is not set") as info:
        OpenAICompatibleClient(None, "MY_TEACHER_KEY", "gpt-x", journal=journal)
    assert info.value.exit_code == 2


def test_local_endpoint_without_key_sends_a_placeholder(journal: Journal, server: FakeOpenAI, monkeypatch):
    monkeypatch.delenv("MY_TEACHER_KEY", raising=False)
    with OpenAICompatibleClient(server.url, "MY_TEACHER_KEY", "local", journal=journal) as client:
        assert client.complete("hi").ok
    assert server.requests[0].headers["authorization"] == f"Bearer {LOCAL_PLACEHOLDER_KEY}"


def test_key_is_never_stored(db: Path, server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    query_secret, password = "QSECRET-8d7c6b5a", "PWSECRET-1a2b3c4d"
    port = server.url.split(":")[2].split("/")[0]
    base_url = f"http://user:{password}@127.0.0.1:{port}/v1?api-key={query_secret}&api-version=2024-06-01"
    server.handler = lambda request: Reply(200, completion(request, [f"leaked {KEY}"]))
    with Ledger.open(db) as ledger:
        with ledger.transaction():
            run_id = ledger.begin_run("generate")
        journal = Journal(ledger, run_id)
        with OpenAICompatibleClient(base_url, KEY_ENV, "m", journal=journal, base_delay=0.01) as client:
            reply = client.chat(MESSAGES, extra_headers={"api-key": KEY, "X-Trace": "t1"})
            server.handler = lambda request: Reply(401, {"error": {"message": f"bad key {KEY}"}})
            with pytest.raises(TeacherRequestError) as info:
                client.complete("p")
            with pytest.raises(TeacherError, match="contains the value of"):
                client.complete(f"my key is {KEY}")
        assert KEY not in str(info.value)
        assert server.requests[0].query == f"api-key={query_secret}&api-version=2024-06-01"
        assert server.requests[0].headers["api-key"] == KEY
        rows = ledger.rows("SELECT * FROM teacher_calls")
        stored = json.loads(rows[0]["request"])
        assert stored["query"] == {"api-version": "2024-06-01"} and stored["headers"] == {"X-Trace": "t1"}
        assert reply.text == "leaked ***"
    assert len(rows) == 2
    for secret in (KEY, query_secret, password):
        assert secret not in json.dumps(rows, default=str)
        for path in db.parent.glob(db.name + "*"):
            assert secret.encode() not in path.read_bytes(), path


def test_basic_auth_echoed_by_the_server_is_never_stored(db: Path, monkeypatch: pytest.MonkeyPatch):
    """Credentials in the base URL go out as HTTP Basic auth; a server that echoes the header (in
    its body, its fingerprint and its x-request-id) gets every form of them masked."""
    import base64

    monkeypatch.delenv(KEY_ENV, raising=False)
    basic = base64.b64encode(b"alice:Pw-7f3e@9c").decode()

    def echo_auth(request):
        auth = request.headers.get("authorization", "")
        body = {**completion(request, ["fine"]), "system_fingerprint": auth}
        return Reply(200, body, {"x-request-id": f"req {auth}"})

    with FakeOpenAI(echo_auth, echo_headers=True) as server, Ledger.open(db) as ledger:
        with ledger.transaction():
            run_id = ledger.begin_run("generate")
        url = server.url.replace("http://", "http://alice:Pw-7f3e%409c@")
        with OpenAICompatibleClient(url, KEY_ENV, "m", journal=Journal(ledger, run_id)) as client:
            reply = client.chat(MESSAGES)
        assert server.requests[0].headers["authorization"] == f"Basic {basic}"
        assert reply.ok and reply.text == "fine"
        assert reply.system_fingerprint == "Basic ***" and reply.request_id.endswith("req Basic ***")
        stored = json.dumps(ledger.rows("SELECT * FROM teacher_calls"), default=str)
    assert "Basic ***" in stored and stored.count("alice") == 0
    for secret in (basic, "Pw-7f3e@9c", "Pw-7f3e%409c"):
        assert secret not in stored


def test_key_like_headers_are_masked_when_echoed(journal: Journal, monkeypatch: pytest.MonkeyPatch):
    """A credential passed as an extra header is neither stored in the request nor in an echo of it."""
    monkeypatch.delenv(KEY_ENV, raising=False)
    token = "hdr-token-0c4f2a9e71"
    with FakeOpenAI(echo_headers=True) as server:
        with OpenAICompatibleClient(server.url, KEY_ENV, "m", journal=journal) as client:
            reply = client.complete("hi", extra_headers={"X-Api-Token": token})
        assert server.requests[0].headers["x-api-token"] == token
    call = journal.get(reply.request_hash)
    assert call is not None and "x-api-token" in (call.response or "")
    assert token not in json.dumps([call.request, call.response])


# ---- concurrency -------------------------------------------------------------------------------


def test_bounded_concurrency(make_client, server: FakeOpenAI):
    server.delay = 0.2
    client = make_client(concurrency=4)
    requests = [TeacherRequest.completion(f"prompt {i}") for i in range(8)]
    started = time.perf_counter()
    replies = client.map(requests)
    elapsed = time.perf_counter() - started
    assert [r.text for r in replies] == [f"echo: prompt {i}" for i in range(8)]
    assert 0.38 <= elapsed < 5 * 0.2  # two rounds of four: bounded, and concurrent
    arrivals = sorted(r.at for r in server.requests)
    assert arrivals[4] - arrivals[0] >= 0.18  # the fifth waited for a free worker


def test_identical_requests_in_flight_are_sent_once(make_client, server: FakeOpenAI):
    server.delay = 0.1
    replies = make_client(concurrency=4).map([TeacherRequest.chat(MESSAGES)] * 4)
    assert server.count() == 1
    assert len({r.request_hash for r in replies}) == 1 and sum(not r.from_journal for r in replies) == 1


def test_map_journals_everything_before_raising(make_client, server: FakeOpenAI, ledger: Ledger):
    server.push(Reply(400, {"error": {"message": "no"}}))
    client = make_client(concurrency=1)
    with pytest.raises(TeacherRequestError):
        client.map([TeacherRequest.completion(f"p{i}") for i in range(3)])
    statuses = [r["status"] for r in ledger.rows("SELECT status FROM teacher_calls ORDER BY status")]
    assert statuses == ["error", "ok", "ok"]


# ---- kill and resume ---------------------------------------------------------------------------

WORKER = textwrap.dedent(
    """
    import sys
    from generators.clients import OpenAICompatibleClient
    from generators.journal import Journal
    from provenance.core.ledger import Ledger

    db, url, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with Ledger.open(db) as ledger:
        with ledger.transaction():
            run_id = ledger.begin_run("generate")
        journal = Journal(ledger, run_id)
        with OpenAICompatibleClient(url, "{env}", "teacher-x", journal=journal, concurrency=1) as client:
            for i in range(n):
                client.complete(f"task {{i}}")
    """
).format(env=KEY_ENV)


@pytest.mark.slow
def test_killed_run_resumes_without_resending(tmp_path: Path, db: Path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, KEY_ENV: KEY, "PYTHONPATH": str(ROOT)}
    n = 8
    with FakeOpenAI(delay=0.15) as server:
        args = [sys.executable, str(script), str(db), server.url, str(n)]
        worker = subprocess.Popen(args, cwd=ROOT, env=env, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while server.answered < 3:
            assert worker.poll() is None, worker.stderr.read().decode()
            assert time.monotonic() < deadline, "the worker made no progress"
            time.sleep(0.01)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
        assert worker.returncode == -signal.SIGKILL
        with Ledger.open(db) as ledger:
            done = {
                json.loads(r["request"])["body"]["prompt"]
                for r in ledger.rows("SELECT request FROM teacher_calls WHERE status = 'ok'")
            }
        assert 2 <= len(done) < n
        before = server.count()
        rerun = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, timeout=120)
        assert rerun.returncode == 0, rerun.stderr.decode()
        resent = [r.body["prompt"] for r in server.requests[before:]]
    assert not done & set(resent)  # completed calls are never sent again
    assert len(server.requests) <= n + 1  # at most the one in flight at the kill is sent twice
    with Ledger.open(db) as ledger:
        rows = ledger.rows("SELECT request, status, run_id FROM teacher_calls")
        runs = ledger.rows("SELECT run_id FROM runs")
    prompts = sorted(json.loads(r["request"])["body"]["prompt"] for r in rows)
    assert prompts == sorted(f"task {i}" for i in range(n))  # every call once
    assert {r["status"] for r in rows} == {"ok"} and len(runs) == 2
