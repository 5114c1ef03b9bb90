"""TreeThreads (search/tree_threads.py): the helper threads of one game's tree search, awake between
searches. Each search runs work(0) in the caller and work(k) in helper k at once, and returns only once
every one has finished, with the first error raised."""
import gc
import threading
import time

import pytest

from alphago_lite.search import kernels
from alphago_lite.search.tree_threads import HANDOFF, IDLE, TreeThreads


class Recorder:
    """work(k): notes which thread ran k, and sleeps ``pause[k]`` seconds."""

    def __init__(self, pause=None, fail=None):
        self.pause, self.fail = pause or {}, fail or {}
        self.ran, self.finished = {}, set()
        self.lock = threading.Lock()

    def __call__(self, k):
        with self.lock:
            self.ran[k] = threading.get_ident()
        time.sleep(self.pause.get(k, 0))
        if k in self.fail:
            raise self.fail[k]
        with self.lock:
            self.finished.add(k)


@pytest.mark.parametrize("end_spin_loads", [0, 2_000_000])
def test_every_thread_runs_its_part_and_run_returns_after_the_slowest(end_spin_loads):
    threads = TreeThreads(3)
    for _ in range(5):
        work = Recorder(pause={2: 0.03})  # a helper much slower than the caller's spin
        threads.run(work, end_spin_loads)
        assert work.finished == {0, 1, 2, 3} and threads.running == 0
        assert work.ran[0] == threading.get_ident()
        assert len(set(work.ran.values())) == 4  # four threads, the caller one of them
    threads.close()


def test_helpers_that_went_to_sleep_between_searches_wake_for_the_next():
    threads = TreeThreads(2, spin_loads=1000)  # they stop spinning almost at once
    for _ in range(3):
        time.sleep(0.02)
        work = Recorder()
        threads.run(work, 0)
        assert work.finished == {0, 1, 2}
    threads.close()


def test_a_helpers_error_is_raised_once_all_have_finished_and_the_callers_comes_first():
    threads = TreeThreads(2)
    work = Recorder(pause={1: 0.02}, fail={2: RuntimeError("helper 2 failed")})
    with pytest.raises(RuntimeError, match="helper 2 failed"):
        threads.run(work, 0)
    assert work.finished == {0, 1} and threads.running == 0
    work = Recorder(pause={1: 0.02}, fail={0: ValueError("caller failed"), 2: RuntimeError("helper 2 failed")})
    with pytest.raises(ValueError, match="caller failed"):
        threads.run(work, 2_000_000)
    assert work.finished == {1} and threads.running == 0
    threads.run(Recorder(), 0)  # usable after errors
    threads.close()


def test_close_ends_the_helpers_and_so_does_dropping_them():
    threads = TreeThreads(2)
    helpers = list(threads._threads)
    threads.close()
    assert not any(t.is_alive() for t in helpers)
    with pytest.raises(RuntimeError, match="after close"):
        threads.run(Recorder(), 0)
    dropped = TreeThreads(2, spin_loads=1000)
    dropped.run(Recorder(), 0)
    helpers = list(dropped._threads)
    del dropped
    gc.collect()
    for t in helpers:
        t.join(timeout=5)
    assert not any(t.is_alive() for t in helpers)


class Resident:
    """A resident call in Python, doing what the compiled one (kernels.serve_shared_uniform) does: it
    serves searches itself (notes them and, ``linger`` seconds later, leaves) one after another, hands
    those numbered in ``hand_over`` back to work(k) without leaving, and comes back IDLE after ``wait``
    seconds without one."""

    def __init__(self, hand_over=(), wait=1.0, linger=0.0):
        self.hand_over, self.wait, self.linger = set(hand_over), wait, linger
        self.served, self.idle = [], 0

    def __call__(self, k, generation, seen, spin_loads, running):
        while True:
            start = time.monotonic()
            while generation[0] == seen:
                if time.monotonic() > start + self.wait:  # read each time: a test may shorten it
                    self.idle += 1
                    return seen, IDLE
                time.sleep(0)  # a Python spin lets the caller have the GIL
            seen = int(generation[0])
            if seen in self.hand_over:
                return seen, HANDOFF
            self.served.append((k, seen))
            time.sleep(self.linger)
            kernels.leave(running)


def test_resident_helpers_serve_searches_themselves_and_hand_back_the_ones_they_cannot():
    resident = Resident(hand_over={2, 5})
    threads = TreeThreads(2, resident=resident)
    for search in range(1, 7):
        work = Recorder()
        threads.run(work, 2_000_000)
        assert threads.running == 0
        if search in resident.hand_over:  # handed back: work(k) ran in each helper
            assert work.finished == {0, 1, 2}
        else:  # the resident calls served it: only the caller ran work
            assert work.finished == {0} and {(1, search), (2, search)} <= set(resident.served)
    resident.wait = 0  # back from the resident calls at once, to see the close
    threads.close()


def test_resident_helpers_that_went_idle_sleep_and_run_the_next_search_through_work():
    resident = Resident(wait=0.001, linger=0.02)
    threads = TreeThreads(2, resident=resident)
    time.sleep(0.05)  # both come back IDLE and sleep
    assert resident.idle >= 2
    resident.wait = 10.0  # from their next resident call on, they wait for searches
    work = Recorder()
    threads.run(work, 0)  # woken from their sleep, they run this one through work(k), and notify
    assert work.finished == {0, 1, 2} and threads.running == 0
    # resident again: they serve this one, and leave 20 ms after the caller went to sleep, without a
    # notification; the caller's sleep is a wait with a timeout, and it looks again
    work = Recorder()
    caller = threading.Thread(target=threads.run, args=(work, 0))
    caller.start()
    caller.join(timeout=5)
    assert not caller.is_alive() and work.finished == {0} and {(1, 2), (2, 2)} <= set(resident.served)
    resident.wait = 0
    threads.close()
