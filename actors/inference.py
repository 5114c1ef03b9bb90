"""Ray inference service: ``InferenceServer`` actors and the ``RemoteEvaluator`` client.

The server is a thin async actor around ``alphago_lite.batcher.RequestBatcher`` (batching, forward
thread, weight swaps, stats all live there and are tested without Ray). Its methods are coroutines
and never call a blocking ``ray.get``; the event loop keeps accepting and decoding requests while the
forward thread runs the net.

Requests are ``wire.PackedRequest`` (bit-packed planes); responses are ``wire.InferenceResponse``
(policy, value, weights_version).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import ray
import torch

from alphago_lite.net.batcher import RequestBatcher
from alphago_lite.net.evaluator import Evaluator, InProcessEvaluator, check_batch
from alphago_lite.net.model import PolicyValueNet
from alphago_lite.net.wire import InferenceResponse, PackedRequest, encode_request


@ray.remote
class InferenceServer:
    """Holds one net (arch dict from ``PolicyValueNet.arch()``) on one device and batches requests."""

    def __init__(self, arch: dict, feature_set: str, state_dict: dict | None = None, weights_version: int = 0,
                 *, device: str = "cpu", max_batch: int = 1024, batch_timeout_ms: float = 2.0,
                 bf16: bool | None = None, cuda_graphs: bool | None = None, cpu_threads: int | None = None):
        model = PolicyValueNet.from_arch(arch)
        if state_dict is not None:
            model.load_state_dict(state_dict)
        evaluator = InProcessEvaluator(model, model.board_size, feature_set, device=device, bf16=bf16,
                                       cuda_graphs=cuda_graphs, max_batch=max_batch, cpu_threads=cpu_threads,
                                       weights_version=weights_version)
        self._batcher = RequestBatcher(evaluator, max_batch=max_batch, batch_timeout_ms=batch_timeout_ms)

    async def infer(self, request: PackedRequest) -> InferenceResponse:
        return await self._batcher.submit(request)

    async def set_weights(self, version: int, state_dict: Any) -> int:
        """Swap weights between batches. Takes a state dict or an ObjectRef to one (awaited, not ray.get)."""
        if isinstance(state_dict, ray.ObjectRef):
            state_dict = await state_dict
        await self._batcher.set_weights(version, state_dict)
        return version

    async def stats(self, reset: bool = False) -> dict:
        # Ray caps a worker's OMP threads at its num_cpus, so report what the forward really uses.
        return {**self._batcher.stats(reset=reset), "torch_threads": torch.get_num_threads()}


def server_placement(inference_cfg: Any) -> tuple[str, int, dict]:
    """How the servers of ``inference_cfg`` run on the connected cluster: (device, how many, the Ray
    resources each one reserves). Without GPUs, a cuda device gets no server (the capacity check before
    a run, ``worker_pool.check_capacity``, says so)."""
    gpus = int(ray.cluster_resources().get("GPU", 0))
    device = inference_cfg.device
    if device == "auto":
        device = "cuda" if gpus else "cpu"
    count = inference_cfg.num_servers or (gpus if device == "cuda" else 1)
    # On CPU the server reserves the CPUs its forward uses (Ray also sets OMP_NUM_THREADS to num_cpus).
    resources = {"num_gpus": 1, "num_cpus": 1} if device == "cuda" else {"num_cpus": inference_cfg.cpu_threads or 1}
    return device, count, resources


def start_inference_servers(inference_cfg: Any, arch: dict, feature_set: str, state_dict: Any = None,
                            weights_version: int = 0) -> list:
    """Start ``inference_cfg.num_servers`` servers (0: one per GPU in the cluster, or 1 without GPUs).

    Fault tolerance: a server that dies is restarted by Ray (``max_restarts=-1``) from its constructor
    arguments, and calls in flight are retried on the restarted server (``max_task_retries=-1``), so
    clients see a delay, not an error. The restarted server answers with the starting weights until
    the owner sends newer ones (``TrainingRun`` does at its next publish check); the version in each
    response says which weights answered. Pass the weights as an ObjectRef that the caller holds for
    the servers' lifetime, so that a restart can still read them."""
    device, count, resources = server_placement(inference_cfg)
    weights = ray.put(state_dict) if state_dict is not None and not isinstance(state_dict, ray.ObjectRef) \
        else state_dict
    cpu_threads = inference_cfg.cpu_threads or None
    options = dict(resources, max_restarts=-1, max_task_retries=-1)
    return [
        InferenceServer.options(**options).remote(
            arch, feature_set, weights, weights_version, device=device, max_batch=inference_cfg.max_batch,
            batch_timeout_ms=inference_cfg.batch_timeout_ms, bf16=inference_cfg.bf16,
            cuda_graphs=inference_cfg.cuda_graphs, cpu_threads=cpu_threads)
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
