"""Writing an export file all at once, or not at all.

The text goes to a temporary file in the target's directory, which then replaces the target (``os.replace``, atomic
on one file system): a reader never sees half a file, and a failure changes nothing on disk (no temporary file
left, the old target as it was, no directory left behind that this write created).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from demo_search.exports.model import ExportError


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path``, creating missing parent directories.

    Raises ``ExportError`` with a one-line summary naming ``path`` and the reason.
    """
    blocker = _non_directory_ancestor(path)
    if blocker is not None:
        raise _cannot_write(path, f"{blocker} is not a directory")
    if path.is_dir():
        raise _cannot_write(path, "it is a directory")
    created = _missing_directories(path.parent)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _replace(path, text)
    except OSError as error:
        for directory in reversed(created):  # deepest first
            with contextlib.suppress(OSError):
                directory.rmdir()
        raise _cannot_write(path, error.strerror or str(error)) from None


def _replace(path: Path, text: str) -> None:
    mode = _file_mode(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _file_mode(path: Path) -> int:
    """The mode the file gets: an existing file's own, else what ``open`` would give a new one (0666 less umask)."""
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _non_directory_ancestor(path: Path) -> Path | None:
    """The nearest existing ancestor of ``path`` when it is not a directory (e.g. a file where a folder should be)."""
    for ancestor in path.parents:
        if ancestor.exists():
            return None if ancestor.is_dir() else ancestor
    return None


def _missing_directories(directory: Path) -> list[Path]:
    """``directory`` and those of its ancestors that do not exist yet, outermost first."""
    missing = []
    while not directory.exists() and directory != directory.parent:
        missing.append(directory)
        directory = directory.parent
    return list(reversed(missing))


def _cannot_write(path: Path, reason: str) -> ExportError:
    return ExportError(f"cannot write the export to {path}: {reason}")


__all__ = ["write_atomically"]
