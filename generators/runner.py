"""From a generator and the teacher's options to a finished generation.

:func:`prepare` checks everything that can be checked before the ledger is written (the limits,
the templates, the teacher's declaration, the API key, the seeds file); :meth:`Prepared.run` then
imports the seeds, runs the generation (:func:`generators.generation.execute`) and returns its
summary. The teacher registry is not read here: the caller passes a function that resolves a
model id to its registry entry (the command line passes ``policies``' resolver).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Protocol

from generators.clients import MissingApiKey
from generators.generation import (
    GenerationSpec,
    Limits,
    SeedTask,
    Tally,
    TeacherClient,
    Templates,
    execute,
    load_seeds,
)
from generators.journal import Journal
from generators.self_instruct import Similarity
from provenance.core.errors import InputError
from provenance.core.ledger import Ledger
from provenance.core.models import Declaration, Origin, Teacher, Terms, control_problem


@dataclass(frozen=True)
class TeacherOptions:
    """What every generator is told: the teacher and its endpoint, the limits, the journal's use,
    the declared provenance of the output, and the seeds file (for generators that use seeds)."""

    teacher: str
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    local_path: Path | None = None
    n: int = 100
    concurrency: int = 4
    replay: bool = False
    max_requests: int | None = None
    budget_tokens: int | None = None
    templates_dir: Path | None = None
    licence: str | None = None
    terms: str | None = None
    source: str | None = None
    timeout: float = 120.0
    max_retries: int = 5
    seeds_file: Path | None = None
    seeds_licence: str | None = None

    @classmethod
    def pick(cls, values: Mapping[str, Any]) -> TeacherOptions:
        """The options found among ``values`` (a command's options); the others are ignored."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


class RegistryTerms(Protocol):
    """The terms of a teacher registry entry."""

    id: str
    version: str | None


class RegistryEvidence(Protocol):
    """A piece of evidence of a teacher registry entry."""

    retrieved: str


class RegistryEntry(Protocol):
    """What a teacher registry entry (``policies.registry.Entry``) tells a declaration."""

    id: str
    provider: str | None
    licence: str | None
    terms: RegistryTerms | None
    training: Any
    evidence: Sequence[RegistryEvidence]


def teacher_declaration(
    teacher: str, entry: RegistryEntry | None, *, licence: str | None = None, terms: str | None = None
) -> Declaration:
    """The provenance of the teacher's output: from its registry entry, unless given.

    Declared terms that are the entry's keep the registry's class; terms left out are the entry's,
    dated by its first evidence with a full retrieval date.

    Raises:
        InputError: an option holds a control character (declared ids are plain text).
    """
    for name, value in (("--teacher", teacher), ("--licence", licence), ("--terms", terms)):
        problem = control_problem(value)
        if problem is not None:
            raise InputError(f"{name}: the value {problem}")
    declared_terms = Terms.parse(terms) if terms else None
    registry_terms = entry.terms.id if entry is not None and entry.terms is not None else None
    if declared_terms is not None and entry is not None and registry_terms == declared_terms.id:
        declared_terms = declared_terms.model_copy(update={"status": entry.training})  # the registry's class
    if entry is not None and declared_terms is None and entry.terms is not None:
        retrieved = next((e.retrieved for e in entry.evidence if len(e.retrieved) == 10), None)
        declared_terms = Terms(
            id=entry.terms.id, version=entry.terms.version, retrieved=retrieved, status=entry.training
        )
    return Declaration(
        origin=Origin.MACHINE,
        teacher=Teacher(model=teacher, provider=entry.provider if entry else None),
        licence=licence or (entry.licence if entry else None),
        terms=declared_terms,
    )


def check_api_key(options: TeacherOptions) -> None:
    """OpenAI's API without its key: an error before anything is written."""
    remote = options.local_path is None and options.base_url is None and not options.replay
    if remote and not os.environ.get(options.api_key_env) and not os.environ.get("OPENAI_BASE_URL"):
        raise MissingApiKey(
            f"the environment variable {options.api_key_env} is not set; set it to your API key "
            "(or give --base-url of a local server, or choose the variable with --api-key-env)"
        )


def count_seeds(path: Path, method: str, needed: int) -> None:
    """Read a seeds file once (a malformed one fails here, naming the line) and count its tasks."""
    from generators.importers.json_files import json_source

    if not Path(path).is_file():
        raise InputError("file does not exist", path=path)
    count = sum(1 for _ in json_source(Path(path)))
    if count < needed:
        raise InputError(
            f"holds {count} seed tasks; {method} needs at least {needed} for its prompt", path=path
        )


def make_client(options: TeacherOptions, journal: Journal) -> TeacherClient:
    """The teacher client the options name: a local transformers checkpoint, or an endpoint."""
    if options.local_path is not None:
        from generators.local_client import TransformersClient

        return TransformersClient(
            options.local_path, journal=journal, model_name=options.teacher, replay=options.replay
        )
    from generators.clients import OpenAICompatibleClient

    return OpenAICompatibleClient(
        options.base_url,
        options.api_key_env,
        options.teacher,
        journal=journal,
        max_retries=options.max_retries,
        timeout=options.timeout,
        concurrency=options.concurrency,
        replay=options.replay,
    )


@dataclass(frozen=True)
class Prepared:
    """A generation checked and ready to run: see :func:`prepare`."""

    spec: GenerationSpec
    options: TeacherOptions
    limits: Limits
    templates: Templates
    declaration: Declaration
    entry: RegistryEntry | None
    similarity: Similarity

    def _seeds(self, ledger: Ledger) -> list[SeedTask]:
        """The seeds the generator uses: those of the seeds file (imported now), else the ledger's."""
        o = self.options
        if not self.spec.needs_seeds:
            return []
        if o.seeds_file is None:
            return load_seeds(ledger)
        from generators.importers import import_seeds

        declared = Declaration(origin=Origin.HUMAN, licence=o.seeds_licence)
        return load_seeds(ledger, import_seeds(ledger, o.seeds_file, declared).sha256)

    def run(self, ledger: Ledger, on_progress: Callable[[Tally], None] | None = None) -> dict[str, Any]:
        """Run the generation in ``ledger``; return its summary, with the run's parameters and the
        teacher's registry entry. With ``replay``, a generation of which the journal holds no
        request is an InputError (once the run is recorded)."""
        spec, o, limits = self.spec, self.options, self.limits
        seeds = self._seeds(ledger)
        seed_ids = [s.seed_id for s in seeds]
        summary = execute(
            ledger,
            method=spec.method,
            params={**spec.params, "seeds": seed_ids},
            make_client=lambda journal: make_client(o, journal),
            make_loop=lambda gen: spec.build(gen, seeds, self.similarity),
            templates=self.templates,
            template_names=spec.template_names,
            declaration=self.declaration,
            limits=limits,
            on_progress=on_progress,
        )
        summary["run_params"] = {
            **spec.params,
            "n": limits.n,
            "max_requests": limits.max_requests,
            "budget_tokens": limits.budget_tokens,
            "concurrency": o.concurrency,
            "replay": o.replay,
            "api_key_env": o.api_key_env,
            "seeds": seed_ids,
        }
        summary["registry_entry"] = self.entry.id if self.entry else None
        if o.replay and summary["requests"] == 0:
            raise InputError(
                "--replay: the journal holds none of this generation's requests; check --teacher, "
                "--base-url, the templates and the seeds against the recorded run "
                "(`provenance journal import` loads one)"
            )
        return summary


def prepare(
    spec: GenerationSpec,
    options: TeacherOptions,
    *,
    resolve: Callable[[str], RegistryEntry | None],
    similarity: Similarity,
) -> Prepared:
    """Check a generation before anything is written: the limits, the templates, the teacher's
    declaration (``resolve`` gives the teacher's registry entry, or None), the API key and the
    seeds file. Raises InputError (or MissingApiKey) for what is wrong."""
    limits = Limits(n=options.n, max_requests=options.max_requests, budget_tokens=options.budget_tokens)
    if options.concurrency < 1:
        raise InputError("--concurrency must be at least 1")
    templates = Templates(options.templates_dir)
    templates.hashes(spec.template_names)  # a missing template is an error before anything is sent
    entry = resolve(options.teacher)
    declaration = teacher_declaration(options.teacher, entry, licence=options.licence, terms=options.terms)
    if options.source:
        declaration = declaration.model_copy(update={"source": options.source})
    check_api_key(options)
    if spec.needs_seeds and options.seeds_file is not None:
        count_seeds(options.seeds_file, spec.method, spec.min_seeds)
    return Prepared(spec, options, limits, templates, declaration, entry, similarity)
