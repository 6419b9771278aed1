"""What every generator shares: the run, the teacher calls, the limits, and the ledger writes.

A generation is deterministic given its parameters (teacher, endpoint, templates, seeds, random
seed): prompts are built from a seeded random generator and from what earlier replies made, and
every reply comes from the teacher-call journal when it holds one. Running the same generation
again (after a crash, or with a larger ``-n``) therefore replays what was done from the journal,
never sends a completed call again, and writes nothing twice (examples, provenance rows, lineage
edges and candidates are keyed by content and position). Each round of requests is written in
one transaction, after its calls are journaled.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from generators.clients import NotInJournal, TeacherError, TeacherReply, TeacherRequest, TeacherRequestError
from generators.journal import Journal
from provenance.core.batch import WriteBatch
from provenance.core.errors import InputError
from provenance.core.generation_store import add_candidates, add_generation, add_instructions
from provenance.core.ids import content_id, digest_file
from provenance.core.ledger import Ledger, ProvenanceSet
from provenance.core.models import Declaration, Example, Method, NodeKind, Origin, Teacher
from provenance.queries.generation import seed_rows

if TYPE_CHECKING:
    from generators.similarity import Similarity

#: Refusals of one request (its prompt, its size); any other refusal means the endpoint, key or model
#: is unusable and stops the run.
_PER_REQUEST_REFUSALS = frozenset({400, 413, 422})
TEMPLATES = Path(__file__).parent / "templates"
QUOTA = "quota-reached"


class TeacherClient(Protocol):
    """What a generator needs of a teacher client (OpenAI-compatible or local transformers)."""

    model: str
    endpoint: str
    replay: bool

    def map(self, requests: Iterable[TeacherRequest], *, return_exceptions: bool = False) -> list[Any]:
        """Answer requests in order (from the journal when it can)."""
        ...


class Templates:
    """Prompt template files under a folder; each one's sha256 goes into the provenance."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else TEMPLATES
        self._text: dict[str, str] = {}
        self._hash: dict[str, str] = {}

    def _load(self, name: str) -> None:
        path = self.root / name
        if not path.is_file():
            raise InputError(f"prompt template {name} not found (expected the file {path})", path=path)
        self._text[name] = path.read_text("utf-8")
        self._hash[name] = digest_file(str(path))

    def text(self, name: str) -> str:
        """The template's text."""
        if name not in self._text:
            self._load(name)
        return self._text[name]

    def hash(self, name: str) -> str:
        """sha256 of the template file's bytes."""
        if name not in self._hash:
            self._load(name)
        return self._hash[name]

    def hashes(self, names: Iterable[str]) -> dict[str, str]:
        """name → sha256 for each template."""
        return {name: self.hash(name) for name in names}


class GeneratorConfig:
    """What the generators' configurations (frozen dataclasses) share: the API and the round size,
    checked the same way, and their parameters as the generation's identity."""

    api: str
    round_size: int

    def check_common(self) -> None:
        """InputError for an unknown API or a round smaller than one request."""
        if self.api not in ("completions", "chat"):
            raise InputError(f"--api must be completions or chat, not {self.api!r}")
        if self.round_size < 1:
            raise InputError("--round-size must be at least 1")

    def params(self) -> dict[str, Any]:
        """JSON-able parameters (part of the generation's identity)."""
        return asdict(self)  # type: ignore[call-overload]


@dataclass(frozen=True)
class Limits:
    """When a generation stops: ``n`` accepted examples, a request or token budget, or stalling.

    ``round_size`` requests are built from one state of the generation (the papers' request batch):
    it is part of the generation's identity, unlike concurrency, which only says how many of a
    round's requests are in flight at once.
    """

    n: int
    max_requests: int | None = None
    budget_tokens: int | None = None
    max_stalled_rounds: int = 5

    def __post_init__(self) -> None:
        if self.n < 1:
            raise InputError(f"-n must be at least 1, not {self.n}")
        if self.max_requests is not None and self.max_requests < 1:
            raise InputError(f"--max-requests must be at least 1, not {self.max_requests}")
        if self.budget_tokens is not None and self.budget_tokens < 1:
            raise InputError(f"--budget-tokens must be at least 1, not {self.budget_tokens}")


