"""Batched PUCT search: hand-computed scores, known-answer positions, noise, reuse, virtual loss, threads
(tree parallelism on one game has its own file, test_tree_parallel.py).

Known-answer positions use the uniform evaluator (value 0 everywhere), so all signal comes from
terminal positions: ``max_moves=3`` makes every line end, and be scored, three moves from the root.
"""
import math

import numpy as np
import pytest

from alphago_lite.config import SearchConfig
from alphago_lite.go import from_gtp, game_from_diagram
from alphago_lite.net.evaluator import Evaluator, UniformEvaluator
from alphago_lite.search import BatchedSearch, params_vector, tree

# White to move. E4 captures the black stone on E3, which also saves White's three stones.
CAPTURE = """
. . . . .
. X X X .
. O O O X
. X X X O
. . . . .
"""
# White to move: its four stones have one liberty, D2; extending there gives them two, which Black
# cannot fill in the one move left. Komi 13.5 puts the game on those stones: White wins iff they live.
SAVE = """
. . . . .
X X X X X
O O O O X
X X X . .
. . . . .
"""


def uniform(size: int = 5) -> UniformEvaluator:
    evaluator = UniformEvaluator(size, "agz")
    evaluator.needs_planes = False  # the uniform evaluator never looks at the planes
    return evaluator


def searched(diagram: str, komi: float, visits: int, slots: int = 1, threads: int = 1, **cfg):
    game = game_from_diagram(diagram, to_play="W", komi=komi, max_moves=3)
    search = BatchedSearch(uniform(game.size), SearchConfig(**cfg), slots=slots, size=game.size, komi=komi, max_moves=3,
                           max_simulations=visits, threads=threads)
    for slot in range(slots):
        search.set_root(slot, game)
    search.search(np.full(slots, visits))
    return search, game


# ------------------------------------------------------------------------- PUCT by hand ---

def visit(ti, tf, meta, node, value, priors=None):
    """One simulation ending at node: virtual loss on the path, optional expansion, backup."""
    tree.add_virtual_loss(ti, node)
    if priors is not None:
        tree.expand(ti, tf, meta, node, priors > 0, priors)
    tree.backup(ti, tf, node, value)


def scores(ti, tf, node, params):
    out = np.zeros(8)
    count = tree.puct_scores(ti, tf, node, params, out)
    return out[:count]


@pytest.mark.parametrize("log_growth", [False, True])
def test_puct_scores_after_one_and_two_expansions_match_the_formula(log_growth):
    cfg = SearchConfig(c_puct=1.5, c_puct_base=10.0, c_puct_log_growth=log_growth, fpu_reduction=0.3)
    params = params_vector(cfg, komi=0.5)

    def c(parent_n):
        return 1.5 + (math.log((1 + parent_n + 10.0) / 10.0) if log_growth else 0.0)

    ti, tf, meta = (a[0] for a in tree.new_trees(1, 64))
    root = int(meta[tree.M_ROOT])
    # priors exact in float32 (the network's dtype) so that the comparison can be exact
    priors = np.array([0.5, 0.0, 0.375, 0.125], np.float32)  # move 1 is illegal: no child
    visit(ti, tf, meta, root, 0.4, priors)  # the root's own evaluation: +0.4 for the player to move
    assert ti[root, tree.I_NCHILD] == 3
    # N(root)=1, nothing visited: first-play urgency is the parent's value, no reduction
    expected = [0.4 + c(1) * p * 1.0 / 1 for p in (0.5, 0.375, 0.125)]
    np.testing.assert_allclose(scores(ti, tf, root, params), expected, rtol=1e-12)

    first = int(ti[root, tree.I_FIRST])
    visit(ti, tf, meta, first, 0.6, np.array([0.0, 0.625, 0.125, 0.25], np.float32))
    # child a: W = -0.6 (its mover's view), N=1. Root: N=2, W = -0.4 + 0.6 (mover's view of the root)
    root_q = -(-0.4 + 0.6) / 2  # the root's value for the player to move there
    fpu = root_q - 0.3 * math.sqrt(0.5)
    expected = [-0.6 + c(2) * 0.5 * math.sqrt(2) / 2,
                fpu + c(2) * 0.375 * math.sqrt(2) / 1,
                fpu + c(2) * 0.125 * math.sqrt(2) / 1]
    np.testing.assert_allclose(scores(ti, tf, root, params), expected, rtol=1e-12)
    # the second expansion's children: parent N=1, Q(parent) for the player to move there = 0.6
    expected = [0.6 + c(1) * p for p in (0.625, 0.125, 0.25)]
    np.testing.assert_allclose(scores(ti, tf, first, params), expected, rtol=1e-12)

    # a pending leaf under child a counts as a lost visit there: Q = (W - 1) / (N + 1)
    tree.add_virtual_loss(ti, int(ti[first, tree.I_FIRST]))
    expected = [(-0.6 - 1.0) / 2 + c(3) * 0.5 * math.sqrt(3) / 3,
                fpu + c(3) * 0.375 * math.sqrt(3),
                fpu + c(3) * 0.125 * math.sqrt(3)]
    np.testing.assert_allclose(scores(ti, tf, root, params), expected, rtol=1e-12)
    best = int(np.argmax(expected))
    assert tree.select_child(ti, tf, root, params, np.zeros(8)) == first + best


