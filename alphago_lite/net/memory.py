"""Keep freed memory in the process, so that a net run in a loop does not page-fault its activations.

glibc hands the freed activations of each forward (megabytes per batch) back to the kernel, and the
next forward touches fresh pages, one minor page fault per 4 KiB. Measured on a 2-core Xeon guest
(9x9 4x48 net, bf16, batches of 200-255, one thread, two runs each): 97,631-119,053 page faults in
2 s, the kernel taking 11-16% of the thread's CPU time; with the thresholds below 5,223-7,025 faults
and 1%. In a self-play inference server: 32,000-53,000 faults/s against 3,500-8,300.
"""
from __future__ import annotations

import ctypes

# mallopt parameters (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024  # glibc's largest; a batch's activations stay on the heap
TRIM_THRESHOLD_BYTES = 512 * 1024 * 1024  # free memory the heap keeps before it returns any


def keep_freed_memory() -> bool:
    """Make this process's malloc keep freed blocks for reuse (up to TRIM_THRESHOLD_BYTES) instead of
    returning them to the kernel. Returns False where the C library is not glibc (nothing changes)."""
    try:
        # the symbols the process already has, libc's among them: no search for the library (find_library
        # would run ldconfig in a child process at every start of the CLI)
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # a C library without mallopt (musl, macOS)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(mallopt(M_TRIM_THRESHOLD,
                                                                                    TRIM_THRESHOLD_BYTES))
