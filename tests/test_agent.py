"""Agent protocol implementations: RandomAgent, PolicyAgent and load_agent's errors."""
import pytest
import torch

from alphago_lite.agents.base import Agent, Analysis, PolicyAgent, RandomAgent
from alphago_lite.agents.loading import AgentNotFound, load_agent
from alphago_lite.go import Game, game_from_diagram
from alphago_lite.net.checkpoint import save_checkpoint
from alphago_lite.net.evaluator import InProcessEvaluator
from alphago_lite.net.features import num_planes
from alphago_lite.net.model import PolicyValueNet
from alphago_lite.run_dir import checkpoint_to_play, newest_checkpoint


def tiny_policy_agent(size=9):
    torch.manual_seed(0)
    net = PolicyValueNet(size, num_planes("agz"), blocks=1, channels=8)
    return PolicyAgent(InProcessEvaluator(net, size, "agz"))


def test_random_agent_plays_only_legal_moves_and_never_passes_early():
    game, agent = Game(size=5), RandomAgent(seed=3)
    for _ in range(20):
        analysis = agent.genmove(game)
        assert analysis.move != 25 and game.is_legal(analysis.move)
        game.play(analysis.move)


def test_random_agent_passes_when_only_own_eyes_remain():
    game = game_from_diagram("""
        X.XXX
        XXXXX
        XX.XX
        XXXXX
        XXXX.""", to_play="B")
    assert game.fills_own_eye(1) and game.fills_own_eye(12) and not game.fills_own_eye(6)
    assert RandomAgent(seed=0).genmove(game).move == 25


def test_random_agent_think_accumulates_visits_on_one_position():
    game, agent = Game(size=9), RandomAgent(seed=1)
    assert [agent.think(game, 8).visits for _ in range(3)] == [8, 16, 24]
    game.play("E5")
    assert agent.think(game, 8).visits == 8  # another position: a fresh count


def test_policy_agent_follows_the_protocol():
    agent, game = tiny_policy_agent(), Game(size=9)
    assert isinstance(agent, Agent)
    game.play("E5")
    analysis = agent.genmove(game)
    assert isinstance(analysis, Analysis) and analysis.visits == 1
    assert 0.0 <= analysis.winrate <= 1.0
    priors = [c.prior for c in analysis.candidates]
    assert len(priors) == 5 and priors == sorted(priors, reverse=True)
    assert analysis.move == analysis.candidates[0].move and game.is_legal(analysis.move)
    assert all(c.pv == (c.move,) for c in analysis.candidates)
    assert 40 not in [c.move for c in analysis.candidates]  # E5 is occupied


def test_policy_agent_refuses_another_board_size():
    with pytest.raises(ValueError, match="plays 9x9, not 7x7"):
        tiny_policy_agent().genmove(Game(size=7))


def test_load_agent_without_a_source_points_to_train():
    with pytest.raises(AgentNotFound, match="alphago-lite train"):
        load_agent()


def test_load_agent_missing_paths(tmp_path):
    with pytest.raises(AgentNotFound, match="no checkpoint file"):
        load_agent(model_path=tmp_path / "none.pt")
    with pytest.raises(AgentNotFound, match="no run directory"):
        load_agent(run_dir=tmp_path / "nothing")
    with pytest.raises(AgentNotFound, match="holds no checkpoint yet"):
        load_agent(run_dir=tmp_path)


def test_load_agent_from_run_dir_takes_newest_checkpoint(tmp_path):
    net = PolicyValueNet(9, num_planes("agz"), blocks=1, channels=8)
    old = save_checkpoint(tmp_path / "checkpoints" / "step_000001.pt", net, feature_set="agz", step=1)
    new = save_checkpoint(tmp_path / "checkpoints" / "step_000002.pt", net, feature_set="agz", step=2)
    import os
    os.utime(old, (1, 1))
    assert newest_checkpoint(tmp_path) == new
    agent = load_agent(run_dir=tmp_path)
    assert agent.board_size == 9
    assert Game(size=9).is_legal(agent.genmove(Game(size=9)).move)


