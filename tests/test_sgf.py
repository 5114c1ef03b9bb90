"""SGF reading and writing: hand-written files, malformed input, limits, round trips, the 156 real games."""
import os
import re
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alphago_lite.go import Game
from alphago_lite.sgf import (
    SgfError,
    SgfGame,
    game_from_sgf,
    load_sgf,
    parse_sgf,
    parse_sgf_all,
    point_to_sgf,
    save_sgf,
    sgf_from_game,
    sgf_to_point,
    write_sgf,
)
from alphago_lite.sgf.syntax import MAX_SGF_BYTES, MAX_SGF_NODES

# the project's shared data sits beside the checkout (../shared), in development and in CI alike
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "sgf"
REAL_FILES = sorted(DATA.glob("*/*.sgf"))


def test_the_156_real_game_records_are_there():
    assert len(REAL_FILES) == 156, f"expected the 156 real SGF files under {DATA}"
LEE_SEDOL_G1 = DATA / "alphago" / "092_LS_vs_AG_-_G1_-_English.sgf"


# ----------------------------------------------------------------------------- coordinates ---

def test_sgf_letters_are_column_then_row_from_the_top_left():
    assert sgf_to_point("aa", 19) == (0, 0)
    assert sgf_to_point("cd", 19) == (3, 2)
    assert sgf_to_point("sa", 19) == (0, 18)
    assert sgf_to_point("as", 19) == (18, 0)
    assert point_to_sgf((3, 2), 19) == "cd"


def test_pass_is_empty_and_tt_only_on_small_boards():
    assert sgf_to_point("", 9) is None
    assert sgf_to_point("tt", 19) is None
    assert sgf_to_point("tt", 21) == (19, 19)
    assert point_to_sgf(None, 9) == ""
    assert point_to_sgf((19, 19), 21) == "tt"


def test_every_point_round_trips_on_every_size():
    for size in range(2, 26):
        texts = {point_to_sgf((r, c), size) for r in range(size) for c in range(size)}
        assert len(texts) == size * size
        assert all(point_to_sgf(sgf_to_point(t, size), size) == t for t in texts)


@pytest.mark.parametrize("text", ["jj", "aj", "ja"])
def test_off_board_sgf_point_is_rejected(text):
    with pytest.raises(ValueError, match=f"'{text}' is off the 9x9 board"):
        sgf_to_point(text, 9)


@pytest.mark.parametrize("text", ["a", "abc", "a1", "?a"])
def test_malformed_sgf_point_is_rejected(text):
    with pytest.raises(ValueError, match="bad SGF point"):
        sgf_to_point(text, 19)


def test_point_to_sgf_rejects_off_board_points():
    with pytest.raises(ValueError, match=r"\(9, 0\) is off the 9x9 board"):
        point_to_sgf((9, 0), 9)


# --------------------------------------------------------------------------------- reading ---

HEADER_GAME = r"""(;FF[4]GM[1]CA[UTF-8]SZ[9]KM[0.5]HA[2]RU[Japanese]RE[W+0.5]
PB[Honinbo \] Shusaku]PW[Gennan\\Inseki]DT[1846-09-11]EV[Ear-reddening]
AB[cc][gg]AW[ee]PL[W]C[root: line one
line two\
 continued]
;W[cg]C[a \]bracket\] and a backslash \\]
;B[]
;W[tt]
;B[gc])"""


def test_header_setup_and_moves_are_read():
    game = parse_sgf(HEADER_GAME)
    assert (game.size, game.komi, game.handicap) == (9, 0.5, 2)
    assert (game.rules, game.result) == ("Japanese", "W+0.5")
    assert (game.black_player, game.white_player) == ("Honinbo ] Shusaku", "Gennan\\Inseki")
    assert game.setup_black == ((2, 2), (6, 6))
    assert game.setup_white == ((4, 4),)
    assert game.first_player == "W"
    assert game.moves == (("W", (6, 2)), ("B", None), ("W", None), ("B", (2, 6)))
    assert game.comments == ("a ]bracket] and a backslash \\", None, None, None)
    assert game.root_comment == "root: line one\nline two continued"
    assert game.properties == {"DT": ["1846-09-11"], "EV": ["Ear-reddening"]}


def test_missing_properties_get_documented_defaults():
    game = parse_sgf("(;B[pd];W[dp])")
    assert (game.size, game.komi, game.handicap) == (19, 0.0, 0)
    assert (game.rules, game.result) == (None, None)
    assert game.first_player == "B"
    assert game.moves == (("B", (3, 15)), ("W", (15, 3)))


