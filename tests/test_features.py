"""Input planes: hand-checked positions for both feature sets, plus invariants over a random game."""
from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from alphago_lite.go import Game, from_gtp, game_from_diagram
from alphago_lite.net import features
from alphago_lite.net.features import FEATURE_SETS, encode_batch, encode_game, encode_into, get_feature_set, num_planes

# rich plane indices, spelled out so a reordering of the set breaks these tests loudly
OWN, OPP, EMPTY = 0, 1, 2
OWN_LIB1, OWN_LIB2, OWN_LIB3 = 3, 4, 5
OPP_LIB1, OPP_LIB2, OPP_LIB3 = 6, 7, 8
KO = 9
LAST_MOVES = (10, 11, 12, 13)
OWN_T1, OWN_T2, OPP_T1, OPP_T2 = 14, 15, 16, 17
LEGAL, ONES, BLACK_TO_MOVE = 18, 19, 20


def points(size: int, *gtp: str) -> np.ndarray:
    """A uint8 [size, size] plane with ones at the given GTP points."""
    plane = np.zeros((size, size), np.uint8)
    for text in gtp:
        row, col = divmod(from_gtp(text, size), size)
        plane[row, col] = 1
    return plane


def played(size: int, *moves: str) -> Game:
    game = Game(size=size)
    for m in moves:
        game.play(m)
    return game


# ------------------------------------------------------------------------------- feature sets ---

def test_feature_sets_are_named_versioned_and_sized():
    assert num_planes("agz") == 17
    assert num_planes("rich") == 21
    for name, fs in FEATURE_SETS.items():
        assert fs.name == name and fs.version == 1
        assert len(fs.plane_names) == fs.num_planes
    assert get_feature_set("rich").plane_names[KO].startswith("simple-ko")
    assert get_feature_set("rich").plane_names[LEGAL].startswith("legal")


def test_unknown_feature_set_is_a_value_error_naming_it():
    with pytest.raises(ValueError, match="'alphago-2016'"):
        get_feature_set("alphago-2016")
    with pytest.raises(ValueError, match="unknown feature set"):
        encode_game(Game(size=5), "nope")
    with pytest.raises(ValueError, match="unknown feature set"):
        num_planes("nope")


# ----------------------------------------------------------------------------------------- agz ---

def test_agz_after_three_moves_white_to_move():
    planes = encode_game(played(5, "D4", "E5", "C3"), "agz")
    assert planes.shape == (17, 5, 5) and planes.dtype == np.uint8
    expected = np.zeros((17, 5, 5), np.uint8)
    expected[0] = points(5, "E5")            # white (to move) at t
    expected[1] = points(5, "E5")            # t-1: before C3
    expected[8] = points(5, "D4", "C3")      # black at t
    expected[9] = points(5, "D4")            # t-1
    expected[10] = points(5, "D4")           # t-2: before E5
    # t-3 is the empty start; plane 16 stays zero because white is to move
    np.testing.assert_array_equal(planes, expected)


def test_agz_black_to_move_owns_black_stones_and_colour_plane_is_ones():
    planes = encode_game(played(5, "D4", "E5"), "agz")
    np.testing.assert_array_equal(planes[0], points(5, "D4"))
    np.testing.assert_array_equal(planes[1], points(5, "D4"))
    np.testing.assert_array_equal(planes[2], points(5))
    np.testing.assert_array_equal(planes[8], points(5, "E5"))
    np.testing.assert_array_equal(planes[9], points(5))
    np.testing.assert_array_equal(planes[16], np.ones((5, 5), np.uint8))


def test_agz_history_keeps_the_captured_stone_before_the_capture():
    game = played(5, "B5", "A5", "A4")       # black's A4 captures white's A5
    assert game.captures[1] == 1
    planes = encode_game(game, "agz")
    np.testing.assert_array_equal(planes[0], points(5))          # white at t: captured
    np.testing.assert_array_equal(planes[1], points(5, "A5"))    # white at t-1: still there
    np.testing.assert_array_equal(planes[2], points(5))          # t-2: before A5 was played
    np.testing.assert_array_equal(planes[8], points(5, "B5", "A4"))
    np.testing.assert_array_equal(planes[9], points(5, "B5"))
    np.testing.assert_array_equal(planes[10], points(5, "B5"))
    np.testing.assert_array_equal(planes[11], points(5))


