"""Alpaca-style distillation (Taori et al. 2023), with lineage from each example to the exact seed
demonstrations in its prompt.

One round: ``round_size`` prompts, each Alpaca's prompt file followed by ``demos`` (3) seed tasks
(their first instance) numbered ``1. Instruction / 1. Input / 1. Output`` between ``###`` lines and
ending with the next ``Instruction:`` header; each reply holds up to 20 tasks, instruction, input
and output together. Tasks are parsed and filtered as published (a cut-off last task, length,
keywords, "Write a program", first character), then kept only when their instruction's ROUGE-L F
against every seed and every instruction kept so far is at most the threshold (0.7). Each kept
example has an ``in-context-demo`` edge to each seed of its prompt (position 1..3).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
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
    Round,
    SeedTask,
    reply_problem,
)
from generators.parsing import (
    ALPACA_BLACKLIST,
    clean_instruction,
    split_alpaca,
)
from generators.self_instruct import InstructionFilter
from generators.similarity import Similarity
from provenance.core.errors import InputError
from provenance.core.models import Example, Method, NodeKind, Relation

PROMPT = "alpaca/prompt.txt"
TEMPLATE_NAMES = (PROMPT,)


@dataclass(frozen=True)
class AlpacaConfig(GeneratorConfig):
    """The procedure's parameters; the defaults are the published ones (text-davinci-003's
    ``logit_bias`` against its end-of-text token is not sent: token ids differ between models)."""

    api: str = "completions"
    round_size: int = 16
    demos: int = 3
    tasks_per_request: int = 20
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int = 3072
    rouge_threshold: float = 0.7
    min_words: int = 4
    max_words: int = 150
    blacklist: tuple[str, ...] = ALPACA_BLACKLIST
    random_seed: int = 0
    extra_params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.check_common()
        if self.demos < 1:
            raise InputError("the number of demonstrations must be at least 1")
        if not 0 < self.rouge_threshold <= 1:
            raise InputError("--rouge-threshold must be in (0, 1]")

    @property
    def stop(self) -> list[str]:
        """Stop at the number of the task after the last one asked for."""
        last = self.tasks_per_request
        return [f"\n{last}", f"{last}.", f"{last}."]


def encode_prompt(header: str, demos: Sequence[SeedTask]) -> str:
    """Alpaca's prompt: the prompt file, then each demonstration, then the next task's header."""
    prompt = header + "\n"
    for idx, seed in enumerate(demos, start=1):
        given, output = seed.instances[0]
        instruction = clean_instruction(seed.instruction)
        given = "<noinput>" if given == "" else given
        prompt += "###\n"
        prompt += f"{idx}. Instruction: {instruction}\n"
        prompt += f"{idx}. Input:\n{given}\n"
        prompt += f"{idx}. Output:\n{output}\n"
    prompt += "###\n"
    prompt += f"{len(demos) + 1}. Instruction:"
    return prompt


class Alpaca:
    """The distillation loop over a :class:`Generation`."""

    def __init__(
        self,
        generation: Generation,
        seeds: Sequence[SeedTask],
        similarity: Similarity,
        config: AlpacaConfig,
    ) -> None:
        if len(seeds) < config.demos:
            raise InputError(
                f"Alpaca needs at least {config.demos} seeds for its prompt; the ledger has {len(seeds)} "
                "(import some with `provenance seeds import FILE`)"
            )
        self.gen = generation
        self.config = config
        self.seeds = list(seeds)
        self.rng = random.Random(config.random_seed)
        self.filter = InstructionFilter(
            similarity,
            threshold=config.rouge_threshold,
            blacklist=config.blacklist,
            min_words=config.min_words,
            max_words=config.max_words,
        )
        for seed in self.seeds:
            self.filter.keep(NodeKind.SEED.value, seed.seed_id, seed.instruction)
        self.header = generation.templates.text(PROMPT)
        self.built = 0  # prompts built so far: each request's sample number

    def run(self) -> None:
        """Rounds until a limit is reached."""
        gen = self.gen
        while not gen.done:
            gen.stalled(self.round())

    def round(self) -> int:
        """One round of prompts; returns the examples accepted."""
        gen, c = self.gen, self.config
        prompts = [self.rng.sample(self.seeds, c.demos) for _ in range(c.round_size)]
        start, self.built = self.built, self.built + len(prompts)
        requests = []
        for k, demos in enumerate(prompts):
            text = encode_prompt(self.header, demos)
            params: dict[str, Any] = {
                **c.extra_params,
                "max_tokens": c.max_tokens,
                "temperature": c.temperature,
                "top_p": c.top_p,
                "stop": c.stop,
            }
            if c.api == "chat":
                requests.append(
                    TeacherRequest.chat([{"role": "user", "content": text}], sample=start + k, **params)
                )
            else:
                requests.append(TeacherRequest.completion(text, sample=start + k, **params))
        out = Round()
        accepted = 0
        for (ordinal, reply), demos in zip(gen.stream(requests), prompts, strict=False):
            accepted += self._reply(ordinal, reply, demos, out, gen.quota() - accepted)
            if accepted >= gen.quota():
                break
        gen.write(out)
        return accepted

    def _reply(self, ordinal: int, reply: Any, demos: list[SeedTask], out: Round, quota: int) -> int:
        c = self.config
        problem = reply_problem(reply)
        if problem is not None:
            out.candidates.append(
                Candidate(
                    "example",
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
            return 0
        text = reply.text
        first_header = f"{c.demos + 1}. Instruction:"
        if text.lstrip().startswith(first_header):  # a chat model repeating the header it was given
            text = text.lstrip()[len(first_header) :]
        accepted = 0
        for item, task in enumerate(split_alpaca(text, c.demos, reply.finish_reason)):
            content = {"instruction": task.instruction, "input": task.input, "output": task.output}
            reason, details = task.error, None
            if reason is None and not task.output:
                reason = "empty-output"  # not in the published filters: an empty answer teaches nothing
            if reason is None and (rejected := self.filter.check(task.instruction)) is not None:
                reason, details = rejected
            if reason is None and accepted >= quota:
                reason = QUOTA
            if reason is not None:
                out.candidates.append(
                    Candidate(
                        "example", reply.request_hash, 0, item, ordinal, "rejected", reason, content, details
                    )
                )
                continue
            example = Example(instruction=task.instruction, input=task.input, output=task.output)
            edges = [
                (seed.seed_id, NodeKind.SEED.value, Relation.IN_CONTEXT_DEMO.value, position)
                for position, seed in enumerate(demos, start=1)
            ]
            out.examples.append(
                NewExample(
                    example, reply, 0, item, ordinal, Method.TEACHER, PROMPT, edges, {"stage": "example"}
                )
            )
            out.candidates.append(
                Candidate(
                    "example",
                    reply.request_hash,
                    0,
                    item,
                    ordinal,
                    "accepted",
                    "accepted",
                    content,
                    {"demos": [s.seed_id for s in demos]},
                    example.id,
                )
            )
            self.filter.keep(NodeKind.EXAMPLE.value, example.id, task.instruction)
            accepted += 1
        return accepted


def spec(config: AlpacaConfig) -> GenerationSpec:
    """Alpaca as a generation runs it (see :func:`generators.runner.prepare`)."""
    return GenerationSpec(
        "alpaca",
        config.params(),
        TEMPLATE_NAMES,
        lambda gen, seeds, sim: Alpaca(gen, seeds, sim, config),
        min_seeds=config.demos,
    )
