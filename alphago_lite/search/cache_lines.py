"""Arrays on cache lines of their own, for data that one search thread writes while others run.

Two threads that write different variables on one 64-byte cache line take the line from each other's
core at every write (false sharing), as if they shared the variables. numpy places small arrays next
to each other: with 2 threads on one tree, one thread's scratch position (written at every move of
every walk) shared a line with the other's PUCT scores (written at every node of every walk), and the
simulation counter that both threads take from shared a line with the stop flag that both read.
"""
from __future__ import annotations

import math

import numpy as np

CACHE_LINE = 64  # bytes, on x86-64 and most ARM cores


def own_lines(shape: int | tuple[int, ...], dtype) -> np.ndarray:
    """A zeroed array that starts on a cache line and shares none of its lines with any other array."""
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape if isinstance(shape, tuple) else (shape,)) * dtype.itemsize
    padded = -(-max(nbytes, 1) // CACHE_LINE) * CACHE_LINE
    buffer = np.zeros(padded + CACHE_LINE, np.uint8)  # room to move the start onto a line
    start = -buffer.ctypes.data % CACHE_LINE
    return buffer[start:start + nbytes].view(dtype).reshape(shape)