@dataclass
class Tally:
    """Counters shown on the progress bar and in the summary."""

    accepted: int = 0
    rejected: int = 0
    requests: int = 0
    sent: int = 0
    from_journal: int = 0
    unusable: int = 0
    tokens: int = 0
    rounds: int = 0
    instructions: int = 0
    over_quota: int = 0  # candidates that passed every filter after -n was reached
    rejected_by: dict[str, int] = field(default_factory=dict)
    stop: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (for --json and the run row)."""
        return asdict(self)


@dataclass(frozen=True)
class Candidate:
    """One thing parsed out of a reply, accepted or rejected with its reason."""

    stage: str
    request_hash: str | None
    choice: int
    item: int
    ordinal: int
    status: str
    reason: str
    content: dict[str, Any]
    details: dict[str, Any] | None = None
    node_id: str | None = None


@dataclass
class NewExample:
    """An accepted example with the reply that wrote it and its lineage edges."""

    example: Example
    reply: TeacherReply
    choice: int
    item: int
    ordinal: int
    method: Method
    template: str
    edges: list[tuple[str, str, str, int]]  # (parent id, parent kind, relation, position)
    extra: dict[str, Any] = field(default_factory=dict)
    prompt: str | None = None  # the prompt verbatim, when the example answers one given task
    record_id: str | None = None  # the source record's own id


@dataclass
class NewInstruction:
    """An accepted machine instruction (a lineage node) and the prompt it came from."""

    instruction_id: str
    text: str
    edges: list[tuple[str, str, str, int]]
    is_classification: bool | None = None


@dataclass
class Round:
    """What one round produced; written in one transaction."""

    instructions: list[NewInstruction] = field(default_factory=list)
    examples: list[NewExample] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)
    seeds: WriteBatch | None = None
    seeds_context: ProvenanceSet | None = None


@dataclass(frozen=True)
class SeedTask:
    """A seed as a generator uses it."""

    seed_id: str
    instruction: str
    instances: tuple[tuple[str, str], ...]
    is_classification: bool | None


def instruction_node_id(text: str) -> str:
    """Id of a machine instruction: the content id of ``{"instruction": text}``."""
    return content_id({"instruction": text})


def load_seeds(ledger: Ledger, source_sha256: str | None = None) -> list[SeedTask]:
    """The seeds in the ledger (all, or those a seeds file with this digest holds), in file order;
    rejection-sampling problems are not among them."""
    rows = seed_rows(ledger, source_sha256)
    return [
        SeedTask(sid, text, tuple((i["input"], i["output"]) for i in json.loads(instances)), clf)
        for sid, text, instances, clf in rows
    ]


class Generation:
    """One generation's bookkeeping: its row, the rounds of teacher calls and writes, the tally."""

    def __init__(
        self,
        ledger: Ledger,
        run_id: str | None,
        client: TeacherClient,
        *,
        method: str,
        params: dict[str, Any],
        templates: Templates,
        template_names: Sequence[str],
        declaration: Declaration,
        limits: Limits,
        on_progress: Callable[[Tally], None] | None = None,
    ) -> None:
        self.ledger = ledger
        self.run_id = ""
        self.client = client
        self.method = method
        self.templates = templates
        self.template_hashes = templates.hashes(template_names)
        self.declaration = declaration
        self.limits = limits
        self.tally = Tally()
        self._on_progress = on_progress
        self._ordinal = 0
        self.params = {
            "method": method,
            "teacher": client.model,
            "endpoint": client.endpoint,
            "templates": self.template_hashes,
            **params,
        }
        if run_id is not None:
            self.begin(run_id)

    def begin(self, run_id: str) -> None:
        """Start writing under a run: record the generation (once per generation id)."""
        self.run_id = run_id
        with self.ledger.transaction():
            add_generation(
                self.ledger,
                self.generation_id,
                method=self.method,
                teacher_model=self.client.model,
                endpoint=self.client.endpoint,
                params=self.params,
                templates=self.template_hashes,
                run_id=run_id,
            )

    @cached_property
    def generation_id(self) -> str:
        """Content id of everything that decides which requests are sent."""
        return content_id(self.params)

    # ---- limits ----------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        """True once a limit was reached (``tally.stop`` says which)."""
        if self.tally.stop is None and self.tally.accepted >= self.limits.n:
            self.tally.stop = f"accepted {self.limits.n} examples (-n)"
        return self.tally.stop is not None

    def quota(self) -> int:
        """How many more examples may be accepted."""
        return max(0, self.limits.n - self.tally.accepted)

    def stalled(self, accepted_this_round: int) -> None:
        """Count rounds that accepted nothing; stop after ``max_stalled_rounds`` in a row."""
        self._stalled = 0 if accepted_this_round else getattr(self, "_stalled", 0) + 1
        if self._stalled >= self.limits.max_stalled_rounds and self.tally.stop is None:
            self.tally.stop = f"{self._stalled} rounds in a row accepted nothing"

    # ---- teacher calls ---------------------------------------------------------------------

    def ask(self, requests: Sequence[TeacherRequest]) -> list[tuple[int, TeacherReply]]:
        """Send (or replay) requests; return (ordinal, reply) for each one answered.

        Fewer replies than requests come back when a limit cuts the batch (``tally.stop`` says
        which). A reply whose request alone was refused (a 400, a prompt too long, …) comes back as an error
        reply; any other teacher failure is raised once the batch is journaled.
        """
        if self.done:
            return []
        limits, tally = self.limits, self.tally
        batch = list(requests)
        if limits.max_requests is not None and tally.requests + len(batch) >= limits.max_requests:
            batch = batch[: max(0, limits.max_requests - tally.requests)]
            tally.stop = f"sent the {limits.max_requests} requests --max-requests allows"
        if limits.budget_tokens is not None and tally.tokens >= limits.budget_tokens:
            tally.stop = f"used {tally.tokens:,} tokens of the --budget-tokens {limits.budget_tokens:,}"
            batch = []
        if not batch:
            return []
        results = self.client.map(batch, return_exceptions=True)
        out: list[tuple[int, TeacherReply]] = []
        fatal: TeacherError | None = None
        for result in results:
            ordinal = self._ordinal
            self._ordinal += 1
            if isinstance(result, NotInJournal):
                tally.stop = "replay reached the end of the recorded teacher calls"
                break
            if isinstance(result, TeacherRequestError) and _refused(result):
                result = _refusal_reply(result, self.client)
            elif isinstance(result, TeacherError):
                fatal = fatal or result
                continue
            tally.requests += 1
            tally.from_journal += result.from_journal
            tally.sent += not result.from_journal
            tally.tokens += _tokens(result)
            tally.unusable += not result.ok
            out.append((ordinal, result))
        self.progress()
        if fatal is not None:
            raise fatal
        if limits.budget_tokens is not None and tally.tokens >= limits.budget_tokens and tally.stop is None:
            tally.stop = f"used {tally.tokens:,} tokens of the --budget-tokens {limits.budget_tokens:,}"
        return out

    def stream(self, requests: Sequence[TeacherRequest]) -> Iterator[tuple[int, TeacherReply]]:
        """:meth:`ask` a slice at a time (``concurrency`` requests, or a local client's batch), so
        a consumer that has what it needs stops before the rest of the round is sent. Replies are
        consumed in request order whatever the slice size, so the outcome does not depend on it."""
        size = max(1, getattr(self.client, "batch_size", None) or getattr(self.client, "concurrency", 1))
        for first in range(0, len(requests), size):
            part = requests[first : first + size]
            answered = self.ask(part)
            yield from answered
            if len(answered) < len(part) or self.tally.stop is not None:
                return

    def progress(self) -> None:
        """Tell the progress bar."""
        if self._on_progress is not None:
            self._on_progress(self.tally)

    # ---- writes ----------------------------------------------------------------------------

    def teacher_for(self, reply: TeacherReply) -> Teacher:
        """The teacher as provenance records it: the model asked for, the model that answered
        (as revision when it differs), the system fingerprint and the endpoint without secrets."""
        base = self.declaration.teacher
        revision = reply.model if reply.model and reply.model != reply.requested_model else None
        return Teacher(
            model=reply.requested_model or self.client.model,
            provider=base.provider if base else None,
            revision=revision,
            fingerprint=reply.system_fingerprint,
            endpoint=reply.endpoint,
        )

    def write(self, round_: Round) -> None:
        """Write a round in one transaction and count it."""
        ledger = self.ledger
        with ledger.transaction():
            if round_.seeds is not None and round_.seeds_context is not None:
                ledger.ensure_set(round_.seeds_context)
                ledger.write(round_.seeds, round_.seeds_context)
            self._write_instructions(round_.instructions)
            self._write_examples(round_.examples)
            # a candidate cut by -n is no filter's decision: it is not stored, and a run with a
            # larger -n accepts it
            self._write_candidates([c for c in round_.candidates if c.reason != QUOTA])
        tally = self.tally
        tally.rounds += 1
        tally.accepted += len(round_.examples)
        tally.instructions += len(round_.instructions)
        for c in round_.candidates:
            if c.reason == QUOTA:
                tally.over_quota += 1
            elif c.status == "rejected":
                tally.rejected += 1
                tally.rejected_by[c.reason] = tally.rejected_by.get(c.reason, 0) + 1
        self.progress()

    def _write_instructions(self, instructions: list[NewInstruction]) -> None:
        if not instructions:
            return
        add_instructions(
            self.ledger,
            self.run_id,
            [
                {"instruction_id": i.instruction_id, "instruction": i.text, "clf": i.is_classification}
                for i in instructions
            ],
        )
        batch = WriteBatch()
        for i in instructions:
            for parent, kind, relation, position in i.edges:
                batch.add_edge(i.instruction_id, parent, kind, relation, position)
        context = self._context(None, Method.TEACHER)
        self.ledger.write(batch, context)

    def _context(self, teacher: Teacher | None, method: Method) -> ProvenanceSet:
        declaration = self.declaration
        if teacher is not None:
            declaration = declaration.model_copy(update={"teacher": teacher, "origin": Origin.MACHINE})
        return ProvenanceSet(
            run_id=self.run_id,
            declaration=declaration,
            method=method,
            method_params={"generation_id": self.generation_id, "generator": self.method},
        )

    def _write_examples(self, examples: list[NewExample]) -> None:
        groups: dict[tuple[str, str], tuple[ProvenanceSet, WriteBatch]] = {}
        for new in examples:
            teacher = self.teacher_for(new.reply)
            key = (teacher.id, new.method.value)
            if key not in groups:
                context = self._context(teacher, new.method)
                self.ledger.ensure_set(context)
                groups[key] = (context, WriteBatch())
            batch = groups[key][1]
            ex = new.example
            batch.add_example(ex.id, ex.kind.value, ex.instruction, ex.input, ex.output, None)
            reply = new.reply
            extra = {
                "generation_id": self.generation_id,
                "request_hash": reply.request_hash,
                "choice": new.choice,
                "latency_ms": reply.latency_ms,
                "response_model": reply.model,
                **new.extra,
            }
            batch.add_claim(
                ex.id,
                new.ordinal,
                source_item=new.item,
                claim_key=f"{reply.request_hash}:{new.choice}:{new.item}",
                extra=json.dumps(extra, ensure_ascii=False, default=str),
                prompt_template_hash=self.template_hashes.get(new.template),
                request_id=reply.request_id,
                usage=json.dumps(reply.usage) if reply.usage is not None else None,
                prompt=new.prompt,
                source_record_id=new.record_id,
            )
            for parent, kind, relation, position in new.edges:
                batch.add_edge(ex.id, parent, kind, relation, position)
        for context, batch in groups.values():
            self.ledger.write(batch, context)

    def _write_candidates(self, candidates: list[Candidate]) -> None:
        if not candidates:
            return
        add_candidates(
            self.ledger,
            self.generation_id,
            self.run_id,
            [
                {
                    "stage": c.stage,
                    "request_hash": c.request_hash,
                    "choice": c.choice,
                    "item": c.item,
                    "ordinal": c.ordinal,
                    "status": c.status,
                    "reason": c.reason,
                    "details": json.dumps(c.details, ensure_ascii=False, default=str) if c.details else None,
                    "content": json.dumps(c.content, ensure_ascii=False),
                    "node_id": c.node_id,
                }
                for c in candidates
            ],
        )

    def summary(self) -> dict[str, Any]:
        """The run's summary: the generation, its teacher and the tally."""
        return {
            "generation_id": self.generation_id,
            "method": self.method,
            "teacher": self.client.model,
            "endpoint": self.client.endpoint,
            **self.tally.as_dict(),
        }


