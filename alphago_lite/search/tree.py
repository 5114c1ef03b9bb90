"""Search trees as arrays indexed by node id, and the PUCT arithmetic on them (numba).

Symbols (the paper's, used only inside alphago_lite/search):
  N(s, a)  visit count of the child reached by move a from node s      ti[child, I_N]
  W(s, a)  total value of those visits, from the view of the player who chose a at s   tf[child, F_W]
  Q(s, a)  W / N, or first-play urgency when N == 0
  P(s, a)  prior probability of a from the network                     tf[child, F_P]
  VL       pending leaves below a node (virtual loss); while pending, each counts as a visit that lost
  c_puct   exploration constant, with AlphaZero's growth term when enabled:
           c(s) = c_puct + log((1 + N(s) + c_base) / c_base)
  U(s, a)  c(s) * P(s, a) * sqrt(N(s)) / (1 + N(s, a))
  V(s)     the network's value of s for the player to move at s (its raw value)  tf[s, F_VALUE]
Selection maximises Q + U. First-play urgency (Leela Zero): an unvisited child's Q is the parent's Q
minus fpu_reduction * sqrt(sum of P over visited children). Gumbel search selects differently (gumbel.py).

A tree is ``ti`` int32 [capacity, 7] and ``tf`` float64 [capacity, 4] plus ``meta`` int64 [2]
(root id, nodes used). Children of a node are consecutive ids ``first .. first + nchild``. Node 0 is
unused so that 0 can never be mistaken for a child block of an unexpanded node. Many trees (one per
game) are stacked along a leading axis: ``ti[g]`` is game g's tree.

Shared trees (``shared=True``: several threads search one tree at once, Enzenberger and Mueller's
lock-free scheme, 2009). No lock anywhere; instead:
  - a leaf is claimed by one compare-and-swap of its status FRESH -> PENDING, so only one thread
    evaluates and expands it (the others see a collision);
  - node ids come from per-thread chunks (``allocate_from``): a thread takes a chunk of ids from the
    tree's bump allocator (a compare-and-swap on ``meta[M_USED]``, never beyond the capacity) and hands
    its expansions blocks of it with plain writes, so that an expansion does not write the line of
    ``meta``, which every round of every thread reads; a chunk's unused end is given back, or marked
    ``FREE_PARENT``, when its thread's search is over (``release_chunk``);
  - an expansion is published only when complete: the children, then the parent's first child and
    count, then (a release store) the parent's status EXPANDED; walks read a status with an acquire
    load before they read the children;
  - N, VL and W change by atomic read-modify-write (no update is ever lost), N before VL in a backup,
    so that N + VL never undercounts the simulations claimed below a node;
  - a walk puts its virtual loss on each node as it enters it (and takes it back if the walk ends in
    a collision), so that other walks see its path while it is still under way;
  - the root, which every walk passes, is written once per round of walks, not once per walk: a round
    reserves its simulations and the root's virtual loss together, and its backups stop below the
    root (``backup_below``), whose N, VL and W then get the round's sums (kernels.collect_shared).
Reads are not atomic as a group: a walk may see N of a child already incremented and its W not yet;
that only perturbs one selection, as in Fuego. When every thread has finished (no leaf pending):
N(s) = 1 + sum of N(c) over the children c of every expanded node s, exactly.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from alphago_lite.search.atomics import atomic_add, atomic_cas, load_acquire, store_release

I_PARENT, I_MOVE, I_FIRST, I_NCHILD, I_N, I_VL, I_STATUS = range(7)
F_W, F_P, F_TERMINAL, F_VALUE = range(4)
M_ROOT, M_USED = 0, 1

FRESH, PENDING, EXPANDED, TERMINAL = 0, 1, 2, 3
FREE_PARENT = -2  # I_PARENT of a node in a released chunk's unused end: in no tree
C_NEXT, C_END, C_SIZE = range(3)  # a thread's chunk of node ids: the next free one, its end, ids per chunk

# positions in the params vector handed to kernels (built by searcher.params_vector)
(P_C_PUCT, P_C_BASE, P_LOG_GROWTH, P_FPU, P_VIRTUAL_LOSS, P_KOMI, P_PASS_ONLY_WHEN_NEEDED,
 P_ALGORITHM, P_CONSIDERED, P_C_VISIT, P_C_SCALE) = range(11)
NUM_PARAMS = 11
PUCT, GUMBEL = 0, 1  # values of params[P_ALGORITHM]


def new_trees(games: int, capacity: int):
    ti = np.zeros((games, capacity, 7), np.int32)
    tf = np.zeros((games, capacity, 4), np.float64)
    meta = np.zeros((games, 2), np.int64)
    for g in range(games):
        clear(ti[g], tf[g], meta[g])
    return ti, tf, meta


@njit(cache=True, nogil=True)
def clear(ti, tf, meta):
    """Reset to a single fresh root (node 1)."""
    meta[M_ROOT] = 1
    meta[M_USED] = 2
    ti[1, :] = 0
    ti[1, I_PARENT] = -1
    ti[1, I_MOVE] = -1
    ti[1, I_FIRST] = -1
    tf[1, :] = 0.0


@njit(cache=True, nogil=True)
def node_q(ti, tf, node):
    """Mean value of node from the view of the player who moved into it (0 if unvisited)."""
    n = ti[node, I_N]
    return tf[node, F_W] / n if n > 0 else 0.0


@njit(cache=True, nogil=True)
def puct_scores(ti, tf, node, params, out):
    """Q + U of every child of node into out[0..nchild) (virtual loss included); returns nchild."""
    first = ti[node, I_FIRST]
    nchild = ti[node, I_NCHILD]
    vl = params[P_VIRTUAL_LOSS]
    parent_n = ti[node, I_N] + ti[node, I_VL]
    c = params[P_C_PUCT]
    if params[P_LOG_GROWTH] != 0.0:
        c += math.log((1.0 + parent_n + params[P_C_BASE]) / params[P_C_BASE])
    sqrt_n = math.sqrt(max(parent_n, 1))
    visited_prior = 0.0
    for i in range(nchild):
        if ti[first + i, I_N] + ti[first + i, I_VL] > 0:
            visited_prior += tf[first + i, F_P]
    # the parent's value for the player choosing here is minus its value for whoever moved into it
    parent_q = -node_q(ti, tf, node)
    fpu = parent_q - params[P_FPU] * math.sqrt(visited_prior)
    for i in range(nchild):
        ch = first + i
        n = ti[ch, I_N] + ti[ch, I_VL]
        if n > 0:
            q = (tf[ch, F_W] - vl * ti[ch, I_VL]) / n
        else:
            q = fpu
        out[i] = q + c * tf[ch, F_P] * sqrt_n / (1 + n)
    return nchild


@njit(cache=True, nogil=True)
def select_child(ti, tf, node, params, scratch):
    nchild = puct_scores(ti, tf, node, params, scratch)
    best = 0
    for i in range(1, nchild):
        if scratch[i] > scratch[best]:
            best = i
    return ti[node, I_FIRST] + best


@njit(cache=True, nogil=True)
def expand(ti, tf, meta, node, legal_row, policy_row):
    """Give node one child per legal move (legal_row: bool [N+1]) with priors from policy_row.
    Returns False when the tree is full (the node then stays a leaf). A tree that other threads
    search at the same time: ``expand_from_chunk``."""
    count = legal_count(legal_row)
    first = meta[M_USED]
    if first + count > ti.shape[0]:
        return False
    meta[M_USED] = first + count
    add_children(ti, tf, node, first, count, legal_row, policy_row, False)
    return True


@njit(cache=True, nogil=True)
def expand_from_chunk(ti, tf, meta, node, legal_row, policy_row, chunk):
    """``expand`` in a shared tree, the children's ids taken from this thread's ``chunk``."""
    count = legal_count(legal_row)
    first = allocate_from(ti, meta, count, chunk)
    if first < 0:
        return False
    add_children(ti, tf, node, first, count, legal_row, policy_row, True)
    return True


@njit(cache=True, nogil=True)
def legal_count(legal_row):
    count = 0
    for m in range(legal_row.shape[0]):
        if legal_row[m]:
            count += 1
    return count


@njit(cache=True, nogil=True)
def add_children(ti, tf, node, first, count, legal_row, policy_row, shared):
    """Write node's ``count`` children at ids first .., then publish them (``expand``)."""
    total = 0.0
    for m in range(legal_row.shape[0]):
        if legal_row[m]:
            total += policy_row[m]
    k = first
    for m in range(legal_row.shape[0]):
        if legal_row[m]:
            ti[k, :] = 0
            ti[k, I_PARENT] = node
            ti[k, I_MOVE] = m
            ti[k, I_FIRST] = -1
            tf[k, :] = 0.0
            tf[k, F_P] = policy_row[m] / total if total > 0 else 1.0 / count
            k += 1
    ti[node, I_FIRST] = first
    ti[node, I_NCHILD] = count
    set_status(ti, node, EXPANDED, shared)  # last: the children are complete before walks can see them


