"""Gumbel search (alphago_lite/search/gumbel.py): the Sequential Halving schedule, completed Q, pi', the
two selection rules and the move choice by hand; then whole searches with batches, threads, reuse and
the play agent on drawn positions."""
import math

import numpy as np
import pytest

from alphago_lite.agents.mcts import MctsAgent
from alphago_lite.config import SearchConfig
from alphago_lite.go import Game, from_gtp, game_from_diagram
from alphago_lite.net.evaluator import UniformEvaluator
from alphago_lite.search import BatchedSearch, gumbel, params_vector, tree
from alphago_lite.selfplay.records import area_ownership

# White to move. E4 captures the black stone on E3; with komi 0.5 that is White's only winning move
# (every other move leaves Black ahead by area).
CAPTURE = """
. . . . .
. X X X .
. O O O X
. X X X O
. . . . .
"""
E4 = from_gtp("E4", 5)
A1 = from_gtp("A1", 5)


class FixedPrior(UniformEvaluator):
    """The same prior for every position (renormalised over its legal moves); value from ``value_of``,
    0 by default."""

    def __init__(self, prior: np.ndarray, size: int = 5, needs_planes: bool = False):
        super().__init__(size, "agz")
        self.prior = np.asarray(prior, np.float64)
        self.needs_planes = needs_planes

    def evaluate(self, planes, legal):
        policy = np.where(legal, self.prior, 0.0)
        policy /= policy.sum(axis=1, keepdims=True)
        return policy.astype(np.float32), self.value_of(planes)

    def value_of(self, planes):
        return np.zeros(len(planes), np.float32)


class AreaValue(FixedPrior):
    """A fixed prior and, as value, who leads by Tromp-Taylor area (+1 / -1 for the player to move):
    a 'net' that reads the board but whose policy knows nothing."""

    def __init__(self, prior: np.ndarray, komi: float, size: int = 5):
        super().__init__(prior, size, needs_planes=True)
        self.komi = komi

    def value_of(self, planes):
        values = np.zeros(len(planes), np.float32)
        for row, p in enumerate(planes):  # agz: own stones at t = plane 0, opponent's = plane 8
            black_to_move = p[16, 0, 0] == 1
            board = p[0].astype(np.int8) - p[8].astype(np.int8)
            if not black_to_move:
                board = -board
            owner = area_ownership(board)
            black_lead = (owner == 1).sum() - (owner == -1).sum() - self.komi
            values[row] = np.sign(black_lead) * (1 if black_to_move else -1)
        return values


def prior_away_from_the_capture() -> np.ndarray:
    """Half the prior on A1 (a losing move), E4 second, the rest spread evenly."""
    prior = np.full(26, 0.44 / 24)
    prior[A1], prior[E4] = 0.5, 0.06
    return prior


# ------------------------------------------------------------------- visit schedule ---

# Final visits of the considered moves, best first, after Sequential Halving with n simulations over m
# moves, by the paper's rule: each round gives each of its c moves max(1, n // (ceil(log2 m) * c))
# visits, then keeps the better half (at least 2); rounds of 2 repeat and the budget cuts the last one.
EXPECTED_VISITS = {
    (2, 2): [1, 1], (2, 4): [2, 2], (2, 8): [4, 4], (2, 16): [8, 8], (2, 32): [16, 16], (2, 100): [50, 50],
    (4, 2): [1, 1, 0, 0], (4, 4): [1, 1, 1, 1], (4, 8): [3, 3, 1, 1], (4, 16): [6, 6, 2, 2],
    (4, 32): [12, 12, 4, 4], (4, 100): [38, 38, 12, 12],  # 12 each, 25 each, then 1 each of a round of 25
    (16, 2): [1, 1] + [0] * 14, (16, 4): [1] * 4 + [0] * 12, (16, 8): [1] * 8 + [0] * 8, (16, 16): [1] * 16,
    (16, 32): [4] * 4 + [2] * 4 + [1] * 8,
    (16, 100): [28, 28, 10, 10, 4, 4, 4, 4] + [1] * 8,  # rounds of 1, 3, 6, 12 visits, then 6 of 12
}


