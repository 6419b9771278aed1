"""Parsing and filtering teacher replies the way Self-Instruct and Alpaca published them.

Every filter returns a reason string (kebab-case) instead of silently dropping, so the generators
can keep each rejected candidate with the reason a reviewer will read:

- ``too-short`` / ``too-long``: at most 3 words, or more than 150 (both papers);
- ``blacklisted-word``: a whole word (case-insensitive) of the keyword list (image, graph, file,
  map, draw, plot, "go to"; Alpaca adds video, audio, music, flowchart, diagram);
- ``write-a-program``: starts with "Write a program";
- ``starts-with-punctuation`` / ``starts-non-ascii``: the first character;
- ``empty``: nothing left after clean-up.

Instances (Self-Instruct's clean-up): ``input-equals-output``, ``empty-output``,
``ends-with-colon``, ``same-input-different-output`` (every instance of the task is dropped),
``duplicate``.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

SELF_INSTRUCT_BLACKLIST: tuple[str, ...] = (
    "image", "images", "graph", "graphs", "picture", "pictures", "file", "files",
    "map", "maps", "draw", "plot", "go to",
)  # fmt: skip
ALPACA_BLACKLIST: tuple[str, ...] = (
    *SELF_INSTRUCT_BLACKLIST, "video", "audio", "music", "flowchart", "diagram",
)  # fmt: skip

_SPACES = re.compile(r"\s+")
_NUMBERED = re.compile(r"\n\d+\s?\. ")
_OUTPUT = re.compile(r"Output\s*\d*\s*:")
_INPUT = re.compile(r"Input\s*\d*\s*:")
_INPUT_PREFIX = re.compile(r"^Input\s*\d*\s*:")
_EXAMPLE = re.compile(r"Example\s?\d*\.?")


@lru_cache(maxsize=64)
def _word(word: str) -> re.Pattern[str]:
    return re.compile(rf"\b({re.escape(word)})\b", flags=re.IGNORECASE)


def clean_instruction(text: str) -> str:
    """Whitespace collapsed, stripped, and a trailing colon removed (as both papers encode prompts)."""
    return _SPACES.sub(" ", text).strip().rstrip(":")


def instruction_filter(
    instruction: str,
    *,
    blacklist: Sequence[str] = SELF_INSTRUCT_BLACKLIST,
    min_words: int = 4,
    max_words: int = 150,
) -> str | None:
    """Why ``instruction`` is rejected by the papers' heuristic filters, or None when it passes."""
    if not instruction:
        return "empty"
    words = len(instruction.split())
    if words < min_words:
        return "too-short"
    if words > max_words:
        return "too-long"
    if any(_word(w).search(instruction) for w in blacklist):
        return "blacklisted-word"
    if instruction.startswith("Write a program"):
        return "write-a-program"
    if instruction[0] in string.punctuation:
        return "starts-with-punctuation"
    if not instruction[0].isascii():
        return "starts-non-ascii"
    return None


def blacklisted_word(instruction: str, blacklist: Sequence[str]) -> str | None:
    """The first blacklisted word found in ``instruction`` (for the rejection's details)."""
    return next((w for w in blacklist if _word(w).search(instruction)), None)


def split_self_instruct(text: str, *, capitalize: bool = True) -> list[str]:
    """The instructions of a bootstrap reply (the text after the prompt's final number).

    Splits on newline-number-period as Self-Instruct does, collapses whitespace and, like the
    published code, applies ``str.capitalize`` (which also lower-cases the rest of the text; turn it
    off with ``capitalize=False``). Empty pieces are dropped here.
    """
    out = []
    for piece in _NUMBERED.split(text):
        inst = _SPACES.sub(" ", piece).strip()
        if capitalize:
            inst = inst.capitalize()
        if inst:
            out.append(inst)
    return out


@dataclass(frozen=True)
class AlpacaTask:
    """One task parsed from an Alpaca reply, or the reason it could not be."""

    instruction: str
    input: str
    output: str
    error: str | None = None