def test_first_player_without_moves_or_pl_is_unknown():
    assert parse_sgf("(;SZ[9])").first_player is None
    assert parse_sgf("(;SZ[9]PL[W])").first_player == "W"


def test_compressed_point_lists_expand_row_by_row():
    game = parse_sgf("(;SZ[5]AB[aa:cb]AW[ee][ed:ed])")
    assert game.setup_black == ((0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2))
    assert game.setup_white == ((4, 4), (3, 4))


def test_whitespace_between_all_tokens():
    text = " \n( ; SZ [9] \n KM\n[6.5] AB [aa]\t[bb] ; B [cc] \n ; W\r\n[dd] ) \n"
    game = parse_sgf(text)
    assert (game.size, game.komi) == (9, 6.5)
    assert game.setup_black == ((0, 0), (1, 1))
    assert game.moves == (("B", (2, 2)), ("W", (3, 3)))


def test_variations_follow_the_first_child_at_every_branch():
    text = "(;SZ[9];B[aa](;W[bb](;B[cc];W[dd])(;B[ee]))(;W[ff];B[gg]))"
    game = parse_sgf(text)
    assert [point_to_sgf(p, 9) for _, p in game.moves] == ["aa", "bb", "cc", "dd"]


def test_deeply_nested_variations_do_not_hit_the_recursion_limit():
    text = "(;SZ[9]" + "(;B[aa];W[bb]" * 3000 + ")" * 3001  # 3000 trees, each inside the last
    game = parse_sgf(text)
    assert len(game.moves) == 6000 and game.moves[-1] == ("W", (1, 1))


def test_several_games_in_one_file():
    text = "(;SZ[9]PB[first];B[aa])\n(;SZ[13]PB[second];B[mm];W[aa])"
    assert parse_sgf(text).black_player == "first"
    second = parse_sgf(text, index=1)
    assert (second.size, second.black_player, len(second.moves)) == (13, "second", 2)
    assert [g.size for g in parse_sgf_all(text)] == [9, 13]
    with pytest.raises(SgfError, match="game index 2 out of range: the file holds 2 game"):
        parse_sgf(text, index=2)


def test_comment_on_a_node_without_a_move_joins_the_previous_move():
    game = parse_sgf("(;SZ[9];B[aa]C[good];C[after];W[bb])")
    assert game.comments == ("good\n\nafter", None)


def test_utf8_bytes_and_charset_hints():
    text = "(;CA[UTF-8]PB[李世乭]PW[AlphaGo]C[Zwölf];B[pd])"
    assert parse_sgf(text.encode("utf-8")).black_player == "李世乭"
    latin = "(;CA[ISO-8859-1]PB[Jörg];B[pd])".encode("latin-1")
    assert parse_sgf(latin).black_player == "Jörg"
    gb = "(;CA[GB2312]PB[古力];B[pd])".encode("gb2312")
    assert parse_sgf(gb).black_player == "古力"


def test_undecodable_bytes_fall_back_to_latin1():
    data = "(;PB[Jörg];B[pd])".encode("latin-1")  # claims nothing, is not valid UTF-8
    assert parse_sgf(data).black_player == "Jörg"
    assert parse_sgf(b"\xef\xbb\xbf(;PB[bom];B[pd])").black_player == "bom"


def test_escaped_backslash_before_a_line_break_keeps_the_break():
    game = parse_sgf("(;C[a\\\\\nb]SZ[9])")
    assert game.root_comment == "a\\\nb"


# ------------------------------------------------------------------------ malformed input ---

