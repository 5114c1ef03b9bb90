"""The network on OpenVINO's CPU runtime: ``OpenVinoEvaluator`` (the optional ``openvino`` extra).

Vocabulary
----------
export    a ``PolicyValueNet`` -> an OpenVINO model taking uint8 planes [B, C, S, S] with any B, returning
          policy logits [B, A] and value [B]: a TorchScript trace converted by ``openvino.convert_model``.
          The conversion holds the GIL for up to a second at a time, which stalled the forward thread of
          a server for 6-9 batches per swap; so swaps export in a child process (``_Exporter``, started
          at the first swap, niced, tracing its copy of the net once), which hands back the model as
          OpenVINO IR. Reading and compiling IR leave the forward thread alone.
compile   the exported model -> a ``CompiledNet`` for this CPU: an inference precision (f32 or bf16), a
          thread count, and the one infer request that the forward thread uses.
swap      ``prepare_weights(state_dict)`` exports (child process), compiles and runs one warm-up forward
          of the new weights (seconds of CPU: run it beside ``evaluate``, on another thread);
          ``set_weights(version, prepared)`` then only replaces one reference, so self-play waits for
          no compile. The replaced
          net is freed by the next ``prepare_weights`` (freeing one takes tens of milliseconds), not on
          the forward thread. ``evaluate`` reads the reference once per chunk, so every chunk is
          answered by one net.

Masking and softmax mean the torch evaluator's (``masked_softmax``), computed in numpy
(``masked_softmax_numpy``): torch ops here would start an OpenMP team that competes with OpenVINO's threads.
Not thread-safe for ``evaluate``: one caller at a time (the inference server's forward thread).
"""
from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import tempfile
import threading
import warnings
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from alphago_lite.net.evaluator import (
    Evaluator,
    check_batch,
    default_cpu_threads,
    evaluate_in_chunks,
    masked_softmax_numpy,
)
from alphago_lite.net.model import PolicyValueNet
from alphago_lite.net.precision import check_precision, faster_precision, resolve_precision

TRIAL_BATCH = 256  # positions per forward of the precision trial (about a self-play batch on CPU)
INSTALL_HINT = "pip install 'alphago-lite[openvino]' (or pip install openvino)"
OV_PRECISION = {"fp32": "f32", "bf16": "bf16"}  # OpenVINO's names for INFERENCE_PRECISION_HINT
RUNS_AS = {name: precision for precision, name in OV_PRECISION.items()}  # a compiled net's hint, read back


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


def compiled_precision(compiled: Any) -> str:
    """'fp32' or 'bf16': the precision a compiled net really runs in (its own INFERENCE_PRECISION_HINT)."""
    runs = compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()  # OpenVINO's names: 'f32', 'bf16'
    if runs not in RUNS_AS:
        raise RuntimeError(f"OpenVINO compiled the net for inference precision {runs!r}, which this evaluator "
                           f"does not know (expected one of {', '.join(RUNS_AS)}); set inference.precision to fp32")
    return RUNS_AS[runs]


