"""JSON sources: a JSON list of records, or JSON lines (one record per line).

Both stream: a JSON list is decoded from 1 MiB chunks, JSON lines line by line. Both use orjson
on the fast path and fall back to the standard library's exact, position-aware decoder whenever
orjson refuses the text (malformed JSON, NaN, lone surrogates, a cut in the wrong place) or may
have lost precision (it reads integers beyond 64 bits as floats; the fallback keeps them exact).
Errors name the file and the line.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from generators.importers.source import ByteCounter, Source
from provenance.core.errors import InputError

CHUNK = 1 << 20
_WS = re.compile(r"[ \t\n\r]*")
_LOSSY = 2.0**63  # orjson reads integers beyond 64 bits as floats at least this large


def _lossy(value: Any) -> bool:
    """True if orjson may have turned an integer beyond 64 bits into a float somewhere in value."""
    stack = [value]
    while stack:
        v = stack.pop()
        kind = type(v)
        if kind is dict:
            stack.extend(v.values())
        elif kind is list:
            stack.extend(v)
        elif kind is float and not -_LOSSY < v < _LOSSY:
            return True
    return False


def _any_lossy(records: Sequence[Any]) -> bool:
    """_lossy over many records, fast for the usual flat records of strings."""
    for record in records:
        if type(record) is dict:
            for v in record.values():
                if type(v) is not str and _lossy(v):
                    return True
        elif _lossy(record):
            return True
    return False


_decode = json.JSONDecoder().raw_decode
#: the message for JSON nested deeper than the decoder's recursion allows (about 1,000 levels)
TOO_DEEP = "JSON nested too deeply (arrays or objects over about 1,000 levels)"
_fast_loads = orjson.loads
_FastError = orjson.JSONDecodeError


def json_source(path: Path, on_bytes: ByteCounter | None = None) -> Source:
    """A JSON list file or a JSON-lines file, whichever the file is."""
    first = first_char(path)
    if first == "":
        raise InputError("file is empty", path=path)
    if first == "[":
        return JsonList(path, on_bytes)
    if first == "{":
        return JsonLines(path, on_bytes)
    bad = find_bad_utf8(str(path))
    if bad is not None:
        raise InputError(f"not valid UTF-8 at column {bad[1]}", path=path, line=bad[0])
    raise InputError(
        f"expected a JSON list of objects or one JSON object per line, but the file starts with {first!r}",
        path=path,
    )


def first_char(path: Path) -> str:
    """The first non-whitespace character of a file ('' if it has none); a UTF-8 BOM is skipped."""
    with open(path, "rb") as f:
        if f.read(3) != codecs.BOM_UTF8:
            f.seek(0)
        while chunk := f.read(65536):
            stripped = chunk.lstrip(b" \t\r\n")
            if stripped:
                return chr(stripped[0])
    return ""


def find_bad_utf8(path: str) -> tuple[int, int] | None:
    """Line and 1-based byte column of the first byte that is not valid UTF-8, if any."""
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                return lineno, exc.start + 1
    return None


class JsonLines(Source):
    """One JSON value per line; blank lines are skipped."""

    unit = "line"

    def __init__(self, path: Path, on_bytes: ByteCounter | None = None) -> None:
        super().__init__(path)
        self._on_bytes = on_bytes

    def __iter__(self) -> Iterator[tuple[Any, int]]:
        on_bytes, fast = self._on_bytes, _fast_loads
        pending = 0
        with open(self.path, "rb") as f:
            for lineno, raw in enumerate(f, start=1):
                pending += len(raw)
                if on_bytes is not None and pending >= CHUNK:
                    on_bytes(pending)
                    pending = 0
                try:
                    value = fast(raw)
                except _FastError:
                    pass
                else:
                    if not _any_lossy((value,)):
                        yield value, lineno
                        continue
                value = self._exact(raw, lineno)
                if value is not _BLANK:
                    yield value, lineno
        if on_bytes is not None and pending:
            on_bytes(pending)

    def _exact(self, raw: bytes, lineno: int) -> Any:
        """Decode a line with the standard library: exact numbers, precise errors."""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"not valid UTF-8: byte 0x{raw[exc.start]:02x} at column {exc.start + 1}",
                path=self.path,
                line=lineno,
            ) from None
        if lineno == 1 and text.startswith("\ufeff"):
            text = text[1:]
        if not text.strip():
            return _BLANK
        if "\\ud" in text or "\\uD" in text:
            self.escapes = True
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"malformed JSON: {exc.msg} (column {exc.colno})", path=self.path, line=lineno
            ) from None
        except RecursionError:
            raise InputError(TOO_DEEP, path=self.path, line=lineno) from None


_BLANK = object()


class _Text:
    """A file's decoded text, a chunk at a time, with line numbers for positions."""

    def __init__(self, f: BinaryIO, source: Source, on_bytes: ByteCounter | None) -> None:
        self._f = f
        self._source = source
        self._path = source.path
        self._on_bytes = on_bytes
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self.buf = ""
        self.pos = 0
        self.base = 0  # offset in the file's text of buf[0]
        self.eof = False

        self._line = 1
        self._counted = 0
        self._first = True

    def fill(self) -> bool:
        """Append the next chunk, dropping what was consumed; False once the file is exhausted."""
        if self.eof:
            return False
        chunk = self._f.read(CHUNK)
        if self._on_bytes is not None and chunk:
            self._on_bytes(len(chunk))
        try:
            text = self._decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError:
            line, column = find_bad_utf8(self._path) or (1, 1)
            raise InputError(f"not valid UTF-8 at column {column}", path=self._path, line=line) from None
        if not chunk:
            self.eof = True
        if self._first:
            self._first = False
            if text.startswith("\ufeff"):
                text = text[1:]
        self._line += self.buf.count("\n", self._counted, self.pos)
        self.base += self.pos
        self.buf = self.buf[self.pos :] + text
        self.pos = 0
        self._counted = 0
        if not self._source.escapes and ("\\ud" in self.buf or "\\uD" in self.buf):
            self._source.escapes = True
        return bool(chunk)

    def line_at(self, pos: int) -> int:
        """1-based line of a buffer position (positions must not go backwards)."""
        self._line += self.buf.count("\n", self._counted, pos)
        self._counted = pos
        return self._line

    def next_char(self) -> str:
        """Skip whitespace; return the next character without consuming it ('' at the end)."""
        while True:
            self.pos = _WS.match(self.buf, self.pos).end()
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.fill():
                return ""

    def value(self, record: int | None = None) -> Any:
        """Decode one JSON value (record number ``record``, for errors) at the current position,
        reading more text when it is cut off."""
        while True:
            try:
                value, end = _decode(self.buf, self.pos)
            except RecursionError:
                raise self.error(TOO_DEEP, record=record) from None
            except json.JSONDecodeError as exc:
                truncated = exc.pos >= len(self.buf) - 16 or exc.msg.startswith("Unterminated string")
                if truncated and self.fill():
                    continue
                if self.eof and truncated:
                    raise self.error(
                        "the file ends in the middle of a record (truncated?)", exc.pos
                    ) from None
                raise self.error(f"malformed JSON: {exc.msg}", exc.pos) from None
            # a number or literal that touches the end of the buffer may go on in the next chunk
            cut_off = end == len(self.buf) and not self.eof and not isinstance(value, dict | list | str)
            if cut_off and self.fill():
                continue
            self.pos = end
            return value

    def separator(self) -> bool:
        """After a value: consume ',' and stop at the next value (True), or consume ']' (False)."""
        char = self.next_char()
        if char == ",":
            self.pos += 1
            char = self.next_char()
            if char == "]":
                raise self.error("trailing comma before ']'")
            if char == "":
                raise self.error("the file ends inside the JSON list (truncated?)")
            return True
        if char == "]":
            self.pos += 1
            return False
        if char == "":
            raise self.error("the file ends inside the JSON list (truncated?)")
        raise self.error(f"expected ',' or ']' between records, found {char!r}")

    def error(self, message: str, pos: int | None = None, *, record: int | None = None) -> InputError:
        """An InputError at a buffer position (the current one by default)."""
        line = self.line_at(self.pos if pos is None else pos)
        return InputError(message, path=self._path, line=line, record=record)