class Loop(Protocol):
    """A generator's loop (Self-Instruct, Alpaca, rejection sampling)."""

    def run(self) -> None:
        """Rounds until a limit is reached."""
        ...


@dataclass(frozen=True)
class GenerationSpec:
    """One generator as :func:`generators.runner.prepare` runs it: the method, the parameters that
    are its identity, its templates, and its loop built from the generation, the seeds and the
    similarity of instructions. ``min_seeds``: how many seeds its prompt needs."""

    method: str
    params: dict[str, Any]
    template_names: tuple[str, ...]
    build: Callable[[Generation, list[SeedTask], Similarity], Loop]
    needs_seeds: bool = True
    min_seeds: int = 0


def execute(
    ledger: Ledger,
    *,
    method: str,
    params: dict[str, Any],
    make_client: Callable[[Journal], Any],
    make_loop: Callable[[Generation], Loop],
    templates: Templates,
    template_names: Sequence[str],
    declaration: Declaration,
    limits: Limits,
    on_progress: Callable[[Tally], None] | None = None,
) -> dict[str, Any]:
    """Run one generation from start to summary: client, loop, run row, rounds, end of run.

    The client (its API key), the templates and the loop's own checks (seeds, problems) are all
    checked before anything is written, so bad input leaves the ledger as it was. A failure
    after that marks the run failed and is raised; what earlier rounds wrote stays, and running
    the same generation again continues from the journal.
    """
    journal = Journal(ledger, "")
    client = None
    try:
        client = make_client(journal)
        gen = Generation(
            ledger,
            None,
            client,
            method=method,
            params=params,
            templates=templates,
            template_names=template_names,
            declaration=declaration,
            limits=limits,
            on_progress=on_progress,
        )
        loop = make_loop(gen)
        # the run row commits at once; a failure ends it failed, and what earlier rounds wrote stays
        with ledger.run(f"generate-{method}", {"method": method, **params}, atomic=False) as run:
            journal.run_id = run.run_id
            gen.begin(run.run_id)
            loop.run()
            summary = run.summary = gen.summary()
        return summary
    finally:
        if client is not None:
            client.close()
        journal.close()


