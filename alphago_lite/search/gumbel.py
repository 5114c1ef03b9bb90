"""Gumbel AlphaZero selection on the array trees (numba): Danihelka, Guez, Schrittwieser and Silver,
"Policy improvement by planning with Gumbel" (ICLR 2022). The arithmetic follows DeepMind's mctx
(``gumbel_muzero_policy``, ``qtransform_completed_by_mix_value``, ``seq_halving``).

Symbols (besides tree.py's N, W, Q, P, V, VL), all at one node s and its children a, b:
  logits(a)      log P(s, a), so that softmax(logits) = P
  g(a)           Gumbel(0, 1) noise of root move a: drawn in self-play, 0 in play (greedy)
  v_mix          the mixed value approximation of V(s):
                 (V(s) + sum_b N(b) * sum_{b visited} P(b) Q(b) / sum_{b visited} P(b)) / (1 + sum_b N(b))
  completedQ(a)  Q(a) when N(a) > 0, else v_mix
  sigma(q)       (c_visit + max_b N(b)) * c_scale * q, applied (as mctx does) to completedQ rescaled to
                 [0, 1] by its minimum and maximum over the children
  pi'            softmax(logits + sigma(completedQ)): the improved policy, the root's training target
  m, n           moves Sequential Halving considers (gumbel_considered, at most the legal moves) and
                 the simulations (child visits) of one search
Root: Sequential Halving. Simulation k of n goes to the move with the highest g + logits + sigma among
those with exactly ``considered_visit(m, n, k)`` visits in this search; so the first m simulations visit
the top m moves by g + logits, and each round halves them. The move played is the best by the same
score among the moves with the most visits in this search (the last round's survivors).
Interior nodes: the deterministic rule, argmax_a pi'(a) - N(a) / (1 + sum_b N(b)), which makes the
visit counts follow pi'.
Virtual loss: a pending leaf counts as a visit in the visit-count terms of both rules (so a batch of
leaves spreads over the moves as that many sequential simulations would), but not in Q: pi' is built
from finished simulations only. Reused subtrees: Q uses every visit; the root's schedule counts only
the visits of this search (``base`` holds each move's visits when it started).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from alphago_lite.search.tree import (
    F_P,
    F_VALUE,
    F_W,
    I_FIRST,
    I_MOVE,
    I_N,
    I_NCHILD,
    I_VL,
    P_C_SCALE,
    P_C_VISIT,
    P_CONSIDERED,
)

TINY = 1e-30      # floor of a prior before its log (a legal move the net gives exactly 0)
RANGE_EPS = 1e-8  # smallest max - min of completedQ that the rescaling divides by (mctx's epsilon)


# ---------------------------------------------------------------------- visit schedule ---

@njit(cache=True, nogil=True)
def halving_rounds(m):
    """ceil(log2 m): the rounds that halve m considered moves down to one."""
    rounds, reach = 0, 1
    while reach < m:
        reach *= 2
        rounds += 1
    return rounds


@njit(cache=True, nogil=True)
def considered_visit(m, n, k):
    """Visits (in this search) of the moves eligible for simulation k (0-based) of n, m moves considered.

    Rounding, as in the paper and mctx: a round with ``c`` considered moves gives each of them
    max(1, floor(n / (ceil(log2 m) * c))) visits; then c becomes max(2, floor(c / 2)). Rounds with two
    moves repeat until n is reached, and the schedule stops at exactly n simulations (so the last round
    may end early, its visits shared out in turn)."""
    if m <= 1:
        return k
    rounds = halving_rounds(m)
    considered = m
    start = 0   # first simulation of the current round
    visits = 0  # visits each considered move has when the round starts
    while True:
        per_move = max(1, n // (rounds * considered))
        if k < start + per_move * considered:
            return visits + (k - start) // considered
        start += per_move * considered
        visits += per_move
        considered = max(2, considered // 2)


def visit_schedule(m: int, n: int) -> np.ndarray:
    """``considered_visit(m, n, k)`` for k = 0 .. n-1 (int64 [n])."""
    return np.array([considered_visit(m, n, k) for k in range(n)], np.int64)


# --------------------------------------------------------------- completed Q and pi' ---

@njit(cache=True, nogil=True)
def completed_q(ti, tf, node, out):
    """completedQ of each child of node into out[0..nchild), for the player to move at node; returns
    nchild. Unvisited children get the mixed value v_mix."""
    first, nchild = ti[node, I_FIRST], ti[node, I_NCHILD]
    visits = 0
    visited_prior = 0.0
    weighted_q = 0.0
    for i in range(nchild):
        n = ti[first + i, I_N]
        if n > 0:
            prior = max(tf[first + i, F_P], TINY)
            visits += n
            visited_prior += prior
            weighted_q += prior * tf[first + i, F_W] / n
    v_mix = tf[node, F_VALUE]
    if visits > 0:
        v_mix = (v_mix + visits * weighted_q / visited_prior) / (1.0 + visits)
    for i in range(nchild):
        n = ti[first + i, I_N]
        out[i] = tf[first + i, F_W] / n if n > 0 else v_mix
    return nchild


@njit(cache=True, nogil=True)
def sigma_completed_q(ti, tf, node, params, out):
    """sigma(completedQ) of each child into out[0..nchild); returns nchild."""
    nchild = completed_q(ti, tf, node, out)
    if nchild == 0:
        return 0
    first = ti[node, I_FIRST]
    lo, hi, max_n = out[0], out[0], 0
    for i in range(nchild):
        lo = min(lo, out[i])
        hi = max(hi, out[i])
        max_n = max(max_n, ti[first + i, I_N])
    scale = (params[P_C_VISIT] + max_n) * params[P_C_SCALE] / max(hi - lo, RANGE_EPS)
    for i in range(nchild):
        out[i] = (out[i] - lo) * scale
    return nchild


@njit(cache=True, nogil=True)
def improved_policy(ti, tf, node, params, out):
    """pi' over the children of node into out[0..nchild) (sums to 1); returns nchild."""
    first = ti[node, I_FIRST]
    nchild = sigma_completed_q(ti, tf, node, params, out)
    top = -np.inf
    for i in range(nchild):
        out[i] += math.log(max(tf[first + i, F_P], TINY))
        top = max(top, out[i])
    total = 0.0
    for i in range(nchild):
        out[i] = math.exp(out[i] - top)
        total += out[i]
    for i in range(nchild):
        out[i] /= total
    return nchild


