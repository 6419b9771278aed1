"""Secrets never stored or printed in any form (issue 15, section 4).

The attack: credentials in a base URL (``user:password@host``) are sent as HTTP Basic auth, an API
key from the environment as ``Bearer <key>``, and a server echoes the Authorization header (and the
URL) into its replies, its error bodies and its ``x-request-id``. Nothing of it may reach the ledger
(any table, the file's bytes, the audit payloads), ``stats --json``, ``journal export``, the
commands' output or a failing call's error. The commands run as subprocesses, and the read-only
commands without the key in their environment: what protects their output is what was stored.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from provenance.core.secrets import MASK, Secrets, redact_json
from provenance.testing.fake_openai import FakeOpenAI, Received, Reply
from provenance.testing.fake_teacher import ScriptedTeacher
from tests.conftest import EXAMPLES, ROOT, run_cli

TEACHER = "gpt-3.5-turbo-instruct"
USER, PASSWORD = "user", "s3cr@t"  # given in the URL as s3cr%40t
KEY_ENV = "PROVENANCE_TEST_SECRET_KEY"
KEY = "sk-test-Zq7/Kx+9_Wv2=Lr5Tn8Pq"  # characters that URL-encoding and base64 change


def lower_escapes(text: str) -> str:
    """``text`` with its percent escapes in lower case (``%2f``), as some clients write them."""
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), text)


def b64(text: str) -> list[str]:
    """The base64 forms of ``text``: standard and URL-safe, with and without padding."""
    data = text.encode()
    forms = [base64.b64encode(data).decode(), base64.urlsafe_b64encode(data).decode()]
    return forms + [f.rstrip("=") for f in forms]


#: Every form of the two credentials that must never appear anywhere.
FORBIDDEN: list[str] = sorted(
    {
        PASSWORD,
        quote(PASSWORD, safe=""),  # s3cr%40t, as given in the URL
        lower_escapes(quote(PASSWORD, safe="")),
        *b64(f"{USER}:{PASSWORD}"),  # what HTTP Basic auth sends
        *b64(f"{USER}:{quote(PASSWORD, safe='')}"),
        *b64(PASSWORD),
        KEY,
        f"Bearer {KEY}",
        quote(KEY, safe=""),
        quote(KEY),
        quote_plus(KEY),
        lower_escapes(quote(KEY, safe="")),
        json.dumps(KEY)[1:-1],
        *b64(KEY),
    }
)


def leaks(text: str | bytes | None) -> list[str]:
    """The forbidden forms found in ``text``."""
    if text is None:
        return []
    if isinstance(text, bytes):
        return [f for f in FORBIDDEN if f.encode() in text]
    return [f for f in FORBIDDEN if f in text]


# ---- the redaction function, form by form ------------------------------------------------------


@pytest.mark.parametrize("form", FORBIDDEN)
def test_redact_masks_every_form(form: str):
    secrets = Secrets()
    secrets.register_url(f"http://{USER}:{quote(PASSWORD, safe='')}@127.0.0.1:8000/v1")
    secrets.register(KEY)
    masked = secrets.redact(f"before {form} after")
    assert masked == f"before {MASK} after" or masked == f"before Bearer {MASK} after"


def test_redact_masks_urls_json_and_query_credentials_and_leaves_other_text_alone():
    secrets = Secrets()
    secrets.register_url(
        "https://bob:p%C3%A4ss%2Fw0rd@h.example/v1?api-key=QKEY-123456&api-version=2024-06-01"
    )
    password = "päss/w0rd"
    for form in (
        password,
        "p%C3%A4ss%2Fw0rd",
        "p%c3%a4ss%2fw0rd",
        "p%C3%A4ss/w0rd",
        json.dumps(password)[1:-1],  # p\u00e4ss/w0rd
        "bob:p%C3%A4ss%2Fw0rd",
        *b64(f"bob:{password}"),
        "QKEY-123456",
    ):
        assert secrets.redact(f"<{form}>") == f"<{MASK}>", form
    assert secrets.redact("https://bob:p%C3%A4ss%2Fw0rd@h.example/v1") == f"https://{MASK}@h.example/v1"
    ordinary = "api-version=2024-06-01, bob, passwords, Basic auth"
    assert secrets.redact(ordinary) == ordinary


def test_key_like_headers_are_registered_with_their_tokens():
    secrets = Secrets()
    secrets.register_params({"Authorization": "Bearer tok-0123456789", "X-Trace": "trace-0123456789"})
    assert secrets.redact("tok-0123456789 trace-0123456789") == f"{MASK} trace-0123456789"
    assert secrets.redact(b64("tok-0123456789")[0]) == MASK


def test_a_short_password_is_masked_in_its_longer_forms_only():
    secrets = Secrets()
    secrets.register_url("http://admin:pw@h/v1")
    assert secrets.redact("pw") == "pw"  # alone it would mangle ordinary text
    assert secrets.redact("admin:pw") == MASK
    assert secrets.redact("Basic " + b64("admin:pw")[0]) == f"Basic {MASK}"


def test_redact_json_keeps_the_json_valid():
    from provenance.core.secrets import SECRETS

    SECRETS.register('k"e\\y-0123456789')
    text = redact_json({'k"e\\y-0123456789': ['x k"e\\y-0123456789 y', 3, None]}, ensure_ascii=True)
    assert json.loads(text) == {MASK: [f"x {MASK} y", 3, None]}
    assert redact_json({"a": 1.5, "b": [True]}) == json.dumps({"a": 1.5, "b": [True]})


# ---- the attack, end to end ---------------------------------------------------------------------


def echo_everywhere(request: Received) -> Reply:
    """A Self-Instruct / Alpaca teacher that also echoes the Authorization header into the reply's
    fingerprint, id and ``x-request-id`` (the server adds ``echo`` with the URL and headers)."""
    reply = ScriptedTeacher()(request)
    auth = request.headers.get("authorization", "")
    if isinstance(reply.body, dict):
        reply.body.update(system_fingerprint=f"fp {auth}", id=f"id {auth}")
    reply.headers["x-request-id"] = f"req {auth}"
    return reply


def refuse_and_echo(request: Received) -> Reply:
    """A 401 whose message names the credentials it was sent."""
    auth = request.headers.get("authorization", "")
    return Reply(401, {"error": {"message": f"bad credentials {auth} for {request.path}?{request.query}"}})


def cli(db: Path, *args: str, key: bool = False) -> subprocess.CompletedProcess[str]:
    """``provenance --db DB ARGS`` in a process of its own (with the key in its environment when asked)."""
    env = {k: v for k, v in os.environ.items() if k != KEY_ENV}
    env.update(PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1")
    if key:
        env[KEY_ENV] = KEY
    argv = [sys.executable, "-c", "from provenance.cli import main; main()", "--db", str(db), *args]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)


def userinfo_url(server: FakeOpenAI) -> str:
    """The server's base URL with the credentials in it."""
    return server.url.replace("http://", f"http://{USER}:{quote(PASSWORD, safe='')}@")


