"""Tree parallelism: several threads search one game's tree at once, without a lock (search/tree.py,
kernels.py, searcher.py, merging.py).

The invariant that every concurrent search must leave behind, once all its threads have finished
(``check_tree``), whatever the interleaving:
  - the root has exactly the visits asked for;
  - an expanded node s has N(s) = 1 + the sum of N(c) over its children, exactly (N changes only by
    atomic adds: no update is lost), and W(s) = -V(s) - the sum of W(c) up to float rounding (the
    atomic adds of W come in any order); a terminal node has W = -N * its result;
  - a node that is not expanded has no children (first child -1, no count);
  - every node id in use (2 .. used - 1) is a child of exactly one expanded node, whose id its parent
    field holds, so the walk from the root reaches each exactly once: no block lost, none shared;
  - no virtual loss and no pending node anywhere; the node allocator never passed the capacity.
The searches run many times with 2, 4 and 8 threads on 5x5 and 7x7 boards, with few leaves per round
so that the threads meet often, with tree reuse between them, on each evaluator path (answered in the
search thread, merged by one evaluation thread, called by every thread at once, or the uniform answer
computed in each thread's compiled rounds).
"""
import threading
import time
from io import StringIO

import numpy as np
import pytest
from numba import njit
from test_search import CAPTURE, HashEvaluator, uniform

from alphago_lite.agents.mcts import MctsAgent
from alphago_lite.config import SearchConfig
from alphago_lite.go import Game, from_gtp, game_from_diagram
from alphago_lite.net.evaluator import Evaluator, UniformEvaluator
from alphago_lite.search import BatchedSearch, kernels, tree
from alphago_lite.search.atomics import atomic_add, atomic_cas, load_acquire, store_release
from alphago_lite.search.merging import MergingEvaluations


def check_tree(search: BatchedSearch, target: int, since: int = 2) -> None:
    """Assert the invariant of the module docstring on slot 0's tree. Nodes from ``since`` on (those a
    search allocated since) are all in the tree; those before it may have been left behind by a move
    (tree.reroot), but none is in it twice."""
    ti, tf, meta = search.ti[0], search.tf[0], search.meta[0]
    root, used = int(meta[tree.M_ROOT]), int(meta[tree.M_USED])
    assert 2 <= used <= ti.shape[0]
    assert ti[root, tree.I_N] == target
    statuses = ti[1:used, tree.I_STATUS]
    assert tree.PENDING not in statuses
    assert not ti[1:used, tree.I_VL].any()
    reached = np.zeros(used, np.int64)
    reached[root] = 1
    stack = [root]
    while stack:
        node = stack.pop()
        first, count = int(ti[node, tree.I_FIRST]), int(ti[node, tree.I_NCHILD])
        status = ti[node, tree.I_STATUS]
        if status != tree.EXPANDED:
            assert (first, count) == (-1, 0), f"node {node} (status {status}) has children"
            if status == tree.TERMINAL:
                assert tf[node, tree.F_W] == pytest.approx(-ti[node, tree.I_N] * tf[node, tree.F_TERMINAL])
            continue
        kids = np.arange(first, first + count)
        assert first >= 2 and first + count <= used
        assert (ti[kids, tree.I_PARENT] == node).all()
        assert ti[node, tree.I_N] == 1 + ti[kids, tree.I_N].sum(), f"visit sum at node {node}"
        expected_w = -tf[node, tree.F_VALUE] - tf[kids, tree.F_W].sum()
        assert tf[node, tree.F_W] == pytest.approx(expected_w, abs=1e-9 * ti[node, tree.I_N])
        reached[kids] += 1
        stack.extend(int(k) for k in kids)
    free = ti[:used, tree.I_PARENT] == tree.FREE_PARENT  # released chunks' unused ends (tree.release_chunk)
    assert not reached[free].any()
    missing = np.flatnonzero((reached[since:] != 1) & ~free[since:]) + since
    assert not len(missing), f"nodes reached other than once: {missing}"
    assert (reached <= 1).all(), f"nodes reached twice: {np.flatnonzero(reached > 1)}"
    assert search.pending_virtual_loss(0) == 0


class SerialHashEvaluator(HashEvaluator):
    """HashEvaluator that fails the test if two threads ever call it at once (an in-process net is not
    re-entrant), and counts its calls and positions."""

    def __init__(self, size: int):
        super().__init__(size)
        self._inside = threading.Lock()
        self.calls = self.positions = 0

    def evaluate(self, planes, legal):
        assert self._inside.acquire(blocking=False), "evaluate called by two threads at once"
        try:
            self.calls += 1
            self.positions += len(planes)
            return super().evaluate(planes, legal)
        finally:
            self._inside.release()


class ReentrantHashEvaluator(HashEvaluator):
    reentrant = True  # like the Ray client: every thread's batch is a request of its own


class AtOnceHashEvaluator(HashEvaluator):
    answers_at_once = True  # called in the search threads themselves