@njit(cache=True, nogil=True)
def allocate(ti, meta, count):
    """The first of ``count`` consecutive free node ids, taken atomically; -1 when the tree is full."""
    while True:
        first = load_acquire(meta, M_USED)
        if first + count > ti.shape[0]:
            return -1
        if atomic_cas(meta, M_USED, first, first + count) == first:
            return first


@njit(cache=True, nogil=True)
def allocate_from(ti, meta, count, chunk):
    """The first of ``count`` consecutive free node ids from this thread's ``chunk`` (int64 [C_NEXT,
    C_END, C_SIZE]), which takes a new chunk of C_SIZE ids (or of ``count``, when fewer are left) when
    it has too few; -1 when the tree is full. The rest of the chunk it leaves (at most count - 1 ids,
    which a search's room allows for: searcher.BatchedSearch) is marked free (``mark_free``)."""
    first = chunk[C_NEXT]
    if first + count > chunk[C_END]:
        size = max(chunk[C_SIZE], count)
        first = allocate(ti, meta, size)
        if first < 0:
            return allocate(ti, meta, count)  # the tree's last ids, or -1; the chunk stays as it was
        mark_free(ti, chunk[C_NEXT], chunk[C_END])
        chunk[C_END] = first + size
    chunk[C_NEXT] = first + count
    return first