def test_the_schedule_of_one_search_round_by_round():
    # m 4, n 16: two rounds; 16 // (2 * 4) = 2 visits for each of 4 moves, then 16 // (2 * 2) = 4 for 2
    np.testing.assert_array_equal(gumbel.visit_schedule(4, 16), [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5])
    # m 16, n 32: 16 moves once, 8 moves once, 4 moves twice
    np.testing.assert_array_equal(gumbel.visit_schedule(16, 32), [0] * 16 + [1] * 8 + [2, 2, 2, 2, 3, 3, 3, 3])
    assert [gumbel.halving_rounds(m) for m in (1, 2, 3, 4, 5, 16, 17)] == [0, 1, 2, 2, 3, 4, 5]


@pytest.mark.parametrize("m, n", sorted(EXPECTED_VISITS))
def test_sequential_halving_on_a_bandit_spends_exactly_n_as_the_paper_rounds(m, n):
    """Arm j is better than arm j + 1; each simulation goes to the best arm with the scheduled count."""
    visits = np.zeros(m, np.int64)
    for k in range(n):
        eligible = np.flatnonzero(visits == gumbel.considered_visit(m, n, k))
        visits[eligible[0]] += 1
    assert visits.sum() == n
    assert visits.tolist() == EXPECTED_VISITS[(m, n)]


@pytest.mark.parametrize("m, n", sorted(EXPECTED_VISITS))
def test_the_root_of_a_real_search_follows_the_schedule(m, n):
    """Empty 5x5 board, value 0 everywhere (all Q equal), distinct priors: the root's child visits are
    the bandit's, by prior rank, although 8 leaves per round and two batches are in flight."""
    prior = np.arange(1, 27, dtype=np.float64)[::-1]  # move 0 most likely, then 1, ...
    cfg = SearchConfig(algorithm="gumbel", gumbel_considered=m, leaves_per_round=8)
    search = BatchedSearch(FixedPrior(prior), cfg, slots=1, size=5, komi=0.5, max_moves=50, max_simulations=n)
    search.set_root(0, Game(size=5, komi=0.5, max_moves=50))
    target = search.start_gumbel(0, n)
    assert target == n + 1  # the root's own evaluation, then n simulations
    search.search(np.array([target]))
    stats = search.stats(0)
    assert stats.total_visits == n + 1 and search.pending_virtual_loss(0) == 0
    expected = EXPECTED_VISITS[(m, n)]
    np.testing.assert_array_equal(stats.visits[:len(expected)], expected)
    assert stats.visits.sum() == n
    assert stats.best_move == 0  # a final-round move; the highest prior among equal values


# ---------------------------------------------------------------- arithmetic by hand ---

def visit(ti, tf, meta, node, value, priors=None):
    """One simulation ending at node (value for the player to move there), expanding it if priors."""
    tree.add_virtual_loss(ti, node)
    if priors is not None:
        tree.expand(ti, tf, meta, node, priors > 0, priors)
        tf[node, tree.F_VALUE] = value
    tree.backup(ti, tf, node, value)


def hand_tree():
    """Root (raw value 0.2) with priors 0.5, 0.25, 0.125, 0.125; child a visited twice (Q 0.6 for the
    root's player), child b once (Q -0.3), c and d never."""
    ti, tf, meta = (a[0] for a in tree.new_trees(1, 64))
    root = int(meta[tree.M_ROOT])
    visit(ti, tf, meta, root, 0.2, np.array([0.5, 0.25, 0.125, 0.125], np.float32))
    first = int(ti[root, tree.I_FIRST])
    visit(ti, tf, meta, first, -0.5)  # values at a child are for its player to move: Q(a) = 0.5 ...
    visit(ti, tf, meta, first, -0.7)  # ... and 0.7, mean 0.6
    visit(ti, tf, meta, first + 1, 0.3)
    return ti, tf, root, first


def test_completed_q_fills_unvisited_moves_with_the_mixed_value():
    ti, tf, root, _ = hand_tree()
    out = np.zeros(4)
    assert gumbel.completed_q(ti, tf, root, out) == 4
    # prior-weighted Q of the visited: (0.5 * 0.6 + 0.25 * -0.3) / 0.75 = 0.3;
    # mixed value: (raw 0.2 + 3 visits * 0.3) / (1 + 3) = 0.275
    np.testing.assert_allclose(out, [0.6, -0.3, 0.275, 0.275], rtol=1e-12)


