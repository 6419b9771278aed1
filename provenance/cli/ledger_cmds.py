"""``provenance init``, ``stats`` and ``show``."""

from __future__ import annotations

from typing import Any

import click

from provenance.cli.common import State, console, echo_json, json_option, pass_state, short


@click.command()
@json_option
@pass_state
def init(state: State, as_json: bool) -> None:
    """Create the ledger, or bring an existing one to the current schema.

    \b
    Example:
      provenance --db release.duckdb init
    """
    from provenance import migrate

    with state.open(read_only=False) as ledger:
        version = ledger.schema_version
    result = {"ledger": state.db, "schema_version": version, "latest": migrate.latest_version()}
    if as_json:
        echo_json(result)
    else:
        click.echo(f"ledger {state.db} is at schema version {version}")


@click.command()
@json_option
@pass_state
def stats(state: State, as_json: bool) -> None:
    """Summarise the ledger: counts, origin, teachers, licences, terms, and what is unknown.

    \b
    Example:
      provenance stats
      provenance stats --json | jq .teachers
    """
    from provenance.queries import stats as compute

    with state.open(read_only=True) as ledger:
        result = compute(ledger)
    if as_json:
        echo_json(result)
        return
    _print_stats(result)


def _print_stats(s: dict[str, Any]) -> None:
    from rich.table import Table

    out = console()
    c = s["counts"]
    out.print(f"[bold]{s['ledger']}[/] · schema {s['schema_version']} · {s['bytes'] / 1e6:.1f} MB")
    out.print(
        f"{c['examples']:,} examples ({c['instruction_examples']:,} instruction, "
        f"{c['chat_examples']:,} chat) · {c['seeds']:,} seeds · {c['provenance_rows']:,} "
        f"provenance rows · {c['teachers']:,} teachers · {c['lineage_edges']:,} lineage "
        f"edges · {c['runs']:,} runs"
    )
    for title, key in (
        ("origin", "origin"),
        ("teacher", "teachers"),
        ("licence", "licences"),
        ("terms", "terms"),
    ):
        table = Table(title=None, show_edge=False, pad_edge=False, box=None)
        table.add_column(title, style="bold")
        table.add_column("examples", justify="right")
        for name, n in s[key].items():
            table.add_row(name, f"{n:,}")
        out.print()
        out.print(table)
    u = s["unknown"]
    out.print()
    out.print(
        f"unknown: licence for {u['licence']:,} examples, terms for {u['terms']:,}, "
        f"origin for {u['origin']:,}, teacher for {u['teacher']:,} machine-or-unknown examples"
    )
    if s["licence_conflicts"]:
        out.print(f"[yellow]{s['licence_conflicts']:,} examples carry conflicting licence claims[/]")


@click.command()
@click.argument("ref", metavar="ID")
@json_option
@pass_state
def show(state: State, ref: str, as_json: bool) -> None:
    """Show one example or seed: its content, every provenance claim, its lineage.

    ID is a full id, a unique prefix of at least 6 hex digits, or a seed's own id or name.

    \b
    Example:
      provenance show 3fa2c1
      provenance show seed_task_0 --json
    """
    from provenance.queries import show as compute

    with state.open(read_only=True) as ledger:
        result = compute(ledger, ref)
    if as_json:
        echo_json(result)
        return
    out = console()
    if result["kind"] == "seed":
        out.print(
            f"[bold]seed[/] {result['id']} ({result['external_id'] or '-'}, {result['name'] or 'unnamed'})"
        )
        out.print(f"instruction: {result['instruction']}")
        for i, inst in enumerate(result["instances"]):
            out.print(f"  instance {i}: input={inst['input']!r} output={inst['output']!r}")
        out.print(
            f"origin {result['origin']} · licence {result['licence'] or 'unknown'} · "
            f"source {result['source'] or 'unknown'} · {result['descendants']} descendants"
        )
        return
    out.print(f"[bold]example[/] {result['id']} ({result['example_kind']})")
    for key, value in result["content"].items():
        out.print(f"[bold]{key}:[/] {value}")
    out.print(f"\n[bold]provenance[/] ({len(result['provenance'])} claims)")
    for p in result["provenance"]:
        teacher = p["teacher"]["model"] if p["teacher"] else "none" if p["origin"] == "human" else "unknown"
        terms = p["terms"]
        out.print(
            f"  · {p['origin']}/{p['method']} teacher {teacher} · licence {p['licence'] or 'unknown'}"
            f" · terms {terms['id'] + '@' + str(terms['version']) if terms else 'unknown'}"
            f" ({terms['status'] if terms else 'unknown'})"
            f"\n    {p['source_file']} {p['locator']} · run {short(p['run_id'])}"
        )
    out.print(f"\n[bold]parents[/] {len(result['parents'])} · [bold]children[/] {result['children']}")
    for e in result["parents"]:
        out.print(f"  {e['relation']} {e['parent_kind']} {short(e['parent_id'])} (position {e['position']})")
