"""Field mappings: one source record → example content, with the fields it did not use.

Text is kept verbatim. Fields a mapping does not use are returned (and stored with the
provenance row, and counted in the import summary) rather than dropped. A record's own ``id``
is kept as its source record id.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from json.encoder import encode_basestring as _quote
from typing import Any, NamedTuple

from generators.importers.source import Source
from provenance.core.errors import InputError
from provenance.core.ids import chat_id, instruction_id, instruction_ids


class Mapped(NamedTuple):
    """One example mapped out of a source record."""

    example_id: str
    kind: str
    instruction: str | None
    input: str | None
    output: str | None
    messages: str | None  # JSON text of [{"role", "content"}, …]
    prompt: str | None
    record_id: str | None
    extra: dict[str, Any] | None
    sub: int | None  # instance index within a Self-Instruct task


#: a mapper returns one Mapped, or a list of them (Self-Instruct: one per instance)
Mapper = Callable[[Any, Source, int, int], "Mapped | list[Mapped]"]

_TYPE_NAMES = {
    dict: "object",
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


def type_name(value: Any) -> str:
    """JSON name of a decoded value's type."""
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def as_object(record: Any, src: Source, pos: int, index: int) -> dict[str, Any]:
    """The record, which must be a JSON object."""
    if type(record) is not dict:
        raise src.error(f"record is not a JSON object (got {type_name(record)})", pos, index)
    return record


def text_field(
    record: dict[str, Any],
    key: str,
    src: Source,
    pos: int,
    index: int,
    *,
    required: bool = True,
    label: str | None = None,
) -> str:
    """A string field; optional fields that are absent or null read as ""."""
    value = record.get(key)
    if type(value) is str:
        return value
    name = label or key
    if value is None:
        if not required:
            return ""
        if key in record:
            raise src.error(f"field '{name}' is null; it must be a string", pos, index)
        raise src.error(f"missing required field '{name}'", pos, index)
    raise src.error(f"field '{name}' must be a string, got {type_name(value)}", pos, index)


def record_id(record: dict[str, Any]) -> str | None:
    """The record's own id, when it has a string or integer one."""
    value = record.get("id")
    if type(value) is str or type(value) is int:
        return str(value)
    return None


def _unused(record: dict[str, Any], used: frozenset[str]) -> dict[str, Any] | None:
    """Fields outside ``used``; an ``id`` counts as used when it is a string or integer."""
    if len(record) <= len(used) and record.keys() <= used:
        return None
    extra = {k: record[k] for k in record.keys() - used}
    if "id" in extra and record_id(record) is not None:
        del extra["id"]
    return extra or None


def _id(fn: Callable[..., str], src: Source, pos: int, index: int, *args: Any) -> str:
    try:
        return fn(*args)
    except ValueError:
        raise src.error("text contains an invalid \\u escape (a lone surrogate)", pos, index) from None


def _nonempty(instruction: str, src: Source, pos: int, index: int, label: str = "instruction") -> None:
    if not instruction.strip():
        raise src.error(f"field '{label}' is empty", pos, index)


# ---- instruction / input / output (Alpaca, JSONL) ---------------------------------------------

_INSTRUCTION_USED = frozenset({"instruction", "input", "output"})


def map_instruction(record: Any, src: Source, pos: int, index: int) -> Mapped:
    """``{"instruction", "input"?, "output"}`` → one instruction example."""
    # the hot path of every import: inline checks, the helpers only to raise the error
    rec = record if type(record) is dict else as_object(record, src, pos, index)
    get = rec.get
    instruction, input_, output = get("instruction"), get("input", ""), get("output")
    if type(instruction) is not str:
        instruction = text_field(rec, "instruction", src, pos, index)
    if type(input_) is not str:
        input_ = text_field(rec, "input", src, pos, index, required=False)
    if type(output) is not str:
        output = text_field(rec, "output", src, pos, index)
    if not instruction or instruction.isspace():
        _nonempty(instruction, src, pos, index)
    try:
        eid = instruction_id(instruction, input_, output)
    except ValueError:
        eid = _id(instruction_id, src, pos, index, instruction, input_, output)
    rid = get("id")
    return Mapped(
        eid,
        "instruction",
        instruction,
        input_,
        output,
        None,
        None,
        record_id(rec) if rid is not None else None,
        _unused(rec, _INSTRUCTION_USED),
        None,
    )


