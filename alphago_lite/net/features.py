"""Input planes: a Go position (with its recent history) as binary uint8 planes for the network.

Vocabulary
----------
plane        one ``[S, S]`` layer of 0/1 values, row 0 the top line (as in ``go.coords``).
planes       ``uint8 [C, S, S]`` for one position, ``uint8 [B, C, S, S]`` for a batch. Every value is 0
             or 1, so a batch bit-packs losslessly for the wire (see ``wire.py``).
own / opp    stones of the player to move *now* / of the other colour. History planes keep the
             current player's point of view for every time step, as AlphaGo Zero does.
t - k        the board k moves ago (k = 0 is the current board), read from the ring of previous
             boards in ``state``; before the first move those boards are empty.
feature set  a named, versioned list of planes (``FeatureSet``). A checkpoint records the name and a
             net only ever sees the set it was trained on. Bump ``version`` whenever the meaning or
             order of any plane changes.
kernel id    the small int (``FeatureSet.kernel_id``) that selects a set inside compiled code.

Feature sets
------------
``agz``   AlphaGo Zero's 17 planes: own stones at t..t-7, opponent stones at t..t-7, black to move.
``rich``  21 engineered planes in the spirit of KataGo's paper (learns much faster on small compute):
          stones, empty points, liberty counts 1/2/3+ per side, the simple-ko point, the last 4 moves,
          stones 1 and 2 moves ago, legal moves, a plane of ones (shows the board edge through zero
          padding) and black to move. ``plane_names`` documents each plane in order.

``encode_into`` is ``njit(nogil=True)`` and allocates only a liberty scratch buffer, so search code
can call it from its own compiled loop with a row of a batch buffer: ``encode_into(s, h, id, out[row])``.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit

from alphago_lite.go import core
from alphago_lite.go.game import Game

AGZ_HISTORY = 8       # time steps t..t-7 per colour in the agz set
RICH_HISTORY = 2      # previous boards (t-1, t-2) per colour in the rich set
RICH_LAST_MOVES = 4   # one-hot planes of the last moves in the rich set

AGZ_ID = 0
RICH_ID = 1


@dataclass(frozen=True)
class FeatureSet:
    """A named, versioned list of input planes."""

    name: str                    # key in FEATURE_SETS, stored in checkpoints
    version: int                 # bumped whenever any plane changes meaning or order
    num_planes: int              # C in planes [C, S, S]
    plane_names: tuple[str, ...]  # what each plane holds, in order
    kernel_id: int               # selects the set inside compiled code (encode_into)

    def __post_init__(self) -> None:
        if len(self.plane_names) != self.num_planes:
            raise ValueError(f"feature set {self.name!r}: {len(self.plane_names)} plane names for "
                             f"{self.num_planes} planes")


_AGZ_PLANES = (tuple(f"own stones t-{k}" for k in range(AGZ_HISTORY))
               + tuple(f"opponent stones t-{k}" for k in range(AGZ_HISTORY))
               + ("black to move (all ones) / white to move (all zeros)",))

_RICH_PLANES = (
    "own stones",
    "opponent stones",
    "empty points",
    "own chains with 1 liberty (atari)",
    "own chains with 2 liberties",
    "own chains with 3+ liberties",
    "opponent chains with 1 liberty (atari)",
    "opponent chains with 2 liberties",
    "opponent chains with 3+ liberties",
    "simple-ko point (illegal to retake now)",
    "last move (empty if a pass or before the game)",
    "move 2 plies ago",
    "move 3 plies ago",
    "move 4 plies ago",
    "own stones t-1",
    "own stones t-2",
    "opponent stones t-1",
    "opponent stones t-2",
    "legal moves for the player to move (rules only; ignores game over)",
    "ones (marks the board; the edge shows through zero padding)",
    "black to move (all ones) / white to move (all zeros)",
)

FEATURE_SETS: dict[str, FeatureSet] = {
    "agz": FeatureSet(name="agz", version=1, num_planes=len(_AGZ_PLANES), plane_names=_AGZ_PLANES,
                      kernel_id=AGZ_ID),
    "rich": FeatureSet(name="rich", version=1, num_planes=len(_RICH_PLANES), plane_names=_RICH_PLANES,
                       kernel_id=RICH_ID),
}
# kernel id -> planes, for compiled code (a tuple indexes cleanly inside njit)
_NUM_PLANES_BY_ID = (FEATURE_SETS["agz"].num_planes, FEATURE_SETS["rich"].num_planes)


def get_feature_set(name: str | FeatureSet) -> FeatureSet:
    """The feature set called ``name`` (a FeatureSet passes through); ValueError names unknown ones."""
    if isinstance(name, FeatureSet):
        return name
    try:
        return FEATURE_SETS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown feature set {name!r}: expected one of {sorted(FEATURE_SETS)}") from None


def num_planes(name: str | FeatureSet) -> int:
    return get_feature_set(name).num_planes


# ------------------------------------------------------------------------------ compiled kernels ---

@njit(cache=True, nogil=True)
def _stones_planes(state, board_off, colour, out, own_plane, opp_plane):
    """Mark the stones of ``colour`` (own) and of ``-colour`` (opp) on the board at ``board_off``."""
    size = state[core.H_SIZE]
    for p in range(size * size):
        v = state[board_off + p]
        if v == colour:
            out[own_plane, p // size, p % size] = 1
        elif v == -colour:
            out[opp_plane, p // size, p % size] = 1


@njit(cache=True, nogil=True)
def _fill_plane(out, plane):
    out[plane, :, :] = 1


@njit(cache=True, nogil=True)
def _encode_agz(state, out):
    to_play = state[core.H_TO_PLAY]
    _stones_planes(state, core.STATE_HEADER, to_play, out, 0, AGZ_HISTORY)
    for k in range(1, AGZ_HISTORY):
        _stones_planes(state, core.previous_board_offset(state, k), to_play, out, k, AGZ_HISTORY + k)
    if to_play == core.BLACK:
        _fill_plane(out, 2 * AGZ_HISTORY)


@njit(cache=True, nogil=True)
def _encode_rich(state, hist, out):
    size = state[core.H_SIZE]
    n = size * size
    to_play = state[core.H_TO_PLAY]
    bo = core.STATE_HEADER
    libs = np.empty(n, np.int32)
    core.chain_liberties(state, libs)
    for p in range(n):
        r = p // size
        c = p % size
        v = state[bo + p]
        if v == 0:
            out[2, r, c] = 1
            continue
        bucket = min(libs[p], 3) - 1   # 1, 2, 3+ liberties -> 0, 1, 2; a chain on the board has >= 1
        if v == to_play:
            out[0, r, c] = 1
            out[3 + bucket, r, c] = 1
        else:
            out[1, r, c] = 1
            out[6 + bucket, r, c] = 1
    ko = state[core.H_KO_POINT]
    if ko >= 0:
        out[9, ko // size, ko % size] = 1
    t = state[core.H_MOVE_NUMBER]
    for i in range(RICH_LAST_MOVES):
        row = t - i
        if row < 1:            # row 0 is the start position: no move led to it
            break
        m = np.int64(hist[row, core.HIST_MOVE])
        if 0 <= m < n:         # a pass (m == n) leaves the plane empty
            out[10 + i, m // size, m % size] = 1
    for k in range(1, RICH_HISTORY + 1):
        _stones_planes(state, core.previous_board_offset(state, k), to_play, out, 13 + k,
                       15 + k)
    for p in range(n):
        if core.check_move(state, hist, p) == core.LEGAL:
            out[18, p // size, p % size] = 1
    _fill_plane(out, 19)
    if to_play == core.BLACK:
        _fill_plane(out, 20)


@njit(cache=True, nogil=True)
def encode_into(state, hist, feature_set_id, out):
    """Write the planes of feature set ``feature_set_id`` (a ``kernel_id``) for the position
    (state, hist) into ``out`` uint8 [C, S, S], overwriting all of it. Reads, never changes, the
    position. Callable from other njit code, e.g. with ``out4d[row]``."""
    size = state[core.H_SIZE]
    if feature_set_id < 0 or feature_set_id >= len(_NUM_PLANES_BY_ID):
        raise ValueError("encode_into: unknown feature set id")
    if (out.shape[0] != _NUM_PLANES_BY_ID[feature_set_id] or out.shape[1] != size
            or out.shape[2] != size):
        raise ValueError("encode_into: out must be uint8 [num_planes, size, size]")
    out[:, :, :] = 0
    if feature_set_id == AGZ_ID:
        _encode_agz(state, out)
    else:
        _encode_rich(state, hist, out)


# ---------------------------------------------------------------------------------- Python API ---

def encode_game(game: Game, feature_set: str | FeatureSet = "agz") -> np.ndarray:
    """Planes uint8 [C, S, S] of the game's current position."""
    fs = get_feature_set(feature_set)
    out = np.empty((fs.num_planes, game.size, game.size), np.uint8)
    state, hist = game.raw_position()
    encode_into(state, hist, fs.kernel_id, out)
    return out


def encode_batch(games: Sequence[Game], feature_set: str | FeatureSet = "agz") -> np.ndarray:
    """Planes uint8 [B, C, S, S] of each game's current position; all games share one board size."""
    fs = get_feature_set(feature_set)
    if len(games) == 0:
        raise ValueError("encode_batch needs at least one game")
    sizes = {g.size for g in games}
    if len(sizes) != 1:
        raise ValueError(f"encode_batch needs games of one board size, got sizes {sorted(sizes)}")
    size = sizes.pop()
    out = np.empty((len(games), fs.num_planes, size, size), np.uint8)
    for row, game in enumerate(games):
        state, hist = game.raw_position()
        encode_into(state, hist, fs.kernel_id, out[row])
    return out