def test_side_to_move_flips_own_and_opponent():
    diagram = """
        X....
        .....
        ..O..
        .....
        ....."""
    as_black = encode_game(game_from_diagram(diagram, to_play="B"), "agz")
    as_white = encode_game(game_from_diagram(diagram, to_play="W"), "agz")
    np.testing.assert_array_equal(as_black[0], points(5, "A5"))
    np.testing.assert_array_equal(as_black[8], points(5, "C3"))
    np.testing.assert_array_equal(as_white[0], points(5, "C3"))
    np.testing.assert_array_equal(as_white[8], points(5, "A5"))
    assert as_black[16].min() == 1 and as_white[16].max() == 0
    # setup stones have no history: the boards before them are empty
    assert as_black[1:8].sum() == 0 and as_black[9:16].sum() == 0


# ---------------------------------------------------------------------------------------- rich ---

def test_rich_liberty_planes_on_a_drawn_position():
    game = game_from_diagram("""
        XO...
        .....
        .XX.X
        ....O
        OO..X""", to_play="B")
    planes = encode_game(game, "rich")
    assert planes.shape == (21, 5, 5)
    np.testing.assert_array_equal(planes[OWN], points(5, "A5", "B3", "C3", "E3", "E1"))
    np.testing.assert_array_equal(planes[OPP], points(5, "B5", "E2", "A1", "B1"))
    np.testing.assert_array_equal(planes[EMPTY], 1 - planes[OWN] - planes[OPP])
    np.testing.assert_array_equal(planes[OWN_LIB1], points(5, "A5", "E1"))
    np.testing.assert_array_equal(planes[OWN_LIB2], points(5, "E3"))
    np.testing.assert_array_equal(planes[OWN_LIB3], points(5, "B3", "C3"))
    np.testing.assert_array_equal(planes[OPP_LIB1], points(5, "E2"))
    np.testing.assert_array_equal(planes[OPP_LIB2], points(5, "B5"))
    np.testing.assert_array_equal(planes[OPP_LIB3], points(5, "A1", "B1"))
    assert planes[KO].sum() == 0 and planes[list(LAST_MOVES)].sum() == 0
    assert planes[OWN_T1:OPP_T2 + 1].sum() == 0       # no moves played since the setup
    np.testing.assert_array_equal(planes[ONES], np.ones((5, 5), np.uint8))
    np.testing.assert_array_equal(planes[BLACK_TO_MOVE], np.ones((5, 5), np.uint8))


KO_SHAPE = """
    .XO..
    XO.O.
    .XO..
    .....
    ....."""


def test_rich_ko_plane_after_a_ko_capture_and_legal_plane_forbids_the_retake():
    game = game_from_diagram(KO_SHAPE, to_play="B", superko="simple")
    before = encode_game(game, "rich")
    assert before[KO].sum() == 0
    game.play("C4")                          # black captures the white stone on B4
    assert game.ko_point == from_gtp("B4", 5)
    planes = encode_game(game, "rich")
    np.testing.assert_array_equal(planes[KO], points(5, "B4"))
    assert planes[LEGAL][1, 1] == 0          # white may not retake at once
    np.testing.assert_array_equal(planes[LEGAL].ravel(), game.legal_mask()[:-1])
    np.testing.assert_array_equal(planes[LAST_MOVES[0]], points(5, "C4"))
    assert planes[BLACK_TO_MOVE].max() == 0
    # the captured stone is white's (own, now) stone one move ago
    np.testing.assert_array_equal(planes[OWN_T1], points(5, "C5", "B4", "D4", "C3"))
    np.testing.assert_array_equal(planes[OPP_T1], points(5, "B5", "A4", "B3"))
    game.play("E1")                          # a move elsewhere clears the ko
    assert encode_game(game, "rich")[KO].sum() == 0


def test_rich_last_move_planes_skip_passes_and_the_start():
    game = played(5, "A1")
    planes = encode_game(game, "rich")
    np.testing.assert_array_equal(planes[LAST_MOVES[0]], points(5, "A1"))
    assert planes[list(LAST_MOVES[1:])].sum() == 0
    for m in ("pass", "C3", "D4", "E5"):
        game.play(m)
    planes = encode_game(game, "rich")
    np.testing.assert_array_equal(planes[LAST_MOVES[0]], points(5, "E5"))
    np.testing.assert_array_equal(planes[LAST_MOVES[1]], points(5, "D4"))
    np.testing.assert_array_equal(planes[LAST_MOVES[2]], points(5, "C3"))
    np.testing.assert_array_equal(planes[LAST_MOVES[3]], points(5))      # the pass
    np.testing.assert_array_equal(planes[OWN_T1], points(5, "D4"))       # white to move
    np.testing.assert_array_equal(planes[OWN_T2], points(5))            # before D4
    np.testing.assert_array_equal(planes[OPP_T1], points(5, "A1", "C3"))
    np.testing.assert_array_equal(planes[OPP_T2], points(5, "A1", "C3"))


