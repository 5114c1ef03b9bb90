"""Ray inference service: ``InferenceServer`` actors and the ``RemoteEvaluator`` client.

The server is a thin async actor around ``alphago_lite.batcher.RequestBatcher`` (batching, forward
thread, weight swaps, stats all live there and are tested without Ray). Its methods are coroutines
and never call a blocking ``ray.get``; the event loop keeps accepting and decoding requests while the
forward thread runs the net.

Requests are ``wire.PackedRequest`` (bit-packed planes); responses are ``wire.InferenceResponse``
(policy, value, weights_version).

A weight swap has two parts: ``prepare_weights`` (nothing for torch; export and compile for OpenVINO,
seconds) runs on the server's own prepare thread beside the forwards, and only the instant
``set_weights`` waits for the forward thread, between two batches.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import ray
import torch

from alphago_lite.config import ConfigError
from alphago_lite.net.batcher import RequestBatcher
from alphago_lite.net.evaluator import Evaluator, InProcessEvaluator, check_batch
from alphago_lite.net.model import PolicyValueNet
from alphago_lite.net.wire import InferenceResponse, PackedRequest, encode_request


def build_evaluator(backend: str, model: PolicyValueNet, feature_set: str, *, device: str = "cpu",
                    precision: str = "fp32", max_batch: int = 1024, cuda_graphs: bool | None = None,
                    cpu_threads: int | None = None, weights_version: int = 0) -> Evaluator:
    """The evaluator of ``backend`` ('torch' or 'openvino') for ``model``."""
    if backend == "openvino":
        from alphago_lite.net.openvino_backend import OpenVinoEvaluator  # the optional extra
        return OpenVinoEvaluator(model, model.board_size, feature_set, precision=precision, max_batch=max_batch,
                                 cpu_threads=cpu_threads, weights_version=weights_version)
    if backend != "torch":
        raise ValueError(f"unknown inference backend {backend!r}; use torch or openvino")
    return InProcessEvaluator(model, model.board_size, feature_set, device=device, precision=precision,
                              cuda_graphs=cuda_graphs, max_batch=max_batch, cpu_threads=cpu_threads,
                              weights_version=weights_version)


def _lowest_cpu_priority() -> None:
    """Nice this thread to 19 (Linux schedules threads one by one), so that a swap's export and compile
    take CPU the forwards leave over rather than slowing them down."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):  # not on Linux: the swap still works, only less politely
        pass


@ray.remote
class InferenceServer:
    """Holds one net (arch dict from ``PolicyValueNet.arch()``) on one device and batches requests."""

    def __init__(self, arch: dict, feature_set: str, state_dict: dict | None = None, weights_version: int = 0,
                 *, device: str = "cpu", max_batch: int = 1024, batch_timeout_ms: float = 2.0,
                 precision: str = "fp32", backend: str = "torch", cuda_graphs: bool | None = None,
                 cpu_threads: int | None = None):
        model = PolicyValueNet.from_arch(arch)
        if state_dict is not None:
            model.load_state_dict(state_dict)
        self._evaluator = build_evaluator(backend, model, feature_set, device=device, precision=precision,
                                          max_batch=max_batch, cuda_graphs=cuda_graphs, cpu_threads=cpu_threads,
                                          weights_version=weights_version)
        self._backend = backend
        self._openvino_threads = self._evaluator.cpu_threads if backend == "openvino" else None
        self._batcher = RequestBatcher(self._evaluator, max_batch=max_batch, batch_timeout_ms=batch_timeout_ms)
        self._prepare_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inference-prepare",
                                                  initializer=_lowest_cpu_priority)
        self._last_prepare_s = 0.0

    async def infer(self, request: PackedRequest) -> InferenceResponse:
        return await self._batcher.submit(request)

    async def set_weights(self, version: int, state_dict: Any) -> int:
        """Swap weights between batches. Takes a state dict or an ObjectRef to one (awaited, not ray.get)."""
        if isinstance(state_dict, ray.ObjectRef):
            state_dict = await state_dict
        start = time.perf_counter()
        prepared = await asyncio.get_running_loop().run_in_executor(
            self._prepare_thread, self._evaluator.prepare_weights, state_dict)
        self._last_prepare_s = time.perf_counter() - start
        await self._batcher.set_weights(version, prepared)
        return version

    async def stats(self, reset: bool = False) -> dict:
        # Ray caps a worker's OMP threads at its num_cpus, so report what the forward really uses.
        return {**self._batcher.stats(reset=reset), "torch_threads": torch.get_num_threads(),
                "forward_threads": self._openvino_threads or torch.get_num_threads(), "backend": self._backend,
                "precision": self._evaluator.precision, "last_prepare_s": self._last_prepare_s}