@pytest.mark.parametrize("text, line, column, reason", [
    ("(;SZ[9]\n;B[cc", 2, 3, "unclosed value of property B"),
    ("(;SZ[9]\n;C[oops\\])", 2, 3, "unclosed value of property C"),
    (";SZ[9];B[cc])", 1, 1, "missing '('"),
    ("  \n  SZ[9]", 2, 3, "expected '(' to start a game tree"),
    ("(;SZ[9]\n;B[cc];w[dd])", 2, 8, "bad property identifier 'w'"),
    ("(;SZ[9];1B[cc])", 1, 9, "bad property identifier '1B'"),
    ("(;SZ[9]\n;B[cc]\n;W[jj])", 3, 3, "'jj' is off the 9x9 board"),
    ("(;SZ[9]AB[aa:jj])", 1, 10, "'jj' is off the 9x9 board"),
    ("(;SZ[9];B[cc]", 1, 1, "never closed"),
    ("(;SZ[9]))", 1, 9, "')' without a matching '('"),
    ("(;SZ[9]\nKM[seven])", 2, 3, "KM[seven] is not a number"),
    ("(;SZ[19:13])", 1, 5, "only square boards"),
    ("(;GM[2]SZ[8])", 1, 5, "not Go"),
    ("()", 1, 2, "must start with a node"),
    ("(;SZ[9];B[aa]W[bb])", 1, 8, "both a B and a W move"),
    ("(;SZ[9];B[aa];AB[bb])", 1, 14, "after the first move"),
    ("(;SZ[9];B[aa][bb])", 1, 10, "move B has 2 values"),
    ("(;SZ[9]PL[X])", 1, 10, "PL[X] is not B or W"),
    ("(;SZ[9];B)", 1, 10, "property B has no value"),
    ("", 1, 1, "empty file"),
    ("(;SZ[9]KM[nan])", 1, 10, "KM[nan] is not a number"),
    ("(;SZ[9]KM[-inf])", 1, 10, "KM[-inf] is not a number"),
    ("(;SZ[9]AB[cc][dd]\nAW[ee][cc])", 2, 7, "AB and AW both set point cc in one node"),
    ("(;SZ[9]AB[aa:cc]AE[bb])", 1, 19, "AB and AE both set point bb in one node"),
    ("(;SZ[5]AB[aa:ee];AW[aa:ee];AB[aa:ee]\n;AW[aa:ee][aa])", 2, 11,
     "point lists cover more than 4 times the 5x5 board"),
])
def test_malformed_input_names_line_and_column(text, line, column, reason):
    with pytest.raises(SgfError) as caught:
        parse_sgf(text)
    assert (caught.value.line, caught.value.column) == (line, column)
    assert f"line {line}, column {column}" in str(caught.value)
    assert reason in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_a_later_node_may_replace_setup_stones_and_a_repeated_point_counts_once():
    game = parse_sgf("(;SZ[9]AB[cc][dd][cc];AW[cc];AE[dd]AB[ee];B[aa])")
    assert (game.setup_black, game.setup_white) == (((4, 4),), ((2, 2),))


# ---------------------------------------------------------------------------------- limits ---

def test_text_over_the_size_limit_is_refused_naming_the_limit():
    for text, unit in ((b" " * (MAX_SGF_BYTES + 1), "bytes"), (" " * (MAX_SGF_BYTES + 1), "characters")):
        with pytest.raises(SgfError, match=f"10,000,001 {unit} is over the SGF size limit of 10,000,000 {unit}"):
            parse_sgf(text)


@pytest.mark.slow  # parses 100,000 nodes twice: 2 s
def test_more_nodes_than_the_limit_are_refused_at_the_first_node_too_many():
    text = "(" + ";" * MAX_SGF_NODES + "\n;)"
    with pytest.raises(SgfError, match="line 2, column 1: more than 100,000 nodes, the SGF node limit"):
        parse_sgf(text)
    assert parse_sgf(text.replace("\n;", "")).moves == ()  # exactly the limit is fine


def test_load_sgf_refuses_a_large_file_after_reading_one_byte_more_than_the_limit(tmp_path):
    """An endless pipe stands for /dev/zero or a growing file: it is written to in 1 MB pieces until the
    reader closes it (or 30 MB, to stay bounded should the reader not stop)."""
    pipe = tmp_path / "endless.sgf"
    os.mkfifo(pipe)
    written = []

    def feed():
        with open(pipe, "wb") as out:
            try:
                out.write(b"(;C[")
                while sum(written) < 30_000_000:
                    out.write(b"x" * 1_000_000)
                    out.flush()
                    written.append(1_000_000)
            except BrokenPipeError:
                pass

    writer = threading.Thread(target=feed)
    writer.start()
    with pytest.raises(SgfError, match=f"{pipe} is larger than the SGF size limit of 10,000,000 bytes"):
        load_sgf(pipe)
    writer.join(60)
    assert not writer.is_alive() and sum(written) <= MAX_SGF_BYTES + 2_000_000  # a piece or so in the pipe


# --------------------------------------------------------------------------------- writing ---