def test_a_run_offers_its_best_checkpoint_else_its_newest(tmp_path):
    run = tmp_path / "run"
    assert checkpoint_to_play(run) is None
    newest = save_checkpoint(run / "checkpoints" / "ckpt-00000020.pt", PolicyValueNet(7, num_planes("agz"), 1, 8),
                             feature_set="agz", step=20)
    assert checkpoint_to_play(run) == newest and load_agent(run_dir=run).board_size == 7
    best = save_checkpoint(run / "checkpoints" / "best.pt", PolicyValueNet(5, num_planes("agz"), 1, 8),
                           feature_set="agz", step=10)
    import os
    os.utime(best, (1, 1))  # older than the newest: best.pt is still the one to play
    assert checkpoint_to_play(run) == best and load_agent(run_dir=run).board_size == 5


def test_every_no_model_message_mentions_random(tmp_path):
    for sources in ({}, {"model_path": tmp_path / "none.pt"}, {"run_dir": tmp_path / "none"}, {"run_dir": tmp_path}):
        with pytest.raises(AgentNotFound, match="or play a random player with --random"):
            load_agent(**sources)


def test_load_agent_knows_the_komi_of_its_training_run(tmp_path):
    from alphago_lite.config import load_config, save_config
    net = PolicyValueNet(5, num_planes("agz"), blocks=1, channels=8)
    path = save_checkpoint(tmp_path / "run" / "checkpoints" / "ckpt-00000010.pt", net, feature_set="agz", step=10)
    assert load_agent(model_path=path).training_komi is None  # no config.yaml: unknown
    save_config(load_config("configs/tiny.yaml"), str(tmp_path / "run"))  # tiny trains with komi 2.5
    assert load_agent(model_path=path).training_komi == 2.5
    assert load_agent(run_dir=tmp_path / "run").training_komi == 2.5
    (tmp_path / "run" / "config.yaml").write_text("game: {komi: [1, 2]}\n")
    assert load_agent(model_path=path).training_komi is None  # a damaged config is ignored


def test_load_agent_searches_the_way_its_net_was_trained(tmp_path):
    """A Gumbel-trained policy is pi', not a visit distribution: play searches with Gumbel too."""
    from alphago_lite.config import load_config, save_config
    net = PolicyValueNet(5, num_planes("agz"), blocks=1, channels=8)
    path = save_checkpoint(tmp_path / "run" / "checkpoints" / "ckpt-00000010.pt", net, feature_set="agz", step=10)
    assert load_agent(model_path=path, visits=12).cfg.algorithm == "puct"  # no config: the default
    save_config(load_config("configs/tiny.yaml", ["search.algorithm=gumbel", "search.gumbel_considered=4",
                                                  "search.c_scale=0.5"]), str(tmp_path / "run"))
    agent = load_agent(model_path=path, visits=12, threads=1)
    assert (agent.cfg.algorithm, agent.cfg.gumbel_considered, agent.cfg.c_scale) == ("gumbel", 4, 0.5)
    assert agent.cfg.num_simulations == 12 and agent.cfg.reuse_tree
    game = Game(size=5, komi=2.5)
    assert game.is_legal(agent.genmove(game).move)


def test_play_uses_the_training_komi_unless_told_otherwise(tmp_path, monkeypatch, capsys):
    import io

    from alphago_lite.cli import main
    from alphago_lite.config import load_config, save_config
    net = PolicyValueNet(5, num_planes("agz"), blocks=1, channels=8)
    save_checkpoint(tmp_path / "run" / "checkpoints" / "ckpt-00000010.pt", net, feature_set="agz", step=10)
    save_config(load_config("configs/tiny.yaml"), str(tmp_path / "run"))
    monkeypatch.setattr("sys.stdin", io.StringIO("score\nquit\n"))
    assert main(["play", "--run", str(tmp_path / "run"), "--visits", "4"]) == 0
    assert "komi 2.5" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("score\nquit\n"))
    assert main(["play", "--run", str(tmp_path / "run"), "--visits", "4", "--komi", "0.5"]) == 0
    assert "komi 0.5" in capsys.readouterr().out
