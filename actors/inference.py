"""Ray inference service: ``InferenceServer`` actors and the ``RemoteEvaluator`` client.

The server is a thin async actor around ``alphago_lite.batcher.RequestBatcher`` (batching, forward
thread, weight swaps, stats all live there and are tested without Ray). Its methods are coroutines
and never call a blocking ``ray.get``; the event loop keeps accepting and decoding requests while the
forward thread runs the net.

Requests are ``wire.PackedRequest`` (bit-packed planes); responses are ``wire.InferenceResponse``
(policy, value, weights_version).

Restarts without Ray's warning: Ray logs an error-level line for every restartable actor whose
constructor arguments live in the object store (an ObjectRef, an actor handle: ray#53727). So servers
take only plain values; the weights a (re)started server loads come from the run's ``WeightsStore``,
found by name, which the owner updates at every publish.

A weight swap has two parts: ``prepare_weights`` (nothing for torch; export and compile for OpenVINO,
seconds) runs on the server's own prepare thread beside the forwards, and only the instant
``set_weights`` waits for the forward thread, between two batches.

Order: a batch is answered by one weights version, but Ray does not keep the execution order of an
async actor's tasks, so around a swap a request sent later may be answered by the older weights than
one sent before it. Callers must read each response's ``weights_version``, never infer it from order.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import os
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import ray
import torch

from actors.cluster import largest_node_cpus, on_this_node
from alphago_lite.config import ConfigError
from alphago_lite.net.backends import build_evaluator
from alphago_lite.net.batcher import RequestBatcher, new_forward_thread
from alphago_lite.net.evaluator import Evaluator, check_batch
from alphago_lite.net.memory import keep_freed_memory
from alphago_lite.net.model import PolicyValueNet
from alphago_lite.net.wire import InferenceResponse, PackedRequest, encode_request


def _lowest_cpu_priority() -> None:
    """Nice this thread to 19 (Linux schedules threads one by one), so that a swap's export and compile
    take CPU the forwards leave over rather than slowing them down."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):  # not on Linux: the swap still works, only less politely
        pass


@ray.remote(num_cpus=0)
class WeightsStore:
    """The weights a run's servers should hold, for servers that (re)start: (version, ObjectRef). Never
    restarted itself; the ref travels boxed in a list so that Ray hands it over as a ref."""

    def __init__(self) -> None:
        self._version, self._weights = 0, None

    def put(self, version: int, boxed: list) -> None:
        self._version, self._weights = int(version), boxed[0]

    def get(self) -> tuple[int, list]:
        return self._version, [self._weights]


def _weights_from_store(name: str) -> tuple[int, dict | None]:
    version, (ref,) = ray.get(ray.get_actor(name).get.remote())
    return version, (None if ref is None else ray.get(ref))


# a store lives while its handle does, and servers must not hold one (see the module docstring): this
# process keeps each store's handle until its group is killed (or the process ends)
_LIVE_STORES: dict[str, Any] = {}


class ServerGroup(list):
    """The inference servers of a run (a list of handles) and the store they start from."""

    def __init__(self, servers: list, store, store_name: str) -> None:
        super().__init__(servers)
        self.store, self.store_name = store, store_name

    def publish(self, version: int, weights: ray.ObjectRef, servers: list | None = None) -> None:
        """The store first (a server restarting meanwhile starts from the new weights), then the servers
        (all, or those given), waiting until each has swapped."""
        ray.get(self.store.put.remote(version, [weights]))
        ray.get([s.set_weights.remote(version, weights) for s in (self if servers is None else servers)])

    def kill(self) -> None:
        for actor in [*self, self.store]:
            ray.kill(actor)
        _LIVE_STORES.pop(self.store_name, None)


