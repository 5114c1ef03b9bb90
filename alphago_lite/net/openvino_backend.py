"""The network on OpenVINO's CPU runtime: ``OpenVinoEvaluator`` (the optional ``openvino`` extra).

Vocabulary
----------
export    a ``PolicyValueNet`` -> an OpenVINO model taking uint8 planes [B, C, S, S] with any B, returning
          policy logits [B, A] and value [B]. The evaluator traces its own copy of the net once (the trace
          was two thirds of an export) and converts that trace again after loading new weights into the
          copy; the conversion copies the weights (``share_weights=False``), so no later load reaches a
          compiled net.
compile   the exported model -> a ``CompiledNet`` for this CPU: an inference precision (f32 or bf16), a
          thread count, and the one infer request that the forward thread uses.
swap      ``prepare_weights(state_dict)`` exports, compiles and runs one warm-up forward of the new weights
          (seconds of CPU: run it beside ``evaluate``, on another thread); ``set_weights(version,
          prepared)`` then only replaces one reference, so self-play waits for no compile. The replaced
          net is freed by the next ``prepare_weights`` (freeing one takes tens of milliseconds), not on
          the forward thread. ``evaluate`` reads the reference once per chunk, so every chunk is
          answered by one net.

Masking and softmax are the torch evaluator's (``masked_softmax``), so both backends mean the same.
Not thread-safe for ``evaluate``: one caller at a time (the inference server's forward thread).
"""
from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from alphago_lite.net.evaluator import Evaluator, check_batch, default_cpu_threads, masked_softmax
from alphago_lite.net.model import PolicyValueNet
from alphago_lite.net.precision import check_precision, faster_precision, resolve_precision

TRIAL_BATCH = 256  # positions per forward of the precision trial (about a self-play batch on CPU)
INSTALL_HINT = "pip install 'alphago-lite[openvino]' (or pip install openvino)"
OV_PRECISION = {"fp32": "f32", "bf16": "bf16"}  # OpenVINO's names for INFERENCE_PRECISION_HINT


class BackendUnavailable(ValueError):
    """The configured inference backend cannot run here (its package is not installed)."""


def require_openvino() -> Any:
    """The ``openvino`` module, or ``BackendUnavailable`` saying how to install it."""
    try:
        import openvino
    except ImportError:
        raise BackendUnavailable(f"inference backend 'openvino' needs the openvino package: {INSTALL_HINT}") \
            from None
    return openvino


@dataclass(frozen=True)
class CompiledNet:
    """One compiled set of weights: what ``prepare_weights`` hands to ``set_weights``."""

    compiled: Any  # openvino.CompiledModel (kept alive with its request)
    request: Any  # openvino.InferRequest: its output buffers are reused by the next infer
    precision: str  # 'fp32' or 'bf16'


