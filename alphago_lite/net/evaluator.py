"""The Evaluator protocol that search calls, and the in-process implementations.

Vocabulary
----------
planes   uint8 [B, C, S, S], values 0/1, built by features.py for ``feature_set``.
legal    bool [B, A] with A = S*S + 1 (last = pass); every row needs at least one legal move.
policy   float32 [B, A]: a softmax over the legal moves only, so illegal moves get exactly 0.
value    float32 [B] in [-1, 1] for the player to move.
bucket   on the GPU a batch is padded up to the next "bucket" size (powers of two up to
         ``max_batch``) so that one CUDA graph per bucket covers every batch size.
weights version  an int naming the weights that answered (0 for the weights given at construction);
                 ``set_weights`` changes it.

``InProcessEvaluator`` is not thread-safe: one caller at a time (the inference server calls it from a
single worker thread).
"""

from __future__ import annotations

import os
import warnings
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from numba import njit

from alphago_lite.net import symmetry
from alphago_lite.net.model import PolicyValueNet
from alphago_lite.net.precision import (
    EMULATED_BF16,
    check_precision,
    cpu_bf16_kind,
    faster_precision,
    resolve_precision,
)

TRIAL_BATCH = 256  # positions per forward of the precision trial (about a self-play batch on CPU)


@runtime_checkable
class Evaluator(Protocol):
    """What a search asks a network: policy and value for a batch of positions.

    The optional capabilities are declared here with their defaults; an evaluator that has one says so
    by subclassing this protocol and setting it (a search never probes for undeclared attributes)."""

    board_size: int
    feature_set: str  # name of the planes it expects, see features.py
    reentrant: bool = False        # several threads may call evaluate at once (e.g. each a Ray request)
    answers_at_once: bool = False  # thread-safe and nearly free: searches call it in their own threads
    answers_uniformly: bool = False  # its answer is uniform_rows': searches compute it in compiled code
    needs_planes: bool = True      # False: it never reads the planes, so searches need not encode them
    weights_version: int = 0       # version of the weights that answered the last evaluate
    has_ownership: bool = False    # evaluate_with_ownership answers (the net has an ownership head)

    def evaluate(self, planes: np.ndarray, legal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """planes: uint8 [B, C, S, S] (0/1); legal: bool [B, S*S+1].
        Returns policy float32 [B, S*S+1] (0 on illegal moves, sums to 1) and value float32 [B]
        in [-1, 1] from the point of view of the player to move."""
        ...

    def evaluate_with_ownership(self, planes: np.ndarray,
                                legal: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Optional (``has_ownership``): ``evaluate``'s policy and value, and the ownership float32
        [B, S, S] in [-1, 1] from the point of view of the player to move (+1: it will own the point)."""
        raise NotImplementedError(f"{type(self).__name__} gives no ownership (has_ownership is false)")


class EvaluatorInputError(ValueError):
    """planes / legal arrays of the wrong dtype or shape, or a position without any legal move."""


def check_batch(planes: np.ndarray, legal: np.ndarray, board_size: int, in_planes: int | None = None) -> None:
    """Raise ``EvaluatorInputError`` unless the arrays follow the protocol for this board size."""
    check_batch_arrays(planes, legal, board_size, in_planes)
    if len(legal) and not legal.any(axis=1).all():
        raise_no_legal_move(np.flatnonzero(~legal.any(axis=1)))


def raise_no_legal_move(rows: np.ndarray) -> None:
    raise EvaluatorInputError(f"positions {rows[:5].tolist()} have no legal move (pass should always be legal)")


def check_batch_arrays(planes: np.ndarray, legal: np.ndarray, board_size: int, in_planes: int | None = None) -> None:
    """``check_batch`` without the scan for rows with no legal move: the arrays' types and shapes."""
    s = board_size
    if not isinstance(planes, np.ndarray) or planes.dtype != np.uint8 or planes.ndim != 4 \
            or planes.shape[2:] != (s, s) or (in_planes is not None and planes.shape[1] != in_planes):
        got = f"{planes.dtype} {planes.shape}" if isinstance(planes, np.ndarray) else type(planes).__name__
        want_c = in_planes if in_planes is not None else "C"
        raise EvaluatorInputError(f"planes must be uint8 [B, {want_c}, {s}, {s}], got {got}")
    batch = planes.shape[0]
    if not isinstance(legal, np.ndarray) or legal.dtype != np.bool_ or legal.shape != (batch, s * s + 1):
        got = f"{legal.dtype} {legal.shape}" if isinstance(legal, np.ndarray) else type(legal).__name__
        raise EvaluatorInputError(f"legal must be bool [{batch}, {s * s + 1}], got {got}")


def masked_softmax(logits: torch.Tensor, legal: torch.Tensor) -> torch.Tensor:
    """Softmax over the legal moves only (float32); illegal moves get exactly zero."""
    return logits.float().masked_fill(~legal, float("-inf")).softmax(dim=-1)


def masked_softmax_numpy(logits: np.ndarray, legal: np.ndarray) -> np.ndarray:
    """``masked_softmax`` in numpy, for a runtime with threads of its own (OpenVINO): torch's softmax over a
    batch opens an OpenMP team on the calling thread, whose spinning workers then take the cores from the
    runtime's next forward (9x9 6x64 batch 256, 2 threads on 2 cores: ``evaluate`` took 5.5-6.8 ms longer than
    OpenVINO's 29-31 ms ``infer`` with torch's softmax, and no longer than it, within noise, with this one)."""
    x = np.where(legal, logits.astype(np.float32, copy=False), np.float32(-np.inf))
    x -= x.max(axis=1, keepdims=True)
    np.exp(x, out=x)
    x /= x.sum(axis=1, keepdims=True)
    return x


def default_cpu_threads() -> int:
    """The CPUs this process may run on (respects affinity masks and containers' cpusets)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def resolve_device(device: str | torch.device) -> torch.device:
    """"auto" means cuda when available, else cpu; asking for cuda without CUDA is an error."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(device)!r} requested but CUDA is not available")
    return resolved


@njit(cache=True, nogil=True)
def uniform_rows(legal, count, policy, values):
    """The uniform evaluator's answer for rows 0 .. count - 1 of ``legal``, written into ``policy`` and
    ``values``: policy[i] = legal[i] / (legal moves of row i), value 0. Returns the first row with no
    legal move, or -1. Compiled without the GIL, so that searches can call it from their own compiled
    loops (kernels.search_shared_uniform) as well as through ``UniformEvaluator.evaluate``."""
    bad = -1
    for i in range(count):
        legal_moves = 0
        for m in range(legal.shape[1]):
            legal_moves += legal[i, m]
        if legal_moves == 0 and bad < 0:
            bad = i
        share = np.float32(1.0 / max(legal_moves, 1))
        for m in range(legal.shape[1]):
            policy[i, m] = share if legal[i, m] else np.float32(0.0)
        values[i] = np.float32(0.0)
    return bad


def evaluate_in_chunks(forward, planes: np.ndarray, legal: np.ndarray,
                       max_batch: int) -> tuple[np.ndarray, np.ndarray]:
    """``forward(planes, legal) -> (policy, value)`` over slices of at most ``max_batch`` positions (a
    compiled net or a CUDA graph has a largest batch), the answers put together."""
    n = len(planes)
    if n <= max_batch:  # the usual case (a server's batch): no second array to copy into
        return forward(planes, legal)
    policy = np.empty((n, legal.shape[1]), dtype=np.float32)
    value = np.empty(n, dtype=np.float32)
    for start in range(0, n, max_batch):
        stop = min(n, start + max_batch)
        policy[start:stop], value[start:stop] = forward(planes[start:stop], legal[start:stop])
    return policy, value


class UniformEvaluator(Evaluator):
    """Uniform policy over the legal moves and value 0: free to call, for tests and search benchmarks.
    A search of one game computes this answer inside its compiled rounds (``answers_uniformly``)
    instead of calling ``evaluate``: it then measures the tree search alone."""

    answers_at_once = True
    answers_uniformly = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # a subclass with its own evaluate answers something else: searches must call it
        if "evaluate" in cls.__dict__ and "answers_uniformly" not in cls.__dict__:
            cls.answers_uniformly = False

    def __init__(self, board_size: int, feature_set: str) -> None:
        self.board_size = int(board_size)
        self.feature_set = feature_set

    def evaluate(self, planes: np.ndarray, legal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        check_batch_arrays(planes, legal, self.board_size)
        policy, value = np.empty(legal.shape, np.float32), np.empty(len(legal), np.float32)
        if uniform_rows(legal, len(legal), policy, value) >= 0:
            raise_no_legal_move(np.flatnonzero(~legal.any(axis=1)))
        return policy, value


class InProcessEvaluator(Evaluator):
    """Runs a ``PolicyValueNet`` in this process, on the CPU or one CUDA device.

    ``precision`` (see net/precision.py): fp32, bf16 (autocast; outputs stay float32) or auto; the
    default fp32 gives answers that do not depend on the machine.
    GPU path: channels_last, pinned host buffers and one CUDA graph per bucket.
    ``random_symmetry`` evaluates each position under one of the 8 board symmetries drawn at random and
    maps its policy back (AlphaGo Zero's way of averaging out the net's asymmetries).
    """

    def __init__(
        self,
        model: PolicyValueNet,
        board_size: int,
        feature_set: str,
        *,
        device: str | torch.device = "cpu",
        random_symmetry: bool = False,
        precision: str = "fp32",
        cuda_graphs: bool | None = None,
        max_batch: int = 1024,
        cpu_threads: int | None = None,
        seed: int | None = None,
        weights_version: int = 0,
    ) -> None:
        if model.board_size != board_size:
            raise ValueError(f"InProcessEvaluator: model is for board size {model.board_size}, not {board_size}")
        if max_batch < 1:
            raise ValueError(f"InProcessEvaluator: max_batch must be >= 1, got {max_batch}")
        self.device = resolve_device(device)
        on_gpu = self.device.type == "cuda"
        self.board_size = int(board_size)
        self.feature_set = feature_set
        self.in_planes = model.in_planes
        self.random_symmetry = random_symmetry
        check_precision(precision)
        self.cuda_graphs = on_gpu and (True if cuda_graphs is None else bool(cuda_graphs))
        self.max_batch = int(max_batch)
        self.weights_version = int(weights_version)
        self._rng = np.random.default_rng(seed)
        if on_gpu:
            self.model = model.to(self.device, memory_format=torch.channels_last).eval()
            self.precision = resolve_precision(precision, "cuda")
            self._gpu = _CudaRunner(self)
        else:
            # Process-wide setting. Torch counts the machine's cores, which overcounts inside a cpuset;
            # more threads than CPUs we may use only adds contention.
            torch.set_num_threads(cpu_threads or min(torch.get_num_threads(), default_cpu_threads()))
            # channels_last (NHWC) lets oneDNN run bf16 convolutions on AMX / avx512_bf16 without reordering
            # every tensor: measured on a 2-core Xeon with AMX, 4x48 9x9 batch 128, one thread, bf16
            # autocast 6,463-6,758 evals/s NHWC against 2,029-3,432 NCHW (fp32 about the same either way)
            self.model = model.to(self.device, memory_format=torch.channels_last).eval()
            self._gpu = None
            self.precision = resolve_precision(precision, "cpu", trial=self._precision_trial)
            if self.precision == "bf16" and cpu_bf16_kind() == "none":
                warnings.warn(EMULATED_BF16, stacklevel=2)

    @property
    def bf16(self) -> bool:
        return self.precision == "bf16"

    # ------------------------------------------------------------------ public API
    def evaluate(self, planes: np.ndarray, legal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        check_batch(planes, legal, self.board_size, self.in_planes)
        if self.random_symmetry:
            return self._evaluate_with_symmetries(planes, legal)
        return self._evaluate_plain(planes, legal)

    def prepare_weights(self, state_dict: dict[str, Any]) -> dict[str, Any]:
        """The slow part of a weight swap, safe to run beside ``evaluate``: nothing for torch (the copy
        into the parameters in ``set_weights`` takes milliseconds)."""
        return state_dict

    def set_weights(self, version: int, state_dict: dict[str, Any]) -> None:
        """Load new weights in place (CUDA graphs keep pointing at the same parameter storage)."""
        self.model.load_state_dict(state_dict)
        self.weights_version = int(version)

    # ------------------------------------------------------------------ plumbing
    def _evaluate_with_symmetries(self, planes: np.ndarray, legal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ks = self._rng.integers(0, symmetry.NUM_SYMMETRIES, size=len(planes))
        t_planes = np.empty_like(planes)
        t_legal = np.empty_like(legal)
        groups = [(k, np.flatnonzero(ks == k)) for k in range(symmetry.NUM_SYMMETRIES)]
        for k, rows in groups:
            if rows.size:
                t_planes[rows] = symmetry.apply_to_planes(planes[rows], k)
                t_legal[rows] = symmetry.apply_to_policy(legal[rows], k, self.board_size)
        t_policy, value = self._evaluate_plain(t_planes, t_legal)
        policy = np.empty_like(t_policy)
        for k, rows in groups:
            if rows.size:
                policy[rows] = symmetry.apply_to_policy(t_policy[rows], symmetry.inverse(k), self.board_size)
        return policy, value

    def _evaluate_plain(self, planes: np.ndarray, legal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return evaluate_in_chunks(self._forward_chunk, planes, legal, self.max_batch)

    def _forward_chunk(self, planes: np.ndarray, legal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self._gpu is not None:
            return self._gpu.run(planes, legal)
        with torch.inference_mode():
            logits, value = self._cpu_forward(torch.from_numpy(np.ascontiguousarray(planes)), self.precision)
            policy = masked_softmax(logits, torch.from_numpy(np.ascontiguousarray(legal)))
        return policy.numpy(), value.float().numpy()

    def _cpu_forward(self, planes: torch.Tensor, precision: str) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            return self.model(planes.to(torch.float32).contiguous(memory_format=torch.channels_last))

    def _precision_trial(self) -> str:
        planes = torch.zeros((min(self.max_batch, TRIAL_BATCH), self.in_planes, self.board_size, self.board_size),
                             dtype=torch.uint8)

        def forward(precision: str) -> None:
            with torch.inference_mode():
                self._cpu_forward(planes, precision)
        return faster_precision(forward)

    # ------------------------------------------------------------------ ownership (scoring.py)
    @property
    def has_ownership(self) -> bool:
        return self.model.ownership_conv is not None

    def evaluate_with_ownership(self, planes: np.ndarray,
                                legal: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Policy, value and ownership (see ``Evaluator``) in float32, without symmetries or CUDA
        graphs: scoring asks for a handful of positions at the end of a game."""
        check_batch(planes, legal, self.board_size, self.in_planes)
        if not self.has_ownership:
            raise NotImplementedError("this net has no ownership head (model.ownership_head is false)")
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(planes)).to(self.device, torch.float32)
            logits, value, ownership = self.model.heads(x.contiguous(memory_format=torch.channels_last))
            policy = masked_softmax(logits, torch.from_numpy(np.ascontiguousarray(legal)).to(self.device))
        return policy.cpu().numpy(), value.float().cpu().numpy(), ownership.float().cpu().numpy()


def bucket_sizes(max_batch: int, smallest: int = 8) -> list[int]:
    """Padded batch sizes: powers of two from ``smallest`` below ``max_batch``, then ``max_batch``."""
    sizes = []
    b = smallest
    while b < max_batch:
        sizes.append(b)
        b *= 2
    sizes.append(max_batch)
    return sizes


class _CudaRunner:
    """Pinned host buffers, device buffers and (optionally) a CUDA graph per bucket size."""

    def __init__(self, owner: InProcessEvaluator) -> None:
        self.owner = owner
        self.buckets = bucket_sizes(owner.max_batch)
        self._slots: dict[int, dict[str, Any]] = {}
        self._pool = torch.cuda.graph_pool_handle() if owner.cuda_graphs else None

    def run(self, planes: np.ndarray, legal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = len(planes)
        bucket = next(b for b in self.buckets if b >= n)
        slot = self._slots.get(bucket) or self._make_slot(bucket)
        host_planes, host_legal = slot["host_planes"].numpy(), slot["host_legal"].numpy()
        host_planes[:n] = planes
        host_planes[n:] = 0
        host_legal[:n] = legal
        host_legal[n:] = False
        host_legal[n:, -1] = True  # padding rows: only pass legal, so their softmax stays finite
        slot["dev_planes"].copy_(slot["host_planes"], non_blocking=True)
        slot["dev_legal"].copy_(slot["host_legal"], non_blocking=True)
        if slot["graph"] is not None:
            slot["graph"].replay()
            dev_policy, dev_value = slot["dev_out"]
        else:
            dev_policy, dev_value = self._device_forward(slot["dev_planes"], slot["dev_legal"])
        slot["host_policy"].copy_(dev_policy, non_blocking=True)
        slot["host_value"].copy_(dev_value, non_blocking=True)
        torch.cuda.current_stream(self.owner.device).synchronize()
        return slot["host_policy"].numpy()[:n].copy(), slot["host_value"].numpy()[:n].copy()

    def _device_forward(self, dev_planes: torch.Tensor, dev_legal: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # No autocast weight-cast cache: cached casts made during capture would go stale after set_weights
        # (PyTorch's make_graphed_callables asks for cache_enabled=False for the same reason).
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.owner.bf16,
                                                    cache_enabled=False):
            x = dev_planes.to(torch.float32).contiguous(memory_format=torch.channels_last)
            logits, value = self.owner.model(x)
            return masked_softmax(logits, dev_legal), value.float()

    def _make_slot(self, bucket: int) -> dict[str, Any]:
        o, dev = self.owner, self.owner.device
        moves = o.board_size**2 + 1
        plane_shape = (bucket, o.in_planes, o.board_size, o.board_size)
        slot: dict[str, Any] = {
            "host_planes": torch.zeros(plane_shape, dtype=torch.uint8).pin_memory(),
            "host_legal": torch.ones((bucket, moves), dtype=torch.bool).pin_memory(),
            "host_policy": torch.empty((bucket, moves), dtype=torch.float32).pin_memory(),
            "host_value": torch.empty(bucket, dtype=torch.float32).pin_memory(),
            "dev_planes": torch.zeros(plane_shape, dtype=torch.uint8, device=dev),
            "dev_legal": torch.ones((bucket, moves), dtype=torch.bool, device=dev),
            "graph": None,
        }
        if o.cuda_graphs:
            # Warm up on a side stream (cuDNN autotuning, allocator) before capturing, as CUDA requires.
            side = torch.cuda.Stream(dev)
            side.wait_stream(torch.cuda.current_stream(dev))
            with torch.cuda.stream(side):
                for _ in range(3):
                    self._device_forward(slot["dev_planes"], slot["dev_legal"])
            torch.cuda.current_stream(dev).wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, pool=self._pool):
                slot["dev_out"] = self._device_forward(slot["dev_planes"], slot["dev_legal"])
            slot["graph"] = graph
        self._slots[bucket] = slot
        return slot