@njit(cache=True, nogil=True)
def release_chunk(ti, meta, chunk):
    """A thread done with its search: give back the unused end of its ``chunk`` if no chunk was taken
    after it (one compare-and-swap, safe while other threads still take ids), else mark it free; the
    chunk is then empty."""
    if chunk[C_END] == 0:
        return
    if atomic_cas(meta, M_USED, chunk[C_END], chunk[C_NEXT]) != chunk[C_END]:
        mark_free(ti, chunk[C_NEXT], chunk[C_END])
    chunk[C_NEXT] = 0
    chunk[C_END] = 0


@njit(cache=True, nogil=True)
def mark_free(ti, start, end):
    """Ids start .. end - 1, taken but never to be used: fresh nodes with parent FREE_PARENT, in no tree
    (a compaction drops them), so that every used id is in the tree, free, or left behind by a move."""
    for node in range(start, end):
        ti[node, :] = 0
        ti[node, I_PARENT] = FREE_PARENT
        ti[node, I_FIRST] = -1


@njit(cache=True, nogil=True)
def get_status(ti, node, shared=False):
    """A node's status; shared: an acquire load, so that the children of an EXPANDED node are seen whole."""
    return load_acquire(ti, (node, I_STATUS)) if shared else ti[node, I_STATUS]


@njit(cache=True, nogil=True)
def set_status(ti, node, status, shared=False):
    """Set a node's status; shared: a release store, after every write that the new status publishes."""
    if shared:
        store_release(ti, (node, I_STATUS), status)
    else:
        ti[node, I_STATUS] = status


@njit(cache=True, nogil=True)
def claim(ti, node):
    """Shared trees: make a FRESH node PENDING for this thread; False if another thread got there first."""
    return atomic_cas(ti, (node, I_STATUS), FRESH, PENDING) == FRESH


@njit(cache=True, nogil=True)
def add_virtual_loss(ti, node):
    while node > 0:
        ti[node, I_VL] += 1
        node = ti[node, I_PARENT]


@njit(cache=True, nogil=True)
def revert_virtual_loss(ti, node):
    while node > 0:
        ti[node, I_VL] -= 1
        node = ti[node, I_PARENT]


@njit(cache=True, nogil=True)
def remove_virtual_loss_below(ti, node, top):
    """Shared trees: take back a walk's virtual loss (atomically) from node and its ancestors below ``top``
    (whose own virtual loss is the caller's)."""
    while node != top:
        atomic_add(ti, (node, I_VL), -1)
        node = ti[node, I_PARENT]


@njit(cache=True, nogil=True)
def backup_below(ti, tf, node, value, top):
    """Shared trees: ``backup`` (atomic, N before VL) of node and its ancestors below ``top`` (-1: up to
    the root, whose parent it is); returns what ``top``'s W gets from this leaf, for a caller that adds
    it to ``top`` together with other leaves' (kernels.apply_shared)."""
    v = -value
    while node != top:
        atomic_add(ti, (node, I_N), 1)
        atomic_add(ti, (node, I_VL), -1)
        atomic_add(tf, (node, F_W), v)
        v = -v
        node = ti[node, I_PARENT]
    return v


