"""``provenance journal``: the teacher-call journal as a recording to move between ledgers."""

from __future__ import annotations

from pathlib import Path

import click

from provenance.cli.common import State, console, echo_json, json_option, pass_state


@click.group()
def journal() -> None:
    """The teacher-call journal: every request sent to a teacher and its raw reply.

    \b
    Example:
      provenance journal export calls.jsonl
      provenance --db other.duckdb journal import calls.jsonl
      provenance --db other.duckdb generate alpaca --teacher text-davinci-003 --replay -n 100
    """


@journal.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--run", "run_id", metavar="RUN_ID", help="Only the calls last sent by this run.")
@json_option
@pass_state
def export(state: State, file: Path, run_id: str | None, as_json: bool) -> None:
    """Write the journaled calls to FILE (JSON lines): a recording that `journal import` loads
    into another ledger, where `generate … --replay` answers from it with no network.

    \b
    Example:
      provenance journal export recorded-calls.jsonl
    """
    from generators.journal import export_calls

    with state.open(read_only=True) as ledger:
        n = export_calls(ledger, file, run_id=run_id)
    if as_json:
        echo_json({"file": str(file), "calls": n})
    else:
        console().print(f"wrote {n:,} teacher calls to {file}")


@journal.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@json_option
@pass_state
def import_(state: State, file: Path, as_json: bool) -> None:
    """Load a recording written by `journal export`; calls already answered are kept.

    \b
    Example:
      provenance --db other.duckdb journal import recorded-calls.jsonl
    """
    from generators.journal import import_calls

    with state.open(read_only=False) as ledger:
        new, known = import_calls(ledger, file)
    if as_json:
        echo_json({"file": str(file), "new": new, "known": known})
    else:
        console().print(f"loaded {new:,} teacher calls from {file} ({known:,} were already in the journal)")