# ------------------------------------------------------------------------- selection ---

@njit(cache=True, nogil=True)
def select_interior(ti, tf, node, params, scratch):
    """The child whose visit brings the visit distribution closest to pi' (pending leaves count)."""
    first = ti[node, I_FIRST]
    nchild = improved_policy(ti, tf, node, params, scratch)
    total = 0
    for i in range(nchild):
        total += ti[first + i, I_N] + ti[first + i, I_VL]
    best, best_score = 0, -np.inf
    for i in range(nchild):
        score = scratch[i] - (ti[first + i, I_N] + ti[first + i, I_VL]) / (1.0 + total)
        if score > best_score:
            best, best_score = i, score
    return first + best


@njit(cache=True, nogil=True)
def select_root(ti, tf, node, params, gumbel_row, base_row, budget, scratch):
    """Sequential Halving's choice for the next simulation at the root (gumbel_row: g per move;
    base_row: each move's visits when this search started; budget: its n). Once the budget is spent
    (analysis that searches on), the root follows the interior rule."""
    first, nchild = ti[node, I_FIRST], ti[node, I_NCHILD]
    done = 0
    for i in range(nchild):
        ch = first + i
        done += ti[ch, I_N] + ti[ch, I_VL] - base_row[ti[ch, I_MOVE]]
    if budget <= 0 or done >= budget:
        return select_interior(ti, tf, node, params, scratch)
    eligible = considered_visit(min(int(params[P_CONSIDERED]), nchild), budget, done)
    sigma_completed_q(ti, tf, node, params, scratch)
    best, best_score = -1, -np.inf
    for i in range(nchild):
        ch = first + i
        move = ti[ch, I_MOVE]
        if ti[ch, I_N] + ti[ch, I_VL] - base_row[move] != eligible:
            continue
        score = gumbel_row[move] + math.log(max(tf[ch, F_P], TINY)) + scratch[i]
        if best < 0 or score > best_score:
            best, best_score = i, score
    if best < 0:  # no move has the scheduled count (cannot happen when the schedule is followed)
        return select_interior(ti, tf, node, params, scratch)
    return first + best


@njit(cache=True, nogil=True)
def choose_move(ti, tf, node, params, gumbel_row, base_row, scratch):
    """The move to play after the search: among the children with the most visits in this search, the
    highest g + logits + sigma(completedQ). -1 when the node has no children."""
    first, nchild = ti[node, I_FIRST], ti[node, I_NCHILD]
    if nchild <= 0:
        return -1
    most = 0
    for i in range(nchild):
        most = max(most, ti[first + i, I_N] - base_row[ti[first + i, I_MOVE]])
    sigma_completed_q(ti, tf, node, params, scratch)
    best, best_score = 0, -np.inf
    for i in range(nchild):
        move = ti[first + i, I_MOVE]
        if ti[first + i, I_N] - base_row[move] != most:
            continue
        score = gumbel_row[move] + math.log(max(tf[first + i, F_P], TINY)) + scratch[i]
        if score > best_score:
            best, best_score = i, score
    return ti[first + best, I_MOVE]
