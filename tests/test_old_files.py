"""Files written before the layout move (main b2b6def, by tests/data/before_layout's generator: the
checkpoint and shard API of that commit) still load, and mean what they meant then."""
import json
from pathlib import Path

import numpy as np

from alphago_lite.agents.loading import load_agent
from alphago_lite.go import Game
from alphago_lite.net.checkpoint import load_checkpoint, load_model
from alphago_lite.net.evaluator import InProcessEvaluator
from alphago_lite.net.features import encode_game
from alphago_lite.selfplay.replay import read_games

DATA = Path(__file__).parent / "data" / "before_layout"
EXPECTED = json.loads((DATA / "expected.json").read_text())


def test_a_checkpoint_written_before_the_move_loads_and_gives_the_same_answers():
    state, meta = load_checkpoint(DATA / "tiny-5x5.pt", expect_board_size=5, expect_feature_set="agz")
    assert meta.step == 7 and meta.extra["weights_version"] == 2 and meta.arch["blocks"] == 1
    model, _ = load_model(DATA / "tiny-5x5.pt")
    game = Game(size=5, komi=2.5)
    game.play("C3")
    policy, value = InProcessEvaluator(model, 5, "agz").evaluate(encode_game(game, "agz")[None],
                                                                  game.legal_mask()[None])
    np.testing.assert_allclose(policy[0], EXPECTED["policy_after_C3"], atol=1e-5)
    assert abs(float(value[0]) - EXPECTED["value_after_C3"]) < 1e-5


def test_the_agent_front_ends_load_the_old_checkpoint():
    agent = load_agent(model_path=DATA / "tiny-5x5.pt", visits=8)
    game = Game(size=5, komi=2.5)
    assert game.is_legal(agent.genmove(game).move)


def test_a_shard_written_before_the_move_reads_back_every_game():
    games = read_games(DATA)
    assert [list(g.moves) for g in games] == [g["moves"] for g in EXPECTED["games"]]
    assert [g.result for g in games] == [g["result"] for g in EXPECTED["games"]]
    assert [g.num_training_positions for g in games] == [g["training_positions"] for g in EXPECTED["games"]]
    assert len(games) == 2 and all(len(g.moves) > 0 for g in games)
