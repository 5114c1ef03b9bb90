"""Self-play: complete legal games with correct results, temperature and noise only where they belong;
Gumbel search's improved-policy targets; the final ownership in every record."""
import numpy as np
import pytest
import torch

from alphago_lite.config import load_config
from alphago_lite.net.evaluator import InProcessEvaluator, UniformEvaluator
from alphago_lite.net.features import get_feature_set
from alphago_lite.net.model import PolicyValueNet
from alphago_lite.selfplay.player import SelfPlayer, play_games
from alphago_lite.selfplay.records import area_ownership, decode_record, encode_record, replay_record


def config(*overrides):
    return load_config(overrides=["game.size=5", "game.komi=2.5", "game.max_moves=40",
                                  "search.num_simulations=24", "search.leaves_per_round=4",
                                  "selfplay.games_per_worker=2", *overrides])


def uniform(size=5):
    evaluator = UniformEvaluator(size, "agz")
    evaluator.needs_planes = False
    return evaluator


def argmax_of(record, i):
    """The most visited move before move i, as np.argmax over the dense counts would pick it."""
    return int(np.argmax(record.policy_target(i)))


def test_tiny_random_net_plays_complete_legal_games_with_correct_results():
    torch.manual_seed(0)
    cfg = config("search.resign_threshold=-0.5", "search.resign_disabled_fraction=0.5")
    planes = get_feature_set(cfg.model.feature_set).num_planes
    net = PolicyValueNet(5, planes, blocks=1, channels=8, value_hidden=8)
    evaluator = InProcessEvaluator(net, 5, cfg.model.feature_set, device="cpu", cpu_threads=1)
    records = play_games(evaluator, cfg, 3, seed=1)
    assert len(records) == 3
    for record in records:
        game = replay_record(record)  # raises IllegalMove on any illegal move
        assert game.is_over
        assert record.result == game.result() and record.winner == game.winner
        assert len(record.moves) <= 40 and record.size == 5 and record.komi == 2.5
        for counts in record.visit_counts:  # every move had a full search of 24 visits at the root:
            assert sum(counts) == 24 - 1     # the root's own evaluation is not a child visit
        assert all(-1.0 <= v <= 1.0 for v in record.root_values)
        assert record.resigned == 0 or not record.resign_disabled
        assert decode_record(encode_record(record)) == record


def test_moves_are_sampled_only_during_the_temperature_moves():
    cfg = config("search.temperature_moves=6", "search.noise_weight=0", "search.resign_threshold=-1")
    records = play_games(uniform(), cfg, 2, seed=3)
    differs = [[r.moves[i] != argmax_of(r, i) for i in range(len(r.moves))] for r in records]
    for flags in differs:
        assert not any(flags[6:])  # after the temperature moves: always the most visited move
    # uniform priors spread the early visits, so sampling picks something else at least once
    assert any(any(flags[:6]) for flags in differs)


def test_without_temperature_and_noise_the_games_do_not_depend_on_the_seed():
    cfg = config("search.temperature_moves=0", "search.noise_weight=0", "search.resign_threshold=-1",
                 "search.resign_disabled_fraction=0")
    first, second = (play_games(uniform(), cfg, 1, seed=s)[0] for s in (0, 1))
    assert first.moves == second.moves and first.visit_counts == second.visit_counts
    assert all(m == argmax_of(first, i) for i, m in enumerate(first.moves))


def test_noise_changes_the_search_but_not_the_greedy_rule():
    cfg = config("search.temperature_moves=0", "search.resign_threshold=-1",
                 "search.resign_disabled_fraction=0", "search.noise_weight=0.5")
    first, second = (play_games(uniform(), cfg, 1, seed=s)[0] for s in (0, 1))
    assert first.visit_counts != second.visit_counts  # different noise, different searches
    for record in (first, second):
        assert all(m == argmax_of(record, i) for i, m in enumerate(record.moves))


def test_games_stream_out_as_they_finish():
    cfg = config("search.num_simulations=8", "game.max_moves=10")
    player = SelfPlayer(uniform(), cfg, slots=2, seed=0)
    stream = player.games(5)
    first = next(stream)
    assert replay_record(first).is_over
    rest = list(stream)
    player.close()
    assert len(rest) == 4


