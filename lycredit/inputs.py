"""The one check of a path given as an input file: it exists, is a regular file, and can be read;
and of a path given as an input directory: it exists, is a directory, and can be listed.

Every command that reads a file (an import, ``record submit --json``, an authorisation document,
a key file) refuses a path that is missing, a directory or unreadable with exit 66 (``InputMissing``)
and a message naming the path; one that reads a directory (``audit verify --anchor``) refuses a path
that is missing, not a directory or cannot be listed the same way. The command line only converts
such a path (``click.Path`` with its checks off): click's own checks would make a directory or an
unreadable file a usage error (exit 2) instead.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from lycredit.errors import InputMissing
from lycredit.i18n import _

SURROGATE = re.compile("[\ud800-\udfff]")
"""Half of a surrogate pair: what Python makes of bytes that are not UTF-8 in an argument or a file's name
(and of a JSON ``\\ud800`` escape). It is no character, and no UTF-8 text (the database, the log) can hold it."""

NOT_ONE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
"""What a name, a document number or a query purpose must not hold: a C0 control (a line feed, a tab), DEL, a C1
control, a Unicode line or paragraph separator, or a bidirectional control (which can show a name as another)."""


def escaped(text: str) -> str:
    """Text with its halves of surrogate pairs written as escapes (``\\udcff``): it can be printed and encoded."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


_TERMINAL_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # C0 but tab and line feed, DEL, C1
_TERMINAL_CONTROLS_AND_TAB = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def for_terminal(text: str, *, keep_tabs: bool = True) -> str:
    """Text with its control characters but line feeds (and tabs, unless not ``keep_tabs``) written as escapes
    (``\\x1b``).

    Messages and tables quote what input files, providers and operators gave (a column's name, a cell's value,
    a --reason): on a terminal, an escape sequence among them would be run by the terminal (colours, a cleared
    screen, a changed title, a line overwritten through a carriage return) instead of being shown.
    """
    pattern = _TERMINAL_CONTROLS if keep_tabs else _TERMINAL_CONTROLS_AND_TAB
    if pattern.search(text) is None:
        return text
    return pattern.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def check_input_file(path: str | os.PathLike[str], *, missing: str | None = None) -> Path:
    """``path`` as a Path, or InputMissing (66) naming it: no such file, a directory, not a regular file
    (a FIFO or a device, which is never opened here), or a file this process cannot open for reading.

    ``missing`` replaces the message for a path that does not exist.
    """
    path = Path(path)
    mode = _mode(path, missing or _("{file}: no such file").format(file=path))
    if stat.S_ISDIR(mode):
        raise InputMissing(_("{file} is a directory, not a file").format(file=path))
    if not stat.S_ISREG(mode):
        raise InputMissing(_("{file} is not a file").format(file=path))
    try:
        with path.open("rb"):
            pass
    except OSError as exc:  # no read permission (root reads anything)
        raise unreadable(path, exc) from None
    return path


def check_input_dir(path: str | os.PathLike[str]) -> Path:
    """``path`` as a Path, or InputMissing (66) naming it: no such directory, a file or anything else that is not
    a directory, or a directory this process cannot list."""
    path = Path(path)
    mode = _mode(path, _("{directory}: no such directory").format(directory=path))
    if stat.S_ISREG(mode):
        raise InputMissing(_("{directory} is a file, not a directory").format(directory=path))
    if not stat.S_ISDIR(mode):
        raise InputMissing(_("{directory} is not a directory").format(directory=path))
    try:
        with os.scandir(path) as entries:
            next(entries, None)
    except OSError as exc:  # no read permission (root lists anything)
        raise unreadable(path, exc) from None
    return path


def unreadable(path: Path, exc: OSError) -> InputMissing:
    """The error (66) for an input ``path`` that could not be read because of ``exc``."""
    return InputMissing(_("{file} cannot be read ({reason})").format(file=path, reason=exc.strerror))


def _mode(path: Path, missing: str) -> int:
    """The path's mode; InputMissing (66) with ``missing`` when there is nothing there, or when it cannot be
    looked at (a directory on the way that may not be searched, a name too long...)."""
    try:
        return path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise InputMissing(missing) from None
    except OSError as exc:
        raise unreadable(path, exc) from None
