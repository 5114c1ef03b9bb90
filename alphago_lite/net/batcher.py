"""Merge many callers' inference requests into large batches for one evaluator (asyncio, Ray-free).

Vocabulary
----------
request       one caller's batch of positions (a ``wire.PackedRequest`` or decoded arrays).
batch         the concatenation of several requests that the net runs in one forward pass;
              requests are never split across batches (one larger than ``max_batch`` runs alone,
              chunked by the evaluator).
dispatch      a batch leaves the queue when it holds ``max_batch`` positions, or when its oldest
              request has waited ``batch_timeout_ms`` and the forward thread is idle. While a forward
              runs, requests keep arriving and the next batch keeps growing, so the thread goes
              straight from one forward to the next with the next batch already concatenated.
forward thread  a single worker thread that runs ``evaluator.evaluate`` and ``evaluator.set_weights``;
              being one thread, a weight swap always falls between two forwards, and each batch is
              answered by exactly one weights version.
queue latency time from a request's arrival to the dispatch of its batch.

The evaluator is anything with ``evaluate(planes, legal)``, ``set_weights(version, state_dict)``,
``weights_version``, ``board_size`` and optionally ``in_planes`` (e.g. ``InProcessEvaluator``).
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from alphago_lite.net.evaluator import check_batch
from alphago_lite.net.wire import InferenceResponse, PackedRequest, decode_request


@dataclass
class _Pending:
    planes: np.ndarray  # uint8 [n, C, S, S]
    legal: np.ndarray  # bool [n, A]
    future: asyncio.Future
    arrived: float  # loop.time()


def new_forward_thread() -> ThreadPoolExecutor:
    """The forward thread of a batcher. Build a CPU torch evaluator on it (``submit(build).result()``)
    and pass it to ``RequestBatcher``: libgomp gives every thread that starts torch CPU work its own
    OpenMP team, and once a process has more OpenMP threads than CPUs their workers stop spinning
    between parallel regions and sleep, so each of a forward's many regions waits for a wake-up.
    Measured in a Ray actor (2-core Xeon, 9x9 6x64 bf16, batch 256, 2 threads, 3 runs): net built on the
    main thread and run on another 2,872-3,851 evals/s with 1.3-1.6 CPUs busy; built and run on one
    thread 3,702-4,088 with 1.95."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="inference-forward")