class InstructionColumns(NamedTuple):
    """map_instruction over a whole chunk, as columns."""

    ids: list[str]
    instructions: list[str]
    inputs: list[str]
    outputs: list[str]
    record_ids: list[str | None] | None  # None: no record has an id
    extra_key: str | None  # the one unused field every record has, holding text…
    extra_values: list[str] | None  # …and its values, or:
    extras: list[dict[str, Any] | None] | None  # each record's unused fields


def map_instruction_columns(records: list[Any]) -> InstructionColumns | None:
    """The common case of map_instruction for many records at once, or None when a record needs
    the one-at-a-time path (which then yields the same result or the precise error)."""
    if not all(type(r) is dict for r in records):
        return None
    instructions = [r.get("instruction") for r in records]
    outputs = [r.get("output") for r in records]
    inputs = [r.get("input", "") for r in records]
    if not (
        all(type(x) is str for x in instructions)
        and all(type(x) is str for x in outputs)
        and all(type(x) is str for x in inputs)
    ):
        return None
    if not all(x and not x.isspace() for x in instructions):
        return None
    try:
        ids = instruction_ids(instructions, inputs, outputs)
    except ValueError:  # a lone surrogate
        return None
    keys = records[0].keys()
    uniform = all(r.keys() == keys for r in records)
    record_ids = None
    if (not uniform or "id" in keys) and any("id" in r for r in records):
        record_ids = [record_id(r) for r in records]
        if any(rid is None and "id" in r for rid, r in zip(record_ids, records, strict=True)):
            return None  # an id that is not a string or an integer stays with the unused fields
    extra_key = extra_values = extras = None
    if uniform:
        unused = [k for k in keys if k not in _INSTRUCTION_USED and not (k == "id" and record_ids)]
        if len(unused) == 1 and all(type(r[unused[0]]) is str for r in records):
            extra_key = unused[0]
            extra_values = [r[extra_key] for r in records]
        elif unused:
            extras = [_unused(r, _INSTRUCTION_USED) for r in records]
    else:
        extras = [_unused(r, _INSTRUCTION_USED) for r in records]
    return InstructionColumns(ids, instructions, inputs, outputs, record_ids, extra_key, extra_values, extras)


# ---- prompt / response logs (Self-Instruct predictions) ---------------------------------------

_PROMPT_USED = frozenset({"prompt", "response", "instruction", "input"})


def map_prompt_response(record: Any, src: Source, pos: int, index: int) -> Mapped:
    """``{"prompt", "response", "instruction"?, "input"?}`` → one instruction example.

    The response is the output, verbatim; the prompt is kept verbatim with the provenance row.
    Without an ``instruction`` field the prompt is the instruction.
    """
    rec = as_object(record, src, pos, index)
    prompt = text_field(rec, "prompt", src, pos, index)
    response = text_field(rec, "response", src, pos, index)
    instruction = text_field(rec, "instruction", src, pos, index, required=False) or prompt
    _nonempty(instruction, src, pos, index, "instruction" if "instruction" in rec else "prompt")
    input_ = text_field(rec, "input", src, pos, index, required=False)
    eid = _id(instruction_id, src, pos, index, instruction, input_, response)
    return Mapped(
        eid,
        "instruction",
        instruction,
        input_,
        response,
        None,
        prompt,
        record_id(rec),
        _unused(rec, _PROMPT_USED),
        None,
    )


# ---- Self-Instruct tasks ----------------------------------------------------------------------

_TASK_USED = frozenset({"instruction", "instances"})
_INSTANCE_USED = frozenset({"input", "output"})


class Task(NamedTuple):
    """A Self-Instruct task, validated."""

    instruction: str
    instances: list[tuple[str, str]]
    record_id: str | None
    extra: dict[str, Any] | None  # task-level unused fields, then "instances[].<key>" ones


