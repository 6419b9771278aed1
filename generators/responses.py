"""Responses: a teacher answers a file of instructions (distilling outputs for given tasks).

Each record of the prompts file (JSON lines or a JSON list) has an ``instruction`` and optionally
an ``input``, an ``id`` and a verbatim ``prompt``; without a prompt, the template
``responses/prompt.txt`` builds one. One request per record; the reply, verbatim, becomes the
example's output. Sampling parameters are sent only when given (``--temperature``,
``--max-tokens``): otherwise the endpoint's defaults apply, and the journal says exactly what was
sent. Each example's claim keeps the record's position, id and the prompt verbatim.

:func:`log_to_calls` turns an existing prompt/response log (Self-Instruct's prediction files, a
vendor's export) into teacher-call journal rows for exactly the requests this generator sends, so
``--replay`` can rerun the distillation from the log with no network. Such a row says that it was
reconstructed: only the response text is original.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generators.clients import TeacherRequest
from generators.generation import (
    QUOTA,
    Candidate,
    Generation,
    GenerationSpec,
    GeneratorConfig,
    NewExample,
    Round,
    Templates,
    reply_problem,
)
from generators.journal import Journal, import_rows, sanitize_endpoint
from provenance.core.errors import InputError
from provenance.core.ids import content_id, digest_file
from provenance.core.ledger import Ledger
from provenance.core.models import Example, Method

PROMPT = "responses/prompt.txt"
TEMPLATE_NAMES = (PROMPT,)


@dataclass(frozen=True)
class PromptRecord:
    """One task of the prompts file."""

    index: int
    line: int | None
    record_id: str | None
    instruction: str
    input: str
    prompt: str | None
    response: str | None = None  # only in prompt/response logs


@dataclass(frozen=True)
class ResponsesConfig(GeneratorConfig):
    """What is sent besides the prompt (nothing unless given)."""

    api: str = "completions"
    round_size: int = 16
    temperature: float | None = None
    max_tokens: int | None = None
    extra_params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.check_common()

    def body_params(self) -> dict[str, Any]:
        """The request body's parameters besides model and prompt."""
        out = dict(self.extra_params)
        if self.temperature is not None:
            out["temperature"] = self.temperature
        if self.max_tokens is not None:
            out["max_tokens"] = self.max_tokens
        return out


def load_prompts(path: Path, *, need_response: bool = False) -> list[PromptRecord]:
    """Read the prompts file; an InputError names the file and line of anything wrong."""
    from generators.importers.json_files import json_source

    path = Path(path)
    if not path.is_file():
        raise InputError("file does not exist", path=path)
    out = []
    for index, (record, pos) in enumerate(json_source(path)):
        line = pos if isinstance(pos, int) else None
        if not isinstance(record, dict):
            raise InputError("a record must be a JSON object", path=path, line=line)
        instruction = record.get("instruction")
        prompt = record.get("prompt")
        if not isinstance(instruction, str) or not instruction.strip():
            raise InputError("record has no 'instruction' text", path=path, line=line)
        given = record.get("input") or ""
        if not isinstance(given, str) or (prompt is not None and not isinstance(prompt, str)):
            raise InputError("'input' and 'prompt' must be text", path=path, line=line)
        response = record.get("response", record.get("output"))
        if need_response and not isinstance(response, str):
            raise InputError("record has no 'response' text", path=path, line=line)
        rid = record.get("id")
        out.append(
            PromptRecord(
                index,
                line,
                str(rid) if rid is not None else None,
                instruction,
                given,
                prompt,
                response if isinstance(response, str) else None,
            )
        )
    if not out:
        raise InputError("contains no records", path=path)
    return out


def prompt_text(record: PromptRecord, template: str) -> str:
    """The record's own prompt, else the template filled with its instruction and input."""
    if record.prompt is not None:
        return record.prompt
    given = f"\n\nInput: {record.input}" if record.input else ""
    return template.replace("{instruction}", record.instruction.strip()).replace("{input}", given)


def request_for(record: PromptRecord, template: str, config: ResponsesConfig) -> TeacherRequest:
    """The request sent for a record."""
    text = prompt_text(record, template)
    if config.api == "chat":
        return TeacherRequest.chat([{"role": "user", "content": text}], **config.body_params())
    return TeacherRequest.completion(text, **config.body_params())


