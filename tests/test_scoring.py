"""Scoring like a person (alphago_lite/scoring.py): dead stones, seki, the count, the ownership estimate
and answering a pass, on drawn positions with a drawn ownership map (so every answer is known)."""
import math

import numpy as np
import pytest
import torch

from alphago_lite import scoring
from alphago_lite.agents.base import Analysis, Candidate, RandomAgent
from alphago_lite.agents.mcts import MctsAgent
from alphago_lite.go import Game, game_from_diagram
from alphago_lite.net.evaluator import InProcessEvaluator, UniformEvaluator
from alphago_lite.net.features import encode_game, num_planes
from alphago_lite.net.model import PolicyValueNet

# Black's wall on D, dame on E, White's wall on F and territory on G; a white stone (B6) dead in
# Black's area. Tromp-Taylor: Black 7, White 7 + 7 + 1 (Black's area reaches B6: nobody's) -> W+8.5.
# Dead stones removed: Black 7 + 21, White 14 -> B+13.5 (komi 0.5).
DEAD_STONE = """
    . . . X . O .
    . O . X . O .
    . . . X . O .
    . . . X . O .
    . . . X . O .
    . . . X . O .
    . . . X . O ."""
DEAD_STONE_OWNERSHIP = """
    + + + + 0 - -
    + + + + 0 - -
    + + + + 0 - -
    + + + + 0 - -
    + + + + 0 - -
    + + + + 0 - -
    + + + + 0 - -"""

# Seki on the left edge: the black stone A6 and the white chain on B/A4 share the liberties A7 and A5;
# a stone of either colour there is self-atari. Black's outer wall lives with the rest of the board.
SEKI = """
    . O X . . . .
    X O X . . . .
    . O X . . . .
    O O X . . . .
    X X X . . . .
    . . . . . . .
    . . . . . . ."""
SEKI_OWNERSHIP = """
    0 0 + + + + +
    0 0 + + + + +
    0 0 + + + + +
    0 0 + + + + +
    + + + + + + +
    + + + + + + +
    + + + + + + +"""


def drawn_map(text: str) -> np.ndarray:
    """An ownership map drawn with + (Black), - (White) and 0, one row a line."""
    values = {"+": 1.0, "-": -1.0, "0": 0.0}
    rows = [line.split() for line in text.strip().splitlines()]
    return np.array([[values[v] for v in row] for row in rows], np.float32)


def points(game: Game, *vertices: str) -> tuple[int, ...]:
    from alphago_lite.go import from_gtp
    return tuple(sorted(from_gtp(v, game.size) for v in vertices))


class DrawnOwnership(UniformEvaluator):
    """A net whose ownership head answers a drawn map (Black's view), turned to the player to move as a
    real head does; uniform policy; value ``value`` for the player to move."""

    has_ownership = True

    def __init__(self, black_view: np.ndarray, value: float = 0.0) -> None:
        super().__init__(black_view.shape[0], "agz")
        self.black_view, self.value = black_view, value

    def evaluate(self, planes, legal):
        policy, _ = super().evaluate(planes, legal)
        return policy, np.full(len(legal), self.value, np.float32)

    def evaluate_with_ownership(self, planes, legal):
        policy, value = self.evaluate(planes, legal)
        movers = np.where(planes[:, 16, 0, 0] == 1, 1.0, -1.0).astype(np.float32)  # agz: plane 16 = black
        return policy, value, movers[:, None, None] * self.black_view[None]


def drawn_agent(ownership_text: str, value: float = 0.0, visits: int = 16) -> MctsAgent:
    return MctsAgent(DrawnOwnership(drawn_map(ownership_text), value), visits=visits)


# ----------------------------------------------------------------------------- the count ---
def test_dead_stone_is_found_and_removed_from_the_count():
    game = game_from_diagram(DEAD_STONE, komi=0.5)
    status = scoring.classify_stones(game.board, drawn_map(DEAD_STONE_OWNERSHIP))
    assert [c.points for c in status.dead] == [points(game, "B6")]
    assert sorted(c.colour for c in status.alive) == [-1, 1] and status.seki == ()
    assert game.score() == -8.5
    assert scoring.area_count(game.board, status.dead, game.komi) == 13.5
    assert scoring.score_text(13.5) == "B+13.5" and scoring.score_text(-8.5) == "W+8.5"


def test_a_chain_is_dead_only_when_the_net_is_sure():
    game = game_from_diagram(DEAD_STONE, komi=0.5)
    unsure = drawn_map(DEAD_STONE_OWNERSHIP)
    unsure[1, 1] = 0.5  # B6's point: Black's by 0.5 only, above -0.6 for White
    assert scoring.classify_stones(game.board, unsure).dead == ()
    unsure[1, 1] = 0.61
    assert [c.points for c in scoring.classify_stones(game.board, unsure).dead] == [points(game, "B6")]