def parse_task(record: Any, src: Source, pos: int, index: int, used: frozenset[str] = _TASK_USED) -> Task:
    """Validate a Self-Instruct task: ``instruction`` and a non-empty ``instances`` list."""
    rec = as_object(record, src, pos, index)
    instruction = text_field(rec, "instruction", src, pos, index)
    _nonempty(instruction, src, pos, index)
    instances = rec.get("instances")
    if type(instances) is not list:
        if instances is None and "instances" not in rec:
            raise src.error("missing required field 'instances'", pos, index)
        raise src.error(f"field 'instances' must be a list, got {type_name(instances)}", pos, index)
    if not instances:
        raise src.error("field 'instances' is empty", pos, index)
    pairs = []
    extra = _unused(rec, used) or {}
    for i, inst in enumerate(instances):
        if type(inst) is not dict:
            raise src.error(f"instances[{i}] must be an object, got {type_name(inst)}", pos, index)
        pairs.append(
            (
                text_field(inst, "input", src, pos, index, required=False, label=f"instances[{i}].input"),
                text_field(inst, "output", src, pos, index, label=f"instances[{i}].output"),
            )
        )
        for key in inst.keys() - _INSTANCE_USED:
            extra.setdefault(f"instances[].{key}", []).append(inst[key])
    return Task(instruction, pairs, record_id(rec), extra or None)


def map_self_instruct(record: Any, src: Source, pos: int, index: int) -> list[Mapped]:
    """A Self-Instruct task → one instruction example per instance."""
    task = parse_task(record, src, pos, index)
    return [
        Mapped(
            _id(instruction_id, src, pos, index, task.instruction, inp, out),
            "instruction",
            task.instruction,
            inp,
            out,
            None,
            None,
            task.record_id,
            task.extra,
            i,
        )
        for i, (inp, out) in enumerate(task.instances)
    ]


# ---- chat: OpenAI messages, ShareGPT conversations --------------------------------------------

_ROLES = {
    "system": "system",
    "developer": "developer",
    "user": "user",
    "assistant": "assistant",
    "tool": "tool",
    "function": "tool",
    # ShareGPT speaker names
    "human": "user",
    "gpt": "assistant",
    "chatgpt": "assistant",
    "bard": "assistant",
    "bing": "assistant",
    "model": "assistant",
    "function_call": "assistant",
    "observation": "tool",
    "function_response": "tool",
}
_CHAT_USED = frozenset({"messages", "conversations"})


def map_chat(record: Any, src: Source, pos: int, index: int) -> Mapped:
    """``{"messages": [{"role", "content"}]}`` or ShareGPT ``{"conversations": [{"from", "value"}]}``
    → one chat example. ShareGPT speakers map to roles (human → user, gpt → assistant, …)."""
    rec = as_object(record, src, pos, index)
    if "messages" in rec:
        field, role_key, text_key = "messages", "role", "content"
    elif "conversations" in rec:
        field, role_key, text_key = "conversations", "from", "value"
    else:
        raise src.error("missing required field 'messages' (or ShareGPT 'conversations')", pos, index)
    turns = rec[field]
    if type(turns) is not list:
        raise src.error(f"field '{field}' must be a list, got {type_name(turns)}", pos, index)
    if not turns:
        raise src.error(f"field '{field}' is empty", pos, index)
    messages = []
    extra = _unused(rec, _CHAT_USED if field == "messages" else _CHAT_USED - {"messages"}) or {}
    if field == "messages" and "conversations" in rec:
        extra["conversations"] = rec["conversations"]
    for i, turn in enumerate(turns):
        if type(turn) is not dict:
            raise src.error(f"{field}[{i}] must be an object, got {type_name(turn)}", pos, index)
        speaker = text_field(turn, role_key, src, pos, index, label=f"{field}[{i}].{role_key}")
        role = _ROLES.get(speaker.lower())
        if role is None:
            raise src.error(
                f"{field}[{i}].{role_key} {speaker!r} is not a known role "
                f"(expected one of {', '.join(sorted(set(_ROLES)))})",
                pos,
                index,
            )
        content = text_field(turn, text_key, src, pos, index, label=f"{field}[{i}].{text_key}")
        messages.append({"role": role, "content": content})
        for key in turn.keys() - {role_key, text_key}:
            extra.setdefault(f"{field}[].{key}", []).append(turn[key])
    eid = _id(chat_id, src, pos, index, messages)
    text = json.dumps(messages, ensure_ascii=False)
    return Mapped(eid, "chat", None, None, None, text, None, record_id(rec), extra or None, None)


MAPPERS: dict[str, Mapper] = {
    "instruction": map_instruction,
    "self-instruct": map_self_instruct,
    "chat": map_chat,
    "prompt-response": map_prompt_response,
}


