"""Random evaluator inputs shared by the tests of the batcher, the Ray service and its fault tolerance."""
import numpy as np


def random_batches(count: int, batch: int, planes: int, size: int, seed: int = 0) -> list:
    """``count`` (planes uint8 [batch, planes, size, size], legal bool [batch, size*size+1]) pairs; about
    half the moves legal, pass always legal."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        stones = rng.integers(0, 2, size=(batch, planes, size, size), dtype=np.uint8)
        legal = rng.random((batch, size * size + 1)) < 0.5
        legal[:, -1] = True
        out.append((stones, legal))
    return out