class _UInt8Planes(torch.nn.Module):
    """The net with uint8 planes as input, so the conversion to float happens inside the compiled graph."""

    def __init__(self, net: PolicyValueNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, planes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, value = self.net(planes.float())
        return logits, value


class OpenVinoEvaluator(Evaluator):
    """A ``PolicyValueNet`` exported to OpenVINO and compiled for this CPU (see the module docstring)."""

    def __init__(self, model: PolicyValueNet, board_size: int, feature_set: str, *, precision: str = "fp32",
                 max_batch: int = 1024, cpu_threads: int | None = None, weights_version: int = 0) -> None:
        self._ov = require_openvino()
        if model.board_size != board_size:
            raise ValueError(f"OpenVinoEvaluator: model is for board size {model.board_size}, not {board_size}")
        if max_batch < 1:
            raise ValueError(f"OpenVinoEvaluator: max_batch must be >= 1, got {max_batch}")
        check_precision(precision)
        self.board_size = int(board_size)
        self.feature_set = feature_set
        self.in_planes = model.in_planes
        self.max_batch = int(max_batch)
        self.cpu_threads = int(cpu_threads or default_cpu_threads())
        self.weights_version = int(weights_version)
        self._core = self._ov.Core()
        self._export_lock = threading.Lock()  # one export at a time: it loads weights into the traced copy
        self._copy = PolicyValueNet.from_arch(model.arch()).eval()
        self._copy.load_state_dict(model.state_dict())
        self._traced = self._trace(self._copy)
        exported = self._export()
        trial_nets: dict[str, CompiledNet] = {}
        self.precision = resolve_precision(precision, "cpu", trial=lambda: self._precision_trial(exported, trial_nets))
        self._net = trial_nets.get(self.precision) or self._compile(exported, self.precision)
        self._retired: CompiledNet | None = None  # the net a swap replaced, freed by the next prepare

    # ------------------------------------------------------------------ public API
    def evaluate(self, planes: np.ndarray, legal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        check_batch(planes, legal, self.board_size, self.in_planes)
        n = len(planes)
        policy = np.empty((n, legal.shape[1]), dtype=np.float32)
        value = np.empty(n, dtype=np.float32)
        for start in range(0, n, self.max_batch):
            stop = min(n, start + self.max_batch)
            policy[start:stop], value[start:stop] = self._forward_chunk(planes[start:stop], legal[start:stop])
        return policy, value

    def raw_forward(self, planes: np.ndarray) -> None:
        """The compiled net alone on uint8 planes, no checks, masking or copies (for benchmarks)."""
        self._net.request.infer({0: planes})

    def prepare_weights(self, state_dict: dict[str, Any]) -> CompiledNet:
        """Export and compile ``state_dict`` beside the net in use (the slow part of a swap)."""
        with self._export_lock:
            self._retired = None
            self._copy.load_state_dict(state_dict)
            exported = self._export()
        prepared = self._compile(exported, self.precision)
        # the first forward of a compiled net prepares its kernels: pay for it here, not in self-play
        prepared.request.infer({0: self._zero_planes(self.max_batch)})
        return prepared

    def set_weights(self, version: int, weights: CompiledNet | dict[str, Any]) -> None:
        """Answer with new weights from the next chunk on: a ``CompiledNet`` from ``prepare_weights``
        (instant), or a state dict (compiled here first)."""
        new = weights if isinstance(weights, CompiledNet) else self.prepare_weights(weights)
        self._retired, self._net = self._net, new
        self.weights_version = int(version)

    # ------------------------------------------------------------------ plumbing
    def _forward_chunk(self, planes: np.ndarray, legal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        request = self._net.request
        request.infer({0: np.ascontiguousarray(planes)})
        logits = torch.from_numpy(request.get_output_tensor(0).data)
        value = request.get_output_tensor(1).data.astype(np.float32, copy=True)  # the buffer is reused
        policy = masked_softmax(logits, torch.from_numpy(np.ascontiguousarray(legal)))  # a new array
        return policy.numpy(), value

    def _trace(self, net: PolicyValueNet) -> torch.jit.ScriptModule:
        """A trace that reads ``net``'s parameters, so it follows every later ``load_state_dict``."""
        example = torch.zeros((1, self.in_planes, self.board_size, self.board_size), dtype=torch.uint8)
        # Quiet: the trace notes the net's input-shape check (the shape is fixed here), and torch 2.13 calls
        # torch.jit deprecated. torch.export was tried instead: its conversion to OpenVINO took longer.
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            return torch.jit.trace(_UInt8Planes(net), example, check_trace=False)

    def _export(self) -> Any:
        shape = (-1, self.in_planes, self.board_size, self.board_size)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return self._ov.convert_model(self._traced, input=[(shape, self._ov.Type.u8)], share_weights=False)

    def _compile(self, exported: Any, precision: str) -> CompiledNet:
        # One stream with every thread (a single forward thread calls us), threads not pinned to cores:
        # they share the machine with search workers and the learner.
        config = {"INFERENCE_PRECISION_HINT": OV_PRECISION[precision], "INFERENCE_NUM_THREADS": self.cpu_threads,
                  "PERFORMANCE_HINT": "LATENCY", "ENABLE_CPU_PINNING": False}
        compiled = self._core.compile_model(exported, "CPU", config)
        return CompiledNet(compiled, compiled.create_infer_request(), precision)

    def _zero_planes(self, batch: int) -> np.ndarray:
        return np.zeros((batch, self.in_planes, self.board_size, self.board_size), dtype=np.uint8)

    def _precision_trial(self, exported: Any, nets: dict[str, CompiledNet]) -> str:
        planes = self._zero_planes(min(self.max_batch, TRIAL_BATCH))

        def forward(precision: str) -> None:
            if precision not in nets:
                nets[precision] = self._compile(exported, precision)
            nets[precision].request.infer({0: planes})
        return faster_precision(forward)