def test_fpu_reduction_grows_with_the_visited_prior():
    params = params_vector(SearchConfig(c_puct=1.0, c_puct_log_growth=False, fpu_reduction=0.5), 0.5)
    ti, tf, meta = (a[0] for a in tree.new_trees(1, 64))
    root = int(meta[tree.M_ROOT])
    visit(ti, tf, meta, root, 0.0, np.array([0.25, 0.25, 0.25, 0.25], np.float32))
    first = int(ti[root, tree.I_FIRST])
    visit(ti, tf, meta, first, 0.0)
    visit(ti, tf, meta, first + 1, 0.0)
    # parent Q 0, visited prior 0.5: unvisited children get -0.5 * sqrt(0.5) + U with N(s)=3, N(a)=0
    unvisited = -0.5 * math.sqrt(0.5) + 0.25 * math.sqrt(3)
    np.testing.assert_allclose(scores(ti, tf, root, params)[2:], [unvisited, unvisited], rtol=1e-12)


# ------------------------------------------------------------------------ known answers ---

def test_uniform_search_finds_the_capture():
    search, _ = searched(CAPTURE, komi=0.5, visits=400)
    stats = search.stats(0)
    assert stats.total_visits == 400
    assert int(np.argmax(stats.visits)) == from_gtp("E4", 5)
    assert stats.visits[from_gtp("E4", 5)] > 0.6 * stats.visits.sum()
    assert stats.q[from_gtp("E4", 5)] > 0.8  # White wins nearly every line after the capture


def test_uniform_search_finds_the_only_saving_move():
    search, _ = searched(SAVE, komi=13.5, visits=400)
    stats = search.stats(0)
    assert int(np.argmax(stats.visits)) == from_gtp("D2", 5)
    assert stats.visits[from_gtp("D2", 5)] > 0.5 * stats.visits.sum()
    assert search.principal_variation(0, from_gtp("D2", 5))[0] == from_gtp("D2", 5)


# ------------------------------------------------------------------ noise, reuse, loss ---

def test_root_noise_mixes_dirichlet_into_root_priors_only():
    search, _ = searched(CAPTURE, komi=0.5, visits=50)
    before_tf = search.tf[0].copy()
    search.add_root_noise(0, np.random.default_rng(1), alpha=0.3, weight=0.0)
    np.testing.assert_array_equal(search.tf[0], before_tf)  # weight 0: nothing changes

    search.add_root_noise(0, np.random.default_rng(1), alpha=0.3, weight=0.25)
    root = search.meta[0, tree.M_ROOT]
    first, count = search.ti[0, root, tree.I_FIRST], search.ti[0, root, tree.I_NCHILD]
    noise = np.random.default_rng(1).dirichlet([0.3] * count)
    kids = slice(first, first + count)
    np.testing.assert_allclose(search.tf[0, kids, tree.F_P], 0.75 * before_tf[kids, tree.F_P] + 0.25 * noise)
    assert search.tf[0, kids, tree.F_P].sum() == pytest.approx(1.0)
    others = np.ones(len(before_tf), bool)
    others[kids] = False
    np.testing.assert_array_equal(search.tf[0, others], before_tf[others])  # deeper priors untouched


def subtree(ti, tf, node):
    """A node's subtree independent of node ids: (move, N, W, P, children in order)."""
    kids = []
    if ti[node, tree.I_STATUS] == tree.EXPANDED:
        first = ti[node, tree.I_FIRST]
        kids = [subtree(ti, tf, first + i) for i in range(ti[node, tree.I_NCHILD])]
    return (int(ti[node, tree.I_MOVE]), int(ti[node, tree.I_N]), float(tf[node, tree.F_W]), float(tf[node, tree.F_P]),
            kids)


