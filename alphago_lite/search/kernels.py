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

One game searched by several threads at once (tree parallelism; tree.py's docstring has the lock-free
rules): each thread runs ``collect_shared`` and ``apply_shared`` on the same tree with its own batch
rows and scratch position. A thread reserves each simulation before its walk on ``claimed`` (one
counter per search, equal to the root's N + VL): compare-and-swap below the target, so that the threads
together reach it exactly; a walk that collides gives its reservation back. With the uniform
evaluator a thread's whole search is one call, ``search_shared_uniform``, and a helper thread's searches,
one after another, are one call too (``serve_shared_uniform``).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from alphago_lite.go import core
from alphago_lite.net.evaluator import uniform_rows
from alphago_lite.net.features import encode_into
from alphago_lite.search import gumbel
from alphago_lite.search.atomics import atomic_add, load_acquire
from alphago_lite.search.cache_lines import own_lines
from alphago_lite.search.tree import (
    EXPANDED,
    F_TERMINAL,
    F_VALUE,
    F_W,
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
    backup_below,
    claim,
    expand,
    expand_from_chunk,
    get_status,
    release_chunk,
    remove_virtual_loss_below,
    select_child,
    set_status,
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
# walks a round of collect_shared retries after spinning on a collision (see wait_while_pending)
SPIN_RETRIES = 4
# walks a round of collect_shared makes again at once after a collision, before it ends or spins: the
# walk that collided met another thread's leaf, whose virtual loss that thread put on the path as it
# entered it, so the next walk sees it there and turns away (most collisions are two walks that
# started together on the same path). Measured, 2 threads (9x9, 800 simulations, uniform evaluator):
# without them ~10 rounds a move ended on a collision and ~3-5 a move waited for the other thread's
# round, ~220,000 spin loads a move; with 2, none; 8 alternating runs, 2 threads 1.66-1.75x one thread
# (median 1.71) before and 1.66-1.85x (median 1.75) after.
COLLISION_REWALKS = 2


@njit(cache=True, nogil=True)
def choose_child(ti, tf, node, root, params, gumbel_row, base_row, budget, scratch):
    """The child a walk goes to next: PUCT's, or Gumbel's (Sequential Halving at the root)."""
    if params[P_ALGORITHM] != GUMBEL:
        return select_child(ti, tf, node, params, scratch)
    if node == root:
        return gumbel.select_root(ti, tf, node, params, gumbel_row, base_row, budget, scratch)
    return gumbel.select_interior(ti, tf, node, params, scratch)


@njit(cache=True, nogil=True)
def descend(ti, tf, root, root_state, wstate, whist, params, gumbel_row, base_row, budget, scratch,
            shared=False):
    """Walk from the root to a leaf (``choose_child``), replaying the moves on wstate/whist (a copy of the root
    position with its history), and put virtual loss on the leaf. Returns (what, node): NEW_LEAF (now
    PENDING: the caller evaluates it), SCORED (a finished game: scored by the rules and backed up at
    once) or COLLISION (the walk ended on a leaf already pending: nothing changed).
    ``shared``: other threads walk the same tree; the leaf is claimed atomically and the root's virtual
    loss is the caller's reservation (see ``collect_shared``). Each child gets its virtual loss as the walk
    enters it, so that a walk that starts while this one is under way already sees this one's path and
    turns away from it: with the loss added once the walk had ended, two threads that start together
    take the same path (with equal scores, as the uniform evaluator's are, the first of the tied
    children) and collide at its leaf. Measured with 2 threads (9x9, 800 simulations, uniform): 15
    collisions per thread per search before, 4 after, and 1.54-1.62x one thread before against
    1.64-1.74x after, same process, alternating blocks."""
    wstate[:] = root_state
    node = root
    status = get_status(ti, node, shared)
    while status == EXPANDED:
        node = choose_child(ti, tf, node, root, params, gumbel_row, base_row, budget, scratch)
        if shared:  # at once, not once the walk has ended: see the docstring
            atomic_add(ti, (node, I_VL), 1)
        core.apply_move(wstate, whist, ti[node, I_MOVE])
        status = get_status(ti, node, shared)
    if shared:
        if status == PENDING or (status == FRESH and not claim(ti, node)):  # another thread's leaf
            remove_virtual_loss_below(ti, node, root)
            return COLLISION, node
    elif status == PENDING:
        return COLLISION, node
    else:
        add_virtual_loss(ti, node)
    if status == TERMINAL:
        backup(ti, tf, node, tf[node, F_TERMINAL], shared)
        return SCORED, node
    if core.is_terminal(wstate):
        value = terminal_value(wstate, params[P_KOMI])
        tf[node, F_TERMINAL] = value
        set_status(ti, node, TERMINAL, shared)  # after the value it publishes
        backup(ti, tf, node, value, shared)
        return SCORED, node
    if not shared:
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


# ------------------------------------------------------------------- one tree, many threads ---

@njit(cache=True, nogil=True)
def reserve_simulations(claimed, target, wanted):
    """Take up to ``wanted`` of the search's simulations (claimed[0] counts them); returns how many were
    taken, 0 once all are. One fetch-and-add, never a retry: a compare-and-swap loop fails and goes
    round again whenever another thread took some in between, which on one hot cache line is most of
    the time. A thread that overshoots gives the excess back at once, so claimed[0] may pass the target
    for an instant but the threads together never take more than the target."""
    if load_acquire(claimed, 0) >= target:  # the common exit: no write to the shared line
        return 0
    before = atomic_add(claimed, 0, wanted)
    taken = max(0, min(wanted, target - before))
    if taken < wanted:
        atomic_add(claimed, 0, taken - wanted)
    return taken


@njit(cache=True, nogil=True)
def wait_until_changed(ti, node, column, seen, max_loads):
    """Spin (at most max_loads acquire loads) until ti[node, column] differs from ``seen`` (another
    thread wrote it); True if it did. Cheaper than a sleep and a wake-up when that thread's round is
    tens of microseconds from its end (an evaluator that answers at once)."""
    for _ in range(max_loads):
        if load_acquire(ti, (node, column)) != seen:
            return True
    return False


@njit(cache=True, nogil=True)
def wait_while_pending(ti, node, max_loads):
    """Until another thread has applied the pending leaf ``node``."""
    return wait_until_changed(ti, node, I_STATUS, PENDING, max_loads)


@njit(cache=True, nogil=True)
def wait_for_visits(ti, node, seen, max_loads):
    """Until node's visit count differs from ``seen``: another thread backed a leaf up through it."""
    return wait_until_changed(ti, node, I_N, seen, max_loads)


@njit(cache=True, nogil=True)
def leave(running):
    """A tree thread is done with the tree: one fewer in running[0] (see ``wait_until_all_left``).
    Returns how many there were before."""
    return atomic_add(running, 0, -1)


@njit(cache=True, nogil=True)
def wait_while_equal(counter, seen, max_loads):
    """Spin (at most max_loads loads) until counter[0] differs from ``seen``; True if it did."""
    for _ in range(max_loads):
        if load_acquire(counter, 0) != seen:
            return True
    return False


@njit(cache=True, nogil=True)
def wait_until_all_left(running, max_loads):
    """Spin (at most max_loads loads) until every tree thread has left; True if they have."""
    for _ in range(max_loads):
        if load_acquire(running, 0) <= 0:
            return True
    return False


@njit(cache=True, nogil=True)
def collect_shared(ti, tf, meta, claimed, root_state, root_hist, target, gumbel_row, base_row, budget, wstate,
                   whist, params, fs_id, max_leaves, spread, planes, legal, leaf_nodes, row0, scratch,
                   spin_loads=0):
    """``collect_leaves`` for a tree that other threads search at the same time: the round first
    reserves its simulations and their virtual loss on the root, all in one write each, and gives back
    what it did not use (a walk that collided) at its end: the root's row and the simulation counter
    are the lines that every walk of every thread would otherwise write, and each such write takes
    the line from the other threads' cores. At most root N / spread leaves (at least one): a thread
    that stalls (preempted on a busy machine) holds back only that share of the search, whose virtual
    loss would otherwise steer all other walks away from its path while the tree is young. A walk that
    collides is made again at once, up to COLLISION_REWALKS times a round; after that a collision ends
    the round if it has anything, else, if ``spin_loads`` > 0, the thread spins until the leaf it hit
    is applied (at most that many loads, a few times) and walks again, keeping the round's
    reservation; only a caller with no leaf of its own pending may spin.
    Returns (rows written, leaves scored by the rules, whether the last walk collided)."""
    t = root_state[core.H_MOVE_NUMBER]
    whist[:t + 1] = root_hist[:t + 1]
    root = meta[M_ROOT]
    row = row0
    scored = 0
    spins = SPIN_RETRIES if spin_loads > 0 else 0
    rewalks = COLLISION_REWALKS
    taken = reserve_simulations(claimed, target, min(max_leaves, max(1, ti[root, I_N] // spread)))
    if taken == 0:
        return 0, 0, False
    atomic_add(ti, (root, I_VL), taken)
    collided = False
    while row - row0 + scored < taken:
        what, node = descend(ti, tf, root, root_state, wstate, whist, params, gumbel_row, base_row, budget,
                             scratch, True)
        if what == COLLISION:
            if rewalks > 0:
                rewalks -= 1
                continue
            if row > row0 or scored > 0 or spins == 0 or not wait_while_pending(ti, node, spin_loads):
                collided = True
                break
            spins -= 1
            continue
        if what == NEW_LEAF:
            encode_leaf(wstate, whist, params, fs_id, legal[row], planes[row])
            leaf_nodes[row] = node
            row += 1
        else:
            scored += 1
    unused = taken - (row - row0) - scored
    if unused:  # give back: another thread's walks may find free leaves
        atomic_add(ti, (root, I_VL), -unused)
        atomic_add(claimed, 0, -unused)
    return row - row0, scored, collided


@njit(cache=True, nogil=True)
def apply_shared(ti, tf, meta, chunk, leaf_nodes, legal, row0, policy, values, count):
    """``apply_games`` for a tree that other threads search at the same time: batch rows row0 ..
    row0 + count - 1, evaluated as rows 0 .. count - 1 of policy and values, their children's ids
    taken from this thread's ``chunk`` (tree.allocate_from). The root gets the round's visits and
    values together, one write each (see ``collect_shared``)."""
    root = meta[M_ROOT]
    root_w = 0.0
    for k in range(count):
        r = row0 + k
        node = leaf_nodes[r]
        tf[node, F_VALUE] = values[k]  # before the expansion publishes the node
        if not expand_from_chunk(ti, tf, meta, node, legal[r], policy[k], chunk):
            set_status(ti, node, FRESH, True)  # tree full: stays a leaf, evaluated again if reached
        root_w += backup_below(ti, tf, node, values[k], root)
    if count:  # N before VL, as in a backup
        atomic_add(ti, (root, I_N), count)
        atomic_add(ti, (root, I_VL), -count)
        atomic_add(tf, (root, F_W), root_w)


@njit(cache=True, nogil=True)
def apply_then_collect_shared(ti, tf, meta, claimed, root_state, root_hist, target, gumbel_row, base_row, budget,
                              wstate, whist, params, fs_id, max_leaves, spread, planes, legal, leaf_nodes, row0,
                              scratch, policy, values, applied, chunk, spin_loads):
    """``apply_shared`` of the ``applied`` rows evaluated last round, then ``collect_shared`` of the next
    round's, in one call: for an evaluator that answers at once, whose rounds are tens of microseconds,
    each call into compiled code (unboxing its arguments) and each hand-back of the GIL that another
    tree thread may be waiting for is a real share of the round. With nothing of ours pending after
    the apply, the collect may spin on a collision."""
    apply_shared(ti, tf, meta, chunk, leaf_nodes, legal, row0, policy, values, applied)
    return collect_shared(ti, tf, meta, claimed, root_state, root_hist, target, gumbel_row, base_row, budget,
                          wstate, whist, params, fs_id, max_leaves, spread, planes, legal, leaf_nodes, row0,
                          scratch, spin_loads)


# how search_shared_uniform ended
RUN_DONE = 0         # every simulation of the target taken, none of this thread's pending
RUN_STALLED = 1      # nothing to walk to while other threads' leaves are pending, and they took too long
RUN_STOPPED = 2      # stop[0] was set (another thread failed): nothing of this thread's is pending
RUN_NO_LEGAL_MOVE = 3  # a gathered row has no legal move: its rows are pending, for the caller's error


# what a search with the uniform evaluator is to reach: plan[PLAN_TARGET] root visits, with a Gumbel
# budget of plan[PLAN_BUDGET] (0 for PUCT); written by the caller before the search starts
PLAN_TARGET, PLAN_BUDGET = 0, 1


@njit(cache=True, nogil=True)
def search_shared_uniform(ti, tf, meta, claimed, root_state, root_hist, plan, gumbel_row, base_row,
                          wstate, whist, params, fs_id, max_leaves, spread, planes, legal, leaf_nodes, row0,
                          scratch, policy, values, chunk, stop, spin_loads, progress_spin_loads):
    """A tree thread's whole search with the uniform evaluator, in one compiled call: rounds of
    ``apply_then_collect_shared`` with the answers computed here (``uniform_rows``). Per round that
    saves what a round through Python costs (a call into compiled code with two dozen arguments and an
    evaluate call, about 10 microseconds of a 100-microsecond round, measured), time during which the
    thread holds the GIL that the other tree threads need too. Returns (how it ended: RUN_*,
    evaluations applied, rows pending: those of RUN_NO_LEGAL_MOVE, else 0). A thread with nothing to
    walk to spins until another thread backs up (at most ``progress_spin_loads`` loads); longer waits
    return RUN_STALLED, for the caller to sleep on (a preempted thread must get the CPU back)."""
    target, budget = plan[PLAN_TARGET], plan[PLAN_BUDGET]
    evaluations = 0
    applied = 0
    while True:
        count, scored, collided = apply_then_collect_shared(
            ti, tf, meta, claimed, root_state, root_hist, target, gumbel_row, base_row, budget, wstate, whist,
            params, fs_id, max_leaves, spread, planes, legal, leaf_nodes, row0, scratch, policy, values, applied,
            chunk, spin_loads)
        evaluations += applied
        applied = 0
        if count:
            if uniform_rows(legal[row0:row0 + count], count, policy, values) >= 0:
                release_chunk(ti, meta, chunk)  # the caller applies the rows from a new one
                return RUN_NO_LEGAL_MOVE, evaluations, count
            applied = count
            if load_acquire(stop, 0):
                apply_shared(ti, tf, meta, chunk, leaf_nodes, legal, row0, policy, values, applied)
                release_chunk(ti, meta, chunk)
                return RUN_STOPPED, evaluations + applied, 0
            continue
        if load_acquire(claimed, 0) >= target and not collided:
            release_chunk(ti, meta, chunk)
            return RUN_DONE, evaluations, 0
        if load_acquire(stop, 0):
            release_chunk(ti, meta, chunk)
            return RUN_STOPPED, evaluations, 0
        if not scored:
            root = meta[M_ROOT]
            if not wait_for_visits(ti, root, load_acquire(ti, (root, I_N)), progress_spin_loads):
                release_chunk(ti, meta, chunk)
                return RUN_STALLED, evaluations, 0


# how serve_shared_uniform came back to Python
SERVE_IDLE = 0     # no search was published within the wait: the thread may sleep
SERVE_HANDOFF = 1  # the search it started ended other than RUN_DONE: outcome says how, Python goes on
# its outcome row: evaluations it counted, and how the search it handed back ended (a RUN_*, or
# NO_OUTCOME once Python has taken it over) with how many rows pending
OUTCOME_EVALUATIONS, OUTCOME_HOW, OUTCOME_PENDING = 0, 1, 2
NO_OUTCOME = -1


@njit(cache=True, nogil=True)
def serve_shared_uniform(generation, seen, wait_loads, running, outcome, ti, tf, meta, claimed, root_state,
                         root_hist, plan, gumbel_row, base_row, wstate, whist, params, fs_id, max_leaves, spread,
                         planes, legal, leaf_nodes, row0, scratch, policy, values, chunk, stop, spin_loads,
                         progress_spin_loads):
    """A helper tree thread's searches with the uniform evaluator, one after another, without coming back
    to Python (tree_threads.py): wait for the next search (generation[0] other than ``seen``, at most
    ``wait_loads`` loads), run it (``search_shared_uniform``), count its evaluations in ``outcome``, leave
    (``running``), and wait for the next. Through Python, a helper started its search only once the
    calling thread had handed it the GIL (its own start-up in Python first, then a thread wake-up) and
    the caller could wait for the GIL at the end: 140 us at the start and ~80 us at the end of 7 ms
    searches (measured). Returns (the last search seen, SERVE_IDLE) after a wait without a search, or
    (that search, SERVE_HANDOFF) when it ended other than RUN_DONE: ``outcome`` holds how and the rows
    pending, and the thread has not left."""
    while True:
        if not wait_while_equal(generation, seen, wait_loads):
            return seen, SERVE_IDLE
        seen = load_acquire(generation, 0)
        if plan[PLAN_TARGET] > 0:
            how, evaluations, pending = search_shared_uniform(
                ti, tf, meta, claimed, root_state, root_hist, plan, gumbel_row, base_row, wstate, whist, params,
                fs_id, max_leaves, spread, planes, legal, leaf_nodes, row0, scratch, policy, values, chunk, stop,
                spin_loads, progress_spin_loads)
            outcome[OUTCOME_EVALUATIONS] += evaluations
            if how != RUN_DONE:
                outcome[OUTCOME_HOW] = how
                outcome[OUTCOME_PENDING] = pending
                return seen, SERVE_HANDOFF
        leave(running)


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
    return (own_lines((rows,) + planes_shape, np.uint8), own_lines((rows, moves), np.bool_),
            own_lines(rows, np.int64), own_lines(rows, np.int64))
