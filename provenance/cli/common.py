"""Shared CLI plumbing: state, option decorators, output, progress.

Everything the commands print goes through :func:`console`, :func:`echo_json` or :func:`echo_error`,
and each of them passes the text through :func:`provenance.core.secrets.redact`: no credential the
process holds (a teacher's API key, the user info of a base URL) is printed, in any form.
"""

from __future__ import annotations

import errno
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

import click

from provenance.core.secrets import redact, redact_json

if TYPE_CHECKING:
    from rich.console import Console

    from provenance.core.ledger import Ledger

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class State:
    """What the top-level group passes to every command."""

    db: str

    def open(self, *, read_only: bool) -> Ledger:
        """Open the ledger (read-only for read commands)."""
        from provenance.core.ledger import Ledger

        return Ledger.open(self.db, read_only=read_only)


pass_state = click.make_pass_decorator(State)


class RedactingStream:
    """A text stream whose writes pass through :func:`~provenance.core.secrets.redact` first."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        """Write ``text`` with every credential masked."""
        return self._stream.write(redact(text))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def json_option(fn: F) -> F:
    """``--json``: print machine-readable JSON on stdout instead of tables."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout instead of tables.")(fn)


def console() -> Console:
    """A rich console on stdout; a closed pipe raises ``BrokenPipeError`` (rich would exit 1)."""
    from rich.console import Console

    class PipedConsole(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError(errno.EPIPE, "stdout was closed by its reader")

        def render_str(self, text: str, **kwargs: Any) -> Any:
            # control sequences in anything printed show as escapes (see safe); newlines stay
            return super().render_str(safe(text, markup=False, multiline=True), **kwargs)

    return PipedConsole(highlight=False, soft_wrap=True, file=RedactingStream(sys.stdout))


def silence_stdout() -> None:
    """Send the rest of stdout to the null device: its reader (``| head``) has what it wanted."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # a stdout with no file descriptor (tests): nothing to redirect
        pass
    finally:
        os.close(devnull)


def echo_json(data: Any) -> None:
    """Print JSON (dates and paths as strings); DEL, C1 and bidi controls as ``\\u`` escapes (the
    same JSON once parsed, but inert on a terminal; JSON escapes the C0 controls itself)."""
    click.echo(redact_json(data, indent=2, default=str, ensure_ascii=False).translate(_JSON_ESCAPED))


def echo_error(message: str) -> None:
    """One error line on stderr (credentials masked)."""
    message = safe(message, markup=False, multiline=True)
    click.echo(redact(f"error: {message}"), err=True)


@contextmanager
def byte_progress(total: int, label: str) -> Iterator[Callable[[int], None] | None]:
    """A progress bar over bytes on stderr, shown only on a terminal."""
    if total <= 0 or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """``n`` and its noun, singular for one: "1 claim", "2 claims", "1,000 nodes"."""
    return f"{n:,} {noun if n == 1 else nouns or noun + 's'}"


def command_name() -> str:
    """How to call ``provenance`` from here: the bare name when PATH finds this installation, else
    the path of its script (``.venv/bin/provenance`` after the quickstart, which activates nothing)."""
    script = Path(sys.executable).parent / "provenance"
    if not script.is_file():
        return "provenance"
    found = shutil.which("provenance")
    if found and Path(found).resolve() == script.resolve():
        return "provenance"
    try:
        relative = script.relative_to(Path.cwd())
    except ValueError:
        return str(script)
    return str(relative) if relative.parent != Path(".") else f"./{relative}"


def short(ident: str | None, n: int = 12) -> str:
    """An id shortened for tables."""
    return ident[:n] if ident else "-"


def registry_option(fn: F) -> F:
    """``--registry FILE`` (repeatable): registry files that add or override teacher entries."""
    return click.option(
        "--registry",
        "registry_files",
        multiple=True,
        type=click.Path(dir_okay=False),
        envvar="PROVENANCE_REGISTRY",
        help="A registry YAML file that adds or overrides entries (repeatable; or PROVENANCE_REGISTRY).",
    )(fn)


#: what a terminal must not be handed raw: C0 controls (newline, ESC, …), DEL, C1 controls, the
#: line and paragraph separators, and the bidirectional marks, embeddings, overrides and isolates
#: (the set :data:`provenance.core.models.CONTROL_CHARS` refuses in declared ids and names)
_CONTROL_CODES = (
    *range(0x20), *range(0x7F, 0xA0), 0x61C, 0x200E, 0x200F, 0x2028, 0x2029,
    *range(0x202A, 0x202F), *range(0x2066, 0x206A),
)  # fmt: skip
_ESCAPED = {c: f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}" for c in _CONTROL_CODES}
_ESCAPED_MULTILINE = {c: shown for c, shown in _ESCAPED.items() if c not in (0x09, 0x0A)}
_JSON_ESCAPED = {c: f"\\u{c:04x}" for c in _CONTROL_CODES if c >= 0x7F}


def safe(value: object, *, markup: bool = True, multiline: bool = False) -> str:
    """``value`` as text a terminal shows as it is: the one escaping function every printer uses.

    Control characters (ESC sequences, C1 controls such as CSI, bidi overrides and isolates, and
    newlines unless ``multiline``) are written as ``\\x1b`` / ``\\u202e`` escapes, so text from the
    ledger or from input cannot move the cursor, recolour, rewrite or reorder what is shown. With
    ``markup`` (for rich printers) square brackets are escaped too, so ``[link=…]`` or ``[/]``
    in the text is printed, never interpreted. The ledger keeps the text verbatim.
    """
    text = str(value).translate(_ESCAPED_MULTILINE if multiline else _ESCAPED)
    if markup:
        from rich.markup import escape

        text = escape(text)
    return text
