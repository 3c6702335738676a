"""The one rule for a file or directory lycredit writes (an output), as :mod:`lycredit.inputs` is for inputs.

An output that cannot be created or written, whenever that shows (a directory on the way that does not exist
or is a file, a directory at the path, no permission, a full disk ``ENOSPC``, a read-only file system
``EROFS``, an I/O error ``EIO``), is a :class:`~lycredit.errors.ConfigError` (exit 78: where the command was
told to write is the operator's to fix, like a setting) whose message names the output and the operating
system's reason: ``rejects.csv cannot be written (No space left on device)``. Never a traceback (exit 1, which
cron reads as "found something"), never click's usage error (2).

Nothing is left half-written: :func:`output_file` writes a file beside its name and renames it into place
only when it is whole, so a failure leaves whatever was there before (and no temporary file); a device or a
FIFO (``/dev/stdout``, ``/dev/full``) is written in place, as it has no file to leave behind.

Only the OSErrors of writes are mapped here, at the write sites: one from reading an input stays 66.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from lycredit.errors import ConfigError
from lycredit.i18n import _


def cannot_write(path: str | os.PathLike[str], exc: OSError | int) -> ConfigError:
    """The error (78) for the output ``path`` that could not be created or written because of ``exc`` (or an errno)."""
    if isinstance(exc, int):
        reason = os.strerror(exc)
    else:
        reason = exc.strerror or str(exc)
    return ConfigError(_("{file} cannot be written ({reason})").format(file=path, reason=reason))


def output_dir(path: Path) -> bool:
    """Create the output directory ``path`` (and its parents) unless it is a directory already; True when it was
    created. A path that cannot be one (a file there or on the way, no permission, a full disk) is 78, naming it."""
    existed = path.is_dir()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:  # a file, or a link to nothing, has the name
        raise ConfigError(_("{path} exists and is not a directory").format(path=path)) from None
    except OSError as exc:
        raise cannot_write(path, exc) from None
    return not existed


@contextlib.contextmanager
def output_file(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield the path to write the output ``path`` to; when the block ends, it is ``path``, whole.

    A regular file (new or replaced) is written to a temporary file beside it, synced, and renamed over it;
    if anything fails, the temporary file is removed and ``path`` is as it was. A replaced file keeps its
    permissions, and a symbolic link is written through (the file it names is replaced, the link stays). A device or a FIFO is
    written in place. Every OSError of the block, and of the rename, is :func:`cannot_write` (78), so the
    block must only write.
    """
    named = Path(path)  # in messages: as the operator gave it
    path = Path(os.path.realpath(named)) if named.is_symlink() else named  # a link is written through
    try:
        mode: int | None = path.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:  # a file on the way, a directory that may not be searched
        raise cannot_write(named, exc) from None
    if mode is not None and stat.S_ISDIR(mode):
        raise cannot_write(named, errno.EISDIR)
    if mode is not None and not stat.S_ISREG(mode):
        try:
            yield path
        except OSError as exc:
            raise cannot_write(named, exc) from None
        return
    import tempfile  # here, not at the top: a logged query imports this module (via lycredit.keys) and writes
    # no file, and tempfile brings shutil, random, bz2 and lzma (about 4 ms of its start-up)

    temp: Path | None = None
    try:
        handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
        os.close(handle)
        temp = Path(name)
        # a replaced file keeps its permissions; a new one gets what open() would have given it
        os.chmod(temp, stat.S_IMODE(mode) if mode is not None else 0o666 & ~_umask())
        yield temp
        fsync_path(temp)
        os.replace(temp, path)
        temp = None
    except OSError as exc:
        raise cannot_write(named, exc) from None
    finally:
        if temp is not None:
            with contextlib.suppress(OSError):
                temp.unlink()


def write_output(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` as the output ``path``, whole or not at all (:func:`output_file`)."""
    with output_file(path) as target, open(target, "wb") as fh:
        fh.write(data)


def fsync_path(path: Path) -> None:
    """Sync a file, or a directory's entries (after a rename or a link into it), to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _umask() -> int:
    """The process's umask: read from /proc on Linux (setting it to read it back is not safe beside other threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
