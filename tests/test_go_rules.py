"""Rules positions drawn as strings, each with the outcome the rules demand."""
import numpy as np
import pytest

from alphago_lite.go import BLACK, WHITE, Game, IllegalMove, game_from_diagram
from alphago_lite.go.coords import from_gtp


def stones(game: Game) -> str:
    rows = ["".join(".XO"[int(v)] for v in row) for row in game.board]
    return "\n".join(rows)


def drawn(diagram: str) -> str:
    return "\n".join(line.replace(" ", "") for line in diagram.strip().splitlines())


def test_single_stone_capture_in_the_centre():
    g = game_from_diagram("""
        . . . . .
        . . X . .
        . X O X .
        . . . . .
        . . . . .""")
    g.play("C2")
    assert g.board[2, 2] == 0
    assert g.captures[BLACK] == 1


def test_multi_stone_capture_on_the_edge():
    g = game_from_diagram("""
        . O O O X
        . X X X .
        . . . . .
        . . . . .
        . . . . .""")
    g.play("A5")
    assert stones(g) == drawn("""
        X . . . X
        . X X X .
        . . . . .
        . . . . .
        . . . . .""")
    assert g.captures[BLACK] == 3


def test_capture_in_the_corner():
    g = game_from_diagram("""
        O X .
        . . .
        . . .""")
    g.play("A2")
    assert g.board[0, 0] == 0 and g.captures[BLACK] == 1


def test_snapback_captures_three_after_the_throw_in():
    g = game_from_diagram("""
        . . . . .
        . . . . .
        O O . . .
        X X O . .
        . . O . .""", to_play="W")
    g.play("A1")          # throw-in: self-atari
    g.play("B1")          # black takes the stone ...
    assert g.captures[BLACK] == 1
    g.play("A1")          # ... and white takes three back
    assert g.captures[WHITE] == 3
    assert stones(g).splitlines()[3:] == ["..O..", "O.O.."]


def test_simple_ko_forbids_immediate_recapture_until_a_threat_is_exchanged():
    for rule in ("simple", "positional", "situational"):
        g = game_from_diagram("""
            . X O . .
            X O . O .
            . X O . .
            . . . . .
            . . . . .""", superko=rule)
        g.play("C4")
        assert g.ko_point == from_gtp("B4", 5)
        assert not g.is_legal("B4")
        with pytest.raises(IllegalMove, match="ko"):
            g.play("B4")
        g.play("E1")
        g.play("A1")
        g.play("B4")      # legal again after the exchange elsewhere
        assert g.board[1, 2] == 0


SEND_TWO_RETURN_ONE = """
    . O . O .
    X X O . .
    . . . . .
    . . . . .
    . . . . ."""


@pytest.mark.parametrize("rule,legal", [("positional", False), ("situational", True), ("simple", True)])
def test_send_two_return_one_repeats_a_position_with_the_other_player_to_move(rule, legal):
    """White sends two stones, black takes them, white takes one back: the board is the start
    position again, but now with black to move (the start had white to move)."""
    g = game_from_diagram(SEND_TWO_RETURN_ONE, to_play="W", superko=rule)
    start = g.board
    g.play("A5")
    g.play("C5")
    assert g.captures[BLACK] == 2
    assert g.is_legal("B5") == legal
    if legal:
        g.play("B5")
        assert np.array_equal(g.board, start)
    else:
        with pytest.raises(IllegalMove, match="repeats an earlier position"):
            g.play("B5")


def test_suicide_is_illegal_by_default_and_removes_the_group_when_allowed():
    diagram = """
        . . . . .
        . . . . .
        O . . . .
        X O . . .
        . O . . ."""
    g = game_from_diagram(diagram)
    with pytest.raises(IllegalMove, match="suicide"):
        g.play("A1")
    g = game_from_diagram(diagram, suicide=True)
    g.play("A1")          # two-stone suicide: A1 and A2 leave the board
    assert g.board[3, 0] == 0 and g.board[4, 0] == 0
    assert g.captures[WHITE] == 2 and g.to_play == WHITE


def test_single_stone_suicide_repeats_the_board_so_positional_superko_forbids_it():
    diagram = """
        . O . .
        O . . .
        . . . .
        . . . ."""
    g = game_from_diagram(diagram, suicide=True, superko="positional")
    assert not g.is_legal("A4")
    g = game_from_diagram(diagram, suicide=True, superko="situational")
    g.play("A4")
    assert g.board[0, 0] == 0 and g.to_play == WHITE and g.captures[WHITE] == 1