def detect_mapping(columns: list[str], where: str) -> str:
    """Pick the mapping for a columnar dataset from its column names."""
    names = set(columns)
    if names & {"messages", "conversations"}:
        return "chat"
    if "instances" in names and "instruction" in names:
        return "self-instruct"
    if {"prompt", "response"} <= names:
        return "prompt-response"
    if {"instruction", "output"} <= names:
        return "instruction"
    raise InputError(
        f"cannot tell how to map columns {sorted(names)}: expected instruction/input/output, "
        "messages or conversations, instruction/instances, or prompt/response",
        path=where,
    )


def extra_json(extra: dict[str, Any] | None, src: Source, pos: int, index: int) -> str | None:
    """Unused fields as compact JSON text with sorted keys (None when there are none)."""
    if not extra:
        return None
    try:
        if len(extra) == 1:  # the common case: one extra field holding text
            ((key, value),) = extra.items()
            if type(value) is str:
                text = "{" + _quote(key) + ":" + _quote(value) + "}"
                if src.escapes:
                    text.encode("utf-8")
                return text
        if all(type(v) is str for v in extra.values()):
            text = "{" + ",".join(_quote(k) + ":" + _quote(extra[k]) for k in sorted(extra)) + "}"
        else:
            text = json.dumps(
                extra,
                ensure_ascii=False,
                sort_keys=True,
                allow_nan=False,
                separators=(",", ":"),
                default=str,
            )
        if src.escapes:
            text.encode("utf-8")
    except ValueError:
        raise src.error("an unused field holds NaN/Infinity or an invalid \\u escape", pos, index) from None
    return text


def check_text(value: str | None, src: Source, pos: int, index: int) -> str | None:
    """Refuse text that cannot be stored as UTF-8 (lone surrogates)."""
    if value is not None and src.escapes:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise src.error("text contains an invalid \\u escape (a lone surrogate)", pos, index) from None
    return value


#: the environment variable that sets the largest field an import accepts, in bytes of UTF-8
FIELD_LIMIT_VAR = "PROVENANCE_MAX_FIELD_BYTES"
DEFAULT_FIELD_LIMIT = 64 << 20


def field_limit() -> int:
    """The largest field an import accepts (``$PROVENANCE_MAX_FIELD_BYTES``, default 64 MiB).

    Raises:
        InputError: the variable is not a positive whole number.
    """
    raw = os.environ.get(FIELD_LIMIT_VAR, "").strip()
    if not raw:
        return DEFAULT_FIELD_LIMIT
    try:
        limit = int(raw.replace("_", ""))
    except ValueError:
        limit = 0
    if limit <= 0:
        raise InputError(f"{FIELD_LIMIT_VAR}={raw!r} is not a positive whole number of bytes")
    return limit


def oversized(record: Any, limit: int) -> tuple[str, int] | None:
    """The first field of ``record`` (a dotted path, ``messages[2].content``) whose text is over
    ``limit`` bytes of UTF-8, and its size; None when every field fits."""
    stack: list[tuple[str, Any]] = [("", record)]
    while stack:
        path, value = stack.pop()
        kind = type(value)
        if kind is str:
            if len(value) * 4 > limit:
                size = len(value.encode("utf-8", "surrogatepass"))
                if size > limit:
                    return path or "(record)", size
        elif kind is dict:
            for key, item in reversed(value.items()):
                stack.append((f"{path}.{key}" if path else str(key), item))
                stack.append((f"{path}.{key} (its name)" if path else f"{key} (its name)", key))
        elif kind is list:
            stack.extend((f"{path}[{i}]", item) for i, item in reversed(list(enumerate(value))))
    return None


def check_sizes(records: list[Any], positions: list[int | None], first: int, src: Source, limit: int) -> None:
    """Refuse a record with a field over ``limit`` bytes, naming the record, the field, its size
    and the setting; ``first`` is the index of ``records[0]`` in the source. Flat records of
    short strings pass a quick test; others are walked."""
    quick = limit // 4
    for i, record in enumerate(records):
        if type(record) is dict and all(type(v) is str and len(v) <= quick for v in record.values()):
            continue
        found = oversized(record, limit)
        if found is not None:
            field, size = found
            raise src.error(
                f"field '{field}' is {size:,} bytes, over the limit of {limit:,} bytes "
                f"(set {FIELD_LIMIT_VAR} to raise it)",
                positions[i],
                first + i,
            )