@dataclass
class Attack:
    """What the attacked commands left behind."""

    db: Path
    commands: dict[str, subprocess.CompletedProcess[str]]
    received: list[str]  # the Authorization headers the servers got
    export: str


def generate(db: Path, url: str, *, key: bool) -> subprocess.CompletedProcess[str]:
    args = ["generate", "alpaca", "--teacher", TEACHER, "-n", "5", "--base-url", url, "--json"]
    return cli(db, *args, *(["--api-key-env", KEY_ENV] if key else []), key=key)


@pytest.fixture(scope="module")
def attack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Attack]:
    """Three generations against echoing servers: credentials in the URL (Basic auth), the key in
    the environment (Bearer), and a server that refuses with the credentials in its message; then
    ``stats --json`` and ``journal export`` in processes that hold no credential."""
    folder = tmp_path_factory.mktemp("secrets")
    db = folder / "ledger.duckdb"
    assert (
        run_cli(
            "seeds", "import", str(EXAMPLES / "seed_tasks.jsonl"), "--licence", "Apache-2.0", db=db
        ).exit_code
        == 0
    )
    commands: dict[str, subprocess.CompletedProcess[str]] = {}
    with (
        FakeOpenAI(echo_everywhere, echo_headers=True) as basic,
        FakeOpenAI(echo_everywhere, echo_headers=True) as bearer,
        FakeOpenAI(refuse_and_echo, echo_headers=True) as refusing,
    ):
        commands["generate (user info)"] = generate(db, userinfo_url(basic), key=False)
        commands["generate (key)"] = generate(db, bearer.url, key=True)
        commands["generate (refused)"] = generate(
            db, userinfo_url(refusing) + "?api-key=" + quote(KEY, safe=""), key=True
        )
        received = [r.headers.get("authorization", "") for s in (basic, bearer, refusing) for r in s.requests]
    commands["stats --json"] = cli(db, "stats", "--json")
    exported = folder / "calls.jsonl"
    commands["journal export"] = cli(db, "journal", "export", str(exported))
    commands["verify"] = cli(db, "verify")
    yield Attack(db, commands, received, exported.read_text("utf-8"))


def test_the_attack_was_mounted(attack: Attack):
    """The servers got the credentials (Basic and Bearer) and the generations ran as expected."""
    assert f"Basic {b64(f'{USER}:{PASSWORD}')[0]}" in attack.received
    assert f"Bearer {KEY}" in attack.received
    assert attack.commands["generate (user info)"].returncode == 0, attack.commands[
        "generate (user info)"
    ].stderr
    assert attack.commands["generate (key)"].returncode == 0, attack.commands["generate (key)"].stderr
    assert attack.commands["generate (refused)"].returncode != 0
    assert "401" in attack.commands["generate (refused)"].stderr
    assert attack.commands["stats --json"].returncode == 0
    assert attack.commands["journal export"].returncode == 0
    assert attack.commands["verify"].returncode == 0, attack.commands["verify"].stdout