def test_playout_cap_randomisation_marks_cheap_moves():
    cfg = config("selfplay.full_search_prob=0.5", "selfplay.cheap_simulations=4",
                 "search.resign_threshold=-1")
    record = play_games(uniform(), cfg, 1, seed=2)[0]
    assert 0 < sum(record.full_search) < len(record.moves)
    for full, counts in zip(record.full_search, record.visit_counts):
        # a cheap search may start from a reused subtree bigger than its budget
        assert sum(counts) == 23 if full else sum(counts) >= 3
    with pytest.raises(ValueError, match="cheap_simulations"):
        config("selfplay.full_search_prob=0.5")


def test_resignation_ends_the_game_unless_disabled_for_it():
    eager = config("search.resign_threshold=1.0", "search.resign_disabled_fraction=0")
    record = play_games(uniform(), eager, 1, seed=0)[0]  # every root value is below 1: resign at once
    assert record.moves == () and record.resigned == 1 and record.result == "W+R" and record.winner == -1
    assert replay_record(record).result() == "W+R"
    never = config("search.resign_threshold=1.0", "search.resign_disabled_fraction=1", "game.max_moves=6")
    record = play_games(uniform(), never, 1, seed=0)[0]
    assert record.resign_disabled and record.resigned == 0 and len(record.moves) == 6


# ------------------------------------------------------------------ Gumbel, ownership ---

def test_every_record_stores_the_final_area_ownership():
    record = play_games(uniform(), config("search.resign_threshold=-1"), 1, seed=4)[0]
    game = replay_record(record)
    owner = np.array(record.ownership).reshape(5, 5)
    np.testing.assert_array_equal(owner, area_ownership(game.board))
    komi_free_score = (owner == 1).sum() - (owner == -1).sum()
    assert komi_free_score - record.komi == game.score()


def gumbel_config(*overrides):
    return config("search.algorithm=gumbel", "search.num_simulations=16", "search.gumbel_considered=4",
                  "search.resign_threshold=-1", *overrides)


def test_gumbel_self_play_trains_on_the_improved_policy():
    cfg = gumbel_config("search.reuse_tree=false")
    records = play_games(uniform(), cfg, 2, seed=5)
    for record in records:
        game = replay_record(record)  # legal throughout
        assert game.is_over and record.result == game.result()
        for i in range(len(record.moves)):
            assert sum(record.visit_counts[i]) == 16  # exactly n simulations, the root's own not counted
            assert record.policy_target(i).sum() == pytest.approx(1.0, abs=1e-4)
        # the first move: value 0 everywhere, so pi' is the prior, uniform over all 25 points, although
        # only the 4 considered moves were visited
        np.testing.assert_allclose(record.policy_target(0)[:25], 1 / 25, atol=1e-4)
        assert len(record.visit_moves[0]) == 4
    assert records[0].moves != records[1].moves  # Gumbel noise samples the moves


def test_gumbel_self_play_with_tree_reuse_and_cheap_searches():
    cfg = gumbel_config("selfplay.full_search_prob=0.5", "selfplay.cheap_simulations=4")
    record = play_games(uniform(), cfg, 1, seed=6)[0]
    assert replay_record(record).is_over
    assert 0 < sum(record.full_search) < len(record.moves)
    for i, full in enumerate(record.full_search):
        assert sum(record.visit_counts[i]) >= (16 if full else 4)  # reused visits come on top
        assert bool(record.policy_weights[i]) == full  # cheap searches record no target
    assert decode_record(encode_record(record)) == record


def test_gumbel_self_play_with_two_search_threads():
    cfg = gumbel_config("search.threads=2", "selfplay.games_per_worker=4", "search.reuse_tree=false")
    records = play_games(uniform(), cfg, 4, seed=7)
    assert len(records) == 4
    for record in records:
        assert replay_record(record).is_over
        assert all(sum(counts) == 16 for counts in record.visit_counts)
