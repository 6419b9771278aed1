"""``provenance lineage`` and ``provenance recall``."""

from __future__ import annotations

import click

from provenance.cli.common import State, console, echo_json, json_option, pass_state, plural, safe, short


@click.command()
@click.argument("ref", metavar="ID")
@click.option("--descendants", is_flag=True, help="Walk down to what was made from ID instead.")
@click.option(
    "--max-depth",
    type=click.IntRange(1),
    default=256,
    show_default=True,
    help="Stop after this many generations.",
)
@json_option
@pass_state
def lineage(state: State, ref: str, descendants: bool, max_depth: int, as_json: bool) -> None:
    """Trace an example back to the human seeds it descends from (or a node down to its
    descendants).

    \b
    Example:
      provenance lineage 3fa2c1
      provenance lineage seed_task_0 --descendants
    """
    from provenance.core import lineage as walks

    with state.open(read_only=True) as ledger:
        walk = (walks.descendants if descendants else walks.ancestry)(ledger, ref, max_depth=max_depth)
    if as_json:
        echo_json(walk.as_dict())
        return
    out = console()
    arrow = "↓" if descendants else "↑"
    out.print(
        f"{walk.root_kind.value} {safe(walk.root)} {arrow} {plural(walk.nodes, 'node')} "
        f"over {plural(len(walk.edges), 'edge')}"
    )
    for e in walk.edges:
        indent = "  " * e["depth"]
        if descendants:
            out.print(
                f"{indent}example {short(e['child_id'])} ← {e['relation']}: "
                f"{e['parent_kind']} {short(e['parent_id'])}"
            )
        else:
            out.print(
                f"{indent}{e['parent_kind']} {short(e['parent_id'])} "
                f"→ {e['relation']} → example {short(e['child_id'])} (position {e['position']})"
            )
    if not descendants:
        out.print(
            f"human seeds reached: {len(walk.seeds)}"
            + (f" ({', '.join(safe(short(s)) for s in walk.seeds[:10])})" if walk.seeds else "")
        )


@click.command()
@click.option("--teacher", metavar="MODEL_ID", help="A teacher's model id (or teacher id prefix).")
@click.option("--seed", metavar="SEED", help="A seed's id, id prefix, own id or name.")
@click.option("--terms", metavar="ID[@VERSION]", help="Terms id, optionally one version.")
@click.option(
    "--limit",
    type=click.IntRange(0),
    default=20,
    show_default=True,
    help="Examples to list (0: counts only).",
)
@json_option
@pass_state
def recall(
    state: State, teacher: str | None, seed: str | None, terms: str | None, limit: int, as_json: bool
) -> None:
    """List every example that descends from a teacher, a seed or a terms version: directly,
    or through lineage (examples made with them as demonstrations, redactions, …), and every
    student trained on any of them.

    \b
    Example:
      provenance recall --teacher text-davinci-003
      provenance recall --seed seed_task_7 --json
    """
    from provenance.core.lineage import recall as find

    if sum(x is not None for x in (teacher, seed, terms)) != 1:
        raise click.UsageError("give exactly one of --teacher, --seed or --terms")
    with state.open(read_only=True) as ledger:
        result = find(ledger, teacher=teacher, seed=seed, terms=terms, limit=limit)
    if as_json:
        echo_json(result.as_dict())
        return
    out = console()
    out.print(
        f"{plural(result.examples, 'example')} affected by {result.by} "
        f"{safe(teacher or seed or terms)}: {result.direct:,} directly, "
        f"{result.examples - result.direct:,} through lineage"
    )
    for j in result.judged:
        label = f"{j['terms_id']}@{j['terms_version']}" if j["terms_version"] else j["terms_id"]
        out.print(
            f"  judged under {safe(label)} by registry {j['registry_version']}: "
            f"{plural(j['examples'], 'example')}"
        )
    if result.judged:
        out.print(f"  judged again under other terms since: {result.rejudged:,}")
    for row in result.rows:
        out.print(f"  {row['example_id']}  depth {row['depth']}")
    if result.examples > len(result.rows) and limit:
        out.print(f"  … {result.examples - len(result.rows):,} more (--limit 0 for counts, --json)")
    out.print(f"{plural(len(result.models), 'trained student')} used them")
    for m in result.models:
        out.print(
            f"  {m['student_kind']} {safe(m['student'])} → {safe(m['out_dir'])} "
            f"(training {m['training_id'][:12]}, "
            f"{m['examples_trained_on']:,} of its examples affected, weights {m['model_digest'][:12]})"
        )
