"""Rejection sampling, STaR-style: ``k`` candidates per problem, kept when a verifier accepts them.

Problems come from a file with reference answers (GSM8K style, ``#### answer``) or Python tests;
each problem is stored as a seed (its reference as the instance output) so recall and lineage reach
it. Each candidate is asked for separately (attempt 1..k, so the journal tells them apart), checked
by the verifier (:mod:`generators.verifiers`: exact or numeric answer match, or the code run against
the tests in a sandboxed subprocess; model output is never evaluated in this process), and kept as
an example with method ``verified`` and an ``instruction-of`` edge to its problem, carrying the
verifier, its verdict and the attempt number. Rejected candidates are kept with the verdict's reason.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generators.clients import TeacherReply, TeacherRequest
from generators.generation import (
    QUOTA,
    Candidate,
    Generation,
    GeneratorConfig,
    NewExample,
    Round,
    reply_problem,
)
from generators.verifiers import Problem, Verdict, Verifier
from provenance.core.batch import WriteBatch
from provenance.core.errors import InputError
from provenance.core.ids import digest_file
from provenance.core.ledger import ProvenanceSet
from provenance.core.models import Declaration, Example, Method, NodeKind, Relation, Seed, SeedInstance

TEMPLATES = {"answer": "rejection-sampling/answer.txt", "python": "rejection-sampling/code.txt"}


@dataclass(frozen=True)
class RejectionConfig(GeneratorConfig):
    """Sampling parameters and what to keep."""

    api: str = "chat"
    k: int = 4
    round_size: int = 16
    temperature: float = 0.7
    top_p: float = 1.0
    max_tokens: int = 512
    keep: str = "all"
    random_seed: int = 0  # another seed asks for another k samples of each problem
    extra_params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.check_common()
        if self.k < 1:
            raise InputError("-k must be at least 1")
        if self.keep not in ("all", "first"):
            raise InputError(f"--keep must be all or first, not {self.keep!r}")


def problem_seed(problem: Problem) -> Seed:
    """A problem as a seed: its prompt, and its reference (answer, else the tests) as the output."""
    reference = problem.answer if problem.answer is not None else "\n".join(problem.tests)
    return Seed(
        instruction=problem.prompt,
        instances=(SeedInstance(input="", output=reference),),
        external_id=problem.problem_id,
    )


class RejectionSampling:
    """The sampling loop over a :class:`Generation`."""

    def __init__(
        self,
        generation: Generation,
        problems: Sequence[Problem],
        problems_file: Path,
        problems_declaration: Declaration,
        verifier: Verifier,
        config: RejectionConfig,
    ) -> None:
        if not problems:
            raise InputError("contains no problems", path=problems_file)
        for p in problems:
            if verifier.name == "answer" and p.answer is None:
                raise InputError(
                    "problem has no reference 'answer' for the answer verifier",
                    path=problems_file,
                    line=p.line,
                )
            if verifier.name == "python" and not p.tests:
                raise InputError(
                    "problem has no 'tests' for the python verifier", path=problems_file, line=p.line
                )
        self.gen = generation
        self.problems = list(problems)
        self.verifier = verifier
        self.config = config
        self.template_name = TEMPLATES[verifier.name]
        self.template = generation.templates.text(self.template_name)
        self.seeds = {p.problem_id: problem_seed(p) for p in self.problems}
        self._declaration = problems_declaration
        self._file = problems_file
        self._sha256 = digest_file(str(problems_file))

    def _seed_batch(self, problems: Sequence[Problem]) -> WriteBatch:
        batch = WriteBatch()
        for p in problems:
            seed = self.seeds[p.problem_id]
            batch.add_seed(
                seed_id=seed.id,
                external_id=seed.external_id,
                instruction=seed.instruction,
                instances=json.dumps(seed.content()["instances"], ensure_ascii=False),
                source_line=p.line,
            )
        return batch

    def run(self) -> None:
        """Problems, a round at a time, until a limit is reached or every problem was sampled."""
        gen, size = self.gen, self.config.round_size
        for first in range(0, len(self.problems), size):
            if gen.done:
                return
            self.round(self.problems[first : first + size])  # every round is new problems: no stall rule
        if gen.tally.stop is None:
            gen.tally.stop = f"sampled every problem ({len(self.problems):,}) {self.config.k} times"

    def round(self, problems: Sequence[Problem]) -> int:
        """k attempts at each problem of the round; returns the examples accepted."""
        gen, c = self.gen, self.config
        params: dict[str, Any] = {
            **c.extra_params,
            "max_tokens": c.max_tokens,
            "temperature": c.temperature,
            "top_p": c.top_p,
        }
        plan: list[tuple[Problem, int]] = [(p, attempt) for p in problems for attempt in range(1, c.k + 1)]
        requests = []
        for problem, attempt in plan:
            text = self.template.replace("{problem}", problem.prompt)
            sample = attempt + 1_000_000 * c.random_seed
            if c.api == "chat":
                requests.append(
                    TeacherRequest.chat([{"role": "user", "content": text}], sample=sample, **params)
                )
            else:
                requests.append(TeacherRequest.completion(text, sample=sample, **params))
        answered = list(gen.stream(requests))
        verdicts = self._verify(
            [(reply, problem) for (_, reply), (problem, _) in zip(answered, plan, strict=False)]
        )
        context = ProvenanceSet(
            run_id=gen.run_id,
            declaration=self._declaration,
            method=Method.SEED,
            source_file=str(self._file),
            source_sha256=self._sha256,
            source_format="problems",
        )
        out = Round(seeds=self._seed_batch(problems), seeds_context=context)
        accepted = 0
        solved: set[str] = set()
        kept: set[str] = set()
        for ((ordinal, reply), (problem, attempt)), verdict in zip(
            zip(answered, plan, strict=False), verdicts, strict=True
        ):
            seed = self.seeds[problem.problem_id]
            base = {"problem_id": problem.problem_id, "attempt": attempt}
            if isinstance(verdict, tuple):  # the reply itself was unusable
                out.candidates.append(
                    Candidate(
                        "attempt",
                        reply.request_hash,
                        0,
                        -1,
                        ordinal,
                        "rejected",
                        verdict[0],
                        {**base, "text": reply.text},
                        verdict[1],
                    )
                )
                continue
            content = {**base, "output": reply.text}
            details = {"verifier": self.verifier.name, "verdict": verdict.as_dict()}
            reason = None if verdict.ok else verdict.reason
            example = Example(instruction=problem.prompt, input="", output=reply.text)
            if reason is None and reply.finish_reason == "length":
                reason = "cut-off"
            if reason is None and c.keep == "first" and problem.problem_id in solved:
                reason = "problem-already-solved"
            if reason is None and example.id in kept:
                reason = "duplicate"
            if reason is None and accepted >= gen.quota():
                reason = QUOTA
            if reason is not None:
                out.candidates.append(
                    Candidate(
                        "attempt", reply.request_hash, 0, 0, ordinal, "rejected", reason, content, details
                    )
                )
                continue
            solved.add(problem.problem_id)
            kept.add(example.id)
            out.examples.append(
                NewExample(
                    example,
                    reply,
                    0,
                    attempt,
                    ordinal,
                    Method.VERIFIED,
                    self.template_name,
                    [(seed.id, NodeKind.SEED.value, Relation.INSTRUCTION_OF.value, attempt)],
                    {
                        "stage": "attempt",
                        "problem_id": problem.problem_id,
                        "attempt": attempt,
                        "verifier": self.verifier.name,
                        "verifier_params": self.verifier.params(),
                        "verdict": verdict.as_dict(),
                    },
                )
            )
            out.candidates.append(
                Candidate(
                    "attempt",
                    reply.request_hash,
                    0,
                    0,
                    ordinal,
                    "accepted",
                    "accepted",
                    content,
                    details,
                    example.id,
                )
            )
            accepted += 1
        gen.write(out)
        return accepted

    def _verify(
        self, pairs: list[tuple[TeacherReply, Problem]]
    ) -> list[Verdict | tuple[str, dict[str, Any]]]:
        """Verdicts in order; code runs in parallel subprocesses (one per core)."""

        def one(pair: tuple[TeacherReply, Problem]) -> Verdict | tuple[str, dict[str, Any]]:
            reply, problem = pair
            problem_found = reply_problem(reply)
            if problem_found is not None:
                return problem_found
            return self.verifier.verify(reply.text, problem)

        if self.verifier.name != "python" or len(pairs) < 2:
            return [one(p) for p in pairs]
        with ThreadPoolExecutor(max(1, os.cpu_count() or 1)) as pool:
            return list(pool.map(one, pairs))
