"""``TreeThreads``: the helper threads of one game's tree search, awake between searches.

A search of one game with N threads (tree parallelism, searcher.py) runs ``work(0)`` in the calling
thread and ``work(1)`` .. ``work(N - 1)`` in N - 1 helpers, then waits until every one has finished.
On a virtual machine a sleeping thread takes a long time to wake: with a thread pool, a helper started
about 150 microseconds after the search and the caller noticed the helpers' end about 200 microseconds
late, of searches of 6 ms (9x9, 800 simulations, the uniform evaluator; measured). So both sides spin
before they sleep, in compiled code without the GIL:
  - a helper that finished spins on the search counter (``generation``) for about ``spin_loads`` loads
    (1 ns each here) before it sleeps on a condition, and starts the next search as soon as it is
    published;
  - the caller spins until the helpers have left (``running``, one atomic decrement each) for up to
    ``end_spin_loads`` loads, then sleeps on a condition that the last helper out notifies.
The caller passes ``end_spin_loads=0`` when the helpers' last rounds wait for a network's forward
(milliseconds): the spin would only take CPU from the forward.

A search whose helpers' work is all compiled (the uniform evaluator's) gives each helper a ``resident``
call instead: compiled code that waits for the next search, runs it and leaves, search after search,
without the GIL (kernels.serve_shared_uniform). It comes back to Python only to sleep, or to hand a
search that needs Python over to ``work(k)``. It notifies no condition: the caller's sleep at the end
is a wait with a timeout (END_WAIT_SECONDS).
"""
from __future__ import annotations

import threading
import weakref
from collections.abc import Callable

import numpy as np

from alphago_lite.search import kernels

HELPER_SPIN_LOADS = 2_000_000  # about 2 ms: a play loop's bookkeeping between two searches is ~0.5 ms
END_WAIT_SECONDS = 0.001  # the caller's sleep at a search's end, between looks at the helpers' count
IDLE, HANDOFF = kernels.SERVE_IDLE, kernels.SERVE_HANDOFF  # how a resident call came back


class _Shared:
    """What the helpers see: the only thing their threads hold, so that a ``TreeThreads`` dropped without
    ``close`` is still collected, and its finalizer ends them."""

    def __init__(self, helpers: int, spin_loads: int, resident: Callable | None):
        self.spin_loads = spin_loads
        self.resident = resident
        self.generation = np.zeros(1, np.int64)  # searches published so far
        self.running = np.zeros(1, np.int64)  # helpers not yet done with the current search
        self.work: Callable[[int], None] | None = None  # the current search's, None between searches
        self.errors: list[BaseException | None] = [None] * helpers
        self.published = threading.Condition()  # notified with each search (and at close)
        self.finished = threading.Condition()  # notified by the last helper out, if the caller sleeps
        self.caller_sleeps = False
        self.closed = False

    def serve(self, k: int) -> None:
        """Helper k's life: wait for a search, run work(k), leave; until closed. With a resident call,
        the searches run in it, and work(k) only takes over one that it handed back."""
        seen = 0
        while True:
            if self.resident is not None:
                seen, how = self.resident(k, self.generation, seen, self.spin_loads, self.running)
                to_run = how == HANDOFF
            else:
                to_run = kernels.wait_while_equal(self.generation, seen, self.spin_loads)
                if to_run:
                    seen = int(self.generation[0])
            if not to_run:  # no search within the spin: sleep until one is published
                with self.published:
                    while self.generation[0] == seen and not self.closed:
                        self.published.wait()
                if self.closed:
                    return
                seen = int(self.generation[0])
            try:
                self.work(k)
            except BaseException as error:  # raised by run() in the caller's thread
                self.errors[k - 1] = error
            # the caller reads running after it set caller_sleeps: either it sees this helper's
            # decrement, or this helper sees the flag and notifies
            if kernels.leave(self.running) == 1 and self.caller_sleeps:
                with self.finished:
                    self.finished.notify_all()

    def close(self) -> None:
        with self.published:
            self.closed = True
            self.published.notify_all()


class TreeThreads:
    """``helpers`` threads that run each search's ``work(k)``, k = 1 .. helpers, beside the caller's
    ``work(0)``. ``run`` is called by one thread at a time; ``close`` (or collection) ends the helpers."""

    def __init__(self, helpers: int, spin_loads: int = HELPER_SPIN_LOADS, resident: Callable | None = None):
        """``resident(k, generation, seen, spin_loads, running) -> (seen, IDLE or HANDOFF)``: helper k's
        searches in compiled code (see the module docstring); it must hold no reference to the search's
        owner, so that an owner dropped without ``close`` is still collected."""
        self.helpers = helpers
        self._shared = shared = _Shared(helpers, spin_loads, resident)
        self._threads = [threading.Thread(target=shared.serve, args=(k,), name=f"tree-thread-{k}", daemon=True)
                         for k in range(1, helpers + 1)]
        for thread in self._threads:
            thread.start()
        weakref.finalize(self, shared.close)

    def run(self, work: Callable[[int], None], end_spin_loads: int) -> None:
        """``work(0)`` here and ``work(k)`` in helper k, at once; returns once every one has returned
        (raised or not), raising the caller's error, else the first helper's."""
        shared = self._shared
        if shared.closed:
            raise RuntimeError("TreeThreads.run after close")
        shared.work = work
        shared.errors = [None] * self.helpers
        shared.running[0] = self.helpers
        with shared.published:
            shared.generation[0] += 1  # read by helpers in compiled code; the GIL orders work before it
            shared.published.notify_all()
        try:
            work(0)
        finally:
            self._wait_for_helpers(end_spin_loads)
            shared.work = None  # the helpers hold no reference to the search between searches
        for error in shared.errors:
            if error is not None:
                raise error

    @property
    def running(self) -> int:
        """Helpers still in the current search (0 once ``run`` has returned)."""
        return int(self._shared.running[0])

    def _wait_for_helpers(self, spin_loads: int) -> None:
        shared = self._shared
        if spin_loads and kernels.wait_until_all_left(shared.running, spin_loads):
            return
        with shared.finished:
            shared.caller_sleeps = True
            while shared.running[0] > 0:  # a resident helper leaves without a notification
                shared.finished.wait(END_WAIT_SECONDS)
            shared.caller_sleeps = False

    def close(self) -> None:
        self._shared.close()
        for thread in self._threads:
            thread.join()