def test_area_score_counts_stones_and_single_colour_regions_and_leaves_dame_neutral():
    g = game_from_diagram("""
        . X . O .
        . X . O .
        . X . O .
        . X . O .
        . X . O .""", komi=0.5)
    assert g.score() == pytest.approx(10 - 10 - 0.5)


def test_eyes_count_for_their_owner_and_regions_touching_both_colours_for_nobody():
    # Black: 8 stones + eyes A5, A3, A1. White: 7 stones + eyes E5, E3, E1.
    # C5, C4, C2, C1 touch both colours (dame / shared liberties) and count for nobody.
    g = game_from_diagram("""
        . X . O .
        X X . O O
        . X X O .
        X X . O O
        . X . O .""", komi=0.5)
    assert g.score() == pytest.approx((8 + 3) - (7 + 3) - 0.5)


def test_integer_komi_allows_a_draw():
    g = game_from_diagram("""
        . X . O .
        . X . O .
        . X . O .
        . X . O .
        . X . O .""", komi=0)
    g.play("pass")
    g.play("pass")
    assert g.is_over and g.winner == 0 and g.result() == "0"


def test_two_passes_end_the_game_and_moves_after_it_are_refused():
    g = Game(size=5, komi=0.5)
    g.play("C3")
    g.play("pass")
    assert not g.is_over
    g.play("pass")
    assert g.is_over and g.winner == BLACK and g.result() == "B+24.5"
    with pytest.raises(IllegalMove, match="game is over"):
        g.play("A1")
    assert len(g.legal_moves()) == 0


def test_a_pass_between_moves_does_not_end_the_game():
    g = Game(size=5)
    g.play("pass")
    g.play("C3")
    g.play("pass")
    assert not g.is_over


def test_move_limit_ends_and_scores_the_game():
    g = Game(size=3, komi=0.5, max_moves=3)
    for m in ("B2", "A1", "C3"):
        g.play(m)
    assert g.is_over and g.winner in (BLACK, WHITE)
    assert Game(size=9).max_moves == 162


def test_resignation():
    g = Game(size=9)
    g.play("E5")
    g.resign()
    assert g.is_over and g.winner == BLACK and g.result() == "B+R"
    g.undo()
    assert not g.is_over


def test_undo_after_a_capture_restores_state_exactly():
    g = game_from_diagram("""
        . . . . .
        . . X . .
        . X O X .
        . . . . .
        . . . . .""")
    state_before = g.raw_position()[0].copy()
    g.play("C2")
    g.undo()
    assert np.array_equal(g.raw_position()[0], state_before)
    assert g.board[2, 2] == -1 and g.to_play == BLACK


def test_undo_after_ko_capture_makes_the_recapture_available_again():
    g = game_from_diagram("""
        . X O . .
        X O . O .
        . X O . .
        . . . . .
        . . . . .""")
    g.play("C4")
    g.play("E1")
    g.play("A1")
    g.play("B4")            # white retakes the ko
    assert not g.is_legal("C4")
    g.undo()
    assert g.to_play == WHITE and g.is_legal("B4")


def test_illegal_move_carries_the_rendered_board_and_the_reason():
    g = Game(size=5)
    g.play("C3")
    with pytest.raises(IllegalMove) as err:
        g.play("C3")
    assert err.value.reason == "point occupied" and err.value.move == "C3"
    assert "A B C D E" in err.value.board
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize("bad", ["Z9", "I3", "C", "C0", "C6", "3C", "", "passs", -1, 26, 2.5, None])
def test_malformed_coordinates_raise_value_error_naming_them(bad):
    g = Game(size=5)
    with pytest.raises(ValueError) as err:
        g.play(bad)
    assert not isinstance(err.value, IllegalMove)
    assert repr(bad) in str(err.value) or str(bad) in str(err.value)


def test_bad_rules_are_rejected():
    with pytest.raises(ValueError, match="board size"):
        Game(size=1)
    with pytest.raises(ValueError, match="superko"):
        Game(size=9, superko="chinese")
    with pytest.raises(ValueError, match="max_moves"):
        Game(size=9, max_moves=0)