@pytest.mark.parametrize("room_left", [True, False])
def test_a_move_keeps_its_subtree_in_place_while_there_is_room_and_compacts_it_when_not(room_left):
    search, _ = searched(CAPTURE, komi=0.5, visits=300)
    ti, tf, meta = search.ti[0], search.tf[0], search.meta[0]
    child = tree.child_for_move(ti, meta, from_gtp("E4", 5))
    kept, used = subtree(ti, tf, child), int(meta[tree.M_USED])
    room = ti.shape[0] - used if room_left else ti.shape[0] - used + 1
    tree.reroot(ti, tf, meta, child, search._tmp_i, search._tmp_f, room)
    root = int(meta[tree.M_ROOT])
    assert subtree(ti, tf, root) == kept and ti[root, tree.I_PARENT] == -1
    if room_left:  # left in place: the nodes before it are unreachable until a compaction
        assert root == child and meta[tree.M_USED] == used
    else:  # compacted to the front, breadth first: the root is node 1, its children from node 2
        assert root == 1 and ti[1, tree.I_FIRST] == 2
        nodes = 1 + sum(ti[n, tree.I_NCHILD] for n in range(1, meta[tree.M_USED])
                        if ti[n, tree.I_STATUS] == tree.EXPANDED)
        assert meta[tree.M_USED] == 1 + nodes < used


@pytest.mark.parametrize("reuse", [True, False])
def test_tree_reuse_keeps_the_chosen_subtree_counts(reuse):
    search, game = searched(CAPTURE, komi=0.5, visits=300, reuse_tree=reuse)
    move = from_gtp("E4", 5)
    child = tree.child_for_move(search.ti[0], search.meta[0], move)
    child_visits = int(search.ti[0, child, tree.I_N])
    first, count = search.ti[0, child, tree.I_FIRST], search.ti[0, child, tree.I_NCHILD]
    grandchildren = {int(search.ti[0, k, tree.I_MOVE]): int(search.ti[0, k, tree.I_N])
                     for k in range(first, first + count)}
    assert child_visits > 100 and sum(grandchildren.values()) == child_visits - 1

    game.play(move)
    search.advance(0, game, move)
    stats = search.stats(0)
    if reuse:
        assert search.root_visits(0) == child_visits
        assert {m: int(stats.visits[m]) for m in grandchildren} == grandchildren
        assert stats.visits.sum() == child_visits - 1
    else:
        assert search.root_visits(0) == 0 and stats.visits.sum() == 0
    search.search(np.array([child_visits + 50]))  # searching on from the kept subtree tops it up
    assert search.root_visits(0) == child_visits + 50
    assert search.pending_virtual_loss(0) == 0


@pytest.mark.parametrize("slots, threads", [(1, 1), (3, 1), (4, 2)])
def test_no_virtual_loss_remains_after_a_search(slots, threads):
    search, _ = searched(CAPTURE, komi=0.5, visits=200, slots=slots, threads=threads, leaves_per_round=8)
    for slot in range(slots):
        assert search.pending_virtual_loss(slot) == 0
        assert search.root_visits(slot) == 200


def test_two_threads_give_exact_visit_totals_and_the_right_move():
    targets = np.array([400, 250, 0, 400, 123])
    game = game_from_diagram(CAPTURE, to_play="W", komi=0.5, max_moves=3)
    search = BatchedSearch(uniform(), SearchConfig(leaves_per_round=16), slots=len(targets), size=5, komi=0.5,
                           max_moves=3, max_simulations=400, threads=2)
    assert search.threads == 2
    for slot in range(len(targets)):
        search.set_root(slot, game)
    search.search(targets)
    for slot, target in enumerate(targets):
        stats = search.stats(slot)
        assert stats.total_visits == target
        assert search.pending_virtual_loss(slot) == 0
        if target >= 250:
            assert int(np.argmax(stats.visits)) == from_gtp("E4", 5)
    search.close()


def test_a_single_game_with_many_leaves_in_flight_still_finds_the_capture():
    """Low-latency play mode: both batches come from one tree, kept apart by virtual loss."""
    search, _ = searched(CAPTURE, komi=0.5, visits=400, leaves_per_round=32)
    stats = search.stats(0)
    assert stats.total_visits == 400 and search.pending_virtual_loss(0) == 0
    assert int(np.argmax(stats.visits)) == from_gtp("E4", 5)