def test_write_exact_text():
    game = SgfGame(size=9, komi=7.5, rules="Chinese", result="W+R", black_player="Black ]one",
                   white_player="White\\two", setup_black=[(2, 2)], first_player="W",
                   moves=[("W", (4, 4)), ("B", None), ("W", (0, 8))],
                   comments=[None, "pass] here\\", None], root_comment="root",
                   properties={"DT": ["2024-01-02"]})
    assert write_sgf(game) == (
        "(;FF[4]GM[1]CA[UTF-8]AP[alphago_lite:0.1]SZ[9]KM[7.5]RU[Chinese]RE[W+R]"
        "PB[Black \\]one]PW[White\\\\two]DT[2024-01-02]AB[cc]PL[W]C[root]\n"
        ";W[ee]\n;B[]C[pass\\] here\\\\]\n;W[ia])\n")
    assert parse_sgf(write_sgf(game)) == game


def test_write_omits_pl_when_black_simply_starts_and_writes_integer_komi_plainly():
    text = write_sgf(SgfGame(size=5, komi=6, handicap=0, moves=[("B", (0, 0))]))
    assert text == "(;FF[4]GM[1]CA[UTF-8]AP[alphago_lite:0.1]SZ[5]KM[6]\n;B[aa])\n"


def test_save_and_load(tmp_path):
    game = SgfGame(size=13, komi=6.5, black_player="黑", moves=[("B", (3, 3)), ("W", None)],
                   comments=["ü", None])
    path = tmp_path / "g.sgf"
    save_sgf(path, game)
    assert load_sgf(path) == game
    assert "CA[UTF-8]" in path.read_text(encoding="utf-8")


@pytest.mark.parametrize("kwargs, message", [
    ({"moves": [("X", (0, 0))]}, "colour must be 'B' or 'W'"),
    ({"moves": [("B", (9, 0))]}, "off the 9x9 board"),
    ({"moves": [("B", None)], "comments": ["a", "b"]}, "2 comments for 1 moves"),
    ({"setup_black": [(0, 0)], "setup_white": [(0, 0)]}, "given twice"),
    ({"properties": {"SZ": ["9"]}}, "properties may not hold 'SZ'"),
    ({"properties": {"DT": []}}, "DT needs a non-empty list of values"),
    ({"komi": float("nan")}, "komi must be a finite number"),
    ({"first_player": "X"}, "first_player must be"),
])
def test_invalid_game_records_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        SgfGame(size=9, **kwargs)


_TEXT = st.text(st.sampled_from(list("ab Z]\\[\n\t\r:;()é漢🙂")) | st.characters(
    blacklist_categories=("Cs",)), max_size=12)


@st.composite
def sgf_games(draw):
    size = draw(st.integers(2, 25))
    point = st.tuples(st.integers(0, size - 1), st.integers(0, size - 1))
    moves = draw(st.lists(st.tuples(st.sampled_from("BW"), st.none() | point), max_size=25))
    setup = draw(st.lists(point, unique=True, max_size=6))
    split = draw(st.integers(0, len(setup)))
    return SgfGame(
        size=size, komi=draw(st.floats(-1000, 1000)), handicap=draw(st.integers(0, 9)),
        rules=draw(st.none() | _TEXT), result=draw(st.sampled_from([None, "B+R", "W+0.5", "0"])),
        black_player=draw(st.none() | _TEXT), white_player=draw(st.none() | _TEXT),
        setup_black=setup[:split], setup_white=setup[split:],
        first_player=draw(st.sampled_from([None, "B", "W"])), moves=moves,
        comments=draw(st.lists(st.none() | _TEXT, min_size=len(moves), max_size=len(moves))),
        root_comment=draw(st.none() | _TEXT),
        properties=draw(st.dictionaries(st.sampled_from(["DT", "EV", "GN", "XY"]),
                                        st.lists(_TEXT, min_size=1, max_size=2), max_size=3)))


@settings(max_examples=150, deadline=None)
@given(sgf_games())
def test_parse_of_write_is_identity(game):
    assert parse_sgf(write_sgf(game)) == game
    assert parse_sgf(write_sgf(game).encode("utf-8")) == game


# ------------------------------------------------------------------------ the real games ---

def _main_line_move_count(text: str) -> int:
    """Count ';B[' / ';W[' by regex after cutting sibling variations (none nest in these files)."""
    previous = None
    while previous != text:
        previous, text = text, re.sub(r"\)\s*\(;[^()]*\)", ")", text)
    return len(re.findall(r";\s*[BW]\s*\[", text))


