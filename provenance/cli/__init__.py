"""The ``provenance`` command: a thin layer over the Python API.

Exit codes: 0 ok, 1 a policy or the gate said no, 2 bad input or usage, 3 an internal or
environment error. Errors print one line naming the file and line; set ``PROVENANCE_DEBUG=1``
for a traceback. Only click and this package's light modules load at start-up; every command
imports what it needs when it runs, so ``provenance --help`` answers at once.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any

import click

from provenance import __version__
from provenance.cli.common import State, echo_error, silence_stdout
from provenance.core.errors import ProvenanceError

_COMMANDS = {
    "init": "provenance.cli.ledger_cmds:init",
    "stats": "provenance.cli.ledger_cmds:stats",
    "show": "provenance.cli.ledger_cmds:show",
    "import": "provenance.cli.import_cmds:import_",
    "seeds": "provenance.cli.import_cmds:seeds",
    "lineage": "provenance.cli.lineage_cmds:lineage",
    "recall": "provenance.cli.lineage_cmds:recall",
    "export": "provenance.cli.export_cmd:export",
    "teachers": "provenance.cli.teachers_cmds:teachers",
    "licence": "provenance.cli.licence_cmds:licence",
    "check": "provenance.cli.check_cmd:check",
    "generate": "provenance.cli.generate_cmds:generate",
    "journal": "provenance.cli.journal_cmds:journal",
    "gate": "provenance.cli.audit_cmds:gate",
    "train": "provenance.cli.audit_cmds:train",
    "waive": "provenance.cli.audit_cmds:waive",
    "waivers": "provenance.cli.audit_cmds:waivers",
    "verify": "provenance.cli.audit_cmds:verify",
    "keygen": "provenance.cli.audit_cmds:keygen",
    "report": "provenance.cli.report_cmds:report",
    "demo": "provenance.cli.demo_cmd:demo",
}
_ALIASES = {"license": "licence"}


class ProvenanceGroup(click.Group):
    """Loads commands on demand and turns errors into exit codes."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = _COMMANDS.get(_ALIASES.get(name, name))
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(__import__(module, fromlist=[attr]), attr)

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except BrokenPipeError:  # --help or --version piped into a reader that closed early
            silence_stdout()
            raise click.exceptions.Exit(0) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except BrokenPipeError:  # `provenance … | head`: the reader has what it wanted; not an error
            silence_stdout()
            ctx.exit(0)
        except ProvenanceError as exc:
            echo_error(str(exc))
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            echo_error("interrupted; the ledger is unchanged")
            ctx.exit(130)
        except Exception as exc:  # anything else is our bug, not the user's
            if os.environ.get("PROVENANCE_DEBUG"):
                traceback.print_exc()
            echo_error(
                f"internal error: {type(exc).__name__}: {exc} (set PROVENANCE_DEBUG=1 for a traceback)"
            )
            ctx.exit(3)


@click.group(
    cls=ProvenanceGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.option(
    "--db",
    type=click.Path(dir_okay=False),
    envvar="PROVENANCE_DB",
    default="provenance.duckdb",
    show_default=True,
    help="The ledger file (or set PROVENANCE_DB).",
)
@click.version_option(__version__, prog_name="provenance")
@click.pass_context
def cli(ctx: click.Context, db: str) -> None:
    """Provenance ledger for synthetic instruction data.

    Records, per example, which teacher wrote it, under which licence and terms, from which
    seeds; checks it against policies; gates fine-tunes.

    \b
    Example:
      provenance seeds import examples/self-instruct/seed_tasks.jsonl --licence Apache-2.0
      provenance import preds.jsonl --format predictions --teacher text-davinci-003
      provenance stats
    """
    ctx.obj = State(db=db)


def main() -> None:
    """Console entry point."""
    try:
        sys.exit(cli.main(prog_name="provenance"))
    finally:
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            silence_stdout()