def test_a_single_game_searched_by_two_threads_finds_the_capture_with_exact_totals():
    """The play mode: one game, both threads searching its tree. Same visit total, no pending virtual
    loss, and the capturing move, as with one thread."""
    search, _ = searched(CAPTURE, komi=0.5, visits=400, threads=2)
    assert search.threads == 2 and search.shared_tree
    stats = search.stats(0)
    assert stats.total_visits == 400
    assert search.pending_virtual_loss(0) == 0
    assert int(np.argmax(stats.visits)) == from_gtp("E4", 5)


class HashEvaluator(Evaluator):
    """A policy and a value that depend on every plane, deterministically: a varied search without torch."""

    def __init__(self, size: int):
        self.board_size, self.feature_set = size, "agz"

    def evaluate(self, planes, legal):
        x = planes.reshape(len(planes), -1).astype(np.int64)
        h = (x * ((np.arange(x.shape[1]) * 2654435761) % 1000)).sum(1)
        value = ((h % 2001) / 1000.0 - 1.0).astype(np.float32)
        logits = ((h[:, None] + np.arange(legal.shape[1]) * 7919) % 97) / 20.0
        p = np.where(legal, np.exp(logits), 0.0)
        return (p / p.sum(1, keepdims=True)).astype(np.float32), value


# Root visits per move (pass last) and root value, recorded from the search before tree parallelism
# (alphago_lite/search at 11ee739): one thread on one game, and two threads over three games.
RECORDED_PUCT = [8, 1, 1, 21, 3, 126, 0, 0, 0, 11, 1, 0, 0, 0, 0, 3, 0, 0, 0, 0, 2, 57, 52, 1, 12, 0]
RECORDED_GUMBEL = [15, 5, 15, 5, 5, 5, 0, 0, 0, 5, 82, 0, 0, 0, 0, 5, 0, 0, 0, 0, 5, 83, 15, 39, 15, 0]


@pytest.mark.parametrize("slots, threads, algorithm, recorded, value, best", [
    (1, 1, "puct", RECORDED_PUCT, -0.018296667, 5),
    (3, 2, "puct", RECORDED_PUCT, -0.018296667, 5),
    (1, 1, "gumbel", RECORDED_GUMBEL, -0.043133333, 21)])
def test_one_thread_per_game_searches_exactly_as_before_tree_parallelism(slots, threads, algorithm, recorded,
                                                                         value, best):
    game = game_from_diagram(CAPTURE, to_play="W", komi=0.5, max_moves=40)
    search = BatchedSearch(HashEvaluator(5), SearchConfig(algorithm=algorithm), slots=slots, size=5, komi=0.5,
                           max_moves=40, max_simulations=300, threads=threads)
    assert not search.shared_tree
    for slot in range(slots):
        search.set_root(slot, game)
    search.search(np.full(slots, 300))
    for slot in range(slots):
        stats = search.stats(slot)
        assert stats.visits.tolist() == recorded
        assert stats.value == pytest.approx(value, abs=1e-9)
        assert stats.best_move == best
    search.close()


def test_an_evaluator_error_in_one_thread_stops_every_search_thread_before_search_raises():
    """search() must not return (here: raise) while another thread still changes the trees."""

    class FailsOnce(UniformEvaluator):
        def __init__(self):
            super().__init__(5, "agz")
            self.needs_planes = False
            self.calls = 0

        def evaluate(self, planes, legal):
            self.calls += 1
            if self.calls == 3:
                raise RuntimeError("inference server lost")
            return super().evaluate(planes, legal)

    evaluator = FailsOnce()
    game = game_from_diagram(CAPTURE, to_play="W", komi=0.5, max_moves=50)
    search = BatchedSearch(evaluator, SearchConfig(), slots=4, size=5, komi=0.5, max_moves=50,
                           max_simulations=2000, threads=2)
    for slot in range(4):
        search.set_root(slot, game)
    with pytest.raises(RuntimeError, match="inference server lost"):
        search.search(np.full(4, 2000))
    calls_when_raised = evaluator.calls
    search._pool.submit(lambda: None).result()  # the other search thread's pool is idle again
    assert evaluator.calls == calls_when_raised  # nothing searched on after the error
    assert calls_when_raised < 100  # and the healthy thread stopped early, not after 2000 visits