def test_the_real_games_are_all_there():
    assert len(REAL_FILES) == 156
    assert {p.parent.name for p in REAL_FILES} == {"alphago", "alphago_zero", "master"}


@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: p.name)
def test_every_real_game_parses_with_the_expected_move_count(path):
    game = load_sgf(path)
    assert game.size == 19
    assert len(game.moves) == _main_line_move_count(path.read_text(encoding="utf-8")) > 0
    assert parse_sgf(write_sgf(game)) == game


def test_lee_sedol_game_one_headers():
    game = load_sgf(LEE_SEDOL_G1)
    assert (game.black_player, game.white_player) == ("Lee Sedol", "AlphaGo")
    assert (game.result, game.komi, game.rules) == ("W+Resign", 7.5, "Chinese")
    assert game.properties["DT"] == ["2016-03-09"]
    assert len(game.moves) == 186
    assert game.moves[:2] == (("B", (3, 16)), ("W", (15, 3)))  # qd, dp
    assert game.moves[-1] == ("W", (7, 5))  # fh


def test_variation_file_takes_the_played_line():
    game = load_sgf(DATA / "master" / "105_09-2016.12.29-Meng_Tailing-Magist.sgf")
    assert game.comments[106] == "Operator error. See variation."
    assert game.moves[106] == ("B", (5, 10))  # kf, not the recommended fm
    assert sum(c is not None for c in game.comments) == 1


@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: p.name)
def test_every_real_game_replays_through_the_engine(path):
    record = load_sgf(path)
    game = game_from_sgf(record)  # raises SgfError on any illegal move
    assert len(game.history) == len(record.moves)
    assert game.move_colours == [1 if colour == "B" else -1 for colour, _ in record.moves]
    colour, point = record.moves[-1]
    if point is not None:
        assert game.board[point] == (1 if colour == "B" else -1)


def test_lee_sedol_game_one_replays_to_the_final_position():
    game = game_from_sgf(load_sgf(LEE_SEDOL_G1))
    assert (game.komi, game.to_play) == (7.5, 1)
    assert game.board[7, 5] == -1  # W fh, the last move
    stones = int((game.board != 0).sum())
    assert stones == 186 - sum(game.captures.values())  # no passes in this game


# ------------------------------------------------------------------- bridge to the engine ---

def _drawn(game: Game) -> list[str]:
    return ["".join(".XO"[int(v)] for v in row) for row in game.board]


def test_replay_follows_the_file_colours_even_when_one_colour_moves_twice():
    game = game_from_sgf(parse_sgf("(;SZ[4];B[aa];B[bb];W[cc])"))
    assert _drawn(game) == ["X...", ".X..", "..O.", "...."]
    assert game.to_play == 1


def test_replay_places_setup_stones_and_honours_pl_and_captures():
    game = game_from_sgf(parse_sgf("(;SZ[4]KM[0.5]AB[ba][ab]AW[bb]PL[W];W[cc];B[aa];W[ca];B[ad])"))
    assert _drawn(game) == ["XXO.", "XO..", "..O.", "X..."]
    assert game.move_colours == [-1, 1, -1, 1]
    capture = game_from_sgf(parse_sgf("(;SZ[4];B[ba];W[aa];B[ab])"))
    assert _drawn(capture) == [".X..", "X...", "....", "...."]


def test_replay_reports_the_illegal_move_by_number():
    with pytest.raises(SgfError, match=r"move 2 \(W\[aa\]\) is illegal"):
        game_from_sgf(parse_sgf("(;SZ[5];B[aa];W[aa])"))


def test_sgf_from_game_round_trips_through_text_and_engine():
    game = Game(size=5, komi=0.5)
    game.place_setup([6, 18], [], to_play="W")
    for move in [12, 7, 25, 11, 13, 25, 25]:  # includes passes; the game ends on two passes
        game.play(move)
    record = sgf_from_game(game, black_player="me", white_player="you", DT=["2024-05-01"])
    assert record.setup_black == ((1, 1), (3, 3)) and record.setup_white == ()
    assert (record.handicap, record.first_player, record.rules) == (2, "W", "Chinese")
    assert record.result == game.result() and record.result is not None
    assert record.moves[:2] == (("W", (2, 2)), ("B", (1, 2)))
    again = game_from_sgf(parse_sgf(write_sgf(record)))
    assert again.history == game.history
    assert again.move_colours == game.move_colours
    assert _drawn(again) == _drawn(game)
    assert again.is_over and again.result() == game.result()