@ray.remote
class InferenceServer:
    """Holds one net (arch dict from ``PolicyValueNet.arch()``) on one device and batches requests."""

    def __init__(self, arch: dict, feature_set: str, state_dict: dict | None = None, weights_version: int = 0,
                 *, device: str = "cpu", max_batch: int = 1024, batch_timeout_ms: float = 2.0,
                 precision: str = "fp32", backend: str = "torch", cuda_graphs: bool | None = None,
                 cpu_threads: int | None = None, weights_store: str | None = None):
        keep_freed_memory()  # no page faults on each batch's activations (net/memory.py)
        if weights_store is not None:  # a run's server: what it loads survives its restarts
            weights_version, state_dict = _weights_from_store(weights_store)

        def build() -> Evaluator:
            model = PolicyValueNet.from_arch(arch)
            if state_dict is not None:
                model.load_state_dict(state_dict)
            return build_evaluator(backend, model, feature_set, device=device, precision=precision,
                                   max_batch=max_batch, cuda_graphs=cuda_graphs, cpu_threads=cpu_threads,
                                   weights_version=weights_version)
        # all of the net's torch work on the thread that runs its forwards (see new_forward_thread)
        forward_thread = new_forward_thread()
        self._evaluator = forward_thread.submit(build).result()
        self._backend = backend
        self._openvino_threads = self._evaluator.cpu_threads if backend == "openvino" else None
        self._batcher = RequestBatcher(self._evaluator, max_batch=max_batch, batch_timeout_ms=batch_timeout_ms,
                                       forward_thread=forward_thread)
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
    return max(1, largest_node_cpus() // max(servers, 1))


def start_inference_servers(inference_cfg: Any, arch: dict, feature_set: str, state_dict: Any = None,
                            weights_version: int = 0) -> ServerGroup:
    """Start ``inference_cfg.num_servers`` servers (0: one per GPU in the cluster, or 1 without GPUs) and
    the ``WeightsStore`` they start from, holding ``state_dict`` (a dict or an ObjectRef to one).

    ``inference_cfg.backend`` openvino without the openvino package is a ``ConfigError`` here, before any
    server starts.

    Fault tolerance: a server that dies is restarted by Ray (``max_restarts=-1``) and loads the store's
    weights, and calls in flight are retried on the restarted server (``max_task_retries=-1``), so
    clients see a delay, not an error. ``ServerGroup.publish`` updates the store with every swap, so a
    restarted server answers with the weights it held; the version in each response says which."""
    if inference_cfg.backend == "openvino" and importlib.util.find_spec("openvino") is None:
        raise ConfigError("needs the openvino package: pip install 'alphago-lite[openvino]'", "inference.backend",
                          "openvino")
    device, count, resources = server_placement(inference_cfg)
    weights = ray.put(state_dict) if state_dict is not None and not isinstance(state_dict, ray.ObjectRef) \
        else state_dict
    store_name = f"alphago-lite-weights-{uuid.uuid4().hex[:12]}"
    store = WeightsStore.options(name=store_name, scheduling_strategy=on_this_node()).remote()
    _LIVE_STORES[store_name] = store
    ray.get(store.put.remote(weights_version, [weights]))
    cpu_threads = cpu_forward_threads(inference_cfg, count)
    options = dict(resources, max_restarts=-1, max_task_retries=-1)
    servers = [
        InferenceServer.options(**options).remote(
            arch, feature_set, device=device, max_batch=inference_cfg.max_batch,
            batch_timeout_ms=inference_cfg.batch_timeout_ms, precision=inference_cfg.requested_precision(),
            backend=inference_cfg.backend, cuda_graphs=inference_cfg.cuda_graphs, cpu_threads=cpu_threads,
            weights_store=store_name)
        for _ in range(count)
    ]
    return ServerGroup(servers, store, store_name)


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
        return self.submit_packed(encode_request(planes, legal))

    def submit_packed(self, request: PackedRequest) -> ray.ObjectRef:
        """Send a request encoded before (``wire.encode_request``, checked by the server): a caller that
        sends the same positions again and again (a benchmark) encodes them once."""
        return next(self._next_server).infer.remote(request)

    def result(self, ref: ray.ObjectRef, timeout: float | None = None) -> InferenceResponse:
        response = ray.get(ref, timeout=timeout)
        # Arrays from the object store can be read-only views; search may edit its policy in place.
        return InferenceResponse(np.require(response.policy, requirements="W"),
                                 np.require(response.value, requirements="W"), response.weights_version)

    def evaluate(self, planes: np.ndarray, legal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        response = self.result(self.submit(planes, legal))
        self.weights_version = response.weights_version
        return response.policy, response.value