class _UInt8Planes(torch.nn.Module):
    """The net with uint8 planes as input, so the conversion to float happens inside the compiled graph."""

    def __init__(self, net: PolicyValueNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, planes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, value = self.net(planes.float())
        return logits, value


def _trace(net: PolicyValueNet) -> torch.jit.ScriptModule:
    """A trace that reads ``net``'s parameters, so it follows every later ``load_state_dict``."""
    example = torch.zeros((1, net.in_planes, net.board_size, net.board_size), dtype=torch.uint8)
    # Quiet: the trace notes the net's input-shape check (the shape is fixed here), and torch 2.13 calls
    # torch.jit deprecated. torch.export was tried instead: its conversion to OpenVINO took longer.
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.trace(_UInt8Planes(net.eval()), example, check_trace=False)


def _convert(ov: Any, traced: torch.jit.ScriptModule, net: PolicyValueNet) -> Any:
    """The OpenVINO model of a trace (weights copied), for any batch size."""
    shape = (-1, net.in_planes, net.board_size, net.board_size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return ov.convert_model(traced, input=[(shape, ov.Type.u8)], share_weights=False)


def _export_main() -> None:
    """The exporter process (``python -m alphago_lite.net.openvino_backend ARCH_JSON``): pickled state
    dicts in on stdin, pickled (IR xml, IR weights) bytes out on stdout, until stdin closes."""
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a stray print must not corrupt the replies
    os.nice(19)  # the forwards of the server come first
    ov = require_openvino()
    net = PolicyValueNet.from_arch(json.loads(sys.argv[1])).eval()
    traced = _trace(net)
    with tempfile.TemporaryDirectory(prefix="alphago-lite-export-") as folder:
        xml, weights = os.path.join(folder, "net.xml"), os.path.join(folder, "net.bin")
        while True:
            try:
                state_dict = pickle.load(sys.stdin.buffer)
            except EOFError:  # the evaluator (or its process) is gone
                return
            try:
                net.load_state_dict(state_dict)
                ov.save_model(_convert(ov, traced, net), xml, compress_to_fp16=False)
                with open(xml, "rb") as f, open(weights, "rb") as g:
                    reply: Any = (f.read(), g.read())
            except Exception as exc:  # reported in the server, which keeps the weights it has
                reply = RuntimeError(f"OpenVINO export failed: {exc!r}")
            pickle.dump(reply, replies)
            replies.flush()


class _Exporter:
    """The exporter process for one architecture: a plain subprocess (no fork of a threaded process, no
    re-import of the parent's main module), with this interpreter and import path. It ends when its
    stdin closes: when this object is collected, or with the process that owns it."""

    def __init__(self, arch: dict) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self._process = subprocess.Popen([sys.executable, "-m", __spec__.name, json.dumps(arch)],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        weakref.finalize(self, self._process.stdin.close)

    def export(self, ov: Any, core: Any, state_dict: dict[str, Any]) -> Any:
        try:
            pickle.dump({k: v.detach().cpu() for k, v in state_dict.items()}, self._process.stdin)
            self._process.stdin.flush()
            reply = pickle.load(self._process.stdout)
        except (BrokenPipeError, EOFError):
            raise RuntimeError(f"the OpenVINO export process ended (exit code {self._process.poll()}); "
                               "its error is in the log above") from None
        if isinstance(reply, Exception):
            raise reply
        xml, weights = reply
        return core.read_model(xml, ov.Tensor(np.frombuffer(weights, dtype=np.uint8)))


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
        # as the torch evaluator: torch's count (Ray sets it to an actor's CPUs), at most the CPUs we may use
        self.cpu_threads = int(cpu_threads or min(torch.get_num_threads(), default_cpu_threads()))
        self.weights_version = int(weights_version)
        self._core = self._ov.Core()
        self._arch = model.arch()
        self._export_lock = threading.Lock()  # one swap's export at a time
        self._exporter: _Exporter | None = None  # started by the first swap
        copy = PolicyValueNet.from_arch(self._arch)
        copy.load_state_dict(model.state_dict())
        exported = _convert(self._ov, _trace(copy), copy)  # nothing to stall yet: in this process
        trial_nets: dict[str, CompiledNet] = {}
        asked = resolve_precision(precision, "cpu", trial=lambda: self._precision_trial(exported, trial_nets))
        self._net = trial_nets.get(asked) or self._compile(exported, asked)
        # what runs, which is not always what was asked: OpenVINO compiles a bf16 hint as f32 on a CPU
        # without bf16 instructions, silently (seen on an AMD EPYC, AVX2 only)
        self.precision = self._net.precision
        if self.precision != asked:
            warnings.warn(f"OpenVINO runs this net in {self.precision}, not the {asked} asked for: this CPU has no "
                          f"{asked} instructions (OpenVINO's CPU capabilities: "
                          f"{', '.join(self._core.get_property('CPU', 'OPTIMIZATION_CAPABILITIES'))})", stacklevel=2)
        self._retired: CompiledNet | None = None  # the net a swap replaced, freed by the next prepare

    # ------------------------------------------------------------------ public API
    def evaluate(self, planes: np.ndarray, legal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        check_batch(planes, legal, self.board_size, self.in_planes)
        return evaluate_in_chunks(self._forward_chunk, planes, legal, self.max_batch)

    def raw_forward(self, planes: np.ndarray) -> None:
        """The compiled net alone on uint8 planes, no checks, masking or copies (for benchmarks)."""
        self._net.request.infer({0: planes})

    def prepare_weights(self, state_dict: dict[str, Any]) -> CompiledNet:
        """Export and compile ``state_dict`` beside the net in use (the slow part of a swap)."""
        with self._export_lock:
            self._retired = None
            if self._exporter is None:
                self._exporter = _Exporter(self._arch)
            exported = self._exporter.export(self._ov, self._core, state_dict)
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
        value = request.get_output_tensor(1).data.astype(np.float32, copy=True)  # the buffer is reused
        policy = masked_softmax_numpy(request.get_output_tensor(0).data, legal)  # a new array
        return policy, value

    def _compile(self, exported: Any, precision: str) -> CompiledNet:
        # One stream with every thread (a single forward thread calls us), threads not pinned to cores:
        # they share the machine with search workers and the learner.
        config = {"INFERENCE_PRECISION_HINT": OV_PRECISION[precision], "INFERENCE_NUM_THREADS": self.cpu_threads,
                  "PERFORMANCE_HINT": "LATENCY", "ENABLE_CPU_PINNING": False}
        compiled = self._core.compile_model(exported, "CPU", config)
        return CompiledNet(compiled, compiled.create_infer_request(), compiled_precision(compiled))

    def _zero_planes(self, batch: int) -> np.ndarray:
        return np.zeros((batch, self.in_planes, self.board_size, self.board_size), dtype=np.uint8)

    def _precision_trial(self, exported: Any, nets: dict[str, CompiledNet]) -> str:
        planes = self._zero_planes(min(self.max_batch, TRIAL_BATCH))

        def forward(precision: str) -> None:
            if precision not in nets:
                nets[precision] = self._compile(exported, precision)
            nets[precision].request.infer({0: planes})
        return faster_precision(forward)


if __name__ == "__main__":
    _export_main()
