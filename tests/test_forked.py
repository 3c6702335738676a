"""The two-process pipeline of lycredit.forked: order, errors, the reader running ahead, stopping early."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest

from lycredit import forked
from lycredit.errors import DataError

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the pipeline forks (Linux)")


def _producer(directory: Path, count: int, size: int):
    """Items of ``size`` bytes; each leaves a file behind once made, so the parent can see how far the child got."""
    def produce():
        for number in range(count):
            (directory / f"made-{number}").touch()
            yield number, b"x" * size
    return produce


def _made(directory: Path) -> int:
    return sum(1 for _ in directory.glob("made-*"))


def test_items_come_in_order_and_an_error_keeps_its_type_and_message() -> None:
    def produce():
        yield from range(5)
        raise DataError("rows.csv, line 7: malformed CSV")

    got = []
    with pytest.raises(DataError, match="rows.csv, line 7: malformed CSV"):
        for item in forked.iterate(produce):
            got.append(item)
    assert got == [0, 1, 2, 3, 4]


def test_the_child_runs_ahead_while_the_parent_works_on_a_batch(tmp_path: Path) -> None:
    """Items larger than the pipe: the child hands over the next ones while the parent still holds the first."""
    items = forked.iterate(_producer(tmp_path, 8, 2 << 20))
    first = next(items)
    deadline = time.monotonic() + 10
    while _made(tmp_path) < forked.AHEAD + 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert first[0] == 0
    assert _made(tmp_path) >= forked.AHEAD + 2, "the child waited for the parent instead of running ahead"
    assert [number for number, _data in items] == list(range(1, 8))


def test_stopping_early_kills_the_child_and_leaves_no_thread(tmp_path: Path) -> None:
    before = threading.active_count()
    items = forked.iterate(_producer(tmp_path, 1000, 1 << 20))
    next(items)
    time.sleep(0.2)  # the queue fills and the pipe thread waits for room
    started = time.monotonic()
    items.close()
    assert time.monotonic() - started < 5
    assert threading.active_count() == before
    assert _made(tmp_path) < 1000
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # reaped: no child left behind


def test_items_larger_than_a_slot_cross_through_the_pipe_in_order(monkeypatch) -> None:
    monkeypatch.setattr(forked, "SLOT_BYTES", 4096)
    sizes = [10, 5000, 20, 3 << 20, 4096, 4097]
    got = list(forked.iterate(lambda: (b"%d" % n * size for n, size in enumerate(sizes))))
    assert [len(item) for item in got] == [len(b"%d" % n * size) for n, size in enumerate(sizes)]
    assert got[3][:3] == b"333"


def test_the_child_learns_how_long_it_and_the_parent_worked_on_an_item() -> None:
    """What load sharing is told: each process's time on an item, waits for the other left out. The child's
    time on a slow item shows with the next; the parent's time on an item comes back with the slot the
    item after it took, which the item AHEAD after that one gets."""
    count, slow_item, busy_at = 12, forked.AHEAD + 1, 6

    def produce():
        for number in range(count):
            if number == slow_item:
                time.sleep(0.5)  # the child works on this item (the parent waits for it: not its work)
            yield number, forked.busy()  # the times of the last item sent

    child, parent = [], []
    for number, (reader, writer) in forked.iterate(produce):
        child.append(reader)
        parent.append(writer)
        if number == busy_at:
            time.sleep(0.5)  # the parent works on this item (the child waits for a slot: not its work)
    assert child[0] == parent[0] == 0.0
    assert [n for n, seconds in enumerate(child) if seconds >= 0.3] == [slow_item + 1]
    assert [n for n, seconds in enumerate(parent) if seconds >= 0.3] == [busy_at + 1 + forked.AHEAD + 1]


def test_without_room_for_the_shared_slots_the_producer_runs_in_this_process(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise OSError(12, "Cannot allocate memory")

    monkeypatch.setattr(forked.mmap, "mmap", refuse)
    here = os.getpid()
    assert list(forked.iterate(lambda: (os.getpid() for _ in range(3)))) == [here] * 3
