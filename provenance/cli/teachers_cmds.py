"""``provenance teachers list|show``: the teacher registry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from provenance.cli.common import console, echo_json, json_option, registry_option

if TYPE_CHECKING:
    from policies.registry import Entry, Registry


@click.group()
def teachers() -> None:
    """The teacher registry: what each teacher's terms allow its outputs to train.

    \b
    Example:
      provenance teachers list
      provenance teachers show meta-llama/Llama-3.1-8B-Instruct
      provenance teachers alias someuser/Mistral-7B-Instruct-v0.2 mistral-apache --to mine.yaml
    """


def _load(files: tuple[str, ...]) -> Registry:
    from policies.registry import load_registry

    return load_registry(files)


@teachers.command("list")
@click.option(
    "--kind", type=click.Choice(["api", "open-weights", "dataset"]), help="Only entries of this kind."
)
@registry_option
@json_option
def list_(kind: str | None, registry_files: tuple[str, ...], as_json: bool) -> None:
    """List the registry's entries with their verdict for training other models.

    \b
    Example:
      provenance teachers list --kind api
      provenance teachers list --registry my-teachers.yaml --json
    """
    registry = _load(registry_files)
    entries = [e for e in registry.entries.values() if kind is None or e.kind.value == kind]
    if as_json:
        echo_json(
            {
                "version": registry.version,
                "hash": registry.hash,
                "files": registry.sources,
                "entries": [_entry_json(registry, e) for e in entries],
            }
        )
        return
    from rich.table import Table

    out = console()
    out.print(f"teacher registry {registry.version} · {len(entries)} entries · {', '.join(registry.sources)}")
    table = Table(show_edge=False, pad_edge=False, box=None)
    for col in ("id", "kind", "licence", "terms", "training others", "student commercial", "evidence"):
        table.add_column(col, overflow="fold")
    for e in entries:
        table.add_row(
            e.id,
            e.kind.value,
            e.licence,
            e.terms.label() if e.terms else "-",
            e.training.value
            + (" (same family: " + e.same_family.training.value + ")" if e.same_family else ""),
            e.student_commercial,
            "".join(sorted({ev.level for ev in e.evidence})),
        )
    out.print(table)


@teachers.command()
@click.argument("ref", metavar="ID_OR_MODEL")
@registry_option
@json_option
def show(ref: str, registry_files: tuple[str, ...], as_json: bool) -> None:
    """Show one entry, by its id or by a model id as it appears in the wild.

    Exits 1 when a model id matches no entry (an unknown teacher fails closed).

    \b
    Example:
      provenance teachers show llama-3.1
      provenance teachers show ft:gpt-3.5-turbo:acme::8xyz
      provenance teachers show us.anthropic.claude-3-5-sonnet-20240620-v1:0 --json
    """
    from policies.resolve import resolve_dataset, resolve_model

    registry = _load(registry_files)
    entry = registry.get(ref)
    resolution: dict[str, Any] | None = None
    if entry is None:
        res = resolve_model(registry, ref)
        if res.entry is None:
            dataset = resolve_dataset(registry, ref)
            res = dataset if dataset.entry is not None else res
        resolution = {"model": ref, "normalized": res.normalized, "via": res.via, "reason": res.reason}
        entry = res.entry
    if as_json:
        echo_json({"resolution": resolution, "entry": _entry_json(registry, entry) if entry else None})
    else:
        out = console()
        if resolution is not None:
            if entry is None:
                out.print(f"{ref}: unknown. {resolution['reason']}")
            else:
                via = "alias" if resolution["via"] == "alias" else f"pattern {resolution['via']}"
                out.print(f"{ref} → {resolution['normalized']} → entry {entry.id} (by {via})")
        if entry is not None:
            _print_entry(registry, entry)
    if entry is None:
        raise click.exceptions.Exit(1)


@teachers.command()
@click.argument("model", metavar="MODEL_ID")
@click.argument("entry_id", metavar="ENTRY")
@click.option(
    "--to",
    "target",
    required=True,
    type=click.Path(dir_okay=False),
    help="The registry override to write (created if missing); pass it with --registry afterwards.",
)
@registry_option
def alias(model: str, entry_id: str, target: str, registry_files: tuple[str, ...]) -> None:
    """Vouch that MODEL_ID is ENTRY's model under ENTRY's terms, in a registry override.

    For an id the registry does not vouch for (a re-upload by another organisation, a name with
    extra words): writes the entry, with MODEL_ID as an alias and an evidence row, to the override
    file. Only do this when the id is the same model under the same terms; a fine-tune may carry
    any licence and needs an entry of its own.

    \b
    Example:
      provenance teachers alias someuser/Mistral-7B-Instruct-v0.2 mistral-apache --to my-teachers.yaml
      provenance licence check --registry my-teachers.yaml
    """
    from policies.registry import add_alias

    entry = add_alias(model, entry_id, target, registry_files)
    console().print(
        f"{model} → entry {entry.id}: alias written to {target}; pass --registry {target} "
        "(or set PROVENANCE_REGISTRY) to use it",
        markup=False,
    )


def _entry_json(registry: Registry, e: Entry) -> dict[str, Any]:
    return {**e.model_dump(mode="json"), "file": registry.origin.get(e.id)}


def _print_entry(registry: Registry, e: Entry) -> None:
    # printed without rich markup: patterns and clauses contain brackets
    lines: list[str] = []
    add = lines.append
    add(f"{e.id}: {e.name} ({e.provider}, {e.kind.value}) · family {e.family}")
    add(f"  from          {registry.origin.get(e.id)}")
    add(f"  licence       {e.licence}")
    if e.terms:
        add(f"  terms         {e.terms.label()}" + (f": {e.terms.clause}" if e.terms.clause else ""))
        for p in e.terms.previous:
            add(f"    earlier     {e.terms.id}@{p.version}" + (f" ({p.licence})" if p.licence else ""))
    add(f"  training      {e.training.value}")
    add(f"  student commercial use: {e.student_commercial}")
    if e.same_family:
        add(
            f"  same family   {', '.join(e.same_family.families)} → {e.same_family.training.value}: "
            f"{e.same_family.reason}"
        )
    for o in e.obligations:
        add(
            f"  obligation    [{o.kind.value}{', if distributed' if o.when == 'distributed' else ''}] "
            + o.text
        )
    for c in e.conflicts:
        add(f"  also declared {c.licence} in {c.where}")
    if e.match:
        add(f"  patterns      {'  '.join(e.match)}")
    if e.aliases:
        add(f"  aliases       {', '.join(e.aliases)}")
    if e.notes:
        add(f"  notes         {e.notes}")
    for ev in e.evidence:
        add(
            f"  evidence [{ev.level}] {ev.source}"
            + (f" <{ev.url}>" if ev.url else "")
            + f", retrieved {ev.retrieved}"
        )
    console().print("\n".join(lines), markup=False)