def _tokens(reply: TeacherReply) -> int:
    usage = reply.usage or {}
    total = usage.get("total_tokens")
    if isinstance(total, int):
        return total
    return sum(
        v for k, v in usage.items() if k in ("prompt_tokens", "completion_tokens") and isinstance(v, int)
    )


def _refused(exc: TeacherRequestError) -> bool:
    """True when only this request was refused (a 400, a prompt too long for a local model, …),
    not the endpoint, the key or the model (401, 403, 404, …)."""
    return exc.status in _PER_REQUEST_REFUSALS


def _refusal_reply(exc: TeacherRequestError, client: TeacherClient) -> TeacherReply:
    return TeacherReply(
        texts=(),
        finish_reasons=(),
        model=None,
        system_fingerprint=None,
        request_id=None,
        usage=None,
        latency_ms=None,
        request_hash=exc.request_hash or "",
        from_journal=exc.from_journal,
        attempts=1,
        http_status=None,
        endpoint=client.endpoint,
        api="",
        requested_model=client.model,
        error=f"request refused: {exc}",
    )


def reply_problem(reply: TeacherReply) -> tuple[str, dict[str, Any]] | None:
    """Why a reply gives no candidates at all: (reason, details), or None when it is usable."""
    if not reply.ok:
        return "unusable-response", {"error": reply.error}
    if not any(t.strip() for t in reply.texts):
        return "empty-response", {}
    return None


def seed_parent(seed: SeedTask) -> tuple[str, str]:
    """(id, kind) of a seed as a lineage parent."""
    return seed.seed_id, NodeKind.SEED.value


__all__ = [
    "Candidate",
    "Generation",
    "GenerationSpec",
    "Limits",
    "NewExample",
    "NewInstruction",
    "Round",
    "SeedTask",
    "Tally",
    "TeacherClient",
    "Templates",
    "execute",
    "instruction_node_id",
    "load_seeds",
    "reply_problem",
]