def split_alpaca(text: str, demos: int, finish_reason: str | None) -> list[AlpacaTask]:
    """The tasks of an Alpaca reply: ``###``-separated, numbered from ``demos + 1``.

    The prompt ends with ``"{demos+1}. Instruction:"``, so the reply is glued to that header first.
    A last piece cut off by the length limit is reported as ``cut-off``; a piece without exactly
    the three numbered fields as ``unparseable``. ``<noinput>`` becomes the empty input.
    """
    pieces = re.split("###", f"{demos + 1}. Instruction:" + text)
    tasks: list[AlpacaTask] = []
    for idx, piece in enumerate(pieces):
        if idx == len(pieces) - 1 and finish_reason == "length":
            tasks.append(AlpacaTask("", "", piece.strip(), "cut-off"))
            continue
        number = idx + demos + 1
        fields = re.split(rf"{number}\.\s+(Instruction|Input|Output):", piece)
        if len(fields) != 7:
            if piece.strip():
                tasks.append(AlpacaTask("", "", piece.strip(), "unparseable"))
            continue
        inst = fields[2].strip()
        given = fields[4].strip()
        given = "" if given.lower() == "<noinput>" else given
        tasks.append(AlpacaTask(inst, given, fields[6].strip()))
    return tasks


def parse_input_output(text: str) -> tuple[str, str]:
    """One ``Input: … Output: …`` instance → (input, output); no ``Output:`` means output only."""
    if _OUTPUT.search(text):
        parts = _OUTPUT.split(text)
        given, output = parts[0].strip(), parts[1].strip()
    else:
        given, output = "", text.strip()
    if _INPUT.search(output):  # several pairs run together: keep the first
        output = _INPUT.split(output)[0].strip()
    given = _INPUT_PREFIX.sub("", given).strip()
    return given, output


def parse_generation_instances(text: str, finish_reason: str | None) -> list[tuple[str, str]]:
    """Input-first instances (``Example 1 … Input: … Output: …``); a cut-off last one is dropped."""
    text = text.strip()
    if _EXAMPLE.search(text):
        pieces = [p.strip() for p in _EXAMPLE.split(text) if p.strip()]
        instances = [parse_input_output(p) for p in pieces]
    elif _OUTPUT.search(text):
        instances = [parse_input_output(text)]
    else:
        return []
    if finish_reason == "length":
        instances = instances[:-1]
    return instances


def parse_classification_instances(text: str, finish_reason: str | None) -> list[tuple[str, str]]:
    """Output-first instances (``Class label: X`` then the input); a cut-off last one is dropped."""
    if "Class label:" not in text:
        return []
    instances = []
    for piece in text.split("Class label:")[1:]:
        label, _, rest = piece.strip().partition("\n")
        instances.append((rest.strip(), label.strip()))
    if finish_reason == "length":
        instances = instances[:-1]
    return instances


def instance_filter(given: str, output: str) -> str | None:
    """Self-Instruct's per-instance clean-up: why the (input, output) pair is dropped, or None."""
    if given == output:
        return "input-equals-output"
    if output == "":
        return "empty-output"
    if given.strip().endswith(":") or output.strip().endswith(":"):
        return "ends-with-colon"
    return None


def conflicting_inputs(instances: Sequence[tuple[str, str]]) -> bool:
    """True when two instances share a non-empty input but differ in output (the task is dropped)."""
    seen: dict[str, str] = {}
    for given, output in instances:
        if not given:
            continue
        if given in seen and seen[given] != output:
            return True
        seen.setdefault(given, output)
    return False


def parse_yes_no(text: str) -> bool | None:
    """The classification prompt's answer: True for yes, False for no, None when it is neither."""
    answer = text.strip().lower()
    if answer.startswith("yes"):
        return True
    if answer.startswith("no"):
        return False
    return None
