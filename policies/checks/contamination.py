"""Contamination: overlap with evaluation sets named in the pack.

Word n-grams (default 13, lower-cased Unicode words) of the example's prompt fields are looked up
in an index of every evaluation text; evaluation texts shorter than n words (but at least
``min_tokens``) are matched whole. Optionally the instruction is also compared to every evaluation
instruction by ROUGE-L F (the exact engine of the diversity check). The first shipped evaluation
set is Self-Instruct's 252 user-oriented tasks, which its authors ask never to be trained on.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import Field, ValidationInfo, field_validator

from policies.checks.base import BatchCheck, CheckSettings, Outcome, example_texts
from provenance.core.ids import digest_file

if TYPE_CHECKING:
    import pyarrow as pa

#: Evaluation sets shipped in ``policies/evalsets/``.
BUILTIN = {"self-instruct-user-oriented": "self-instruct-user-oriented.jsonl"}
_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """Lower-cased Unicode words."""
    return _WORD.findall(text.casefold())


class EvalSet(CheckSettings):
    """An evaluation set: a name and a JSON-lines (or JSON list) file of tasks."""

    name: str
    path: str


class ContaminationSettings(CheckSettings):
    """Settings of the contamination check."""

    evalsets: list[EvalSet] = Field(min_length=1)
    n: int = Field(default=13, ge=3, le=50)
    min_tokens: int = Field(default=8, ge=1)
    min_matches: int = Field(default=1, ge=1)
    rouge_l: float | None = Field(default=None, gt=0, le=1)
    fields: list[str] = Field(default_factory=lambda: ["instruction", "input", "messages"])

    @field_validator("evalsets", mode="before")
    @classmethod
    def _resolve(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, list):
            return value
        base = Path((info.context or {}).get("base") or Path.cwd())
        out = []
        for item in value:
            if isinstance(item, str):
                if item not in BUILTIN:
                    raise ValueError(
                        f"unknown evaluation set {item!r}: name a shipped one ({', '.join(BUILTIN)}) "
                        "or give {name: …, path: …}"
                    )
                item = {"name": item, "path": str(resources.files("policies") / "evalsets" / BUILTIN[item])}
            elif isinstance(item, dict) and "path" in item:
                path = (base / str(item["path"])).resolve()
                if not path.is_file():
                    raise ValueError(f"evaluation set file {path} does not exist")
                item = {**item, "path": str(path)}
            out.append(item)
        return out


def eval_items(path: str) -> list[tuple[str, list[str], str]]:
    """(item id, its texts, its instruction) for each task of an evaluation file."""
    raw = Path(path).read_bytes()
    stripped = raw.lstrip()
    records = (
        orjson.loads(raw)
        if stripped.startswith(b"[")
        else [orjson.loads(line) for line in raw.splitlines() if line.strip()]
    )
    items = []
    for i, r in enumerate(records):
        instruction = str(r.get("instruction") or r.get("prompt") or "")
        texts = [instruction]
        instances = r.get("instances") or [{"input": r.get("input"), "output": r.get("output")}]
        for inst in instances:
            inp, out = str(inst.get("input") or ""), str(inst.get("output") or "")
            texts += [inp, out, f"{instruction}\n{inp}"]
        texts += [str(m.get("content") or "") for m in r.get("messages") or []]
        items.append((str(r.get("id", i)), [t for t in texts if t.strip()], instruction))
    return items


class ContaminationCheck(BatchCheck):
    """Examples whose prompt overlaps an evaluation set (n-grams; optionally instruction ROUGE-L)."""

    kind = "contamination"
    version = "1"
    measures = "overlap of the prompt with evaluation sets (word n-grams; instruction ROUGE-L)"
    Settings = ContaminationSettings
    settings: ContaminationSettings

    def _load(self) -> None:
        from policies.rouge import RougePool, tokenize

        s = self.settings
        self.index: dict[int, tuple[str, str]] = {}
        self.short_lengths: set[int] = set()
        self.pool = RougePool(s.rouge_l) if s.rouge_l else None
        self.pool_items: list[tuple[str, str]] = []
        for es in s.evalsets:
            for item_id, texts, instruction in eval_items(es.path):
                for text in texts:
                    toks = words(text)
                    if len(toks) >= s.n:
                        for j in range(len(toks) - s.n + 1):
                            self.index.setdefault(hash(tuple(toks[j : j + s.n])), (es.name, item_id))
                    elif len(toks) >= s.min_tokens:
                        self.index.setdefault(hash(tuple(toks)), (es.name, item_id))
                        self.short_lengths.add(len(toks))
                if self.pool is not None and instruction:
                    self.pool.add(tokenize(instruction), len(self.pool_items))
                    self.pool_items.append((es.name, item_id))

    def identity(self) -> dict[str, Any]:
        s = self.settings
        return {
            "evalsets": {e.name: digest_file(e.path) for e in s.evalsets},
            "n": s.n,
            "min_tokens": s.min_tokens,
            "rouge_l": s.rouge_l,
            "fields": s.fields,
        }

    def score(self, batch: pa.RecordBatch) -> list[dict[str, Any]]:
        from policies.rouge import tokenize

        s = self.settings
        out = []
        lengths = sorted({s.n, *self.short_lengths})
        for texts in example_texts(batch, s.fields):
            toks = words("\n".join(texts.values()))
            found: dict[tuple[str, str], int] = {}
            grams = 0
            for n in lengths:
                for j in range(len(toks) - n + 1):
                    grams += n == s.n
                    hit = self.index.get(hash(tuple(toks[j : j + n])))
                    if hit is not None:
                        found[hit] = found.get(hit, 0) + 1
            record: dict[str, Any] = {"grams": grams, "matches": [[e, i, c] for (e, i), c in found.items()]}
            if self.pool is not None and texts.get("instruction"):
                c = self.pool.collision(tokenize(texts["instruction"]))
                if c is not None:
                    record["rouge"] = [*self.pool_items[c.index], c.score]
            out.append(record)
        return out

    def decide(self, scores: dict[str, Any]) -> Outcome:
        matches = sorted(scores.get("matches", []), key=lambda m: -m[2])
        strong = [m for m in matches if m[2] >= self.settings.min_matches]
        rouge = scores.get("rouge")
        if not strong and not rouge:
            return Outcome(False, "clean", 0.0)
        if strong:
            evalset, item, count = strong[0]
            score = min(count / max(scores.get("grams", 0), 1), 1.0)
            reason = f"prompt overlaps evaluation set {evalset} ({self.settings.n}-grams)"
        else:
            evalset, item, score = rouge
            count = 0
            reason = f"instruction matches evaluation set {evalset} (ROUGE-L above {self.settings.rouge_l})"
        details = {
            "evalset": evalset,
            "item": item,
            "matching_ngrams": count,
            "rouge_l": rouge[2] if rouge else None,
        }
        return Outcome(True, "contaminated", score, reason, details)