def test_rich_legal_plane_excludes_suicide_and_occupied_points():
    game = game_from_diagram("""
        .O...
        O....
        .....
        .....
        ....X""", to_play="B")
    planes = encode_game(game, "rich")
    expected = 1 - points(5, "A5", "B5", "A4", "E1")     # A5 is suicide for black
    np.testing.assert_array_equal(planes[LEGAL], expected)
    np.testing.assert_array_equal(planes[LEGAL].ravel(), game.legal_mask()[:-1])


# ------------------------------------------------------------------------- invariants, batches ---

def random_game(size: int, moves: int, seed: int) -> list[Game]:
    """Snapshots (copies) of one random game after every move, captures and passes included."""
    rng = np.random.default_rng(seed)
    game = Game(size=size)
    snapshots = [game.copy()]
    for _ in range(moves):
        legal = game.legal_moves()
        if game.is_over or len(legal) == 0:
            break
        board_moves = legal[legal < size * size]
        pick = board_moves if len(board_moves) and rng.random() > 0.03 else legal
        game.play(int(rng.choice(pick)))
        snapshots.append(game.copy())
    return snapshots


def test_invariants_over_a_random_game():
    snapshots = random_game(7, 90, seed=3)
    assert sum(snapshots[-1].captures.values()) > 0, "the game should contain captures"
    boards = [s.board for s in snapshots]
    for t, game in enumerate(snapshots):
        agz = encode_game(game, "agz")
        rich = encode_game(game, "rich")
        me = game.to_play
        for k in range(8):
            past = boards[t - k] if t - k >= 0 else np.zeros_like(boards[0])
            np.testing.assert_array_equal(agz[k], past == me)
            np.testing.assert_array_equal(agz[8 + k], past == -me)
        assert set(np.unique(rich)) <= {0, 1}
        np.testing.assert_array_equal(rich[OWN] + rich[OPP] + rich[EMPTY], 1)
        np.testing.assert_array_equal(rich[OWN_LIB1:OWN_LIB3 + 1].sum(0), rich[OWN])
        np.testing.assert_array_equal(rich[OPP_LIB1:OPP_LIB3 + 1].sum(0), rich[OPP])
        np.testing.assert_array_equal(rich[OWN_T1], agz[1])
        np.testing.assert_array_equal(rich[OPP_T2], agz[10])
        if not game.is_over:
            np.testing.assert_array_equal(rich[LEGAL].ravel(), game.legal_mask()[:-1])


def test_batch_equals_stacked_single_encodings():
    games = random_game(9, 30, seed=1)[::7]
    for name in FEATURE_SETS:
        batch = encode_batch(games, name)
        assert batch.shape == (len(games), num_planes(name), 9, 9) and batch.dtype == np.uint8
        np.testing.assert_array_equal(batch, np.stack([encode_game(g, name) for g in games]))
    with pytest.raises(ValueError, match="one board size"):
        encode_batch([Game(size=5), Game(size=7)], "agz")
    with pytest.raises(ValueError, match="at least one"):
        encode_batch([], "agz")


@njit
def _encode_rows(states, hists, feature_set_id, out):
    for row in range(states.shape[0]):
        encode_into(states[row], hists[row], feature_set_id, out[row])


def test_encode_into_is_callable_from_compiled_code_with_batch_rows():
    games = random_game(5, 12, seed=2)[::4]
    states = np.stack([g.raw_position()[0] for g in games])
    hists = np.stack([g.raw_position()[1] for g in games])
    rich = get_feature_set("rich")
    out = np.full((len(games), rich.num_planes, 5, 5), 7, np.uint8)   # stale garbage is overwritten
    _encode_rows(states, hists, rich.kernel_id, out)
    np.testing.assert_array_equal(out, encode_batch(games, "rich"))


def test_encode_into_rejects_a_wrongly_shaped_buffer():
    state, hist = Game(size=5).raw_position()
    with pytest.raises(ValueError, match="num_planes"):
        encode_into(state, hist, features.AGZ_ID, np.zeros((17, 4, 4), np.uint8))
    with pytest.raises(ValueError, match="feature set id"):
        encode_into(state, hist, 9, np.zeros((17, 5, 5), np.uint8))
