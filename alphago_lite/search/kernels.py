"""Compiled steps of batched search over many games: gather leaves, then apply their evaluations.

One round for a range of games [g0, g1):
  ``collect_games`` walks each game's tree from its root under virtual loss, replays the path on a
  scratch copy of the root position, and writes every new leaf's input planes and legal-move mask into
  a batch row (terminal leaves are scored by the rules and backed up at once, without the network);
  ``apply_games`` expands each evaluated leaf with the network's priors and backs its value up.
A game stops gathering once its root visits plus pending leaves reach its target, or when a walk
ends on a leaf that is already pending (a collision: its tree is too narrow for more leaves now).
Walks choose children by PUCT (tree.py) or by Gumbel search (gumbel.py), as params[P_ALGORITHM] says;
Gumbel's root reads its slot's plan: noise g per move (``gumbel``), each move's visits when the search
started (``base``) and its simulation budget (``budget``).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from alphago_lite.go import core
from alphago_lite.net.features import encode_into
from alphago_lite.search import gumbel
from alphago_lite.search.tree import (
    EXPANDED,
    F_TERMINAL,
    F_VALUE,
    FRESH,
    GUMBEL,
    I_MOVE,
    I_N,
    I_STATUS,
    I_VL,
    M_ROOT,
    P_ALGORITHM,
    P_KOMI,
    P_PASS_ONLY_WHEN_NEEDED,
    PENDING,
    TERMINAL,
    add_virtual_loss,
    backup,
    expand,
    select_child,
)


@njit(cache=True, nogil=True)
def terminal_value(state, komi):
    """Final result (+1 win, -1 loss, 0 draw) from the view of the player to move."""
    black, white = core.area_score(state)
    score = black - white - komi
    if score == 0:
        return 0.0
    black_wins = 1.0 if score > 0 else -1.0
    return black_wins if state[core.H_TO_PLAY] == core.BLACK else -black_wins


@njit(cache=True, nogil=True)
def restrict_pass(state, legal_row):
    """Take pass out of the legal moves while any legal move other than filling an own eye exists."""
    n = legal_row.shape[0] - 1
    for m in range(n):
        if legal_row[m] and not core.fills_own_eye(state, m):
            legal_row[n] = False
            return


# what descend() found at the end of a walk
NEW_LEAF, SCORED, COLLISION = 0, 1, 2


@njit(cache=True, nogil=True)
def choose_child(ti, tf, node, root, params, gumbel_row, base_row, budget, scratch):
    """The child a walk goes to next: PUCT's, or Gumbel's (Sequential Halving at the root)."""
    if params[P_ALGORITHM] != GUMBEL:
        return select_child(ti, tf, node, params, scratch)
    if node == root:
        return gumbel.select_root(ti, tf, node, params, gumbel_row, base_row, budget, scratch)
    return gumbel.select_interior(ti, tf, node, params, scratch)


@njit(cache=True, nogil=True)
def descend(ti, tf, root, root_state, wstate, whist, params, gumbel_row, base_row, budget, scratch):
    """Walk from the root to a leaf (``choose_child``), replaying the moves on wstate/whist (a copy of the root
    position with its history), and put virtual loss on the leaf. Returns (what, node): NEW_LEAF (now
    PENDING: the caller evaluates it), SCORED (a finished game: scored by the rules and backed up at
    once) or COLLISION (the walk ended on a leaf already pending: nothing changed)."""
    wstate[:] = root_state
    node = root
    while ti[node, I_STATUS] == EXPANDED:
        node = choose_child(ti, tf, node, root, params, gumbel_row, base_row, budget, scratch)
        core.apply_move(wstate, whist, ti[node, I_MOVE])
    status = ti[node, I_STATUS]
    if status == PENDING:
        return COLLISION, node
    add_virtual_loss(ti, node)
    if status == TERMINAL:
        backup(ti, tf, node, tf[node, F_TERMINAL])
        return SCORED, node
    if core.is_terminal(wstate):
        value = terminal_value(wstate, params[P_KOMI])
        ti[node, I_STATUS] = TERMINAL
        tf[node, F_TERMINAL] = value
        backup(ti, tf, node, value)
        return SCORED, node
    ti[node, I_STATUS] = PENDING
    return NEW_LEAF, node


@njit(cache=True, nogil=True)
def encode_leaf(wstate, whist, params, fs_id, legal_row, planes_row):
    """The network's inputs for a leaf position: legal moves (pass restricted if so configured) and,
    unless fs_id < 0, the feature planes."""
    core.legal_mask(wstate, whist, legal_row)
    if params[P_PASS_ONLY_WHEN_NEEDED] != 0.0:
        restrict_pass(wstate, legal_row)
    if fs_id >= 0:
        encode_into(wstate, whist, fs_id, planes_row)


@njit(cache=True, nogil=True)
def collect_leaves(ti, tf, meta, root_state, root_hist, target, gumbel_row, base_row, budget, wstate, whist,
                   params, fs_id, max_leaves, planes, legal, leaf_nodes, row0, scratch):
    """Gather up to max_leaves new leaves of one game into rows row0.. of the batch buffers.
    Returns the number of rows written."""
    t = root_state[core.H_MOVE_NUMBER]
    whist[:t + 1] = root_hist[:t + 1]
    root = meta[M_ROOT]
    row = row0
    for _ in range(max_leaves):
        if ti[root, I_N] + ti[root, I_VL] >= target:
            break
        what, node = descend(ti, tf, root, root_state, wstate, whist, params, gumbel_row, base_row, budget,
                             scratch)
        if what == COLLISION:
            break
        if what == NEW_LEAF:
            encode_leaf(wstate, whist, params, fs_id, legal[row], planes[row])
            leaf_nodes[row] = node
            row += 1
    return row - row0


@njit(cache=True, nogil=True)
def select_leaves(ti, tf, meta, root_state, root_hist, target, gumbel_row, base_row, budget, params,
                  max_leaves, wstates, whists, leaf_nodes, leaf_games, scratch):
    """collect_leaves for one game, without encoding: leaf k's position is left in wstates[k] and
    whists[k] for encode_leaves, which several threads share. Returns the number of leaves."""
    t = root_state[core.H_MOVE_NUMBER]
    root = meta[M_ROOT]
    count = 0
    for _ in range(max_leaves):
        if ti[root, I_N] + ti[root, I_VL] >= target:
            break
        whists[count, :t + 1] = root_hist[:t + 1]
        what, node = descend(ti, tf, root, root_state, wstates[count], whists[count], params, gumbel_row,
                             base_row, budget, scratch)
        if what == COLLISION:
            break
        if what == NEW_LEAF:
            leaf_nodes[count] = node
            leaf_games[count] = 0
            count += 1
    return count


@njit(cache=True, nogil=True, parallel=True)
def encode_leaves(wstates, whists, count, params, fs_id, planes, legal):
    """encode_leaf for leaves 0..count-1 (rows 0..count-1) on numba's thread pool."""
    for k in prange(count):
        encode_leaf(wstates[k], whists[k], params, fs_id, legal[k], planes[k])