def test_completed_q_without_visits_is_the_raw_value():
    ti, tf, meta = (a[0] for a in tree.new_trees(1, 64))
    root = int(meta[tree.M_ROOT])
    visit(ti, tf, meta, root, -0.4, np.array([0.5, 0.5], np.float32))
    out = np.zeros(2)
    gumbel.completed_q(ti, tf, root, out)
    np.testing.assert_allclose(out, [-0.4, -0.4])
    # all equal: sigma is 0 and pi' is the prior
    gumbel.improved_policy(ti, tf, root, params_vector(SearchConfig(algorithm="gumbel"), 0.5), out)
    np.testing.assert_allclose(out, [0.5, 0.5])


@pytest.mark.parametrize("c_visit, c_scale", [(50.0, 1.0), (10.0, 0.1)])
def test_improved_policy_is_the_softmax_of_logits_plus_sigma(c_visit, c_scale):
    ti, tf, root, _ = hand_tree()
    params = params_vector(SearchConfig(algorithm="gumbel", c_visit=c_visit, c_scale=c_scale), 0.5)
    q = np.array([0.6, -0.3, 0.275, 0.275])
    rescaled = (q - q.min()) / (q.max() - q.min())           # [1, 0, 0.625, 0.625]
    sigma = (c_visit + 2) * c_scale * rescaled               # the most visited child has 2 visits
    logits = np.log([0.5, 0.25, 0.125, 0.125]) + sigma
    expected = np.exp(logits) / np.exp(logits).sum()
    out = np.zeros(4)
    gumbel.improved_policy(ti, tf, root, params, out)
    np.testing.assert_allclose(out, expected, rtol=1e-9)
    sig = np.zeros(4)
    gumbel.sigma_completed_q(ti, tf, root, params, sig)
    np.testing.assert_allclose(sig, sigma, rtol=1e-9)


def test_interior_selection_brings_visits_towards_the_improved_policy():
    ti, tf, root, first = hand_tree()
    params = params_vector(SearchConfig(algorithm="gumbel", c_visit=0.0, c_scale=1.0), 0.5)
    pi = np.zeros(4)
    gumbel.improved_policy(ti, tf, root, params, pi)
    visits = np.array([2, 1, 0, 0])
    scores = pi - visits / (1 + visits.sum())
    chosen = [gumbel.select_interior(ti, tf, root, params, np.zeros(4)) - first]
    assert chosen[0] == int(np.argmax(scores))
    # pending leaves count as visits (not as values: pi' stays), so the walks spread out
    for _ in range(3):
        tree.add_virtual_loss(ti, first + chosen[-1])
        visits[chosen[-1]] += 1
        scores = pi - visits / (1 + visits.sum())
        chosen.append(gumbel.select_interior(ti, tf, root, params, np.zeros(4)) - first)
        assert chosen[-1] == int(np.argmax(scores))
    assert len(set(chosen)) > 1


def test_the_move_is_the_best_by_noise_logits_and_sigma_among_the_most_visited():
    ti, tf, root, first = hand_tree()
    params = params_vector(SearchConfig(algorithm="gumbel"), 0.5)
    base = np.zeros(26, np.int64)
    moves = ti[first:first + 4, tree.I_MOVE]
    noise = np.zeros(26)
    assert gumbel.choose_move(ti, tf, root, params, noise, base, np.zeros(4)) == moves[0]  # 2 visits
    noise[moves[1]] = 1000.0  # noise cannot lift a move with fewer visits ...
    assert gumbel.choose_move(ti, tf, root, params, noise, base, np.zeros(4)) == moves[0]
    base[moves[0]] = 1  # ... but among equals in this search (1 visit each) it decides
    assert gumbel.choose_move(ti, tf, root, params, noise, base, np.zeros(4)) == moves[1]


# ------------------------------------------------------------------- whole searches ---

