"""Which number format the network runs in: fp32, or bf16 where the hardware makes it pay.

Vocabulary
----------
precision   what a config or command line asks for: ``auto``, ``fp32`` or ``bf16``.
resolved    what runs: ``fp32`` or ``bf16`` (bf16 = autocast in torch, the bf16 inference hint in
            OpenVINO; outputs are float32 either way).
trial       a short timing of the real net in both formats, used by ``auto`` where flags cannot tell.

``auto`` picks bf16 on CUDA and on CPUs with AMX (``amx_bf16``), fp32 on CPUs without bf16
instructions. A CPU with ``avx512_bf16`` but no AMX is decided by a trial: measured on the project's
2-core machine (a KVM guest, Xeon model 207, AVX-512 with avx512_bf16, no AMX), bf16 ran at 0.8x of
fp32 in torch and 0.65x in OpenVINO, while an earlier session on a machine with the same flags measured
2.2x; the flags alone do not say which kind of machine this is.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

Precision = Literal["auto", "fp32", "bf16"]
PRECISIONS = ("auto", "fp32", "bf16")

CPUINFO = "/proc/cpuinfo"
TRIAL_ROUNDS = 3  # forwards timed per format, alternating, after one untimed warm-up each
TRIAL_MARGIN = 1.1  # bf16 must be this much faster than fp32: when it is a tie, exact fp32 wins
# torch runs bf16 autocast on any CPU, in software where it has no bf16 instructions: the 9x9 6x64 net at
# batch 256 on 2 cores of an AMD EPYC (Zen 3, AVX2 only) forwarded 203 positions/s in bf16 against 1,728 in fp32
EMULATED_BF16 = ("precision bf16 on a CPU without bf16 instructions (avx512_bf16 or AMX) runs emulated, several "
                 "times slower than fp32 (8.5x on an AVX2-only AMD EPYC); precision auto chooses fp32 here")


def cpu_flags(cpuinfo: str = CPUINFO) -> frozenset[str]:
    """The CPU feature flags of this machine (empty where /proc/cpuinfo does not exist)."""
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cpu_bf16_kind(flags: frozenset[str] | None = None) -> str:
    """'amx' (matrix units: bf16 is much faster), 'avx512' (bf16 dot products: depends on the core) or
    'none'."""
    flags = cpu_flags() if flags is None else flags
    if "amx_bf16" in flags:
        return "amx"
    return "avx512" if "avx512_bf16" in flags else "none"


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return precision


def resolve_precision(precision: str, device_type: str, trial: Callable[[], str] | None = None,
                      flags: frozenset[str] | None = None) -> str:
    """'fp32' or 'bf16' for ``precision`` on a device of type ``device_type`` ('cpu', 'cuda').

    ``trial`` decides ``auto`` on a CPU with avx512_bf16 but no AMX (see ``faster_precision``); without
    one, such a CPU gets fp32."""
    if check_precision(precision) != "auto":
        return precision
    if device_type == "cuda":
        return "bf16"
    kind = cpu_bf16_kind(flags)
    if kind == "amx":
        return "bf16"
    if kind == "avx512" and trial is not None:
        return trial()
    return "fp32"


def faster_precision(forward: Callable[[str], object], clock: Callable[[], float] = time.perf_counter) -> str:
    """Time ``forward('fp32')`` and ``forward('bf16')`` alternately; 'bf16' only when its fastest forward
    beats fp32's fastest by ``TRIAL_MARGIN``. The fastest, not the mean: other processes on a shared
    machine only ever slow a forward down."""
    best = {"fp32": float("inf"), "bf16": float("inf")}
    for name in best:
        forward(name)  # warm-up: kernels are chosen and compiled on the first call
    for _ in range(TRIAL_ROUNDS):
        for name in best:
            start = clock()
            forward(name)
            best[name] = min(best[name], clock() - start)
    return "bf16" if best["bf16"] * TRIAL_MARGIN < best["fp32"] else "fp32"
