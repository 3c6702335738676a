"""Run a producer in a forked child process and consume its items in the parent: a two-stage pipeline.

A bulk import spends about as long reading and checking rows (pure Python, no
database) as writing them (the database, the hashes, the log). On a machine with
two cores the two halves can overlap: :func:`iterate` forks, the child runs the
producer and hands each item back (pickled), and the parent yields them as they
come. The child never touches the parent's database connections, files or locks,
and leaves with ``os._exit`` so that nothing of the parent's is flushed or closed
twice.

* Hand-over: an item's pickle goes into one of :data:`AHEAD` slots of memory the
  two processes share (mapped before the fork), and a few bytes on a pipe say which;
  the parent unpickles straight from the slot and hands the slot back on a second
  pipe. An item larger than a slot goes through the pipe itself. (Through the pipe
  alone, every batch crossed the kernel twice and the parent's reading thread
  waited for the interpreter lock between each megabyte.)
* Back-pressure: the child waits for a free slot, so at most :data:`AHEAD` items are
  ready besides the one being consumed (memory stays flat).
* Load sharing: :func:`busy` tells the producer (in the child) how long the child and
  the parent each worked on an item, waits for each other left out; the parent sends its
  time back with each slot it frees. The producer can then take on work the parent would
  otherwise do while the parent is the slower, and leave it to the parent when not.
* An exception in the producer is raised in the parent, with its type and message
  (a ``DataError`` for a malformed row stays a ``DataError`` naming the row).
* The child dies with the parent (``PR_SET_PDEATHSIG`` on Linux): a killed import
  leaves no child holding the run lock behind. When the parent stops early (an
  exception, a generator closed), the child is killed and reaped.

Fork is only safe while the parent has no other thread: :func:`available` says no
when it has (a library's native pool, such as pyarrow's after it read a Parquet
file), and callers then run the producer in-process; so does :func:`iterate` itself
when the shared slots cannot be mapped.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import pickle
import signal
import struct
import sys
import time
from collections.abc import Callable, Iterator
from typing import BinaryIO, TypeVar

T = TypeVar("T")

_BUFFER = 1 << 20
_HEADER = struct.Struct("<BB?Q")  # kind, slot, whether the pickle follows in the pipe (the slot unused), size
_FREE = struct.Struct("<Bd")  # a slot handed back, and the parent's busy seconds on its last item
_ITEM, _END, _ERROR, _LOST = 0, 1, 2, 3
AHEAD = 2
"""Shared slots: items the child may have ready while the parent works on the last one."""
SLOT_BYTES = 64 << 20
"""Room for one item's pickle (a 10 000-row batch of a penalty file takes about 25 MB)."""
_PR_SET_PDEATHSIG = 1
ENV = "LYCREDIT_PIPELINE"
"""``0`` turns the two-process pipeline off (``1`` forces it on where fork is possible)."""
_busy = (0.0, 0.0)
_acquired = 0.0


def busy() -> tuple[float, float]:
    """In the child, the seconds of work (waits for the other process left out) the child last spent
    on an item (making it, pickling the one before) and the parent last spent on one (using it, then
    unpickling the next); ``(0.0, 0.0)`` until both are known, and elsewhere."""
    return _busy


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


class _Full(Exception):
    """An item's pickle does not fit in a slot."""


class _Slot:
    """A file-like window on one slot: pickle writes its frames straight into the shared memory."""

    def __init__(self, view: memoryview):
        self.view = view
        self.size = 0

    def write(self, data: bytes) -> int:
        end = self.size + len(data)
        if end > len(self.view):
            raise _Full
        self.view[self.size:end] = data
        self.size = end
        return len(data)


def _send(out: BinaryIO, free: BinaryIO, shared: mmap.mmap, kind: int, payload: object) -> None:
    """One item: pickled straight into a free slot (waiting for one) and its header on the pipe; an item
    too large for a slot is pickled again, into the pipe."""
    global _busy, _acquired
    started = time.perf_counter()
    message = _read_exactly(free, _FREE.size)
    if message is None:
        raise BrokenPipeError("the parent has gone")
    slot, parent_busy = _FREE.unpack(message)
    if _acquired and parent_busy:
        _busy = (started - _acquired, parent_busy)
    _acquired = time.perf_counter()
    offset = slot * SLOT_BYTES
    with memoryview(shared) as whole, whole[offset:offset + SLOT_BYTES] as view:
        window = _Slot(view)
        try:
            pickle.Pickler(window, protocol=pickle.HIGHEST_PROTOCOL).dump(payload)
        except _Full:
            window = None
    if window is not None:
        out.write(_HEADER.pack(kind, slot, False, window.size))
    else:
        data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
        out.write(_HEADER.pack(kind, slot, True, len(data)))
        out.write(data)
        del data
    out.flush()


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    """``size`` bytes from an unbuffered pipe (a read may return fewer); None at its end."""
    data = stream.read(size)
    while data and len(data) < size:
        more = stream.read(size - len(data))
        if not more:
            return None
        data += more
    return data or None