class Responses:
    """The loop over a :class:`Generation`: a round of records at a time, in file order."""

    def __init__(
        self, generation: Generation, records: Sequence[PromptRecord], file: Path, config: ResponsesConfig
    ) -> None:
        self.gen = generation
        self.records = list(records)
        self.file = file
        self.config = config
        self.template = generation.templates.text(PROMPT)

    def run(self) -> None:
        """Rounds until every record is answered or a limit is reached."""
        gen, size = self.gen, self.config.round_size
        for first in range(0, len(self.records), size):
            if gen.done:
                return
            self.round(self.records[first : first + size])
        if self.gen.tally.stop is None:
            self.gen.tally.stop = f"answered every record ({len(self.records):,})"

    def round(self, records: Sequence[PromptRecord]) -> int:
        """One request per record; returns the examples accepted."""
        gen = self.gen
        requests = [request_for(r, self.template, self.config) for r in records]
        out = Round()
        accepted = 0
        for (ordinal, reply), record in zip(gen.stream(requests), records, strict=False):
            base = {"record": record.index, "id": record.record_id}
            problem = reply_problem(reply)
            if problem is None and reply.finish_reason == "length":
                problem = ("cut-off", {"finish_reason": "length"})
            if problem is None and accepted >= gen.quota():
                problem = (QUOTA, {})
            if problem is not None:
                out.candidates.append(
                    Candidate(
                        "response",
                        reply.request_hash,
                        0,
                        0,
                        ordinal,
                        "rejected",
                        problem[0],
                        {**base, "text": reply.text},
                        problem[1],
                    )
                )
                continue
            example = Example(instruction=record.instruction, input=record.input, output=reply.text)
            out.examples.append(
                NewExample(
                    example,
                    reply,
                    0,
                    0,
                    record.index,
                    Method.TEACHER,
                    PROMPT,
                    [],
                    {"stage": "response", "record": record.index, "line": record.line},
                    prompt=prompt_text(record, self.template),
                    record_id=record.record_id,
                )
            )
            out.candidates.append(
                Candidate(
                    "response",
                    reply.request_hash,
                    0,
                    0,
                    ordinal,
                    "accepted",
                    "accepted",
                    base,
                    None,
                    example.id,
                )
            )
            accepted += 1
        gen.write(out)
        return accepted


def log_to_calls(
    path: Path,
    *,
    teacher: str,
    endpoint: str,
    config: ResponsesConfig,
    template: str,
) -> list[dict[str, Any]]:
    """Journal rows (as :func:`generators.journal.import_calls` reads them) for a prompt/response log:
    the request this generator sends for each record, answered with the logged response."""
    records = load_prompts(path, need_response=True)
    source = f"{path.name}@sha256:{digest_file(str(path))}"
    endpoint = sanitize_endpoint(endpoint)
    rows = []
    for r in records:
        req = request_for(r, template, config)
        body, _ = req.body(teacher)
        if req.api == "chat":
            choice: dict[str, Any] = {
                "index": 0,
                "message": {"role": "assistant", "content": r.response},
                "finish_reason": None,
            }
        else:
            choice = {"index": 0, "text": r.response, "finish_reason": None}
        stored = Journal.request(endpoint, req.api, body)
        response = {
            "object": "chat.completion" if req.api == "chat" else "text_completion",
            "model": teacher,
            "choices": [choice],
            "reconstructed_from": {
                "log": source,
                "record": r.index,
                "line": r.line,
                "note": "only the response text is original; nothing else was logged",
            },
        }
        rows.append(
            {
                "request_hash": content_id(stored),
                "run_id": "recorded",
                "endpoint": endpoint,
                "api": req.api,
                "model": teacher,
                "request": stored,
                "status": "ok",
                "response": json.dumps(response),
                "error": None,
                "http_status": None,
                "response_model": teacher,
                "system_fingerprint": None,
                "request_id": None,
                "usage": None,
                "latency_ms": None,
                "attempts": 0,
            }
        )
    return rows


def import_log(ledger: Ledger, path: Path, *, teacher: str, endpoint: str, api: str) -> tuple[int, int]:
    """Load a prompt/response log into the journal as the calls ``generate responses`` sends for
    it (see :func:`log_to_calls`); return (new calls, calls already known)."""
    rows = log_to_calls(
        path,
        teacher=teacher,
        endpoint=endpoint,
        config=ResponsesConfig(api=api),
        template=Templates().text(PROMPT),
    )
    return import_rows(ledger, rows, f"{path} (log)")


def spec(prompts: Path, config: ResponsesConfig | Callable[[], ResponsesConfig]) -> GenerationSpec:
    """Responses to the tasks of ``prompts`` as a generation runs it (the file is read and checked
    now; see :func:`generators.runner.prepare`). ``config`` may be given as a function that builds
    it, called once the file was read (so a broken file is the error reported first)."""
    records = load_prompts(prompts)
    if not isinstance(config, ResponsesConfig):
        config = config()
    built = config
    return GenerationSpec(
        "responses",
        {**config.params(), "prompts_sha256": digest_file(str(prompts))},
        TEMPLATE_NAMES,
        lambda gen, seeds, sim: Responses(gen, records, prompts, built),
        needs_seeds=False,
    )
