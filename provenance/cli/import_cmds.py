"""``provenance import`` and ``provenance seeds import``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from provenance.cli.common import State, byte_progress, console, echo_json, json_option, pass_state, safe

F = TypeVar("F", bound=Callable[..., Any])
FORMAT_NAMES = ("alpaca", "jsonl", "self-instruct", "chat", "hf", "predictions")


def declaration_options(fn: F) -> F:
    """The provenance an import declares; what is left out is recorded as unknown."""
    for option in reversed(
        [
            click.option(
                "--licence",
                "--license",
                "licence",
                metavar="EXPR",
                help="SPDX licence expression of the data, e.g. "
                "'CC-BY-NC-4.0 AND LicenseRef-scancode-openai-tou-20230314'.",
            ),
            click.option(
                "--terms",
                metavar="ID[@VERSION]",
                help="Terms the data was produced under, e.g. openai-terms-of-use@2023-03-14.",
            ),
            click.option("--origin", type=click.Choice(["human", "machine"]), help="Who wrote the content."),
            click.option(
                "--source", metavar="TEXT", help="Where the data came from (URL, repo@commit:path, …)."
            ),
            click.option(
                "--manifest",
                type=click.Path(exists=False, dir_okay=False),
                help="YAML file declaring format, source, origin, licence, teacher, terms; "
                "options given on the command line win.",
            ),
        ]
    ):
        fn = option(fn)
    return fn


@click.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMAT_NAMES),
    help="How to read FILE: alpaca (JSON list) and jsonl map instruction/input/output; "
    "self-instruct reads tasks with instances; chat reads messages or ShareGPT "
    "conversations; hf reads a datasets folder or Parquet; predictions reads "
    "prompt/response logs. Required unless the manifest says.",
)
@click.option("--teacher", metavar="MODEL_ID", help="The model that wrote the data.")
@declaration_options
@json_option
@pass_state
def import_(
    state: State,
    file: Path,
    fmt: str | None,
    teacher: str | None,
    licence: str | None,
    terms: str | None,
    origin: str | None,
    source: str | None,
    manifest: str | None,
    as_json: bool,
) -> None:
    """Import examples from FILE with the provenance you declare.

    Importing the same file again adds nothing; the same content from another file adds a
    provenance row to the existing example. Fields the format does not use are kept with each
    provenance row and listed in the summary.

    \b
    Example:
      provenance import alpaca_data.json --format alpaca --teacher text-davinci-003 \\
          --licence 'CC-BY-NC-4.0 AND LicenseRef-scancode-openai-tou-20230314' --origin machine
      provenance import preds.jsonl --manifest preds.yaml
    """
    from generators.importers import declare, import_file, source_size

    loaded, declaration = declare(
        manifest, origin=origin, teacher=teacher, licence=licence, terms=terms, source=source
    )
    fmt = fmt or (loaded.format if loaded else None)
    if fmt is None:
        raise click.UsageError("give --format, or format: in the manifest")
    if fmt not in FORMAT_NAMES:
        raise click.UsageError(f"manifest format {fmt!r} is not one of {', '.join(FORMAT_NAMES)}")
    with state.open(read_only=False) as ledger, byte_progress(source_size(file), file.name) as tick:
        summary = import_file(ledger, file, fmt, declaration, progress=tick)
    _report(summary.as_dict(), as_json)


@click.group()
def seeds() -> None:
    """Human seed tasks: the roots of lineage.

    \b
    Example:
      provenance seeds import examples/self-instruct/seed_tasks.jsonl --licence Apache-2.0
    """


@seeds.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@declaration_options
@json_option
@pass_state
def seeds_import(
    state: State,
    file: Path,
    licence: str | None,
    terms: str | None,
    origin: str | None,
    source: str | None,
    manifest: str | None,
    as_json: bool,
) -> None:
    """Import Self-Instruct seed tasks from FILE (JSON lines or a JSON list of tasks with
    ``instruction`` and ``instances``).

    Each task becomes a seed; each instance an example (origin human unless declared otherwise)
    linked to its seed by an instruction-of edge.

    \b
    Example:
      provenance seeds import seed_tasks.jsonl --licence Apache-2.0 \\
          --source https://github.com/yizhongw/self-instruct
    """
    from generators.importers import declare, import_seeds, source_size
    from provenance.core.models import Origin

    _, declaration = declare(
        manifest,
        origin=origin,
        teacher=None,
        licence=licence,
        terms=terms,
        source=source,
        default_origin=Origin.HUMAN,
    )
    with state.open(read_only=False) as ledger, byte_progress(source_size(file), file.name) as tick:
        summary = import_seeds(ledger, file, declaration, progress=tick)
    _report(summary.as_dict(), as_json)


def _report(s: dict[str, Any], as_json: bool) -> None:
    if as_json:
        echo_json(s)
        return
    out = console()
    what = f"{s['seeds']:,} seeds, " if s["seeds"] else ""
    out.print(
        f"imported [bold]{safe(s['file'])}[/] ({s['format']}): {s['records']:,} records → "
        f"{what}{s['examples']:,} examples"
    )
    out.print(
        f"  new: {s['examples_new']:,} examples, {s['provenance_new']:,} provenance rows"
        + (f", {s['seeds_new']:,} seeds, {s['edges_new']:,} lineage edges" if s["seeds"] else "")
        + f" · already in the ledger: {s['examples_known']:,} examples"
        + f" · duplicates within the file: {s['duplicates_in_file']:,}"
    )
    if s["examples_new"] == 0 and s["provenance_new"] == 0:
        out.print("  nothing new: this file was already imported with this declaration")
    declared = " · ".join(
        f"{k} [yellow]{v}[/]" if v == "unknown" else f"{k} {safe(v)}" for k, v in s["declaration"].items()
    )
    out.print(f"  declared: {declared}")
    if s["unused_fields"]:
        fields = ", ".join(f"{safe(k)} x{n:,}" for k, n in s["unused_fields"].items())
        out.print(f"  [yellow]fields not mapped[/] (kept verbatim with each provenance row): {fields}")
    out.print(f"  run {s['run_id'][:12]} · sha256 {s['sha256'][:12]} · {s['seconds']:.2f} s")
