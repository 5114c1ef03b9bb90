"""The evaluator of an inference backend by name: torch (``InProcessEvaluator``) or OpenVINO (the optional
extra, imported only when asked for). Used by the inference server and the benchmarks."""
from __future__ import annotations

from alphago_lite.net.evaluator import Evaluator, InProcessEvaluator
from alphago_lite.net.model import PolicyValueNet


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
