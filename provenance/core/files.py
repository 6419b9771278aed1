"""Writing output files whole or not at all, and never through a planted symlink.

Every file the tool writes for people (reports, cards, exports, the journal export) goes through
:func:`atomic_path`: the content is written to a new temporary file in the target's folder
(created exclusively, under a name nobody can predict), and only a complete file is moved over
the target with ``os.replace``. So:

- a symlink planted where the output goes is replaced by the file, never followed (``os.replace``
  renames over the link itself);
- a write that fails half-way (a full disk, a killed process) leaves the old file, or none, and no
  temporary file behind: never an empty or partial report.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from provenance.core.errors import InputError


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """A fresh temporary path beside ``target`` to write; it replaces ``target`` when the block
    ends without an exception, and is removed when it raises.

    Raises:
        InputError: ``target`` is a folder, or its folder does not exist.
    """
    target = Path(target)
    if target.is_dir() and not target.is_symlink():
        raise InputError("is a folder; give a file name to write to", path=target)
    folder = target.parent
    if not folder.is_dir():
        raise InputError(f"folder {folder} does not exist", path=target)
    fd, name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".partial" + "".join(target.suffixes), dir=folder
    )
    os.close(fd)
    temporary = Path(name)
    try:
        yield temporary
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


@contextmanager
def atomic_open(target: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """``open(target, mode)`` through :func:`atomic_path` (mode ``"w"`` or ``"wb"``)."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes whole files (mode 'w' or 'wb'), not {mode!r}")
    with (
        atomic_path(target) as temporary,
        open(temporary, mode, encoding=None if "b" in mode else encoding) as f,
    ):
        yield f


def write_text(target: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``target`` whole, or not at all; return the path."""
    with atomic_open(target, "w") as f:
        f.write(text)
    return Path(target)


def write_bytes(target: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``target`` whole, or not at all; return the path."""
    with atomic_open(target, "wb") as f:
        f.write(data)
    return Path(target)