def text_columns(db: Path) -> dict[str, list[str]]:
    """Every value of every column of every table, as text, by ``table.column``."""
    from provenance.core.ledger import Ledger

    found: dict[str, list[str]] = {}
    with Ledger.open(db, read_only=True) as ledger:
        columns = ledger.rows(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'main' AND table_catalog = current_database() ORDER BY 1, 2"
        )
        for c in columns:
            table, column = c["table_name"], c["column_name"]
            values = ledger.rows(f'SELECT CAST("{column}" AS VARCHAR) AS v FROM "{table}"')
            found[f"{table}.{column}"] = [v["v"] for v in values if v["v"] is not None]
    return found


def test_no_secret_in_any_table_of_the_ledger(attack: Attack):
    columns = text_columns(attack.db)
    assert {"teacher_calls.response", "runs.summary", "audit_log.payload"} <= set(columns)
    echoed = [v for v in columns["teacher_calls.response"] if '"authorization"' in v]
    assert echoed, "the servers' echo of the headers should be in the journal (masked)"
    assert all(MASK in v for v in echoed)
    found = {name: leaks("\n".join(values)) for name, values in columns.items()}
    assert {name: forms for name, forms in found.items() if forms} == {}


def test_no_secret_in_the_teacher_calls(attack: Attack):
    columns = text_columns(attack.db)
    calls = {name: values for name, values in columns.items() if name.startswith("teacher_calls.")}
    assert calls["teacher_calls.error"], "the refused call's error is journaled"
    assert leaks(json.dumps(calls)) == []


def test_no_secret_in_the_runs(attack: Attack):
    columns = text_columns(attack.db)
    runs = columns["runs.params"] + columns["runs.summary"]
    assert any("401" in s for s in columns["runs.summary"]), "the refused run's error is in its summary"
    assert leaks("\n".join(runs)) == []


def test_no_secret_in_the_audit_log_payloads(attack: Attack):
    payloads = text_columns(attack.db)["audit_log.payload"]
    assert len(payloads) >= 4
    assert leaks("\n".join(payloads)) == []


def test_no_secret_in_the_ledger_file_bytes(attack: Attack):
    files = [p for p in attack.db.parent.iterdir() if p.name.startswith(attack.db.name)]
    assert attack.db in files
    for path in files:
        assert leaks(path.read_bytes()) == [], path


def test_endpoints_are_stored_without_userinfo(attack: Attack):
    columns = text_columns(attack.db)
    endpoints = (
        columns["teacher_calls.endpoint"] + columns["teachers.endpoint"] + columns["generations.endpoint"]
    )
    assert endpoints and all(e.startswith("http://127.0.0.1:") for e in endpoints), endpoints
    assert not any(USER in e for e in endpoints)


def test_no_secret_in_stats_json(attack: Attack):
    stats = attack.commands["stats --json"]
    json.loads(stats.stdout)
    assert leaks(stats.stdout) == [] and leaks(stats.stderr) == []


def test_no_secret_in_journal_export(attack: Attack):
    lines = [json.loads(line) for line in attack.export.splitlines()]
    assert any("authorization" in (c["response"] or "") for c in lines)
    assert leaks(attack.export) == []


def test_no_secret_on_stdout_or_stderr_of_any_command(attack: Attack):
    for name, result in attack.commands.items():
        assert leaks(result.stdout) == [], f"{name} stdout"
        assert leaks(result.stderr) == [], f"{name} stderr"


def test_no_secret_in_a_failing_calls_error(attack: Attack):
    refused = attack.commands["generate (refused)"]
    assert "bad credentials" in refused.stderr and MASK in refused.stderr
    assert leaks(refused.stderr) == []
    errors = text_columns(attack.db)["teacher_calls.error"]
    assert any("bad credentials" in e for e in errors)
    assert leaks("\n".join(errors)) == []


def test_no_secret_in_a_failing_calls_exception(ledger, monkeypatch: pytest.MonkeyPatch):
    """In process: the exception a refused call raises, and what it journals, hold no credential."""
    from generators.clients import OpenAICompatibleClient, TeacherRequestError
    from generators.journal import Journal

    monkeypatch.setenv(KEY_ENV, KEY)
    with ledger.transaction():
        run_id = ledger.begin_run("generate", {"test": True})
    with FakeOpenAI(refuse_and_echo, echo_headers=True) as server:
        for url in (userinfo_url(server), server.url):
            journal = Journal(ledger, run_id)
            with (
                OpenAICompatibleClient(url, KEY_ENV, "m", journal=journal, max_retries=0) as client,
                pytest.raises(TeacherRequestError) as info,
            ):
                client.complete(f"prompt for {url[:12]}")
            assert "bad credentials" in str(info.value)
            assert leaks(str(info.value)) == [], url
            assert leaks(json.dumps([c.error for c in journal.calls()])) == []
