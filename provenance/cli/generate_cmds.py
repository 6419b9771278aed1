"""``provenance generate``: Self-Instruct, Alpaca and rejection sampling with full provenance.

The teacher's licence and terms are taken from the teacher registry at generation time (or from
``--licence`` / ``--terms``); a teacher the registry does not know is recorded as unknown and fails
closed in ``provenance check``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from provenance.cli.common import State, console, echo_json, json_option, pass_state, registry_option

if TYPE_CHECKING:
    from generators.generation import GenerationSpec

F = TypeVar("F", bound=Callable[..., Any])


def _params(values: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for value in values:
        key, sep, raw = value.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{value!r} is not KEY=VALUE", param_hint="--param")
        try:
            out[key.strip()] = json.loads(raw)
        except ValueError:
            out[key.strip()] = raw
    return out


#: Options every generator shares: the teacher, the limits, the journal.
_TEACHER_OPTIONS = [
    click.option(
        "--teacher",
        "teacher",
        required=True,
        metavar="MODEL_ID",
        help="The model name sent to the endpoint and recorded (resolved in the teacher registry).",
    ),
    click.option(
        "--base-url",
        metavar="URL",
        help="An OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp, TGI, …); default OpenAI's API.",
    ),
    click.option(
        "--api-key-env",
        default="OPENAI_API_KEY",
        show_default=True,
        metavar="NAME",
        help="The environment variable holding the API key (its value is never stored).",
    ),
    click.option(
        "--local",
        "local_path",
        type=click.Path(path_type=Path),
        metavar="PATH",
        help="Generate with a local transformers checkpoint at PATH instead of an endpoint.",
    ),
    click.option("-n", "n", type=int, default=100, show_default=True, help="Examples to accept."),
    click.option("--concurrency", type=int, default=4, show_default=True, help="Requests in flight at once."),
    click.option(
        "--replay",
        is_flag=True,
        help="Answer every request from the teacher-call journal; never open a connection.",
    ),
    click.option("--max-requests", type=int, help="Stop after this many requests."),
    click.option("--budget-tokens", type=int, help="Stop once the replies used this many tokens."),
    click.option(
        "--round-size",
        type=int,
        default=16,
        show_default=True,
        help="Requests built from one state of the generation (part of its identity).",
    ),
    click.option("--api", type=click.Choice(["completions", "chat"]), help="Legacy completions or chat."),
    click.option(
        "--random-seed", type=int, default=0, show_default=True, help="Seed of the prompt sampling."
    ),
    click.option(
        "--templates",
        "templates_dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="A folder of prompt templates replacing the shipped ones (same file names).",
    ),
    click.option(
        "--param",
        "extra",
        multiple=True,
        metavar="KEY=VALUE",
        help="An extra request body parameter (JSON value), e.g. --param seed=1 (repeatable).",
    ),
    click.option(
        "--licence",
        "--license",
        "licence",
        metavar="EXPR",
        help="SPDX licence of the teacher's output (default: from the teacher registry).",
    ),
    click.option(
        "--terms", metavar="ID[@VERSION]", help="Terms of the teacher (default: from the registry)."
    ),
    click.option("--source", metavar="TEXT", help="Declared source of the data (URL, repo@commit:path, …)."),
    click.option("--timeout", type=float, default=120.0, show_default=True, help="Seconds per HTTP request."),
    click.option(
        "--max-retries", type=int, default=5, show_default=True, help="Retries on 429, 5xx, timeouts."
    ),
    registry_option,
    json_option,
]


def teacher_options(fn: F) -> F:
    """Options every generator shares: the teacher, the limits, the journal."""
    for option in reversed(_TEACHER_OPTIONS):
        fn = option(fn)
    return fn


def seeds_options(fn: F) -> F:
    """``--seeds FILE`` and its licence."""
    for option in reversed(
        [
            click.option(
                "--seeds",
                "seeds_file",
                type=click.Path(path_type=Path),
                help="Seed tasks (Self-Instruct JSON lines) to import and use; default: every seed in "
                "the ledger.",
            ),
            click.option("--seeds-licence", metavar="EXPR", help="SPDX licence of the --seeds file."),
        ]
    ):
        fn = option(fn)
    return fn


@click.group()
def generate() -> None:
    """Make new examples with a teacher, each with its provenance and lineage.

    Every request is journaled in the ledger before it is sent and its reply before it is parsed:
    a killed run continues where it stopped when run again (nothing completed is sent twice), and
    --replay reruns a recorded generation with no network.

    \b
    Example:
      provenance generate self-instruct --teacher Qwen/Qwen2.5-7B-Instruct \\
          --base-url http://localhost:8000/v1 -n 500
      provenance generate alpaca --teacher gpt-4o-mini -n 1000
      provenance generate rejection-sampling problems.jsonl --teacher llama3.1:8b \\
          --base-url http://localhost:11434/v1 --verifier answer -k 8
    """


@generate.command("self-instruct")
@teacher_options
@seeds_options
@click.option("--classification-only", is_flag=True, help="Self-Instruct's classification-task variant.")
@click.option(
    "--rouge-threshold",
    type=float,
    default=0.7,
    show_default=True,
    help="Reject an instruction whose ROUGE-L F with a seed or kept instruction is above this.",
)
@click.option("--max-instances", type=int, default=5, show_default=True, help="Instances kept per task.")
@click.option(
    "--no-capitalize",
    is_flag=True,
    help="Keep the instruction's case (the published code capitalises, lower-casing the rest).",
)
@pass_state
def self_instruct(state: State, **opts: Any) -> None:
    """Self-Instruct's bootstrap: 8 in-context instructions (6 seeds, 2 machine), its filters,
    ROUGE-L diversity, classification identification and instance generation.

    Each new instruction records the exact seeds and machine instructions of its prompt; each
    instance records its instruction; every rejected candidate is kept with the filter's reason
    (`provenance generate candidates` lists them).

    \b
    Example:
      provenance seeds import examples/self-instruct/seed_tasks.jsonl --licence Apache-2.0
      provenance generate self-instruct --teacher gpt-3.5-turbo-instruct -n 200
    """
    from generators.self_instruct import SelfInstructConfig, spec

    config = SelfInstructConfig(
        api=opts["api"] or "completions",
        round_size=opts["round_size"],
        classification_only=opts["classification_only"],
        rouge_threshold=opts["rouge_threshold"],
        capitalize=not opts["no_capitalize"],
        max_instances=opts["max_instances"],
        random_seed=opts["random_seed"],
        extra_params=_params(opts["extra"]),
    )
    _generate(state, opts, spec(config))


@generate.command("alpaca")
@teacher_options
@seeds_options
@click.option(
    "--rouge-threshold",
    type=float,
    default=0.7,
    show_default=True,
    help="Reject an instruction whose ROUGE-L F with a seed or kept instruction is above this.",
)
@pass_state
def alpaca(state: State, **opts: Any) -> None:
    """Alpaca-style distillation: 20 tasks per request from 3 seed demonstrations, instruction,
    input and output in one reply, the published filters and ROUGE-L diversity.

    Each example records the exact seeds of its prompt (in-context-demo, positions 1-3) and the
    hash of the prompt template (generators/templates/alpaca/prompt.txt, or --templates).

    \b
    Example:
      provenance generate alpaca --teacher gpt-4o-mini --api chat -n 1000 --concurrency 16
    """
    from generators.alpaca import AlpacaConfig, spec

    config = AlpacaConfig(
        api=opts["api"] or "completions",
        round_size=opts["round_size"],
        rouge_threshold=opts["rouge_threshold"],
        random_seed=opts["random_seed"],
        extra_params=_params(opts["extra"]),
    )
    _generate(state, opts, spec(config))


@generate.command("rejection-sampling")
@click.argument("problems", type=click.Path(path_type=Path))
@teacher_options
@click.option(
    "--verifier",
    type=click.Choice(["answer", "python"]),
    default="answer",
    show_default=True,
    help="answer: the final '#### answer' matches the reference (as numbers, else as text); "
    "python: the code passes the problem's tests in a sandboxed subprocess.",
)
@click.option("-k", "k", type=int, default=4, show_default=True, help="Candidates per problem.")
@click.option(
    "--keep",
    type=click.Choice(["all", "first"]),
    default="all",
    show_default=True,
    help="Keep every distinct verified candidate, or only the first per problem.",
)
@click.option("--temperature", type=float, default=0.7, show_default=True)
@click.option("--max-tokens", type=int, default=512, show_default=True)
@click.option(
    "--mode",
    type=click.Choice(["auto", "number", "exact"]),
    default="auto",
    show_default=True,
    help="answer verifier: compare as numbers, as text, or numbers when both are.",
)
@click.option("--code-timeout", type=float, default=10.0, show_default=True, help="python verifier: seconds.")
@click.option("--code-memory-mb", type=int, default=512, show_default=True, help="python verifier: memory.")
@click.option("--problems-licence", metavar="EXPR", help="SPDX licence of the problems file.")
@click.option("--problems-source", metavar="TEXT", help="Where the problems came from.")
@pass_state
def rejection_sampling(state: State, problems: Path, **opts: Any) -> None:
    """STaR-style rejection sampling: k candidates per problem, kept when the verifier accepts.

    PROBLEMS is a JSON-lines (or JSON list) file of {id, question, answer} (GSM8K style: the
    reference may end with '#### 72') or {id, prompt, tests: ["assert f(1) == 2", …]}. Model
    output is never evaluated in this process. Kept examples carry the verifier, its verdict and
    the attempt number; rejected candidates are kept with the verdict's reason.

    \b
    Example:
      provenance generate rejection-sampling gsm8k_train.jsonl --teacher Qwen/Qwen2.5-Math-7B-Instruct \\
          --base-url http://localhost:8000/v1 --verifier answer -k 8 -n 5000
    """
    from generators.rejection import RejectionConfig, spec

    def config() -> RejectionConfig:
        return RejectionConfig(
            api=opts["api"] or "chat",
            k=opts["k"],
            round_size=opts["round_size"],
            temperature=opts["temperature"],
            max_tokens=opts["max_tokens"],
            keep=opts["keep"],
            random_seed=opts["random_seed"],
            extra_params=_params(opts["extra"]),
        )

    sampling = spec(
        problems,
        config,
        verifier=opts["verifier"],
        mode=opts["mode"],
        code_timeout=opts["code_timeout"],
        code_memory_mb=opts["code_memory_mb"],
        licence=opts["problems_licence"],
        source=opts["problems_source"],
    )
    _generate(state, opts, sampling)


def _generate(state: State, opts: dict[str, Any], spec: GenerationSpec) -> None:
    """Check, run and summarise one generation."""
    from generators.runner import TeacherOptions, prepare
    from generators.similarity import Similarity
    from policies.registry import load_registry
    from policies.resolve import resolve_model
    from policies.rouge import RougePool, tokenize

    options = TeacherOptions.pick(opts)
    prepared = prepare(
        spec,
        options,
        resolve=lambda teacher: resolve_model(load_registry(opts["registry_files"]), teacher).entry,
        similarity=Similarity(tokenize, RougePool),
    )
    with state.open(read_only=False) as ledger, _progress(options.n) as tick:
        summary = prepared.run(ledger, on_progress=tick)
    if opts["as_json"]:
        echo_json(summary)
        return
    _print_summary(console(), summary, prepared.declaration)


@contextmanager
def _progress(total: int) -> Iterator[Callable[[Any], None] | None]:
    """A progress bar (accepted / rejected / requests / tokens) on stderr, on a terminal only."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("generating"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task("generate", total=total, info="")

        def tick(tally: Any) -> None:
            info = (
                f"rejected {tally.rejected:,} · requests {tally.requests:,} "
                f"({tally.from_journal:,} from the journal) · tokens {tally.tokens:,}"
            )
            progress.update(task, completed=min(tally.accepted, total), info=info)

        yield tick


