"""Paths from user input, checked before dockyard reads them.

A path may be a symlink loop, name a FIFO (opening one blocks until a writer comes), a device
(``/dev/zero`` never ends), lead out of the project, or be longer than the file system allows.
Each of these becomes a one-line error of the caller's error class instead of an OSError, a
RuntimeError from ``Path.resolve`` (Python 3.11 raises on loops) or a hang.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

from core.errors import DockyardError

_KINDS = (
    (stat.S_ISREG, "a file"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def inside(
    base: Path, text: str, error: type[DockyardError], *, field: str | None = None,
    where: str = "the project", label: str | None = None,
) -> Path:
    """``base / text`` with symlinks resolved, refused when it ends up outside ``base``.

    A loop is left unresolved here (``os.path.realpath`` does not raise on one); ``status``
    reports it when the path is looked at.
    """
    try:
        real = Path(os.path.realpath(base / text))
        root = Path(os.path.realpath(base))
    except ValueError:
        raise error(f"{shown(label or 'the path')} contains a NUL character",
                    "give a plain relative path", field=field) from None
    except OSError as err:
        raise error(f"{shown(label or text)} is not a usable path ({_reason(err)})",
                    "give a plain relative path", field=field) from None
    if real != root and root not in real.parents:
        raise error(
            f"{shown(label or text)} leads outside {where} (to {shown(real)})",
            f"give a path inside {where}; symlinks must stay inside it too",
            field=field,
        )
    return real


def status(
    path: Path, label: str, error: type[DockyardError], *, field: str | None = None
) -> os.stat_result | None:
    """``os.stat`` of ``path`` (symlinks followed), None when it does not exist; a loop, an
    over-long name or a permission problem is an error naming ``label``."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None
    except ValueError:  # an embedded NUL character
        raise error(f"{shown(label)} contains a NUL character", "give a plain path",
                    field=field) from None
    except OSError as err:
        if err.errno == errno.ENOTDIR:
            return None
        raise error(f"{shown(label)} cannot be used: {_reason(err)}", _advice(err),
                    field=field) from None


def kind(result: os.stat_result) -> str:
    """What a file is, in words ("a file", "a directory", "a FIFO (named pipe)", ...)."""
    return next((name for test, name in _KINDS if test(result.st_mode)), "not a regular file")


def open_regular(
    path: Path, label: str, error: type[DockyardError], *, field: str | None = None,
    missing: str = "check the path",
) -> tuple[BinaryIO, int]:
    """An open regular file and its size. A FIFO is never opened: stat first, then open
    non-blocking and check the opened file again (it may have been swapped in between)."""
    found = status(path, label, error, field=field)
    if found is None:
        raise error(f"{shown(label)} does not exist", missing, field=field)
    if not stat.S_ISREG(found.st_mode):
        raise error(f"{shown(label)} is {kind(found)}, not a file", "give a regular file",
                    field=field)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as err:
        raise error(f"{shown(label)} cannot be read: {_reason(err)}", _advice(err),
                    field=field) from None
    handle = os.fdopen(fd, "rb")
    opened = os.fstat(fd)
    if not stat.S_ISREG(opened.st_mode):
        handle.close()
        raise error(f"{shown(label)} is {kind(opened)}, not a file", "give a regular file",
                    field=field)
    return handle, opened.st_size


def read_regular(
    path: Path, label: str, limit: int, error: type[DockyardError], *, field: str | None = None,
    missing: str = "check the path",
) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (see ``open_regular``)."""
    handle, _ = open_regular(path, label, error, field=field, missing=missing)
    with handle:
        try:
            data = handle.read(limit + 1)
        except OSError as err:
            raise error(f"{shown(label)} cannot be read: {_reason(err)}", _advice(err),
                        field=field) from None
    if len(data) > limit:
        raise error(f"{shown(label)} is larger than {limit // 1024} KiB",
                    "dockyard reads only small text files here", field=field)
    return data


def shown(text: str | Path, limit: int = 200) -> str:
    """A path for a one-line message: long ones are cut in the middle."""
    value = str(text)
    half = limit // 2 - 2
    return value if len(value) <= limit else f"{value[:half]}...{value[-half:]}"


def _reason(err: Exception) -> str:
    if isinstance(err, OSError) and err.errno == errno.ELOOP:
        return "a symlink loop"
    if isinstance(err, OSError) and err.errno == errno.ENAMETOOLONG:
        return "the name is too long for the file system"
    if isinstance(err, OSError) and err.strerror:
        return err.strerror.lower()
    return "invalid path"


def _advice(err: OSError) -> str:
    if err.errno == errno.ELOOP:
        return "point the symlink at a real file"
    if err.errno == errno.ENAMETOOLONG:
        return "use shorter names (at most 255 bytes per name)"
    if err.errno in (errno.EACCES, errno.EPERM):
        return "make it readable"
    return "check the path"