def _child(out: BinaryIO, free: BinaryIO, shared: mmap.mmap, produce: Callable[[], Iterator[T]],
           parent: int) -> None:
    _die_with_parent()
    if os.getppid() != parent:  # the parent died before the signal was armed
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles ^C and then kills the child
    try:
        for item in produce():
            _send(out, free, shared, _ITEM, item)
    except BrokenPipeError:
        return
    except BaseException as error:  # noqa: BLE001 - every failure goes to the parent
        try:
            pickle.dumps(error)
        except Exception:  # noqa: BLE001 - an exception that cannot cross the pipe
            error = RuntimeError(f"{type(error).__name__}: {error}")
        try:
            _send(out, free, shared, _ERROR, error)
        except BrokenPipeError:
            pass
        return
    try:
        _send(out, free, shared, _END, None)
    except BrokenPipeError:
        pass


def iterate(produce: Callable[[], Iterator[T]]) -> Iterator[T]:
    """Yield the items of ``produce()``, computed in a forked child while the caller works on the last one."""
    try:
        shared = mmap.mmap(-1, AHEAD * SLOT_BYTES)  # anonymous, shared with the child; pages are used as touched
    except OSError:  # no room for the mapping (a limit on address space): the producer runs here
        yield from produce()
        return
    read_end, write_end = os.pipe()
    free_read, free_write = os.pipe()
    parent = os.getpid()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child
        code = 0
        try:
            os.close(read_end)
            os.close(free_write)
            with os.fdopen(write_end, "wb", buffering=_BUFFER) as out, os.fdopen(free_read, "rb", buffering=0) as free:
                _child(out, free, shared, produce, parent)
        except BaseException:  # noqa: BLE001
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    os.close(free_read)
    _widen(read_end)
    stream = os.fdopen(read_end, "rb", buffering=_BUFFER)
    free = os.fdopen(free_write, "wb", buffering=0)
    free.write(b"".join(_FREE.pack(slot, 0.0) for slot in range(AHEAD)))  # every slot is free
    kind, payload, handed = _ITEM, None, time.perf_counter()
    try:
        while True:
            kind, payload, handed = _receive(stream, free, shared, handed)
            if kind != _ITEM:
                break
            yield payload
    finally:
        if kind == _ITEM:  # stopped early (an error here, or the caller closed the generator): the child goes
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        stream.close()
        with contextlib.suppress(OSError):
            free.close()
        shared.close()
    if kind == _ERROR:
        raise payload
    if kind == _LOST:
        raise RuntimeError(f"the reading process ended unexpectedly (wait status {status})")


def _receive(stream: BinaryIO, free: BinaryIO, shared: mmap.mmap, handed: float) -> tuple[int, object, float]:
    """The next item's kind and payload (``_LOST`` when the pipe ends without one: the child died), and
    when it was handed over. ``handed`` is when the last one was: the time since, less the wait for
    this one, is what the parent worked, and goes back to the child with the slot."""
    started = time.perf_counter()
    header = stream.read(_HEADER.size)
    waited = time.perf_counter() - started
    if len(header) != _HEADER.size:
        return _LOST, None, started
    kind, slot, in_pipe, size = _HEADER.unpack(header)
    if in_pipe:
        data = stream.read(size)
        if len(data) != size:
            return _LOST, None, started
        payload = pickle.loads(data)
        del data
    else:
        offset = slot * SLOT_BYTES
        with memoryview(shared) as whole, whole[offset:offset + size] as view:
            payload = pickle.loads(view)
    now = time.perf_counter()
    with contextlib.suppress(BrokenPipeError):  # the child has ended (this was its last item)
        free.write(_FREE.pack(slot, now - handed - waited))
    return kind, payload, now


def _widen(fd: int) -> None:
    """A pipe of 1 MiB rather than 64 KiB where Linux allows it: an item too large for a slot crosses faster."""
    with contextlib.suppress(OSError, AttributeError):
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), _BUFFER)