def _print_summary(out: Any, s: dict[str, Any], declaration: Any) -> None:
    out.print(
        f"[bold]{s['method']}[/] with {s['teacher']} at {s['endpoint']}: accepted [bold]{s['accepted']:,}[/] "
        f"examples, rejected {s['rejected']:,} candidates"
        + (f", {s['instructions']:,} new instructions" if s["instructions"] else "")
    )
    out.print(
        f"  requests {s['requests']:,} ({s['sent']:,} sent, {s['from_journal']:,} from the journal, "
        f"{s['unusable']:,} unusable) · tokens {s['tokens']:,} · rounds {s['rounds']:,}"
    )
    if s["rejected_by"]:
        reasons = sorted(s["rejected_by"].items(), key=lambda kv: (-kv[1], kv[0]))
        out.print("  rejected by: " + ", ".join(f"{k} {v:,}" for k, v in reasons))
    out.print(f"  stopped: {s['stop']}")
    terms = declaration.terms
    if s["registry_entry"] is None and declaration.licence is None:
        out.print(
            f"  [yellow]teacher {s['teacher']!r} is not in the teacher registry[/]: its licence and terms "
            "are recorded as unknown, and `provenance check` will fail closed on these examples"
        )
    else:
        out.print(
            f"  recorded: licence {declaration.licence or 'unknown'} · terms "
            f"{terms.label() if terms else 'unknown'} ({terms.status.value if terms else 'unknown'})"
        )
    out.print(
        f"  generation {s['generation_id'][:12]} · see `provenance recall --teacher {s['teacher']}` and "
        "`provenance lineage ID`"
    )


