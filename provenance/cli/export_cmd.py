"""``provenance export``."""

from __future__ import annotations

from pathlib import Path

import click

from provenance.cli.common import State, echo_json, json_option, pass_state, safe


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "parquet"]),
    required=True,
    help="jsonl: one JSON object per line; parquet: zstd-compressed Parquet.",
)
@json_option
@pass_state
def export(state: State, file: Path, fmt: str, as_json: bool) -> None:
    """Write every example with its full provenance (one row per example, a list of claims).

    \b
    Example:
      provenance export dataset.parquet --format parquet
    """
    from provenance.core.export import export as write

    with state.open(read_only=True) as ledger:
        result = write(ledger, file, fmt)
    if as_json:
        echo_json(result)
    else:
        click.echo(
            f"wrote {result['examples']:,} examples to {safe(result['path'], markup=False)} "
            f"({result['bytes'] / 1e6:.1f} MB)"
        )
