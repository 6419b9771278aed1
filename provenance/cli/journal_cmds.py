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
@click.option(
    "--from-log",
    is_flag=True,
    help="FILE is a prompt/response log ({instruction, input?, prompt?, response} per line): record "
    "each response as the answer to the request `generate responses` sends for it.",
)
@click.option("--teacher", metavar="MODEL_ID", help="--from-log: the model that wrote the responses.")
@click.option(
    "--base-url",
    default="recorded://log",
    show_default=True,
    metavar="URL",
    help="--from-log: the endpoint the replay will name.",
)
@click.option("--api", type=click.Choice(["completions", "chat"]), default="completions", show_default=True)
@json_option
@pass_state
def import_(
    state: State, file: Path, from_log: bool, teacher: str | None, base_url: str, api: str, as_json: bool
) -> None:
    """Load a recording written by `journal export` (calls already answered are kept), or with
    --from-log turn a prompt/response log into recorded calls that `generate responses --replay`
    answers from, with no network. Such calls say they were reconstructed: only the response text
    is original.

    \b
    Example:
      provenance --db other.duckdb journal import recorded-calls.jsonl
      provenance journal import preds.jsonl --from-log --teacher text-davinci-003 --base-url recorded://self-instruct
    """
    from generators.journal import import_calls
    from provenance.core.errors import InputError

    if from_log and not teacher:
        raise InputError("--from-log needs --teacher (the model that wrote the responses)")
    with state.open(read_only=False) as ledger:
        if from_log:
            from generators.responses import import_log

            assert teacher is not None
            new, known = import_log(ledger, file, teacher=teacher, endpoint=base_url, api=api)
        else:
            new, known = import_calls(ledger, file)
    if as_json:
        echo_json({"file": str(file), "new": new, "known": known})
    else:
        console().print(f"loaded {new:,} teacher calls from {file} ({known:,} were already in the journal)")