class JsonList(Source):
    """The elements of a top-level JSON list.

    Fast path: the text up to the last ``},`` of the buffer is parsed with one orjson call. If
    that parse succeeds the cut was between two records (a parse from a record's start is
    deterministic, and a cut inside a record leaves a string or a bracket open). Otherwise the
    records up to the cut are decoded one at a time by the exact path, which finds real errors.
    """

    unit = "record"

    def __init__(self, path: Path, on_bytes: ByteCounter | None = None) -> None:
        super().__init__(path)
        self._on_bytes = on_bytes

    def __iter__(self) -> Iterator[tuple[Any, None]]:
        for values in self._values(fast=True):
            for value in values:
                yield value, None

    def chunks(self, size: int = 0) -> Iterator[tuple[list[Any], list[int | None]]]:
        """The records as the fast path parses them: a buffer's worth per list."""
        for values in self._values(fast=True):
            if values:
                yield values, [None] * len(values)

    def line_of(self, index: int) -> int | None:
        """The line where record ``index`` starts (re-reads the file exactly)."""
        for i, ((_, line),) in enumerate(self._values(fast=False, lines=True)):
            if i == index:
                return line
        return None

    def _values(self, *, fast: bool, lines: bool = False) -> Iterator[list[Any]]:
        with open(self.path, "rb") as f:
            text = _Text(f, self, self._on_bytes if not lines else None)
            char = text.next_char()
            if char != "[":
                raise text.error("expected a JSON list ('[')")
            text.pos += 1
            char = text.next_char()
            if char == "":
                raise text.error("the file ends inside the JSON list (truncated?)")
            if char == "]":
                text.pos += 1
            else:
                more, count = True, 0  # count: records read so far
                exact_until = -1  # text offset up to which the fast path has failed
                boundary: str | None = None  # the text between two records, learnt from the first two
                while more:
                    if boundary and text.base + text.pos > exact_until:
                        values, more, exact_until = self._fast_region(text, boundary)
                        if values is not None:
                            count += len(values)
                            yield values
                            continue
                    # exact path: one record
                    if lines:
                        line = text.line_at(text.pos)
                        yield [(text.value(count), line)]
                    else:
                        value = text.value(count)
                        yield [value]
                    count += 1
                    end = text.base + text.pos
                    more = text.separator()
                    if fast and boundary is None and more:
                        boundary = _boundary(text, end, value)
            if text.next_char() != "":
                raise text.error("unexpected content after the JSON list")

    @staticmethod
    def _fast_region(text: _Text, boundary: str) -> tuple[list[Any] | None, bool, int]:
        """Parse the buffer's complete records in one orjson call.

        Cuts at the last ``boundary`` (e.g. ``"},\n    {"``) of the buffer. Returns (values, more,
        exact_until); ``values`` None sends records down the exact path until the text offset
        ``exact_until`` is passed.
        """
        buf, pos = text.buf, text.pos
        cut = buf.rfind(boundary, pos)
        if cut <= pos:
            if not text.eof and len(buf) - pos < 4 * CHUNK and text.fill():
                return [], True, -1
            return None, True, text.base + pos
        first_cut = cut
        for _ in range(_CUT_TRIES):  # a "}," inside a string or a nested object: try an earlier one
            try:
                values = _fast_loads("[" + buf[pos : cut + 1] + "]")
            except _FastError:
                cut = buf.rfind(boundary, pos, cut)
                if cut <= pos:
                    break
                continue
            if _any_lossy(values):
                break
            text.pos = cut + 1
            return values, text.separator(), -1
        return None, True, text.base + first_cut


_CUT_TRIES = 4


def _boundary(text: _Text, end: int, value: Any) -> str | None:
    """The text from the end of the first record to the start of the second ("},\n    {"),
    when both are objects. Raw newlines never occur inside JSON strings, so in a pretty-printed
    file this marks records and nothing else (nested objects are indented deeper)."""
    start = end - text.base
    if not isinstance(value, dict) or start < 1 or text.buf[text.pos : text.pos + 1] != "{":
        return None
    return text.buf[start - 1 : text.pos + 1]