def capture_search(n: int, slots: int = 1, threads: int = 1, **cfg) -> BatchedSearch:
    game = game_from_diagram(CAPTURE, to_play="W", komi=0.5, max_moves=3)
    search = BatchedSearch(AreaValue(prior_away_from_the_capture(), 0.5), SearchConfig(algorithm="gumbel", **cfg),
                           slots=slots, size=5, komi=0.5, max_moves=3, max_simulations=n, threads=threads)
    targets = np.zeros(slots, np.int64)
    for slot in range(slots):
        search.set_root(slot, game)
        targets[slot] = search.start_gumbel(slot, n)
    search.search(targets)
    return search


def test_eight_simulations_find_the_capture_that_the_prior_misses():
    search = capture_search(8)
    stats = search.stats(0)
    assert int(np.argmax(stats.priors)) == A1  # the prior points elsewhere
    assert stats.visits.sum() == 8  # 8 of the 14 moves, once each
    assert stats.best_move == E4
    assert int(np.argmax(stats.improved_policy)) == E4 and stats.improved_policy[E4] > 0.99
    assert stats.improved_policy.sum() == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("slots, threads, leaves", [(1, 1, 32), (1, 2, 8), (4, 2, 8)])
def test_batches_threads_and_virtual_loss_keep_exact_budgets(slots, threads, leaves):
    search = capture_search(32, slots=slots, threads=threads, leaves_per_round=leaves)
    for slot in range(slots):
        stats = search.stats(slot)
        assert stats.visits.sum() == 32 and stats.total_visits == 33
        assert search.pending_virtual_loss(slot) == 0
        assert stats.best_move == E4
    search.close()


def test_tree_reuse_spends_n_new_simulations_on_top_of_the_kept_subtree():
    search = capture_search(32)
    game = game_from_diagram(CAPTURE, to_play="W", komi=0.5, max_moves=3)
    kept = int(search.ti[0, tree.child_for_move(search.ti[0], search.meta[0], E4), tree.I_N])
    game.play(E4)
    search.advance(0, game, E4)
    assert search.root_visits(0) == kept
    target = search.start_gumbel(0, 8)
    assert target == kept + 8
    search.search(np.array([target]))
    assert search.root_visits(0) == kept + 8 and search.pending_virtual_loss(0) == 0


def test_gumbel_noise_changes_which_moves_are_considered():
    """With noise the first simulations go to the top moves by g + logits, not by logits alone."""
    prior = np.arange(1, 27, dtype=np.float64)[::-1]
    cfg = SearchConfig(algorithm="gumbel", gumbel_considered=4)
    considered = []
    for seed in range(2):
        search = BatchedSearch(FixedPrior(prior), cfg, slots=1, size=5, komi=0.5, max_moves=50, max_simulations=4)
        search.set_root(0, Game(size=5, komi=0.5, max_moves=50))
        search.search(np.array([1]))  # evaluate the root: the noise below is drawn for known moves
        rng = np.random.default_rng(seed)
        target = search.start_gumbel(0, 4, rng)
        noise = np.random.default_rng(seed).gumbel(size=26)
        search.search(np.array([target]))
        visited = set(np.flatnonzero(search.stats(0).visits).tolist())
        legal = np.arange(25)  # pass is held back while other moves exist
        expected = set(legal[np.argsort(-(noise[legal] + np.log(prior[legal] / prior[legal].sum())))[:4]].tolist())
        assert visited == expected
        considered.append(visited)
    assert considered[0] != considered[1]


def test_a_search_without_a_plan_gets_a_noise_free_one():
    search = BatchedSearch(AreaValue(prior_away_from_the_capture(), 0.5), SearchConfig(algorithm="gumbel"), slots=1,
                           size=5, komi=0.5, max_moves=3, max_simulations=9)
    search.set_root(0, game_from_diagram(CAPTURE, to_play="W", komi=0.5, max_moves=3))
    search.search(np.array([9]))  # as PUCT callers do: total root visits, the root's evaluation included
    stats = search.stats(0)
    assert stats.visits.sum() == 8 and stats.best_move == E4