@generate.command("responses")
@click.argument("prompts", type=click.Path(path_type=Path))
@teacher_options
@click.option("--temperature", type=float, help="Sent only when given (else the endpoint's default).")
@click.option("--max-tokens", type=int, help="Sent only when given (else the endpoint's default).")
@pass_state
def responses(state: State, prompts: Path, **opts: Any) -> None:
    """A teacher answers a file of tasks: each record's reply becomes its output.

    PROMPTS holds one JSON object per line (or a JSON list): {id?, instruction, input?, prompt?};
    a record's own prompt is sent verbatim, else generators/templates/responses/prompt.txt builds one.
    With --replay and a log turned into recorded calls (`provenance journal import LOG --from-log`),
    the distillation reruns from the log with no network.

    \b
    Example:
      provenance generate responses tasks.jsonl --teacher gpt-4o-mini --api chat -n 5000
    """
    from generators.responses import ResponsesConfig, spec

    def config() -> ResponsesConfig:
        return ResponsesConfig(
            api=opts["api"] or "completions",
            round_size=opts["round_size"],
            temperature=opts["temperature"],
            max_tokens=opts["max_tokens"],
            extra_params=_params(opts["extra"]),
        )

    _generate(state, opts, spec(prompts, config))


@generate.command("candidates")
@click.option("--generation", "generation", metavar="ID", help="One generation (id or prefix); default all.")
@click.option("--status", type=click.Choice(["accepted", "rejected"]), help="Only accepted or rejected ones.")
@click.option(
    "--reason", metavar="REASON", help="Only candidates rejected for this reason (e.g. too-similar)."
)
@click.option("--limit", type=int, default=20, show_default=True, help="Rows to list (the counts cover all).")
@json_option
@pass_state
def candidates(
    state: State, generation: str | None, status: str | None, reason: str | None, limit: int, as_json: bool
) -> None:
    """What the filters did: every candidate a generator parsed, with the reason it was rejected.

    \b
    Example:
      provenance generate candidates --status rejected --reason too-similar
    """
    from provenance.queries.generation import candidates as listing

    with state.open(read_only=True) as ledger:
        found = listing(ledger, generation=generation, status=status, reason=reason, limit=limit)
    counts, rows = found["counts"], found["rows"]
    if as_json:
        echo_json(found)
        return
    out = console()
    for c in counts:
        out.print(f"{c['stage']:<14} {c['status']:<9} {c['reason']:<28} {c['n']:>8,}")
    for row in rows:
        text = (
            row["content"].get("instruction")
            or row["content"].get("text")
            or row["content"].get("output")
            or ""
        )
        details = row["details"] or {}
        extra = (
            f" (ROUGE-L {details['rouge_l']:.3f} with {details['collided_kind']})"
            if "rouge_l" in details
            else ""
        )
        out.print(f"· {row['stage']} {row['status']} {row['reason']}{extra}: {text[:100]!r}")
