"""``provenance licence check``: may the ledger's examples train this student, for this use?"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from provenance.cli.common import State, console, echo_json, json_option, pass_state, registry_option

if TYPE_CHECKING:
    from policies.licence_check import LicenceResult


@click.group()
def licence() -> None:
    """Licence and terms policy: judge every example's teacher terms and dataset licences.

    \b
    Example:
      provenance licence check --use commercial --student mistralai/Mistral-7B-v0.3
    """


@licence.command()
@click.option(
    "--use",
    type=click.Choice(["research", "internal", "commercial"]),
    required=True,
    help="What the student will be used for.",
)
@click.option(
    "--student", required=True, metavar="MODEL", help="The student's base model id, or 'tiny' (from scratch)."
)
@click.option(
    "--student-licence",
    "--student-license",
    metavar="SPDX",
    help="The student base model's licence, if the registry does not know it.",
)
@click.option(
    "--distribute",
    is_flag=True,
    help="The student will be distributed (adds naming, notice and share-alike duties).",
)
@click.option(
    "--competing/--non-competing",
    default=None,
    help="Whether the student competes with its teachers' vendors. "
    "Default: research does not; internal and commercial do.",
)
@click.option(
    "--no-record",
    is_flag=True,
    help="Answer without writing to the ledger (opened read-only; also when its file is not writable).",
)
@registry_option
@json_option
@pass_state
def check(
    state: State,
    use: str,
    student: str,
    student_licence: str | None,
    distribute: bool,
    competing: bool | None,
    no_record: bool,
    registry_files: tuple[str, ...],
    as_json: bool,
) -> None:
    """Judge every example for this use and student, record the decisions, print a table by teacher.

    Exits 1 when any example, or the student's own base licence, is prohibited or unknown for
    this use. Decisions go into the ledger; re-running with the same registry and policy reuses them.
    With --no-record, or a ledger file this user may not write, nothing is written: the answer
    and exit code are the same.

    \b
    Example:
      provenance licence check --use research --student tiny
      provenance licence check --use commercial --student meta-llama/Llama-3.1-8B --distribute
      provenance licence check --use commercial --student tiny --non-competing --json
      provenance licence check --use research --student tiny --no-record
    """
    from pydantic import ValidationError

    from policies.judge import LicencePolicy
    from policies.licence_check import check_licences
    from policies.registry import load_registry
    from provenance.core.errors import InputError

    registry = load_registry(registry_files)
    try:
        policy = LicencePolicy(
            use=use,
            student=student,
            student_licence=student_licence,
            distribute=distribute,
            competing=competing,
        )
    except ValidationError as exc:
        raise InputError(
            f"--student-licence: {exc.errors()[0]['msg'].removeprefix('Value error, ')}"
        ) from None
    record = not no_record and _writable(Path(state.db))
    with state.open(read_only=not record) as ledger:
        result = check_licences(ledger, registry, policy, record=record)
    if as_json:
        echo_json(result.as_dict())
    else:
        _print(result)
    if not result.ok:
        raise click.exceptions.Exit(1)


_STYLE = {
    "allowed": "green",
    "allowed_with_conditions": "green",
    "non_competing_only": "yellow",
    "research_only": "yellow",
    "prohibited": "red",
    "unknown": "red",
}


def _print(r: LicenceResult) -> None:
    from rich.markup import escape
    from rich.table import Table

    out = console()
    p = r.policy
    out.print(
        f"licence check · use {p['use']} · student {escape(p['student'])}"
        + (" · distributed" if p["distribute"] else "")
        + f" · registry {r.registry_version}"
    )
    sf = r.student_finding
    out.print(f"student: [{_STYLE[sf.verdict.value]}]{sf.verdict.value}[/] · {escape(sf.reason)}")
    table = Table(show_edge=False, pad_edge=False, box=None)
    for col in ("#", "teacher", "examples", "verdict"):
        table.add_column(col, overflow="fold", justify="right" if col in ("#", "examples") else "left")
    for i, row in enumerate(r.rows, 1):
        table.add_row(
            str(i),
            escape(_teacher(row.teacher, row.origin)),
            f"{row.examples:,}",
            f"[{_STYLE[row.verdict]}]{row.verdict}[/]",
        )
    out.print()
    out.print(table)
    for i, row in enumerate(r.rows, 1):
        declared = " · ".join(x for x in (row.licence, row.terms) if x) or "no licence or terms declared"
        out.print(f"\n{i}. {escape(_teacher(row.teacher, row.origin))} ({escape(declared)})")
        for reason in row.reasons:
            out.print(f"   - {escape(reason)}")
        for o in row.obligations:
            out.print(f"   obligation {escape('[' + o['kind'] + ']')} {escape(o['text'])}")
    counts = " · ".join(f"{k} {v:,}" for k, v in sorted(r.verdicts.items()))
    out.print(
        f"\n{r.examples:,} examples: {counts or 'none'} "
        f"({r.judged:,} judged now, {r.reused:,} decisions reused)"
    )
    if r.obligations:
        out.print("obligations that travel to the student's card:")
        for o in r.obligations:
            out.print(f"  {escape('[' + o['kind'] + ']')} {escape(o['text'])} ({escape(str(o['source']))})")
    out.print(
        "[green]ok[/]: every example may train this student for this use"
        if r.ok
        else "[red]not ok[/]: some examples (or the student itself) are prohibited or unknown for this use"
    )


def _writable(path: Path) -> bool:
    """Whether the ledger at ``path`` may be written (a new one: whether its folder may).

    A file with no write permission bit counts as read-only even for a user who could override it.
    """
    if not path.exists():
        return os.access(path.parent, os.W_OK)
    return os.access(path, os.W_OK) and bool(path.stat().st_mode & 0o222)


def _teacher(teacher: str | None, origin: str) -> str:
    return teacher or ("— (human)" if origin == "human" else "— (none declared)")