def test_start_gumbel_refuses_a_puct_search_and_an_empty_budget():
    search = BatchedSearch(FixedPrior(np.ones(26)), SearchConfig(), slots=1, size=5, komi=0.5, max_moves=10)
    with pytest.raises(ValueError, match="algorithm 'gumbel'"):
        search.start_gumbel(0, 8)
    search = BatchedSearch(FixedPrior(np.ones(26)), SearchConfig(algorithm="gumbel"), slots=1, size=5, komi=0.5,
                           max_moves=10)
    with pytest.raises(ValueError, match="at least 1 simulation"):
        search.start_gumbel(0, 0)


# -------------------------------------------------------------------------- the agent ---

def test_the_play_agent_finds_the_capture_and_shows_the_improved_policy():
    agent = MctsAgent(AreaValue(prior_away_from_the_capture(), 0.5),
                      SearchConfig(algorithm="gumbel", reuse_tree=True), visits=8)
    game = game_from_diagram(CAPTURE, to_play="W", komi=0.5, max_moves=3)
    analysis = agent.genmove(game)
    assert analysis.move == E4 and analysis.visits == 9
    assert analysis.candidates[0].move == E4
    assert analysis.candidates[0].prior > 0.99  # pi', not the net's 0.06
    assert sum(c.prior for c in analysis.candidates) <= 1.0 + 1e-6
    # analysis that searches on past the plan keeps its totals and leaves no virtual loss
    analysis = agent.think(game, 40)
    assert analysis.visits == 49 and agent.search.pending_virtual_loss(0) == 0
    assert math.isclose(sum(c.visits for c in analysis.candidates), 48)


# ------------------------------------------------------------------ evaluation matches ---

def test_puct_reports_the_most_visited_move_as_its_best():
    search = BatchedSearch(AreaValue(prior_away_from_the_capture(), 0.5), SearchConfig(), slots=1, size=5, komi=0.5,
                           max_moves=3, max_simulations=64)
    search.set_root(0, game_from_diagram(CAPTURE, to_play="W", komi=0.5, max_moves=3))
    search.search(np.array([64]))
    stats = search.stats(0)
    assert stats.best_move == int(np.argmax(stats.visits)) and stats.improved_policy is None


def test_an_evaluation_match_with_gumbel_search_plays_every_game_to_the_end():
    from alphago_lite.config import GameConfig
    from alphago_lite.selfplay.arena import play_match
    area, uniform = AreaValue(np.ones(26), 0.5), FixedPrior(np.ones(26))
    result = play_match(area, uniform, game_cfg=GameConfig(size=5, komi=0.5, max_moves=12),
                        search_cfg=SearchConfig(algorithm="gumbel", gumbel_considered=4, reuse_tree=False),
                        games=4, simulations=8, opening_moves=2)
    assert result.games == 4
    assert result.wins >= 2  # the net that reads the score is not worse than one that reads nothing


def test_a_search_to_the_last_ones_target_follows_its_own_budget():
    """With the uniform evaluator a search thread's compiled call is kept while the target stays the same;
    the next search may reach that target with another budget (tree reuse kept fewer visits), and must
    follow its own. Checked against a search object that never searched, given the same tree and plan."""
    def new_search():
        return BatchedSearch(UniformEvaluator(5, "agz"), SearchConfig(algorithm="gumbel", gumbel_considered=4),
                             slots=1, size=5, komi=0.5, max_moves=50, max_simulations=64)
    search, game = new_search(), Game(size=5, komi=0.5, max_moves=50)
    search.set_root(0, game)
    target = search.start_gumbel(0, 40)
    search.search(np.array([target]))
    move = search.stats(0).best_move
    game.play(move)
    search.advance(0, game, move)
    budget = target - search.root_visits(0) - (0 if search.root_expanded(0) else 1)
    assert 0 < budget < 40 and search.start_gumbel(0, budget) == target
    fresh = new_search()
    for name in ("ti", "tf", "meta", "root_states", "root_hists", "root_gumbel", "root_base", "root_budget"):
        getattr(fresh, name)[...] = getattr(search, name)
    search.search(np.array([target]))
    fresh.search(np.array([target]))
    assert search.stats(0).visits.tolist() == fresh.stats(0).visits.tolist()
    search.close()
    fresh.close()