def test_seki_by_mutual_self_atari():
    game = game_from_diagram(SEKI, komi=0.5)
    status = scoring.classify_stones(game.board, drawn_map(SEKI_OWNERSHIP))
    assert status.dead == ()
    assert sorted(c.points for c in status.seki) == sorted([points(game, "A6"),
                                                            points(game, "B7", "B6", "B5", "B4", "A4")])
    assert [c.points for c in status.alive] == [points(game, "C7", "C6", "C5", "C4", "C3", "B3", "A3")]
    # the shared liberties A7 and A5 are nobody's: Black 7 + 1 + 34, White 5
    assert scoring.area_count(game.board, status.dead, game.komi) == 42 - 5 - 0.5


def test_dame_between_living_walls_is_not_seki():
    game = game_from_diagram(DEAD_STONE)
    assert scoring.classify_stones(game.board, np.zeros((7, 7))).seki == ()


# ------------------------------------------------------------------------------ the estimate ---
def test_in_process_evaluator_gives_its_heads_ownership():
    torch.manual_seed(0)
    net = PolicyValueNet(5, num_planes("agz"), blocks=1, channels=8, ownership_head=True)
    with torch.no_grad():
        net.ownership_conv.weight.zero_()
        net.ownership_conv.bias.fill_(math.atanh(0.5))
    evaluator = InProcessEvaluator(net, 5, "agz")
    game = Game(size=5)
    policy, value, ownership = evaluator.evaluate_with_ownership(encode_game(game)[None], game.legal_mask()[None])
    assert evaluator.has_ownership and ownership.shape == (1, 5, 5)
    assert np.allclose(ownership, 0.5, atol=1e-6)
    plain_policy, plain_value = evaluator.evaluate(encode_game(game)[None], game.legal_mask()[None])
    assert np.allclose(policy, plain_policy, atol=1e-6) and np.allclose(value, plain_value, atol=1e-6)


def test_a_net_without_the_head_gives_no_ownership():
    net = PolicyValueNet(5, num_planes("agz"), blocks=1, channels=8)
    evaluator = InProcessEvaluator(net, 5, "agz")
    game = Game(size=5)
    assert not evaluator.has_ownership and not UniformEvaluator(5, "agz").has_ownership
    with pytest.raises(NotImplementedError, match="no ownership head"):
        evaluator.evaluate_with_ownership(encode_game(game)[None], game.legal_mask()[None])
    assert scoring.person_score(MctsAgent(evaluator, visits=8), game) is None
    assert scoring.person_score(RandomAgent(seed=1), game) is None


def test_estimate_averages_root_and_principal_variation_in_blacks_view():
    game = game_from_diagram(DEAD_STONE, komi=0.5)
    estimate = scoring.estimate_ownership(drawn_agent(DEAD_STONE_OWNERSHIP), game, visits=32)
    # positions with White to move see the map negated; turned back, the average is the map itself
    assert estimate.positions > 2
    assert np.array_equal(estimate.ownership, drawn_map(DEAD_STONE_OWNERSHIP))


def test_a_game_ended_by_two_passes_is_scored():
    game = game_from_diagram(DEAD_STONE, komi=0.5)
    game.play("pass")
    game.play("pass")
    assert game.is_over
    score, status = scoring.person_score(drawn_agent(DEAD_STONE_OWNERSHIP), game, visits=8)
    assert score == 13.5 and status.dead_points() == list(points(game, "B6"))


# ------------------------------------------------------------------------- answering a pass ---
def analysis(best_winrate: float) -> Analysis:
    return Analysis(move=0, winrate=best_winrate, visits=10,
                    candidates=(Candidate(0, 10, best_winrate, 0.5, (0,)),))


@pytest.mark.parametrize("to_play, root_value, best_winrate, expected", [
    ("B", 0.8, 0.91, True),    # Black wins by the count, the best move adds 0.01 to the net's 0.9
    ("B", 0.8, 0.99, False),   # ... but a move that adds 0.09 is worth playing
    ("W", 0.8, 0.91, False),   # White loses by the count: play on
])
def test_nothing_left_to_gain(to_play, root_value, best_winrate, expected):
    game = game_from_diagram(DEAD_STONE, to_play=to_play, komi=0.5)
    estimate = scoring.OwnershipEstimate(drawn_map(DEAD_STONE_OWNERSHIP), 1, root_value)
    assert scoring.nothing_left_to_gain(game, analysis(best_winrate), estimate) is expected


def test_pass_is_answered_with_pass_only_after_a_pass_and_when_winning():
    agent = drawn_agent(DEAD_STONE_OWNERSHIP, value=0.0)
    pass_move = 49
    game = game_from_diagram(DEAD_STONE, to_play="W", komi=0.5)
    game.play("pass")  # White passes; Black wins by the count
    assert scoring.reply_to_pass(agent, game, agent.genmove(game, visits=16)).move == pass_move
    for to_play, first in (("B", "A1"), ("B", "pass")):  # no pass to answer; White to move loses
        other = game_from_diagram(DEAD_STONE, to_play=to_play, komi=0.5)
        other.play(first)
        searched = agent.genmove(other, visits=16)
        assert scoring.reply_to_pass(agent, other, searched) is searched  # unchanged
