"""The 8 symmetries of a square Go board (the dihedral group D4).

Vocabulary
----------
symmetry ``k``   an int in ``0..7``. ``k % 4`` is the number of counter-clockwise quarter turns,
                 ``k >= 4`` means "mirror left-right first". So ``T_k(x) = rot90(flip?(x), k % 4)``;
                 ``k = 0`` is the identity.
planes           a numpy array whose last two axes are the board ``[..., S, S]`` (row, col).
policy           a numpy array whose last axis is ``S*S + 1`` moves: flat points ``row * S + col``
                 followed by pass. Pass is fixed by every symmetry.
compose(a, b)    the symmetry ``c`` with ``T_c(x) == T_a(T_b(x))`` (apply ``b`` first).
inverse(k)       the symmetry undoing ``k``: ``compose(inverse(k), k) == 0``.

A network evaluated on ``apply_to_planes(planes, k)`` answers in the transformed frame; map its
policy back with ``apply_to_policy(policy, inverse(k), size)``.
"""

from __future__ import annotations

import numpy as np

NUM_SYMMETRIES = 8
IDENTITY = 0


class SymmetryError(ValueError):
    """A symmetry index or an array shape that the symmetry functions cannot handle."""


def _check_k(k: int) -> int:
    if not isinstance(k, (int, np.integer)) or not 0 <= int(k) < NUM_SYMMETRIES:
        raise SymmetryError(f"symmetry index must be an int in 0..7, got {k!r}")
    return int(k)


def apply_to_planes(planes: np.ndarray, k: int) -> np.ndarray:
    """Return ``T_k(planes)`` as a new C-contiguous array; the last two axes are the square board."""
    k = _check_k(k)
    if planes.ndim < 2 or planes.shape[-1] != planes.shape[-2]:
        raise SymmetryError(f"planes must end with a square board [..., S, S], got shape {planes.shape}")
    out = np.flip(planes, axis=-1) if k >= 4 else planes
    out = np.rot90(out, k % 4, axes=(-2, -1))
    return np.ascontiguousarray(out)


def apply_to_policy(policy: np.ndarray, k: int, size: int) -> np.ndarray:
    """Return the policy ``[..., S*S+1]`` with its board part transformed by ``T_k``; pass stays pass."""
    k = _check_k(k)
    num_moves = size * size + 1
    if policy.shape[-1] != num_moves:
        raise SymmetryError(f"policy must end with {num_moves} moves for size {size}, got shape {policy.shape}")
    lead = policy.shape[:-1]
    board = policy[..., :-1].reshape(*lead, size, size)
    out = np.empty_like(policy)
    out[..., :-1] = apply_to_planes(board, k).reshape(*lead, size * size)
    out[..., -1] = policy[..., -1]
    return out


def _build_tables() -> tuple[np.ndarray, np.ndarray]:
    """Compose every pair on a probe board whose cells are all distinct, then read off the results."""
    probe = np.arange(9).reshape(3, 3)
    images = [apply_to_planes(probe, k) for k in range(NUM_SYMMETRIES)]
    compose_table = np.empty((NUM_SYMMETRIES, NUM_SYMMETRIES), dtype=np.int64)
    for a in range(NUM_SYMMETRIES):
        for b in range(NUM_SYMMETRIES):
            ab = apply_to_planes(images[b], a)
            compose_table[a, b] = next(c for c in range(NUM_SYMMETRIES) if np.array_equal(images[c], ab))
    inverse_table = np.array([int(np.flatnonzero(compose_table[:, k] == IDENTITY)[0]) for k in range(8)])
    return compose_table, inverse_table


_COMPOSE, _INVERSE = _build_tables()


def compose(a: int, b: int) -> int:
    """The symmetry equal to applying ``b`` first and then ``a``."""
    return int(_COMPOSE[_check_k(a), _check_k(b)])


def inverse(k: int) -> int:
    """The symmetry that undoes ``k``."""
    return int(_INVERSE[_check_k(k)])