class RequestBatcher:
    """Owns a queue of requests, a dispatch loop and the forward thread for one evaluator."""

    def __init__(self, evaluator: Any, max_batch: int = 1024, batch_timeout_ms: float = 2.0,
                 forward_thread: ThreadPoolExecutor | None = None) -> None:
        """``forward_thread``: the single-worker executor that built ``evaluator`` (``new_forward_thread``),
        which the batcher then owns; by default a new one."""
        if max_batch < 1 or batch_timeout_ms < 0:
            raise ValueError(f"RequestBatcher: need max_batch >= 1 and batch_timeout_ms >= 0, "
                             f"got {max_batch}, {batch_timeout_ms}")
        self.evaluator = evaluator
        self.max_batch = int(max_batch)
        self.batch_timeout = batch_timeout_ms / 1000.0
        self._forward_thread = forward_thread or new_forward_thread()
        self._pending: list[_Pending] = []
        self._pending_positions = 0
        self._arrived: asyncio.Event | None = None
        self._runner: asyncio.Task | None = None
        self._reset_stats()

    # ------------------------------------------------------------------ public API
    async def submit(self, request: PackedRequest) -> InferenceResponse:
        """Decode a wire request, queue it, and return its slice of the batch that answered it."""
        planes, legal = decode_request(request)
        return await self.evaluate(planes, legal)

    async def evaluate(self, planes: np.ndarray, legal: np.ndarray) -> InferenceResponse:
        check_batch(planes, legal, self.evaluator.board_size, getattr(self.evaluator, "in_planes", None))
        loop = asyncio.get_running_loop()
        self._ensure_runner()
        item = _Pending(planes, legal, loop.create_future(), loop.time())
        self._pending.append(item)
        self._pending_positions += len(planes)
        self._arrived.set()
        return await item.future

    async def set_weights(self, version: int, state_dict: dict[str, Any]) -> None:
        """Queue a weight swap on the forward thread; returns once it is in effect."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._forward_thread, self.evaluator.set_weights, version, state_dict)

    def stats(self, reset: bool = False) -> dict[str, float]:
        """Counters since the last reset: batch fill (mean positions / max_batch), queue latency, evals/s, the
        forward thread's time in the evaluator."""
        elapsed = max(time.perf_counter() - self._since, 1e-9)
        batches = max(self._batches, 1)
        out = {
            "requests": self._requests,
            "batches": self._batches,
            "positions": self._positions,
            "batch_fill": self._positions / (batches * self.max_batch),
            "mean_batch": self._positions / batches,
            "queue_latency_ms_mean": 1000.0 * self._latency_sum / max(self._requests, 1),
            "queue_latency_ms_max": 1000.0 * self._latency_max,
            "evals_per_s": self._positions / elapsed,
            # the forward thread's time inside evaluate: the share of the span it was busy, and how fast it
            # went while it was (set beside the same net's raw forward, a slow forward is contention)
            "forward_seconds": self._forward_seconds,
            "forward_busy": self._forward_seconds / elapsed,
            "weights_version": self.evaluator.weights_version,
            "seconds": elapsed,
        }
        if reset:
            self._reset_stats()
        return out

    async def close(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
        self._fail_pending(RuntimeError("inference batcher closed"))
        self._forward_thread.shutdown(wait=True)

    # ------------------------------------------------------------------ dispatch loop
    def _ensure_runner(self) -> None:
        if self._runner is None:
            self._arrived = asyncio.Event()
            self._runner = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        in_flight: asyncio.Future | None = None
        try:
            while True:
                await self._gather(in_flight)
                batch = self._take_batch()
                planes = np.concatenate([p.planes for p in batch]) if len(batch) > 1 else batch[0].planes
                legal = np.concatenate([p.legal for p in batch]) if len(batch) > 1 else batch[0].legal
                if in_flight is not None:
                    await in_flight  # the forward thread is free once this returns
                in_flight = asyncio.ensure_future(self._execute(batch, planes, legal))
        except BaseException as exc:
            self._fail_pending(exc if isinstance(exc, Exception) else RuntimeError("inference batcher stopped"))
            raise

    async def _gather(self, in_flight: asyncio.Future | None) -> None:
        """Wait until the queue holds a full batch, or the oldest request is due and the thread is idle."""
        loop = asyncio.get_running_loop()
        while not self._pending:
            self._arrived.clear()
            await self._arrived.wait()
        deadline = self._pending[0].arrived + self.batch_timeout
        while self._pending_positions < self.max_batch:
            busy = in_flight is not None and not in_flight.done()
            remaining = deadline - loop.time()
            if not busy and remaining <= 0:
                return
            self._arrived.clear()
            arrival = asyncio.ensure_future(self._arrived.wait())
            waits = {arrival, in_flight} if busy else {arrival}
            await asyncio.wait(waits, timeout=None if busy else remaining, return_when=asyncio.FIRST_COMPLETED)
            arrival.cancel()

    def _take_batch(self) -> list[_Pending]:
        taken = [self._pending[0]]
        size = len(taken[0].planes)
        for item in self._pending[1:]:
            if size + len(item.planes) > self.max_batch:
                break
            taken.append(item)
            size += len(item.planes)
        del self._pending[: len(taken)]
        self._pending_positions -= size
        return taken

    async def _execute(self, batch: list[_Pending], planes: np.ndarray, legal: np.ndarray) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        for item in batch:
            wait = now - item.arrived
            self._latency_sum += wait
            self._latency_max = max(self._latency_max, wait)
        self._requests += len(batch)
        self._batches += 1
        self._positions += len(planes)
        try:
            policy, value, version = await loop.run_in_executor(self._forward_thread, self._forward, planes, legal)
        except Exception as exc:  # hand the failure to every caller in the batch, keep serving
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(exc)
            return
        start = 0
        for item in batch:
            stop = start + len(item.planes)
            if not item.future.done():  # a caller may have given up (cancelled)
                item.future.set_result(InferenceResponse(policy[start:stop], value[start:stop], version))
            start = stop

    def _forward(self, planes: np.ndarray, legal: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        # Runs on the forward thread, so reading the version here is consistent with the weights used.
        start = time.perf_counter()
        policy, value = self.evaluator.evaluate(planes, legal)
        self._forward_seconds += time.perf_counter() - start  # only this thread writes it
        return policy, value, self.evaluator.weights_version

    # ------------------------------------------------------------------ bookkeeping
    def _fail_pending(self, exc: BaseException) -> None:
        for item in self._pending:
            if not item.future.done():
                item.future.set_exception(exc)
        self._pending.clear()
        self._pending_positions = 0

    def _reset_stats(self) -> None:
        self._since = time.perf_counter()
        self._requests = self._batches = self._positions = 0
        self._latency_sum = self._latency_max = self._forward_seconds = 0.0