def server_placement(inference_cfg: Any) -> tuple[str, int, dict]:
    """How the servers of ``inference_cfg`` run on the connected cluster: (device, how many, the Ray
    resources each one reserves). Without GPUs, a cuda device gets no server (the capacity check before
    a run, ``worker_pool.check_capacity``, says so)."""
    gpus = int(ray.cluster_resources().get("GPU", 0))
    device = inference_cfg.device
    if device == "auto":
        device = "cuda" if gpus and inference_cfg.backend == "torch" else "cpu"
    count = inference_cfg.num_servers or (gpus if device == "cuda" else 1)
    # On CPU the server reserves the CPUs its forward uses (Ray also sets OMP_NUM_THREADS to num_cpus);
    # with cpu_threads 0 (auto, see cpu_forward_threads) one, as its threads share cores with the others.
    resources = {"num_gpus": 1, "num_cpus": 1} if device == "cuda" else {"num_cpus": inference_cfg.cpu_threads or 1}
    return device, count, resources


def cpu_forward_threads(inference_cfg: Any, servers: int) -> int:
    """Threads of a CPU server's forward: ``cpu_threads``, or for 0 (auto) the largest node's CPUs shared
    among the servers. Auto shares cores with the search workers and the learner because on CPU they mostly
    wait for the net: with go9_cpu on 2 cores the search worker used 5% of a core and the learner needs
    about 11% (0.6 s per step of 256 positions, 4 samples per position at 12 positions/s), so one forward
    thread left the second core nearly idle (2 threads: 1.5x the NN evals/s of 1 in torch)."""
    if inference_cfg.cpu_threads:
        return inference_cfg.cpu_threads
    largest_node = max((int(n["Resources"].get("CPU", 0)) for n in ray.nodes() if n.get("Alive")), default=1)
    return max(1, largest_node // max(servers, 1))


def start_inference_servers(inference_cfg: Any, arch: dict, feature_set: str, state_dict: Any = None,
                            weights_version: int = 0) -> list:
    """Start ``inference_cfg.num_servers`` servers (0: one per GPU in the cluster, or 1 without GPUs).

    ``inference_cfg.backend`` openvino without the openvino package is a ``ConfigError`` here, before any
    server starts.

    Fault tolerance: a server that dies is restarted by Ray (``max_restarts=-1``) from its constructor
    arguments, and calls in flight are retried on the restarted server (``max_task_retries=-1``), so
    clients see a delay, not an error. The restarted server answers with the starting weights until
    the owner sends newer ones (``TrainingRun`` does at its next publish check); the version in each
    response says which weights answered. Pass the weights as an ObjectRef that the caller holds for
    the servers' lifetime, so that a restart can still read them."""
    if inference_cfg.backend == "openvino" and importlib.util.find_spec("openvino") is None:
        raise ConfigError("needs the openvino package: pip install 'alphago-lite[openvino]'", "inference.backend",
                          "openvino")
    device, count, resources = server_placement(inference_cfg)
    weights = ray.put(state_dict) if state_dict is not None and not isinstance(state_dict, ray.ObjectRef) \
        else state_dict
    cpu_threads = cpu_forward_threads(inference_cfg, count)
    options = dict(resources, max_restarts=-1, max_task_retries=-1)
    return [
        InferenceServer.options(**options).remote(
            arch, feature_set, weights, weights_version, device=device, max_batch=inference_cfg.max_batch,
            batch_timeout_ms=inference_cfg.batch_timeout_ms, precision=inference_cfg.requested_precision(),
            backend=inference_cfg.backend, cuda_graphs=inference_cfg.cuda_graphs, cpu_threads=cpu_threads)
        for _ in range(count)
    ]


class RemoteEvaluator(Evaluator):
    """Evaluator protocol over one or more ``InferenceServer``s, spreading requests round-robin.

    ``evaluate`` blocks; ``submit``/``result`` let a caller keep several batches in flight.
    ``weights_version`` is the version that answered the last ``evaluate``.
    """

    reentrant = True  # each call is its own Ray request

    def __init__(self, servers: Sequence, board_size: int, feature_set: str) -> None:
        if not servers:
            raise ValueError("RemoteEvaluator needs at least one InferenceServer handle")
        self.servers = list(servers)
        self.board_size = int(board_size)
        self.feature_set = feature_set
        self.weights_version = 0  # none answered yet
        self._next_server = itertools.cycle(self.servers)

    def submit(self, planes: np.ndarray, legal: np.ndarray) -> ray.ObjectRef:
        check_batch(planes, legal, self.board_size)
        return next(self._next_server).infer.remote(encode_request(planes, legal))

    def result(self, ref: ray.ObjectRef, timeout: float | None = None) -> InferenceResponse:
        response = ray.get(ref, timeout=timeout)
        # Arrays from the object store can be read-only views; search may edit its policy in place.
        return InferenceResponse(np.require(response.policy, requirements="W"),
                                 np.require(response.value, requirements="W"), response.weights_version)

    def evaluate(self, planes: np.ndarray, legal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        response = self.result(self.submit(planes, legal))
        self.weights_version = response.weights_version
        return response.policy, response.value
