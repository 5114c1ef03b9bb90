"""``MergingEvaluations``: one evaluation thread for the threads that search one tree.

An in-process evaluator is not re-entrant (pinned buffers, CUDA graphs), so the search threads cannot
each call it. They submit their small batches here instead; the evaluation thread takes every batch
that waits, evaluates them as one, and hands each thread its rows. While one forward runs the next
batches queue up, so N threads' batches of 8 leaves become forwards of up to 8 N positions (what a GPU
needs) without any thread waiting for another one to gather its leaves.
"""
from __future__ import annotations

import threading
from concurrent.futures import Future

import numpy as np

from alphago_lite.net.evaluator import Evaluator


class MergingEvaluations:
    """``submit(planes, legal)`` returns a Future of (policy, value) for those rows."""

    def __init__(self, evaluator: Evaluator) -> None:
        self.evaluator = evaluator
        self.forwards = 0  # evaluate calls made (positions / forwards is the merged batch size)
        self._waiting: list[tuple[np.ndarray, np.ndarray, Future]] = []
        self._ready = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name="search-evaluations", daemon=True)
        self._thread.start()

    def submit(self, planes: np.ndarray, legal: np.ndarray) -> Future:
        future: Future = Future()
        with self._ready:
            if self._closed:
                raise RuntimeError("the search's evaluation thread is closed")
            self._waiting.append((planes, legal, future))
            self._ready.notify()
        return future

    def close(self) -> None:
        """Stop the thread once the batches already submitted are answered."""
        with self._ready:
            self._closed = True
            self._ready.notify()
        self._thread.join()

    def _serve(self) -> None:
        while True:
            with self._ready:
                while not self._waiting and not self._closed:
                    self._ready.wait()
                if not self._waiting:
                    return
                batches, self._waiting = self._waiting, []
            self._answer(batches)

    def _answer(self, batches: list[tuple[np.ndarray, np.ndarray, Future]]) -> None:
        """One evaluate call for every batch; each future gets its own rows (or the evaluator's error)."""
        planes = batches[0][0] if len(batches) == 1 else np.concatenate([b[0] for b in batches])
        legal = batches[0][1] if len(batches) == 1 else np.concatenate([b[1] for b in batches])
        try:
            policy, value = self.evaluator.evaluate(planes, legal)
        except Exception as exc:  # every caller sees the failure; the thread serves on
            for _, _, future in batches:
                future.set_exception(exc)
            return
        self.forwards += 1
        start = 0
        for rows, _, future in batches:
            stop = start + len(rows)
            future.set_result((policy[start:stop], value[start:stop]))
            start = stop
