"""Run a producer in a forked child process and consume its items in the parent: a two-stage pipeline.

A bulk import spends about as long reading and checking rows (pure Python, no
database) as writing them (the database, the hashes, the log). On a machine with
two cores the two halves can overlap: :func:`iterate` forks, the child runs the
producer and streams each item back through a pipe (length-prefixed pickles), and
the parent yields them as they come. The pipe is the only channel: the child
never touches the parent's database connections, files or locks, and leaves with
``os._exit`` so that nothing of the parent's is flushed or closed twice.

* Back-pressure: the child blocks on the pipe while the parent is busy, so at most
  about one item is in flight besides the one being consumed (memory stays flat).
* An exception in the producer is raised in the parent, with its type and message
  (a ``DataError`` for a malformed row stays a ``DataError`` naming the row).
* The child dies with the parent (``PR_SET_PDEATHSIG`` on Linux): a killed import
  leaves no child holding the run lock behind. When the parent stops early (an
  exception, a generator closed), the child is killed and reaped.

Fork is only safe while the parent has no other thread: :func:`available` says no
when it has (a library's native pool, such as pyarrow's after it read a Parquet
file), and callers then run the producer in-process.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import signal
import struct
import sys
import threading
from collections.abc import Callable, Iterator
from typing import BinaryIO, TypeVar

T = TypeVar("T")

_BUFFER = 1 << 20
_HEADER = struct.Struct("<Q")
_ITEM, _END, _ERROR, _LOST = 0, 1, 2, 3
AHEAD = 1
"""Messages (batches) the parent takes off the pipe before it needs them."""
_PR_SET_PDEATHSIG = 1
ENV = "LYCREDIT_PIPELINE"
"""``0`` turns the two-process pipeline off (``1`` forces it on where fork is possible)."""


def forced() -> bool:
    """``LYCREDIT_PIPELINE=1``: use the pipeline wherever it is possible, whatever the input's size (tests)."""
    return os.environ.get(ENV) == "1"


def available() -> bool:
    """Whether :func:`iterate` may fork here: Linux, two cores or more, no native thread pools loaded."""
    setting = os.environ.get(ENV)
    if setting == "0" or not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return False
    if _threads() != 1:  # another thread (a library's native pool) could hold a lock the child needs
        return False
    return setting == "1" or (os.cpu_count() or 1) > 1


def _threads() -> int:
    """The process's OS threads (Python's and native ones, such as pyarrow's pools)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 0


def _die_with_parent() -> None:
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux's libc: the broken pipe still ends the child
        pass


def _send(out: BinaryIO, kind: int, payload: object) -> None:
    """One message: its length, then its pickle, written from the one buffer pickle made (no copy).

    Streaming the pickle through the pipe in its frames (``pickle.dump``/``pickle.load``)
    saved about 50 MB at a million rows and cost about 5 s more of the writer's time.
    """
    data = pickle.dumps((kind, payload), protocol=pickle.HIGHEST_PROTOCOL)
    out.write(_HEADER.pack(len(data)))
    out.write(data)
    out.flush()
    del data


def _child(out: BinaryIO, produce: Callable[[], Iterator[T]], parent: int) -> None:
    _die_with_parent()
    if os.getppid() != parent:  # the parent died before the signal was armed
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles ^C and then kills the child
    try:
        for item in produce():
            _send(out, _ITEM, item)
    except BrokenPipeError:
        return
    except BaseException as error:  # noqa: BLE001 - every failure goes to the parent
        try:
            pickle.dumps(error)
        except Exception:  # noqa: BLE001 - an exception that cannot cross the pipe
            error = RuntimeError(f"{type(error).__name__}: {error}")
        try:
            _send(out, _ERROR, error)
        except BrokenPipeError:
            pass
        return
    try:
        _send(out, _END, None)
    except BrokenPipeError:
        pass


def iterate(produce: Callable[[], Iterator[T]]) -> Iterator[T]:
    """Yield the items of ``produce()``, computed in a forked child while the caller works on the last one."""
    read_end, write_end = os.pipe()
    parent = os.getpid()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child
        code = 0
        try:
            os.close(read_end)
            with os.fdopen(write_end, "wb", buffering=_BUFFER) as out:
                _child(out, produce, parent)
        except BaseException:  # noqa: BLE001
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    _widen(read_end)
    stream = os.fdopen(read_end, "rb", buffering=_BUFFER)
    messages: queue.Queue[bytes | None] = queue.Queue(maxsize=AHEAD)
    pump = threading.Thread(target=_pump, args=(stream, messages), name="lycredit-forked-pipe", daemon=True)
    pump.start()
    kind, payload = _ITEM, None
    try:
        while True:
            data = messages.get()
            kind, payload = (_LOST, None) if data is None else pickle.loads(data)
            del data
            if kind != _ITEM:
                break
            yield payload
    finally:
        if kind == _ITEM:  # stopped early (an error here, or the caller closed the generator): the child goes
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        while pump.is_alive():  # the pump ends at the pipe's end; it may be waiting for room in the queue
            with contextlib.suppress(queue.Empty):
                messages.get(timeout=0.05)
        pump.join()
        _, status = os.waitpid(pid, 0)
        stream.close()
    if kind == _ERROR:
        raise payload
    if kind == _LOST:
        raise RuntimeError(f"the reading process ended unexpectedly (wait status {status})")


def _pump(stream: BinaryIO, messages: queue.Queue[bytes | None]) -> None:
    """Move the child's messages from the pipe into the queue as they come, then ``None`` at its end.

    A thread of the parent, so that the child does not wait for the parent to finish a batch
    before it can hand over the next: reading the pipe releases the GIL, and the queue holds
    up to :data:`AHEAD` messages (memory stays bounded). The child closes the pipe when it
    leaves, after its last message or when it dies.
    """
    while (data := _receive(stream)) is not None:
        messages.put(data)
    messages.put(None)


def _receive(stream: BinaryIO) -> bytes | None:
    """The next message's bytes, or None when the pipe ends without one (the child died)."""
    header = stream.read(_HEADER.size)
    if len(header) != _HEADER.size:
        return None
    size = _HEADER.unpack(header)[0]
    data = stream.read(size)
    return data if len(data) == size else None


def _widen(fd: int) -> None:
    """A pipe of 1 MiB rather than 64 KiB where Linux allows it: fewer switches per batch."""
    with contextlib.suppress(OSError, AttributeError):
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), _BUFFER)