@njit(cache=True, nogil=True)
def collect_games(ti, tf, meta, root_states, root_hists, targets, gumbels, bases, budgets, g0, g1, wstate,
                  whist, params, fs_id, max_leaves, planes, legal, leaf_nodes, leaf_games, row0, scratch):
    """collect_leaves for games g0..g1-1 into consecutive rows from row0; returns rows written."""
    row = row0
    for g in range(g0, g1):
        if targets[g] <= 0:
            continue
        count = collect_leaves(ti[g], tf[g], meta[g], root_states[g], root_hists[g], targets[g], gumbels[g],
                               bases[g], budgets[g], wstate, whist, params, fs_id, max_leaves, planes, legal,
                               leaf_nodes, row, scratch)
        for r in range(row, row + count):
            leaf_games[r] = g
        row += count
    return row - row0


@njit(cache=True, nogil=True)
def apply_games(ti, tf, meta, leaf_games, leaf_nodes, legal, policy, values, rows, offset):
    """Expand each evaluated leaf (rows: the batch rows to apply) and back its value up. Batch row r
    was evaluated as row r - offset of policy and values."""
    for r in rows:
        g = leaf_games[r]
        node = leaf_nodes[r]
        tf[g][node, F_VALUE] = values[r - offset]  # the raw value (Gumbel's mixed value reads it)
        if not expand(ti[g], tf[g], meta[g], node, legal[r], policy[r - offset]):
            ti[g][node, I_STATUS] = FRESH  # tree full: stays a leaf, evaluated again if reached
        backup(ti[g], tf[g], node, values[r - offset])


@njit(cache=True, nogil=True)
def games_done(ti, meta, targets):
    """True when every game with a target has reached it and has no leaf pending."""
    for g in range(targets.shape[0]):
        if targets[g] <= 0:
            continue
        root = meta[g, M_ROOT]
        if ti[g, root, I_VL] != 0 or ti[g, root, I_N] < targets[g]:
            return False
    return True


@njit(cache=True, nogil=True)
def principal_variation(ti, node, out):
    """Moves along the most visited children starting at node (its own move first); returns length."""
    length = 0
    while node > 0 and length < out.shape[0]:
        out[length] = ti[node, I_MOVE]
        length += 1
        if ti[node, I_STATUS] != EXPANDED:
            break
        first = ti[node, 2]
        nchild = ti[node, 3]
        best = -1
        best_n = 0
        for i in range(nchild):
            if ti[first + i, I_N] > best_n:
                best_n = ti[first + i, I_N]
                best = first + i
        node = best
    return length


def empty_batch(rows: int, planes_shape: tuple[int, int, int], moves: int):
    """Batch buffers: planes uint8 [rows, C, S, S], legal bool [rows, moves], leaf nodes and games."""
    return (np.zeros((rows,) + planes_shape, np.uint8), np.zeros((rows, moves), np.bool_),
            np.zeros(rows, np.int64), np.zeros(rows, np.int64))
