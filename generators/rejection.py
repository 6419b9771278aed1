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
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generators.clients import TeacherReply, TeacherRequest
from generators.generation import (
    QUOTA,
    Candidate,
    Generation,
    GenerationSpec,
    GeneratorConfig,
    NewExample,
    Round,
    reply_problem,
)
from generators.verifiers import Problem, Verdict, Verifier, load_problems, verifier_for
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


@dataclass
class _Kept:
    """What a round kept so far: the examples accepted, the problems solved, the example ids."""

    accepted: int = 0
    solved: set[str] = field(default_factory=set)
    examples: set[str] = field(default_factory=set)


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

    def _requests(self, plan: Sequence[tuple[Problem, int]]) -> list[TeacherRequest]:
        """One request per (problem, attempt); the attempt (and the random seed) set its sample."""
        c = self.config
        params: dict[str, Any] = {
            **c.extra_params,
            "max_tokens": c.max_tokens,
            "temperature": c.temperature,
            "top_p": c.top_p,
        }
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
        return requests

    def _seeds_context(self) -> ProvenanceSet:
        """The provenance of the problems, written as seeds."""
        return ProvenanceSet(
            run_id=self.gen.run_id,
            declaration=self._declaration,
            method=Method.SEED,
            source_file=str(self._file),
            source_sha256=self._sha256,
            source_format="problems",
        )

    def round(self, problems: Sequence[Problem]) -> int:
        """k attempts at each problem of the round; returns the examples accepted."""
        plan = [(p, attempt) for p in problems for attempt in range(1, self.config.k + 1)]
        answered = list(self.gen.stream(self._requests(plan)))
        pairs = list(zip(answered, plan, strict=False))
        verdicts = self._verify([(reply, problem) for (_, reply), (problem, _) in pairs])
        out = Round(seeds=self._seed_batch(problems), seeds_context=self._seeds_context())
        kept = _Kept()
        for ((ordinal, reply), (problem, attempt)), verdict in zip(pairs, verdicts, strict=True):
            self._judge(out, kept, ordinal, reply, problem, attempt, verdict)
        self.gen.write(out)
        return kept.accepted

    def _judge(
        self,
        out: Round,
        kept: _Kept,
        ordinal: int,
        reply: TeacherReply,
        problem: Problem,
        attempt: int,
        verdict: Verdict | tuple[str, dict[str, Any]],
    ) -> None:
        """Add one attempt to the round: an example and its accepted candidate, or a rejected one."""
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
            return
        content = {**base, "output": reply.text}
        details = {"verifier": self.verifier.name, "verdict": verdict.as_dict()}
        example = Example(instruction=problem.prompt, input="", output=reply.text)
        reason = self._reason(kept, reply, problem, verdict, example.id)
        if reason is not None:
            out.candidates.append(
                Candidate("attempt", reply.request_hash, 0, 0, ordinal, "rejected", reason, content, details)
            )
            return
        kept.solved.add(problem.problem_id)
        kept.examples.add(example.id)
        seed = self.seeds[problem.problem_id]
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
        kept.accepted += 1

    def _reason(
        self, kept: _Kept, reply: TeacherReply, problem: Problem, verdict: Verdict, example_id: str
    ) -> str | None:
        """Why a verified attempt is not kept, or None to keep it."""
        if not verdict.ok:
            return verdict.reason
        if reply.finish_reason == "length":
            return "cut-off"
        if self.config.keep == "first" and problem.problem_id in kept.solved:
            return "problem-already-solved"
        if example_id in kept.examples:
            return "duplicate"
        if kept.accepted >= self.gen.quota():
            return QUOTA
        return None

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


def spec(
    problems: Path,
    config: RejectionConfig | Callable[[], RejectionConfig],
    *,
    verifier: str = "answer",
    mode: str = "auto",
    code_timeout: float = 10.0,
    code_memory_mb: int = 512,
    licence: str | None = None,
    source: str | None = None,
) -> GenerationSpec:
    """Rejection sampling of the problems in ``problems`` as a generation runs it (the file is read
    and checked now; see :func:`generators.runner.prepare`). ``mode`` configures the answer
    verifier, ``code_timeout`` and ``code_memory_mb`` the python one; ``licence`` and ``source``
    are the problems' provenance. ``config`` may be given as a function that builds it, called
    once the file was read (so a broken file is the error reported first)."""
    loaded = load_problems(problems)
    if verifier == "answer":
        check = verifier_for("answer", mode=mode)
    else:
        check = verifier_for("python", timeout_s=code_timeout, memory_mb=code_memory_mb)
    if not isinstance(config, RejectionConfig):
        config = config()
    built = config
    declared = Declaration(licence=licence, source=source)
    params = {
        **config.params(),
        "problems_sha256": digest_file(str(problems)),
        "verifier": check.name,
        "verifier_params": check.params(),
    }
    return GenerationSpec(
        "rejection-sampling",
        params,
        (TEMPLATES[check.name],),
        lambda gen, seeds, sim: RejectionSampling(gen, loaded, problems, declared, check, built),
        needs_seeds=False,
    )