def compiled_uniform(size: int) -> UniformEvaluator:
    """The uniform evaluator, planes encoded all the same: its answers are computed in compiled rounds."""
    return UniformEvaluator(size, "agz")


EVALUATORS = {"merged": SerialHashEvaluator, "reentrant": ReentrantHashEvaluator, "at_once": AtOnceHashEvaluator,
              "compiled": compiled_uniform}


def new_search(evaluator, size: int, threads: int, visits: int, max_moves: int = 60, **cfg) -> BatchedSearch:
    return BatchedSearch(evaluator, SearchConfig(**cfg), slots=1, size=size, komi=0.5, max_moves=max_moves,
                         max_simulations=visits, threads=threads)


# ------------------------------------------------------------------------ atomics, allocator ---

@njit(nogil=True)
def _hammer(ints, floats, counter, times):
    for _ in range(times):
        atomic_add(ints, (1, 2), 1)
        atomic_add(floats, (0, 1), 0.5)
        while True:  # an add made of a load and a compare-and-swap
            seen = load_acquire(counter, 0)
            if atomic_cas(counter, 0, seen, seen + 3) == seen:
                break
    store_release(counter, 1, 7)


def test_atomic_operations_lose_no_update_between_threads():
    ints, floats, counter = np.zeros((3, 4), np.int32), np.zeros((2, 2)), np.zeros(2, np.int64)
    _hammer(ints, floats, counter, 1)  # compile outside the threads
    ints[:], floats[:], counter[:] = 0, 0.0, 0
    threads = [threading.Thread(target=_hammer, args=(ints, floats, counter, 200_000)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert ints[1, 2] == 800_000 and ints.sum() == 800_000
    assert floats[0, 1] == 400_000.0 and floats.sum() == 400_000.0
    assert counter.tolist() == [2_400_000, 7]


@njit(nogil=True)
def _allocate_blocks(ti, meta, sizes, firsts):
    for k in range(sizes.shape[0]):
        firsts[k] = tree.allocate(ti, meta, sizes[k])


def test_the_node_allocator_hands_out_disjoint_blocks_and_never_passes_the_capacity():
    ti, _, meta = (a[0] for a in tree.new_trees(1, 5_000))
    rng = np.random.default_rng(0)
    sizes = [rng.integers(1, 30, 400) for _ in range(4)]
    firsts = [np.zeros(400, np.int64) for _ in range(4)]
    _allocate_blocks(ti, meta.copy(), sizes[0][:1], firsts[0][:1])  # compile outside the threads
    threads = [threading.Thread(target=_allocate_blocks, args=(ti, meta, s, f)) for s, f in zip(sizes, firsts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    size, first = np.concatenate(sizes), np.concatenate(firsts)
    granted = first >= 0
    assert 0 < granted.sum() < len(first)  # 4 * 400 blocks of 15 on average do not fit in 5,000 nodes
    order = np.argsort(first[granted])
    starts, lengths = first[granted][order], size[granted][order]
    assert starts[0] == 2 and (starts[1:] == starts[:-1] + lengths[:-1]).all()  # back to back, no overlap
    end = starts[-1] + lengths[-1]
    assert meta[tree.M_USED] == end <= 5_000
    assert (end + size[~granted] > 5_000).all()  # refused only when the block would not fit


@njit(nogil=True)
def _reserve_until_none(claimed, target, wanted, taken):
    """Reserve ``wanted`` simulations at a time until none is left; taken[k]: what the k-th call got."""
    k = 0
    while k < taken.shape[0]:
        got = kernels.reserve_simulations(claimed, target, wanted)
        if got == 0:
            return k
        taken[k] = got
        k += 1
    return k


def test_a_thread_takes_node_ids_from_chunks_of_its_own_and_the_unused_ends_are_released():
    """tree.allocate_from: expansions take ids from the thread's chunk with no write to ``meta``; a new
    chunk when the old one has too few (its rest marked free); the tree's last ids when no whole chunk
    fits. tree.release_chunk gives back the end of the chunk taken last, and marks the others' free."""
    ti, tf, meta = (a[0] for a in tree.new_trees(1, 40))
    mine, theirs = np.array([0, 0, 10], np.int64), np.array([0, 0, 10], np.int64)
    assert tree.allocate_from(ti, meta, 4, mine) == 2 and meta[tree.M_USED] == 12 and list(mine[:2]) == [6, 12]
    assert tree.allocate_from(ti, meta, 5, mine) == 6 and meta[tree.M_USED] == 12  # from the chunk alone
    assert tree.allocate_from(ti, meta, 3, theirs) == 12 and meta[tree.M_USED] == 22
    assert tree.allocate_from(ti, meta, 2, mine) == 22 and list(mine[:2]) == [24, 32]  # 11 was left over
    assert ti[11, tree.I_PARENT] == tree.FREE_PARENT and ti[11, tree.I_STATUS] == tree.FRESH
    assert tree.allocate_from(ti, meta, 8, theirs) == 32 and meta[tree.M_USED] == 40  # no room for a chunk
    assert list(theirs[:2]) == [15, 22]  # the chunk stays as it was
    assert tree.allocate_from(ti, meta, 9, mine) == -1  # 8 left in the chunk, none in the tree
    for chunk in (mine, theirs):
        tree.release_chunk(ti, meta, chunk)
    assert meta[tree.M_USED] == 40  # neither ends the used ids: both marked free
    assert (ti[np.r_[15:22, 24:32], tree.I_PARENT] == tree.FREE_PARENT).all()
    assert (ti[np.r_[12:15, 22:24, 32:40], tree.I_PARENT] != tree.FREE_PARENT).all()
    assert list(mine[:2]) == list(theirs[:2]) == [0, 0]
    ti, tf, meta = (a[0] for a in tree.new_trees(1, 100))
    for chunk in (mine, theirs):
        tree.allocate_from(ti, meta, 3, chunk)
    assert meta[tree.M_USED] == 22
    for chunk in (mine, theirs):
        tree.release_chunk(ti, meta, chunk)
    assert meta[tree.M_USED] == 15  # the last chunk's end given back, the first's marked free
    assert (ti[5:12, tree.I_PARENT] == tree.FREE_PARENT).all()


def test_simulations_are_reserved_a_round_at_a_time_and_never_past_the_target():
    claimed = np.array([8], np.int64)
    assert kernels.reserve_simulations(claimed, 10, 4) == 2 and claimed[0] == 10  # only 2 were left
    assert kernels.reserve_simulations(claimed, 10, 4) == 0 and claimed[0] == 10
    claimed[0] = 0
    assert kernels.reserve_simulations(claimed, 10, 4) == 4 and claimed[0] == 4
    # 4 threads taking rounds of 3 of 1,000 at once: all taken, none twice, the target never passed
    _reserve_until_none(claimed, 0, 3, np.zeros(1, np.int64))  # compile outside the threads
    claimed[0] = 0
    taken = [np.zeros(1_000, np.int64) for _ in range(4)]
    threads = [threading.Thread(target=_reserve_until_none, args=(claimed, 1_000, 3, t)) for t in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rounds = np.concatenate(taken)
    assert rounds.sum() == 1_000 and claimed[0] == 1_000
    assert rounds.max() == 3 and ((rounds > 0) & (rounds < 3)).sum() <= 1  # 1,000 = 333 * 3 + 1


def _collect_round(search, claimed, target, leaves):
    """One ``collect_shared`` round of at most ``leaves`` walks on slot 0's tree, as a tree thread runs it."""
    planes, legal, nodes, _ = kernels.empty_batch(leaves, (1, 5, 5), search.moves)
    wstate, whist, scores = (np.zeros_like(a) for a in search.scratch[0])
    result = kernels.collect_shared(
        search.ti[0], search.tf[0], search.meta[0], claimed, search.root_states[0], search.root_hists[0], target,
        search.root_gumbel[0], search.root_base[0], 0, wstate, whist, search.params, -1, leaves, 1, planes, legal,
        nodes, 0, scores)
    return result, legal, nodes


def test_a_round_puts_the_roots_share_on_it_at_once_and_gives_back_what_it_did_not_use():
    """``collect_shared`` reserves its round on the root in one step (simulations and virtual loss), and
    ``apply_shared`` backs the leaves up with the root's visits and values added together: the root
    ends as exact as if each leaf had been backed up alone. A round whose walk collides gives its
    reservation back."""
    game = game_from_diagram(CAPTURE, to_play="W", komi=0.5, max_moves=3)
    search = new_search(uniform(5), 5, 1, visits=50, leaves_per_round=4)
    search.set_root(0, game)
    search.search(np.array([9]))
    ti, tf, root = search.ti[0], search.tf[0], int(search.meta[0, tree.M_ROOT])
    w_before = tf[root, tree.F_W]
    claimed = np.array([9], np.int64)
    (count, scored, collided), legal, nodes = _collect_round(search, claimed, 13, 4)
    assert count + scored == 4 and not collided and claimed[0] == 13
    assert ti[root, tree.I_VL] == count and ti[root, tree.I_N] == 9 + scored
    values = np.linspace(-0.6, 0.9, count).astype(np.float32)
    levels = np.zeros(count, np.int64)  # the root's W gets a leaf's value negated once per level between
    for k, node in enumerate(nodes[:count]):
        while node != root:
            levels[k] += 1
            node = ti[node, tree.I_PARENT]
    w_scored = tf[root, tree.F_W] - w_before  # what the rules' scores already backed up
    chunk = np.array([0, 0, 64], np.int64)  # this thread's node ids: none yet, 64 per chunk
    kernels.apply_shared(ti, tf, search.meta[0], chunk, nodes, legal, 0,
                         np.full((count, search.moves), 0.1, np.float32), values, count)
    tree.release_chunk(ti, search.meta[0], chunk)
    assert ti[root, tree.I_N] == 13 and ti[root, tree.I_VL] == 0
    assert tf[root, tree.F_W] == pytest.approx(w_before + w_scored + ((-1.0) ** (levels + 1) * values).sum())
    check_tree(search, 13)
    # every child of the root pending (as if other threads had claimed them all): the walk collides
    kids = np.arange(ti[root, tree.I_FIRST], ti[root, tree.I_FIRST] + ti[root, tree.I_NCHILD])
    statuses = ti[kids, tree.I_STATUS].copy()
    ti[kids, tree.I_STATUS] = tree.PENDING
    (count, scored, collided), _, _ = _collect_round(search, claimed, 17, 4)
    assert (count, scored, collided) == (0, 0, True)
    assert claimed[0] == 13 and ti[root, tree.I_VL] == 0 and not ti[kids, tree.I_VL].any()
    ti[kids, tree.I_STATUS] = statuses
    check_tree(search, 13)
    search.close()


def test_no_cache_line_holds_data_of_two_tree_threads():
    """A tree thread writes its scratch position, PUCT scores and batch rows at every step of its
    walks; on a line that also holds another thread's, each such write would take the line from that
    thread's core (false sharing: with numpy's own placement, thread 0's position shared a line with
    thread 1's scores, and the simulation counter that every round writes shared one with the stop
    flag that every round reads). So each thread's own arrays, and those counters, cover whole lines
    of a buffer that holds nothing else: whatever numpy places next to them is on other lines."""
    search = new_search(uniform(9), 9, 2, visits=100, leaves_per_round=8)

    def lines(array):
        return range(array.ctypes.data // 64, (array.ctypes.data + array.nbytes - 1) // 64 + 1)

    def owns_its_lines(array):
        buffer = array
        while isinstance(buffer.base, np.ndarray):
            buffer = buffer.base
        span = lines(array)
        return buffer.ctypes.data <= 64 * span.start and 64 * span.stop <= buffer.ctypes.data + buffer.nbytes

    def arrays(i):  # (address, size) -> array, of thread i's compiled-round arguments and scratch
        found = [a for a in search._compiled_args[i] if isinstance(a, np.ndarray)] + list(search.scratch[i])
        found += [a for batch in search._thread_batches[i] for a in batch]
        return {(a.ctypes.data, a.nbytes): a for a in found}
    mine, theirs = arrays(0), arrays(1)
    common = mine.keys() & theirs.keys()  # the tree, the root position, the parameters, the counters
    assert {(search._claimed.ctypes.data, 8), (search._stop.ctypes.data, 8)} <= common
    own = [[a for key, a in each.items() if key not in common] for each in (mine, theirs)]
    assert len(own[0]) == len(own[1]) >= 9  # position, history, scores, 2 x 3 batch arrays, policy, values
    for array in own[0] + own[1] + [search._claimed, search._stop]:
        assert owns_its_lines(array), (array.shape, array.dtype)
    assert not {*lines(search._claimed)} & {*lines(search._stop)}
    search.close()


def test_the_spin_waits_end_when_another_thread_publishes_and_give_up_when_none_does():
    from alphago_lite.search.kernels import wait_for_visits, wait_while_pending
    ti, _, _ = (a[0] for a in tree.new_trees(1, 8))
    ti[3, tree.I_STATUS], ti[3, tree.I_N] = tree.PENDING, 5
    assert not wait_while_pending(ti, 3, 1000)  # nobody applies the leaf: bounded, then False
    assert not wait_for_visits(ti, 3, 5, 1000)
    assert wait_for_visits(ti, 3, 4, 1)  # the count already differs from what the caller saw

    def publish():
        time.sleep(0.05)  # the spinner below is waiting by then
        ti[3, tree.I_N] = 6
        ti[3, tree.I_STATUS] = tree.EXPANDED
    for spin in (lambda: wait_while_pending(ti, 3, 10**10), lambda: wait_for_visits(ti, 3, 5, 10**10)):
        ti[3, tree.I_STATUS], ti[3, tree.I_N] = tree.PENDING, 5
        other = threading.Thread(target=publish)
        other.start()
        assert spin()  # returns once the other thread's stores are seen (a bound of seconds, not reached)
        other.join()


# ------------------------------------------------------------------------- valid trees ---

# 4 and 8 threads: about 0.5-1 s each, 6 s in all: the slow tier (2 threads of every path stay in the quick one)
@pytest.mark.parametrize("threads", [2, pytest.param(4, marks=pytest.mark.slow),
                                     pytest.param(8, marks=pytest.mark.slow)])
@pytest.mark.parametrize("path", sorted(EVALUATORS))
def test_concurrent_searches_leave_a_valid_tree(threads, path):
    for size, leaves, visits in ((5, 2, 300), (7, 4, 500)):
        evaluator = EVALUATORS[path](size)
        search = new_search(evaluator, size, threads, visits=visits, leaves_per_round=leaves)
        assert search.shared_tree and search.threads == threads
        game = Game(size=size, komi=0.5, max_moves=60)
        search.set_root(0, game)
        for _ in range(4):  # each search starts from the subtree of the move played: tree reuse
            target = search.root_visits(0) + visits
            since = int(search.meta[0, tree.M_USED])
            search.search(np.array([target]))
            check_tree(search, target, since)
            move = search.stats(0).best_move
            game.play(move)
            search.advance(0, game, move)
            check_tree(search, search.root_visits(0), since=int(search.meta[0, tree.M_USED]))
        search.close()


@pytest.mark.parametrize("threads", [2, 8])
@pytest.mark.parametrize("path", ["merged", "compiled"])
def test_concurrent_gumbel_searches_leave_a_valid_tree(threads, path):
    evaluator = EVALUATORS[path](7)
    search = new_search(evaluator, 7, threads, visits=400, algorithm="gumbel", leaves_per_round=4)
    game = Game(size=7, komi=0.5, max_moves=60)
    for _ in range(3):
        search.set_root(0, game)
        target = search.start_gumbel(0, 300)
        search.search(np.array([target]))
        check_tree(search, target)
        stats = search.stats(0)
        assert stats.improved_policy.sum() == pytest.approx(1.0)
        game.play(stats.best_move)
    search.close()


@pytest.mark.parametrize("threads", [2, 4, 8])
@pytest.mark.parametrize("path", ["merged", "compiled"])
def test_searches_in_small_steps_reach_each_target_exactly(threads, path):
    """Targets of 1 (the root alone: every other thread collides with it and waits) up to many leaves
    per thread: the threads together never take a simulation too many or too few."""
    search = new_search(EVALUATORS[path](5), 5, threads, visits=400)
    search.set_root(0, Game(size=5, komi=0.5, max_moves=60))
    for target in (1, 2, 3, 5, 17, 18, 64, 65, 200, 400):
        search.search(np.array([target]))
        check_tree(search, target)
    search.close()


def test_the_uniform_evaluator_is_answered_in_compiled_rounds_even_with_one_thread():
    """One game with the uniform evaluator: every thread's search is one compiled call (its evaluate is
    never called), one thread included, and each evaluation is counted once."""

    class Uncalled(UniformEvaluator):
        answers_uniformly = True  # kept, beside an evaluate of its own: the test sees whether it is called

        def evaluate(self, planes, legal):
            raise AssertionError("evaluate called: the rounds went through Python")

    for threads in (1, 2, 4):
        search = new_search(Uncalled(5, "agz"), 5, threads, visits=300, leaves_per_round=4)
        assert search.shared_tree
        search.set_root(0, Game(size=5, komi=0.5, max_moves=60))
        search.search(np.array([300]))
        check_tree(search, 300)
        assert search.evaluations == int((search.ti[0, 1:search.meta[0, tree.M_USED], tree.I_STATUS]
                                          == tree.EXPANDED).sum())
        search.close()


def test_a_subclass_with_its_own_evaluate_is_called_not_answered_uniformly():
    class Biased(UniformEvaluator):
        def evaluate(self, planes, legal):
            policy, value = super().evaluate(planes, legal)
            return policy, np.full(len(legal), 0.25, np.float32)

    assert UniformEvaluator.answers_uniformly and not Biased.answers_uniformly
    search = new_search(Biased(5, "agz"), 5, 2, visits=200)
    search.set_root(0, Game(size=5, komi=0.5, max_moves=60))
    search.search(np.array([200]))
    check_tree(search, 200)
    root = search.meta[0, tree.M_ROOT]
    assert search.tf[0, root, tree.F_VALUE] == pytest.approx(0.25)  # its value, not the uniform 0
    search.close()


def test_compiled_rounds_stop_with_nothing_pending_when_another_thread_failed():
    search = new_search(compiled_uniform(5), 5, 1, visits=400)
    search.set_root(0, Game(size=5, komi=0.5, max_moves=60))
    search.search(np.array([50]))
    args = list(search._compiled_args[0])  # the arguments of its own compiled searches, but:
    assert args[6] is search._plan and args[22] is search._chunks[0] and args[23] is search._stop
    args[6] = np.array([400, 0])  # the plan: a target of 400
    args[23] = np.ones(1, np.int64)  # stop, set before the call: one round at most, then back
    args[24:] = 0, 1000  # no spins
    how, evaluations, pending = kernels.search_shared_uniform(*args)
    tree.release_chunk(search.ti[0], search.meta[0], search._chunks[0])
    assert (how, pending) == (kernels.RUN_STOPPED, 0)
    assert 0 < evaluations <= search.leaves  # the round it gathered was applied, not left pending
    check_tree(search, 50 + evaluations)
    search.close()


def test_many_threads_merge_their_batches_into_fewer_forwards():
    evaluator = SerialHashEvaluator(7)
    search = new_search(evaluator, 7, 4, visits=2000)
    search.set_root(0, Game(size=7, komi=0.5, max_moves=60))
    search.search(np.array([2000]))
    check_tree(search, 2000)
    assert evaluator.positions == search.evaluations <= 2000
    assert evaluator.calls == search._merged.forwards
    assert evaluator.calls < 2000 / search.leaves  # some forwards held several threads' batches
    search.close()


# ---------------------------------------------------------------------- known answers ---

@pytest.mark.parametrize("threads", [2, 4, 8])
def test_the_capture_is_still_found_with_many_threads(threads):
    for _ in range(5):
        game = game_from_diagram(CAPTURE, to_play="W", komi=0.5, max_moves=3)
        search = BatchedSearch(uniform(), SearchConfig(), slots=1, size=5, komi=0.5, max_moves=3,
                               max_simulations=400, threads=threads)
        search.set_root(0, game)
        search.search(np.array([400]))
        stats = search.stats(0)
        check_tree(search, 400)
        e4 = from_gtp("E4", 5)
        # one thread: 87% of the visits. A thread preempted while it holds leaves pending steers the
        # others away from its path for a while (virtual loss), so the share varies more with threads
        assert int(np.argmax(stats.visits)) == e4 and stats.visits[e4] > stats.visits.sum() / 3
        assert stats.q[e4] > 0.8  # White wins nearly every line after the capture
        search.close()


def test_an_agent_with_threads_searches_one_tree_and_reports_visits_per_second():
    agent = MctsAgent(HashEvaluator(5), visits=300, threads=2)
    game = game_from_diagram(CAPTURE, to_play="W", komi=0.5, max_moves=40)
    analysis = agent.genmove(game)
    assert agent.search.shared_tree and agent.search.threads == 2
    assert analysis.visits == 300 and analysis.visits_per_second > 0
    analysis = agent.think(game, 50)  # thinking on accumulates, exactly
    assert analysis.visits == 350 and analysis.visits_per_second > 0
    timed = agent.genmove(game, visits=None, seconds=0.2)
    assert timed.visits > 350 and timed.visits_per_second > 0


# ---------------------------------------------------------------------------- failures ---

def test_an_evaluator_error_stops_every_tree_thread_before_search_raises():
    class FailsOnce(SerialHashEvaluator):
        def evaluate(self, planes, legal):
            if self.calls == 5:
                self.calls += 1
                raise RuntimeError("inference server lost")
            return super().evaluate(planes, legal)

    evaluator = FailsOnce(5)
    search = new_search(evaluator, 5, 4, visits=5000)
    search.set_root(0, Game(size=5, komi=0.5, max_moves=60))
    with pytest.raises(RuntimeError, match="inference server lost"):
        search.search(np.array([5000]))
    calls_when_raised = evaluator.calls
    assert search._tree_threads.running == 0  # search() raised only once every tree thread had left
    time.sleep(0.05)
    assert evaluator.calls == calls_when_raised < 100  # the threads stopped early, nothing searched on
    search.close()


def test_merging_evaluations_answer_each_caller_its_rows_and_hand_errors_to_every_caller():
    class Recorder(Evaluator):
        board_size, feature_set = 5, "agz"

        def __init__(self):
            self.sizes = []
            self.release = threading.Event()

        def evaluate(self, planes, legal):
            self.release.wait()
            if (planes == 9).any():
                raise ValueError("bad planes")
            self.sizes.append(len(planes))
            policy = np.repeat(planes[:, 0, 0, :1].astype(np.float32), legal.shape[1], axis=1)
            return policy, planes[:, 0, 0, 0].astype(np.float32)

    recorder = Recorder()
    merging = MergingEvaluations(recorder)
    legal = np.ones((2, 26), bool)
    requests = [np.full((2, 1, 5, 5), k, np.uint8) for k in range(4)]
    futures = [merging.submit(planes, legal) for planes in requests]  # the first forward waits ...
    recorder.release.set()  # ... so the others queue up and travel together
    for k, future in enumerate(futures):
        policy, value = future.result(timeout=30)
        assert value.tolist() == [k, k] and (policy == k).all()
    assert sum(recorder.sizes) == 8 and len(recorder.sizes) < 4
    bad = merging.submit(np.full((1, 1, 5, 5), 9, np.uint8), legal[:1])
    with pytest.raises(ValueError, match="bad planes"):
        bad.result(timeout=30)
    assert merging.submit(requests[1], legal).result(timeout=30)[1].tolist() == [1, 1]  # serves on
    merging.close()
    with pytest.raises(RuntimeError, match="closed"):
        merging.submit(requests[1], legal)


# ------------------------------------------------------------------------ front ends ---

def test_the_terminal_hint_shows_visits_per_second():
    from alphago_lite.play.terminal import PlayOptions, TerminalGame
    out = StringIO()
    agent = MctsAgent(HashEvaluator(5), visits=64, threads=2)
    game = Game(size=5, komi=0.5)
    TerminalGame(agent, game, PlayOptions(visits=64), StringIO("hint\nquit\n"), out).run()
    hint = next(line for line in out.getvalue().splitlines() if "Hint:" in line)
    assert " visits/s" in hint and "64 visits" in hint


def test_gtp_genmove_analyze_reports_visits_per_second_on_stderr_only(capsys):
    from alphago_lite.gtp.engine import EngineConfig, GtpEngine
    from alphago_lite.gtp.transport import serve
    agent = MctsAgent(HashEvaluator(5), visits=64, threads=2)
    engine = GtpEngine(agent, EngineConfig(board_size=5, komi=0.5, visits=64))
    out = StringIO()
    serve(engine, StringIO("lz-genmove_analyze b 1\n"), out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "=" and lines[-2].startswith("play ") and lines[-1] == ""
    assert all(line.startswith("info move ") for line in lines[1:-2])  # the lines Lizzie / Sabaki parse
    assert "visits/s" not in out.getvalue()
    err = capsys.readouterr().err
    assert "64 visits" in err and " visits/s" in err


def test_gtp_analysis_steps_give_every_search_thread_work_and_stop_at_the_visit_limit():
    from alphago_lite.commands.gtp import analysis_step
    from alphago_lite.gtp.engine import EngineConfig
    assert analysis_step(1) == EngineConfig.analysis_step == 16 and analysis_step(4) == 64
    from alphago_lite.gtp.engine import GtpEngine
    from alphago_lite.gtp.transport import serve
    agent = MctsAgent(HashEvaluator(5), visits=100, threads=4)
    out = StringIO()
    serve(GtpEngine(agent, EngineConfig(board_size=5, komi=0.5, visits=100, analysis_step=analysis_step(4))),
          StringIO("lz-genmove_analyze b 1\n"), out)
    assert out.getvalue().startswith("=\ninfo move ") and "\nplay " in out.getvalue()
    assert agent.search.root_visits(0) == 100  # steps of 64, the second cut to 36: not one visit more


def test_bench_search_measures_one_game_at_each_thread_count():
    import argparse

    from alphago_lite.benchmarks.search import one_game_line, our_simulations_per_second, thread_counts
    assert thread_counts("1,2,4") == (1, 2, 4)
    for bad in ("", "0,2", "two"):
        with pytest.raises(argparse.ArgumentTypeError, match="thread counts"):
            thread_counts(bad)
    assert one_game_line(1, 1000.0, 1, 1000.0) == "ours, 1 thread, 1 game: 1,000 simulations/s"
    assert one_game_line(2, 1800.0, 1, 1000.0) == ("ours, 2 threads, 1 game: 1,800 simulations/s (1.80x 1 thread; "
                                                   "target >= 1.7; the threads search one tree)")
    rates = our_simulations_per_second(5, 64, 1, (1, 2), seconds=0.2)
    assert len(rates) == 2 and min(rates) > 0
    rates = our_simulations_per_second(5, 64, 1, (1, 2), seconds=0.2, separate_trees=True)
    assert len(rates) == 3 and min(rates) > 0  # the peer's figure last


@pytest.mark.slow
def test_bench_search_measures_one_game_with_a_net_at_each_thread_count(capsys):
    """``--net``: the one-game figures again with a real net answering (the 5x5 net shipped in the
    package, on the CPU here); issue 14's GPU target reads 16 threads against one."""
    import re

    from alphago_lite.benchmarks.search import one_game_line
    from alphago_lite.cli import main
    assert main(["bench", "search", "--size", "5", "--net", "shipped", "--device", "cpu", "--game-threads", "1,2",
                 "--simulations", "16", "--seconds", "0.4", "--slots", "1", "--no-openspiel", "--no-selfplay"]) == 0
    out = capsys.readouterr().out
    rates = {int(threads): float(rate.replace(",", "")) for threads, rate in re.findall(
        r"^ours, (\d) threads?, 1 game, net go5 \(5x5, 4x32\) on cpu, (?:fp32|bf16): ([\d,]+) simulations/s", out,
        re.MULTILINE)}
    assert set(rates) == {1, 2} and min(rates.values()) > 0, out
    ratio = float(re.search(r"net go5 .*: [\d,]+ simulations/s \(([\d.]+)x 1 thread; the threads", out).group(1))
    assert ratio == pytest.approx(rates[2] / rates[1], abs=0.011)
    assert "host steal during the one-game measurement with the net" in out
    assert "target >= 6;" in one_game_line(16, 6100.0, 1, 1000.0, "net go9 (9x9, 6x64) on cuda:0")
    assert "target" not in one_game_line(2, 1800.0, 1, 1000.0, "net go9 (9x9, 6x64) on cuda:0")
    for wrong, said in ((["--net", "missing.pt"], "--net missing.pt: no such checkpoint file"),
                        (["--size", "13", "--net", "shipped"], "no shipped net for 13x13 (shipped: go5 (5x5)")):
        assert main(["bench", "search", *wrong, "--no-openspiel", "--no-selfplay"]) == 2
        captured = capsys.readouterr()
        assert said in captured.err and not captured.out  # said before any measurement


def test_bench_search_peer_searches_the_same_positions_on_two_separate_trees():
    """The peer of two threads on one tree: two one-thread searches at once, each on its own tree, of the
    positions the first run played; one thread on one tree is deterministic, so each of the two does
    exactly what a lone one-thread search does on those positions, and the peer counts both."""
    from alphago_lite.benchmarks.search import SelfPlayingSearch, SeparateTrees, separate_trees_line
    first, lone, pair = SelfPlayingSearch(5, 48, 1, 1), SelfPlayingSearch(5, 48, 1, 1), SeparateTrees(5, 48, 8)
    moves = [first.move()[2] for _ in range(12)]
    lone_done, _ = lone.block(moves)
    pair_done, seconds = pair.block(moves)
    assert lone_done > 12 and pair_done == 2 * lone_done and seconds > 0
    for run in pair.runs:
        assert run.games[0].history == first.games[0].history == lone.games[0].history
    for run in (first, lone, pair):
        run.close()
    assert separate_trees_line(1800.0, 1000.0, 1620.0) == (
        "peer, 2 separate trees at once (1 thread each, same positions): 1,800 simulations/s (1.80x 1 thread: "
        "what this machine gives two threads that share nothing; 2 threads on one tree made 0.90x that)")


def test_bench_search_measures_each_thread_count_on_the_first_ones_positions():
    from alphago_lite.benchmarks.search import SelfPlayingSearch
    first, follower = SelfPlayingSearch(5, 48, 1, 1), SelfPlayingSearch(5, 48, 1, 2)
    # moves that no search of its own would choose: the corner points, in order
    corners = [0, 4, 20, 24]
    for corner in corners:
        assert follower.move([corner])[2] == [corner]
    assert follower.games[0].history == corners
    follower.games[0] = follower._new_game(0)
    for _ in range(8):
        _, _, moves = first.move()
        done, _, played = follower.move(moves)
        assert played == moves and done > 0
        assert follower.games[0].history == first.games[0].history
    first.search.close()
    follower.search.close()


# 4 and 8 threads take seconds each: the slow tier (2 threads stays in the quick one)
@pytest.mark.parametrize("threads", [2, pytest.param(4, marks=pytest.mark.slow),
                                     pytest.param(8, marks=pytest.mark.slow)])
def test_a_tiny_tree_under_heavy_contention_stays_valid(threads):
    """Every thread fights over the same few nodes (3x3, one leaf per round, evaluated in the search
    threads themselves): the runs where a lost update or a double claim would show first."""
    search = new_search(AtOnceHashEvaluator(3), 3, threads, visits=3000, leaves_per_round=1)
    for _ in range(10):
        search.set_root(0, Game(size=3, komi=0.5, max_moves=30))
        search.search(np.array([3000]))
        check_tree(search, 3000)
    search.close()


def test_a_search_dropped_without_close_ends_its_resident_helpers():
    """With the uniform evaluator the helpers serve searches in compiled code (TreeThreads' resident call):
    that call holds the search's arrays, never the search, so a search nobody closed is still collected
    and its helpers end."""
    import gc
    import threading
    import time

    def helpers():
        return [t for t in threading.enumerate() if t.name.startswith("tree-thread")]

    before = set(helpers())
    search = new_search(compiled_uniform(5), 5, 3, visits=1000)
    search.set_root(0, Game(size=5, komi=0.5, max_moves=60))
    # a search published while the helpers still spin in their resident calls (~2 ms after the last)
    # runs there; after a longer gap they sleep, and the next search wakes them and runs in Python
    for target in range(100, 1100, 100):
        search.search(np.array([target]))
    check_tree(search, 1000)
    assert search._outcomes[1:, kernels.OUTCOME_EVALUATIONS].sum() > 0
    mine = set(helpers()) - before
    assert len(mine) == 2
    del search
    gc.collect()
    deadline = time.monotonic() + 5
    while any(t.is_alive() for t in mine) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not any(t.is_alive() for t in mine)


def test_bench_search_games_play_a_most_visited_move_with_ties_broken_by_a_seed():
    """With the uniform evaluator most moves tie; a first-of-the-ties choice played the board in index
    order, the same game every time (SelfPlayingSearch says why that skewed the figures)."""
    from alphago_lite.benchmarks.search import SelfPlayingSearch, most_visited
    visits = np.array([3, 5, 1, 5, 5], np.int32)
    assert [most_visited(visits, u) for u in (0.0, 0.33, 0.34, 0.66, 0.67, 0.999)] == [1, 1, 3, 3, 4, 4]
    assert most_visited(np.array([0, 0, 9], np.int32), 0.5) == 2
    runs = [SelfPlayingSearch(5, 48, 1, 1) for _ in range(2)]
    runs[0].search.search(np.full(1, 48))
    visits = runs[0].search.stats(0).visits
    most_visited = set(np.flatnonzero(visits == visits.max()).tolist())
    assert len(most_visited) > 1  # a tie to break at the very first move
    assert runs[0].move()[2][0] in most_visited
    for _ in range(9):
        runs[0].move()
    for _ in range(10):
        runs[1].move()
    history = runs[0].games[0].history
    assert history == runs[1].games[0].history  # seeded: every run of the benchmark plays these games
    assert history[:4] != [0, 1, 2, 3]
    for run in runs:
        run.close()