@njit(cache=True, nogil=True)
def backup(ti, tf, node, value, shared=False):
    """Propagate a leaf value (from the view of the player to move AT the leaf) to the root, removing
    the leaf's virtual loss on the way. ``shared``: atomic updates (``backup_below``)."""
    if shared:
        backup_below(ti, tf, node, value, -1)
        return
    v = -value  # the leaf's W is from the view of the player who moved into it
    while node > 0:
        ti[node, I_VL] -= 1
        ti[node, I_N] += 1
        tf[node, F_W] += v
        v = -v
        node = ti[node, I_PARENT]


@njit(cache=True, nogil=True)
def pending_virtual_loss(ti, meta):
    total = 0
    for node in range(1, meta[M_USED]):
        total += abs(ti[node, I_VL])
    return total


@njit(cache=True, nogil=True)
def root_visits(ti, meta, n_moves, out):
    """Visit count of each root move into out[0..n_moves) (zeros for moves without a child)."""
    out[:] = 0
    root = meta[M_ROOT]
    first = ti[root, I_FIRST]
    for i in range(max(ti[root, I_NCHILD], 0)):
        out[ti[first + i, I_MOVE]] = ti[first + i, I_N]


@njit(cache=True, nogil=True)
def root_stats(ti, tf, root, visits, priors, q):
    """Each root move's visits, prior and Q (from the view of the player to move at the root) into
    visits / priors / q (zeros for moves without a child); returns the root's value for that player.
    One compiled call: the same in numpy (a dozen array operations) took 300 us right after a search,
    whose memory traffic had left the interpreter's own cold (60-85 us this way, measured)."""
    if ti[root, I_STATUS] == EXPANDED:
        first = ti[root, I_FIRST]
        for i in range(ti[root, I_NCHILD]):
            child = first + i
            n = ti[child, I_N]
            visits[ti[child, I_MOVE]] = n
            priors[ti[child, I_MOVE]] = tf[child, F_P]
            q[ti[child, I_MOVE]] = tf[child, F_W] / max(n, 1)
    return -tf[root, F_W] / max(ti[root, I_N], 1)


@njit(cache=True, nogil=True)
def child_for_move(ti, meta, move):
    root = meta[M_ROOT]
    first = ti[root, I_FIRST]
    for i in range(max(ti[root, I_NCHILD], 0)):
        if ti[first + i, I_MOVE] == move:
            return first + i
    return -1


@njit(cache=True, nogil=True)
def reroot(ti, tf, meta, new_root, tmp_i, tmp_f, room):
    """Keep only the subtree under new_root (tree reuse). While ``room`` more nodes fit after the used
    ones, the subtree stays where it is and the rest of the tree is left behind, unreachable, until a
    compaction reclaims it: a compaction of an ~800-node subtree took 150-350 us, a real share of a
    9x9 search of 800 simulations (7-12 ms, measured). Otherwise the subtree is compacted to the front
    (breadth first); tmp_i / tmp_f are scratch arrays shaped like ti / tf."""
    if new_root <= 0:
        clear(ti, tf, meta)
        return
    if meta[M_USED] + room <= ti.shape[0]:
        ti[new_root, I_PARENT] = -1
        meta[M_ROOT] = new_root
        return
    copy_node(ti, tf, new_root, tmp_i, tmp_f, 1)
    tmp_i[1, I_PARENT] = -1
    used = 2
    head = 1
    while head < used:
        old_first = tmp_i[head, I_FIRST]
        nchild = tmp_i[head, I_NCHILD]
        if tmp_i[head, I_STATUS] == EXPANDED and nchild > 0:
            tmp_i[head, I_FIRST] = used
            for i in range(nchild):
                copy_node(ti, tf, old_first + i, tmp_i, tmp_f, used + i)
                tmp_i[used + i, I_PARENT] = head
            used += nchild
        head += 1
    ti[:used, :] = tmp_i[:used, :]
    tf[:used, :] = tmp_f[:used, :]
    ti[0, :] = 0
    meta[M_ROOT] = 1
    meta[M_USED] = used


@njit(cache=True, nogil=True)
def copy_node(ti, tf, node, to_i, to_f, to_node):
    """Node ``node`` of (ti, tf) into row ``to_node`` of (to_i, to_f), element by element: a row slice
    assignment per node made compaction several times slower."""
    for c in range(ti.shape[1]):
        to_i[to_node, c] = ti[node, c]
    for c in range(tf.shape[1]):
        to_f[to_node, c] = tf[node, c]
