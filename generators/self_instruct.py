"""Self-Instruct's bootstrap (Wang et al. 2022), with lineage from every instance back to the exact
seeds and machine instructions that were in its instruction's prompt.

One round: ``round_size`` prompts, each of ``prompt_instructions`` (8) instructions, up to
``machine_in_prompt`` (2) of them machine-written and the rest human seeds, shuffled, numbered,
ending with the next number; each reply is cut at the numbers, cleaned and filtered (length,
keywords, "Write a program", first character), and an instruction is kept only when its ROUGE-L F
against every seed and every instruction kept so far is at most the threshold (0.7). Each kept
instruction is asked whether it is a classification task (a few-shot Yes/No prompt, temperature 0)
and then for instances: output first (class label, then input) for classification, input first
otherwise. Instances go through the published clean-up and at most ``max_instances`` (5) per task
are kept. Every candidate, kept or not, is stored with its reason.

Lineage: a kept instruction is a node (``instructions``) with an ``in-context-demo`` edge to each
seed and machine instruction of its prompt (position = its number in the prompt); each instance is
an example with an ``instruction-of`` edge to its instruction.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from generators.clients import TeacherRequest
from generators.generation import (
    QUOTA,
    Candidate,
    Generation,
    GenerationSpec,
    GeneratorConfig,
    NewExample,
    NewInstruction,
    Round,
    SeedTask,
    instruction_node_id,
    reply_problem,
)
from generators.parsing import (
    SELF_INSTRUCT_BLACKLIST,
    blacklisted_word,
    clean_instruction,
    conflicting_inputs,
    instance_filter,
    instruction_filter,
    parse_classification_instances,
    parse_generation_instances,
    parse_yes_no,
    split_self_instruct,
)
from generators.similarity import Similarity
from provenance.core.errors import InputError
from provenance.core.models import Example, Method, NodeKind, Relation

BOOTSTRAP = "self-instruct/bootstrap.txt"
BOOTSTRAP_CLF = "self-instruct/bootstrap-classification.txt"
IS_CLF = "self-instruct/is-classification.txt"
INPUT_FIRST = "self-instruct/instances-input-first.txt"
OUTPUT_FIRST = "self-instruct/instances-output-first.txt"
TEMPLATE_NAMES = (BOOTSTRAP, BOOTSTRAP_CLF, IS_CLF, INPUT_FIRST, OUTPUT_FIRST)
_LEADING_NUMBER = re.compile(r"^\s*\d+\s?\.\s")


class InstructionFilter:
    """The papers' instruction filters, in order: heuristics (length, keywords, "Write a program",
    first character), then ROUGE-L diversity against the seeds and every instruction kept so far.

    :meth:`check` says why a candidate is rejected (reason, details) or None; :meth:`keep` adds a
    kept instruction to the pool.
    """

    def __init__(
        self,
        similarity: Similarity,
        *,
        threshold: float,
        blacklist: Sequence[str],
        min_words: int = 4,
        max_words: int = 150,
    ) -> None:
        self.similarity = similarity
        self.threshold = threshold
        self.blacklist = tuple(blacklist)
        self.min_words = min_words
        self.max_words = max_words
        self.pool = similarity.pool(threshold)
        self.names: list[tuple[str, str, str]] = []  # pool key → (kind, id, text)

    def check(self, instruction: str) -> tuple[str, dict[str, Any] | None] | None:
        """(reason, details) when ``instruction`` is rejected, None when it passes."""
        reason = instruction_filter(
            instruction, blacklist=self.blacklist, min_words=self.min_words, max_words=self.max_words
        )
        if reason == "blacklisted-word":
            return reason, {"word": blacklisted_word(instruction, self.blacklist)}
        if reason in ("too-short", "too-long"):
            return reason, {"words": len(instruction.split())}
        if reason is not None:
            return reason, None
        hit = self.pool.collision(self.similarity.tokenize(instruction))
        if hit is None:
            return None
        kind, ident, other = self.names[hit.index]
        details = {
            "rouge_l": hit.score,
            "collided_kind": kind,
            "collided_with": ident,
            "collided_text": other,
            "threshold": self.threshold,
        }
        return "too-similar", details

    def keep(self, kind: str, ident: str, text: str) -> None:
        """Add a seed or a kept instruction to the diversity pool."""
        self.pool.add(self.similarity.tokenize(text), len(self.names))
        self.names.append((kind, ident, text))


@dataclass(frozen=True)
class SelfInstructConfig(GeneratorConfig):
    """The procedure's parameters; the defaults are the published ones."""

    api: str = "completions"
    round_size: int = 16
    prompt_instructions: int = 8
    machine_in_prompt: int = 2
    classification_only: bool = False
    temperature: float = 0.7
    top_p: float = 0.5
    presence_penalty: float = 2.0
    frequency_penalty: float = 0.0
    max_tokens: int = 1024
    rouge_threshold: float = 0.7
    min_words: int = 4
    max_words: int = 150
    blacklist: tuple[str, ...] = SELF_INSTRUCT_BLACKLIST
    capitalize: bool = True
    max_instances: int = 5
    instance_max_tokens: int = 350  # input-first (generation) tasks, as published
    instance_max_tokens_classification: int = 300  # output-first (classification) tasks
    instance_presence_penalty: float = 1.5
    random_seed: int = 0
    extra_params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.check_common()
        if not 0 <= self.machine_in_prompt < self.prompt_instructions:
            raise InputError("machine instructions per prompt must be fewer than the prompt's instructions")
        if not 0 < self.rouge_threshold <= 1:
            raise InputError("--rouge-threshold must be in (0, 1]")

    @property
    def stop(self) -> list[str]:
        """Stop at the number after the last new instruction (``16`` for 8 in the prompt)."""
        last = 2 * self.prompt_instructions
        return ["\n\n", f"\n{last}", f"{last}.", f"{last} ."]


