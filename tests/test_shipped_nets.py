"""The nets in alphago_lite/models/ themselves: each card agrees with its net and stays within the size
budget, each claims a measured strength of at least 100 games with its command, and the 5x5 net plays
the solved game: greedy self-play from the empty board ends with Black owning all 25 points."""
from __future__ import annotations

import pytest
import torch

from alphago_lite.agents.loading import load_agent
from alphago_lite.go import Game
from alphago_lite.models import models_dir, shipped_model, shipped_models
from alphago_lite.net.checkpoint import load_model

SHIPPED = ("go5", "go7", "go9")
MAX_BYTES = 5 * 1024 * 1024


@pytest.fixture(autouse=True)
def the_package_folder(monkeypatch):
    monkeypatch.delenv("ALPHAGO_LITE_MODELS_DIR", raising=False)


def test_the_package_ships_a_net_for_5x5_7x7_and_9x9():
    assert {card.name for card in shipped_models()} >= set(SHIPPED), f"nets in {models_dir()}"


@pytest.mark.parametrize("name", SHIPPED)
def test_each_card_agrees_with_its_net_and_states_a_measured_strength(name):
    card = shipped_model(name)
    assert card.checkpoint.stat().st_size <= MAX_BYTES
    _, meta = load_model(card.checkpoint)
    assert meta.board_size == card.board_size and meta.step == card.learner_steps
    assert meta.optimizer_state is None  # a shipped net carries weights, not a run's state
    assert card.cpu_hours > 0 and card.games > 0 and card.positions > card.games
    measured = [s for s in card.strength if s.opponent == "gnugo:10"]
    assert measured and all(s.games >= 100 and s.ci95[0] <= s.score <= s.ci95[1] for s in measured)
    assert all(s.command.startswith("alphago-lite match ") for s in card.strength)


@pytest.fixture
def one_torch_thread():
    """Batches of a few 5x5 positions: a second thread only spins (and on a busy machine, 10x slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_the_5x5_net_in_greedy_self_play_ends_with_black_owning_the_whole_board(one_torch_thread):
    card = shipped_model("go5")
    agent = load_agent(card.checkpoint, visits=400)  # the visits of the card's match (64 lose the count)
    agent.resign_threshold = -1.0  # play it out: the count of the final position is what is checked
    game = Game(size=5, komi=card.komi)
    agent.new_game(game)
    while not game.is_over:
        game.play(agent.genmove(game).move)
    black_area_minus_white = game.score() + game.komi
    assert black_area_minus_white == 25, f"final position:\n{game.render()}"
