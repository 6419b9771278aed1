"""``provenance check``: run a policy pack's checks over the ledger, for people and for CI."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from provenance.cli.common import State, console, echo_json, json_option, pass_state, registry_option

if TYPE_CHECKING:
    from policies.engine import PackResult

#: The decision columns of the summary table, in this order.
_COLUMNS = ("pass", "flag", "drop", "redact", "block")


@click.command()
@click.option(
    "--policy",
    "-p",
    required=True,
    metavar="PACK",
    help="A policy pack: research, commercial, release (shipped) or a YAML file.",
)
@click.option("--student", metavar="MODEL", help="The student's base model id (default: the pack's).")
@click.option(
    "--junit", "junit_path", type=click.Path(dir_okay=False), help="Also write JUnit XML here (for CI)."
)
@registry_option
@json_option
@pass_state
def check(
    state: State,
    policy: str,
    student: str | None,
    junit_path: str | None,
    registry_files: tuple[str, ...],
    as_json: bool,
) -> None:
    """Run the pack's checks (licence, PII, toxicity, profanity, contamination, duplicates,
    diversity) over every example, store the decisions, print a summary per check.

    Exits 1 when any block action fired (or a check the pack requires could not run), 0
    otherwise, 2 on bad input. Re-runs only score new examples and changed settings.

    \b
    Example:
      provenance check --policy commercial
      provenance check --policy release --junit provenance-junit.xml
      provenance check --policy my-pack.yaml --student meta-llama/Llama-3.1-8B --json
    """
    from policies.engine import run_pack
    from policies.packs import load_pack
    from policies.registry import load_registry

    loaded = load_pack(policy)
    registry = load_registry(registry_files)
    with state.open(read_only=False) as ledger, _progress() as progress:
        result = run_pack(ledger, loaded, registry, student=student, progress=progress)
        if junit_path:
            from reports.junit import write_junit

            write_junit(ledger, result.run_id, junit_path)
    if as_json:
        echo_json(result.as_dict())
    else:
        _print(result, junit_path)
    if result.blocked:
        raise click.exceptions.Exit(1)


@contextmanager
def _progress() -> Iterator[Callable[[str, int, int], None] | None]:
    """One progress bar per check on stderr, shown only on a terminal."""
    import sys

    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("{task.description:<14}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        tasks: dict[str, int] = {}

        def update(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=total or None)
            bar.update(tasks[name], completed=done, total=total or None)

        yield update


def _clip(text: str, width: int = 48) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _print(r: PackResult, junit_path: str | None) -> None:
    from rich.markup import escape
    from rich.table import Table

    from provenance.core.vocabulary import DONE

    out = console()
    out.print(
        f"policy pack {escape(r.pack)} ({r.pack_hash[:12]}) · use {r.use} · student {escape(r.student)} · "
        f"registry {r.registry_version} · {r.examples:,} examples"
    )
    table = Table(show_edge=False, pad_edge=False, box=None)
    table.add_column("check", no_wrap=True, min_width=len(max((c.name for c in r.checks), key=len)))
    table.add_column("action", no_wrap=True, min_width=6)
    for key in _COLUMNS:
        title = DONE[key]
        table.add_column(title, justify="right", no_wrap=True, min_width=len(title))
    table.add_column("top reason", no_wrap=True, overflow="ellipsis", ratio=1)
    for c in r.checks:
        if c.status == "not-run":
            style = "red" if c.blocking else "yellow"
            table.add_row(escape(c.name), c.action, *["-"] * len(_COLUMNS), f"[{style}]NOT RUN[/]")
            continue
        cells = []
        for key in _COLUMNS:
            n = c.counts.get(key, 0)
            style = {"block": "red", "drop": "yellow", "flag": "yellow", "redact": "cyan"}.get(key)
            cells.append(f"[{style}]{n:,}[/]" if n and style else f"{n:,}")
        top = f"{c.top_reasons[0][1]:,} x {_clip(c.top_reasons[0][0])}" if c.top_reasons else ""
        table.add_row(escape(c.name), c.action, *cells, escape(top))
    out.print()
    out.print(table)
    out.print()
    for c in r.checks:
        for note in c.notes:
            out.print(f"note: {escape(note)}")
        if c.status == "ran" and len(c.top_reasons) > 1:
            out.print(f"{escape(c.name)}: " + "; ".join(f"{n:,} x {escape(t)}" for t, n in c.top_reasons[:3]))
    scored = sum(c.scored for c in r.checks)
    reused = sum(c.reused + c.redecided for c in r.checks)
    out.print(f"scored now: {scored:,} · reused or re-decided from stored scores: {reused:,}")
    if r.redacted:
        out.print(f"redacted: {r.redacted:,} new example(s) written with a redacted-from edge")
    if junit_path:
        out.print(f"JUnit XML: {escape(junit_path)}")
    out.print(
        "[red]blocked[/]: a block action fired or a required check did not run (exit 1)"
        if r.blocked
        else "[green]ok[/]: no block action fired"
    )