def encode_prompt(header: str, instructions: Sequence[str]) -> str:
    """The bootstrap prompt: the header, the numbered instructions, and the next number."""
    lines = [header.rstrip("\n")]
    lines += [f"{i}. {clean_instruction(text)}" for i, text in enumerate(instructions, start=1)]
    return "\n".join(lines) + f"\n{len(instructions) + 1}."


@dataclass
class _Prompt:
    items: list[tuple[str, str, str]]  # (kind, id, text), in prompt order
    text: str


@dataclass
class _Kept:
    node: NewInstruction
    reply_hash: str
    ordinal: int


class SelfInstruct:
    """The bootstrap loop over a :class:`Generation`."""

    def __init__(
        self,
        generation: Generation,
        seeds: Sequence[SeedTask],
        similarity: Similarity,
        config: SelfInstructConfig,
    ) -> None:
        usable = [s for s in seeds if s.is_classification] if config.classification_only else list(seeds)
        if len(usable) < config.prompt_instructions:
            which = "classification seeds" if config.classification_only else "seeds"
            raise InputError(
                f"Self-Instruct needs at least {config.prompt_instructions} {which} for its prompt; "
                f"the ledger has {len(usable)} (import some with `provenance seeds import FILE`)"
            )
        self.gen = generation
        self.config = config
        self.seeds = usable
        self.rng = random.Random(config.random_seed)
        self.filter = InstructionFilter(
            similarity,
            threshold=config.rouge_threshold,
            blacklist=config.blacklist,
            min_words=config.min_words,
            max_words=config.max_words,
        )
        for seed in usable:
            self.filter.keep(NodeKind.SEED.value, seed.seed_id, seed.instruction)
        self.machine: list[tuple[str, str]] = []  # (instruction id, text) kept by this generation
        templates = generation.templates
        self.header = templates.text(BOOTSTRAP_CLF if config.classification_only else BOOTSTRAP)
        self.built = 0  # bootstrap prompts built so far: each request's sample number

    def _params(self, **overrides: Any) -> dict[str, Any]:
        return {**self.config.extra_params, **overrides}

    def _request(self, text: str, ordinal_hint: int, **params: Any) -> TeacherRequest:
        if self.config.api == "chat":
            return TeacherRequest.chat([{"role": "user", "content": text}], sample=ordinal_hint, **params)
        return TeacherRequest.completion(text, sample=ordinal_hint, **params)

    def run(self) -> None:
        """Rounds until a limit is reached."""
        gen = self.gen
        while not gen.done:
            accepted = self.round()
            gen.stalled(accepted)

    # ---- one round -------------------------------------------------------------------------

    def _prompts(self) -> list[_Prompt]:
        c = self.config
        prompts = []
        for _ in range(c.round_size):
            machine = self.rng.sample(self.machine, min(c.machine_in_prompt, len(self.machine)))
            seeds = self.rng.sample(self.seeds, c.prompt_instructions - len(machine))
            items = [(NodeKind.INSTRUCTION.value, i, t) for i, t in machine]
            items += [(NodeKind.SEED.value, s.seed_id, s.instruction) for s in seeds]
            self.rng.shuffle(items)
            prompts.append(_Prompt(items, encode_prompt(self.header, [t for _, _, t in items])))
        return prompts

    def round(self) -> int:
        """One bootstrap round and the instances of what it kept; returns examples accepted."""
        gen, c = self.gen, self.config
        out = Round()
        prompts = self._prompts()
        start, self.built = self.built, self.built + len(prompts)
        requests = [
            self._request(
                p.text,
                start + k,
                max_tokens=c.max_tokens,
                temperature=c.temperature,
                top_p=c.top_p,
                presence_penalty=c.presence_penalty,
                frequency_penalty=c.frequency_penalty,
                stop=c.stop,
                **self._params(),
            )
            for k, p in enumerate(prompts)
        ]
        kept: list[_Kept] = []
        for (ordinal, reply), prompt in zip(gen.stream(requests), prompts, strict=False):
            kept.extend(self._bootstrap(ordinal, reply, prompt, out))
        out.instructions = [k.node for k in kept]
        accepted = 0
        for first in range(0, len(kept), c.round_size):
            if gen.done or gen.quota() - accepted <= 0:
                break
            accepted += self._instances(kept[first : first + c.round_size], out, accepted)
        gen.write(out)
        return accepted

    def _bootstrap(self, ordinal: int, reply: Any, prompt: _Prompt, out: Round) -> list[_Kept]:
        c = self.config
        problem = reply_problem(reply)
        if problem is None and reply.finish_reason == "length":
            problem = ("cut-off", {"finish_reason": "length"})
        if problem is not None:
            out.candidates.append(
                Candidate(
                    "instruction",
                    reply.request_hash,
                    0,
                    -1,
                    ordinal,
                    "rejected",
                    problem[0],
                    {"text": reply.text} if reply.text else {},
                    problem[1],
                )
            )
            return []
        kept = []
        text = _LEADING_NUMBER.sub("", reply.text, count=1)
        for item, inst in enumerate(split_self_instruct(text, capitalize=c.capitalize)):
            rejected = self.filter.check(inst)
            reason, details = rejected if rejected is not None else (None, None)
            if reason is not None:
                out.candidates.append(
                    Candidate(
                        "instruction",
                        reply.request_hash,
                        0,
                        item,
                        ordinal,
                        "rejected",
                        reason,
                        {"instruction": inst},
                        details,
                    )
                )
                continue
            node_id = instruction_node_id(inst)
            edges = [
                (ident, kind, Relation.IN_CONTEXT_DEMO.value, position)
                for position, (kind, ident, _) in enumerate(prompt.items, start=1)
                if ident != node_id
            ]
            node = NewInstruction(node_id, inst, edges, True if c.classification_only else None)
            out.candidates.append(
                Candidate(
                    "instruction",
                    reply.request_hash,
                    0,
                    item,
                    ordinal,
                    "accepted",
                    "accepted",
                    {"instruction": inst},
                    {"prompt": [i for _, i, _ in prompt.items]},
                    node_id,
                )
            )
            self.filter.keep(NodeKind.INSTRUCTION.value, node_id, inst)
            self.machine.append((node_id, inst))
            kept.append(_Kept(node, reply.request_hash, ordinal))
        return kept

    def _classify(self, chunk: list[_Kept], out: Round) -> dict[str, tuple[bool | None, str | None]]:
        """instruction id → (is classification, the request that said so)."""
        if self.config.classification_only:
            return {k.node.instruction_id: (True, None) for k in chunk}
        template = self.gen.templates.text(IS_CLF)
        requests = [
            self._request(
                template.replace("{instruction}", k.node.text),
                0,
                max_tokens=3,
                temperature=0,
                top_p=0,
                stop=["\n", "Task"],
                **self._params(),
            )
            for k in chunk
        ]
        answers: dict[str, tuple[bool | None, str | None]] = {}
        for (ordinal, reply), k in zip(self.gen.stream(requests), chunk, strict=False):
            verdict = parse_yes_no(reply.text) if reply.ok else None
            answers[k.node.instruction_id] = (verdict, reply.request_hash)
            k.node.is_classification = verdict
            # not a filter: the answer decides output-first or input-first; an unclear one means input-first
            reason = {True: "classification", False: "not-classification", None: "unclear-answer"}[verdict]
            out.candidates.append(
                Candidate(
                    "classification",
                    reply.request_hash,
                    0,
                    0,
                    ordinal,
                    "accepted",
                    reason,
                    {"instruction": k.node.text, "answer": reply.text},
                    {"error": reply.error} if reply.error else None,
                    k.node.instruction_id,
                )
            )
        return answers

    def _instances(self, chunk: list[_Kept], out: Round, accepted_before: int) -> int:
        gen, c = self.gen, self.config
        answers = self._classify(chunk, out)
        chunk = [k for k in chunk if k.node.instruction_id in answers]
        requests = []
        for k in chunk:
            clf = bool(answers[k.node.instruction_id][0])
            template = gen.templates.text(OUTPUT_FIRST if clf else INPUT_FIRST)
            requests.append(
                self._request(
                    template.replace("{instruction}", k.node.text),
                    0,
                    max_tokens=c.instance_max_tokens_classification if clf else c.instance_max_tokens,
                    temperature=0,
                    top_p=0,
                    presence_penalty=c.instance_presence_penalty,
                    stop=[f"Example {c.max_instances + 1}", "Task:"],
                    **self._params(),
                )
            )
        accepted = 0
        for (ordinal, reply), k in zip(gen.stream(requests), chunk, strict=False):
            clf, clf_hash = answers[k.node.instruction_id]
            quota = gen.quota() - accepted_before - accepted
            accepted += self._task_instances(ordinal, reply, k, bool(clf), clf_hash, quota, out)
            if accepted >= gen.quota() - accepted_before:
                break
        return accepted

    def _task_instances(
        self,
        ordinal: int,
        reply: Any,
        kept: _Kept,
        clf: bool,
        clf_hash: str | None,
        quota: int,
        out: Round,
    ) -> int:
        """Add one task's instances to the round (the first ``quota`` of those chosen become
        examples); returns the examples accepted."""
        node = kept.node

        def reject(
            item: int, reason: str, content: dict[str, Any], details: dict[str, Any] | None = None
        ) -> None:
            out.candidates.append(
                Candidate(
                    "instance",
                    reply.request_hash,
                    0,
                    item,
                    ordinal,
                    "rejected",
                    reason,
                    {"instruction": node.text, **content},
                    details,
                )
            )

        unique = self._chosen_instances(reply, node, clf, reject)
        accepted = 0
        for item, given, output in unique:
            if accepted >= quota:
                reject(item, QUOTA, {"input": given, "output": output})
                continue
            example = Example(instruction=node.text, input=given, output=output)
            out.examples.append(
                NewExample(
                    example,
                    reply,
                    0,
                    item,
                    ordinal,
                    Method.TEACHER,
                    OUTPUT_FIRST if clf else INPUT_FIRST,
                    [(node.instruction_id, NodeKind.INSTRUCTION.value, Relation.INSTRUCTION_OF.value, item)],
                    {
                        "stage": "instance",
                        "instruction_id": node.instruction_id,
                        "instruction_request_hash": kept.reply_hash,
                        "classification_request_hash": clf_hash,
                        "is_classification": clf,
                    },
                )
            )
            out.candidates.append(
                Candidate(
                    "instance",
                    reply.request_hash,
                    0,
                    item,
                    ordinal,
                    "accepted",
                    "accepted",
                    {"instruction": node.text, "input": given, "output": output},
                    None,
                    example.id,
                )
            )
            accepted += 1
        return accepted

    def _chosen_instances(
        self, reply: Any, node: NewInstruction, clf: bool, reject: Callable[..., None]
    ) -> list[tuple[int, str, str]]:
        """(item, input, output) of the instances a reply gives that pass the filters, are not
        repeated and are among the ``max_instances`` chosen; ``reject`` is told of every other one."""
        c = self.config
        problem = reply_problem(reply)
        if problem is not None:
            reject(-1, problem[0], {"text": reply.text}, problem[1])
            return []
        parse = parse_classification_instances if clf else parse_generation_instances
        instances = parse(reply.text, reply.finish_reason)
        if not instances:
            reject(-1, "no-instances", {"text": reply.text}, {"output_first": clf})
            return []
        valid: list[tuple[int, str, str]] = []
        for item, (given, output) in enumerate(instances):
            reason = instance_filter(given, output)
            if reason is not None:
                reject(item, reason, {"input": given, "output": output})
            else:
                valid.append((item, given, output))
        if conflicting_inputs([(g, o) for _, g, o in valid]):
            for item, given, output in valid:
                reject(item, "same-input-different-output", {"input": given, "output": output})
            return []
        unique: list[tuple[int, str, str]] = []
        seen: set[tuple[str, str]] = set()
        for item, given, output in valid:
            if (given, output) in seen:
                reject(item, "duplicate", {"input": given, "output": output})
            else:
                seen.add((given, output))
                unique.append((item, given, output))
        if len(unique) > c.max_instances:
            chosen = set(random.Random(node.instruction_id).sample(range(len(unique)), c.max_instances))
            for k, (item, given, output) in enumerate(unique):
                if k not in chosen:
                    reject(
                        item,
                        "over-max-instances",
                        {"input": given, "output": output},
                        {"max_instances": c.max_instances},
                    )
            unique = [u for k, u in enumerate(unique) if k in chosen]
        return unique


def spec(config: SelfInstructConfig) -> GenerationSpec:
    """Self-Instruct as a generation runs it (see :func:`generators.runner.prepare`)."""
    return GenerationSpec(
        "self-instruct",
        config.params(),
        TEMPLATE_NAMES,
        lambda gen, seeds, sim: SelfInstruct(gen, seeds, sim, config),
        min_seeds=config.prompt_instructions,
    )
