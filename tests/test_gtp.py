"""GTP engine: exact responses, errors, preprocessing, fuzzing, analysis streaming, handicap, time."""
import io
import os
import re
import subprocess
import threading
import time

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from alphago_lite.agents.base import Analysis, Candidate, RandomAgent
from alphago_lite.go import Game
from alphago_lite.gtp.analysis import Clock, parse_analyze_args
from alphago_lite.gtp.client import find_gnugo, gnugo_command
from alphago_lite.gtp.engine import EngineConfig, GtpEngine, fixed_handicap_points, free_handicap_points
from alphago_lite.gtp.transport import MAX_LINE_CHARS, preprocess, serve
from alphago_lite.sgf.syntax import MAX_SGF_BYTES


class FirstMoveAgent:
    """Deterministic: the first legal non-pass move; visits accumulate like a real search."""

    board_size = None

    def __init__(self):
        self.visits = 0

    def new_game(self, game):
        self.visits = 0

    def think(self, game, visits):
        self.visits += visits
        moves = [int(m) for m in game.legal_moves()][:2]
        cands = tuple(Candidate(m, self.visits // (i + 1), 0.625, 0.25 / (i + 1), (m, moves[-1]))
                      for i, m in enumerate(moves))
        return Analysis(cands[0].move, 0.625, self.visits, cands)

    def genmove(self, game, visits=None, seconds=None):
        return self.think(game, visits or 1)


def talk(text, agent=None, **config):
    out = io.StringIO()
    serve(GtpEngine(agent or FirstMoveAgent(), EngineConfig(**config)), io.StringIO(text), out)
    return out.getvalue()


def test_conversation_byte_for_byte(tmp_path):
    sgf = tmp_path / "g.sgf"
    script = ("1 protocol_version\nname\n2 version\n3 known_command lz-analyze\nknown_command fly\n"
              "boardsize 7\nkomi 5.5\n10 play black C3\nplay w C3\nplay b Z9\nplay b\n11 genmove w\n"
              "final_score\nshowboard\nundo\nundo\nundo\n12 fixed_handicap 2\nfixed_handicap 2\n"
              f"printsgf {sgf}\nloadsgf {tmp_path}/missing.sgf\nboardsize 1\nkomi x\n99 frobnicate\nquit\nname\n")
    board = ("\n    A B C D E F G\n  7 (O). . . . . .7\n  6 . . . . . . . 6\n  5 . . . . . . . 5\n"
             "  4 . . . . . . . 4\n  3 . . X . . . . 3\n  2 . . . . . . . 2\n  1 . . . . . . . 1\n"
             "    A B C D E F G\nblack to play, move 2, captures B 0 W 0")
    assert talk(script) == (
        "=1 2\n\n= alphago-lite\n\n=2 0.1.0\n\n=3 true\n\n= false\n\n"
        "= \n\n= \n\n=10 \n\n? illegal move: point occupied\n\n"
        "? syntax error: coordinate 'Z9' is off a 7x7 board\n\n? syntax error: expected play COLOUR VERTEX\n\n"
        f"=11 A7\n\n= W+5.5\n\n= {board}\n\n"
        "= \n\n= \n\n? cannot undo\n\n=12 C3 E5\n\n? board not empty\n\n= \n\n"
        f"? cannot load file: [Errno 2] No such file or directory: '{tmp_path}/missing.sgf'\n\n"
        "? unacceptable size: 2 to 25\n\n? syntax error: 'x' is not a number\n\n?99 unknown command\n\n= \n\n")
    assert open(sgf).read().startswith("(;FF[4]GM[1]CA[UTF-8]AP[alphago_lite:0.1]SZ[7]KM[5.5]RU[Chinese]HA[2]AB[")


def test_preprocessing_comments_control_characters_tabs_and_empty_lines():
    assert preprocess("  1\tname # what is your name\r\n") == "1 name"
    assert preprocess("na\x01me\x7f") == "name"
    assert preprocess("# only a comment") == "" and preprocess(" \t \n") == ""
    assert talk("\n   \n# comment\n\x02name\r\n\t7\tversion\n") == "= alphago-lite\n\n=7 0.1.0\n\n"


def test_id_without_command_and_internal_errors_keep_the_engine_alive():
    class Broken(FirstMoveAgent):
        def genmove(self, game, visits=None, seconds=None):
            raise RuntimeError("boom\n\nbang")
    assert talk("5\ngenmove b\nname\n", agent=Broken()) == (
        "?5 missing command after id\n\n? internal error: RuntimeError: boom bang\n\n= alphago-lite\n\n")


def is_id(word):
    """The spec's id, as this engine bounds it: 1 to 9 ASCII digits ('²' and 5000 nines are none)."""
    return re.fullmatch("[0-9]{1,9}", word) is not None


def test_komi_must_be_finite_and_final_score_is_never_nan():
    assert talk("komi nan\nkomi inf\nkomi -1e999\nfinal_score\n") == (
        "? syntax error: 'nan' is not a finite number\n\n? syntax error: 'inf' is not a finite number\n\n"
        "? syntax error: '-1e999' is not a finite number\n\n= W+7.5\n\n")
    with pytest.raises(ValueError, match="komi must be a finite number"):
        GtpEngine(FirstMoveAgent(), EngineConfig(komi=float("nan")))


def test_loadsgf_refuses_a_file_over_the_size_limit(tmp_path):
    big = tmp_path / "big.sgf"
    big.write_bytes(b"(;" + b" " * MAX_SGF_BYTES + b")")
    assert talk(f"loadsgf {big}\nname\n") == (
        f"? cannot load file: SGF error: {big} is larger than the SGF size limit of 10,000,000 bytes (10 MB)\n\n"
        "= alphago-lite\n\n")


def count_commands(lines, max_line_chars=MAX_LINE_CHARS):
    """How many responses the lines must get: one per non-empty or over-long line up to and including
    quit."""
    count = 0
    for line in lines:
        clean = preprocess(line) if len(line) <= max_line_chars else "(too long)"
        if clean:
            count += 1
            words = clean.split()
            if words[0] == "quit" or (len(words) > 1 and is_id(words[0]) and words[1] == "quit"):
                break
    return count


COMMAND_WORDS = ["play", "genmove", "boardsize", "komi", "undo", "lz-analyze", "kata-analyze", "showboard",
                 "fixed_handicap", "set_free_handicap", "place_free_handicap", "time_left", "time_settings",
                 "final_score", "reg_genmove", "loadsgf", "known_command", "lz-genmove_analyze", "b", "w",
                 "D4", "pass", "-1", "3", "9", "0.5", "#", "\t", "\x00", "é"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.text(max_size=30).map(lambda s: s.replace("\n", " ")),
                          st.lists(st.sampled_from(COMMAND_WORDS), min_size=1, max_size=4).map(" ".join)),
                max_size=12))
def test_fuzz_every_command_line_gets_exactly_one_response(tmp_path, monkeypatch, lines):
    monkeypatch.chdir(tmp_path)  # printsgf FILE must not litter the repository
    out = talk("".join(line + "\n" for line in lines), agent=RandomAgent(seed=0), visits=4, analysis_step=2)
    responses = [r for r in out.split("\n\n") if r]
    assert len(responses) == count_commands(lines)
    assert all(r.lstrip("\n")[:1] in "=?" for r in responses)


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_random_bytes(data):
    text = data.decode("utf-8", errors="replace")
    out = talk(text, agent=RandomAgent(seed=0), visits=4)  # a last line without newline counts too
    assert len([r for r in out.split("\n\n") if r]) == count_commands(text.split("\n"))


def test_ids_are_ascii_digits_of_bounded_length():
    script = f"\u00b2 name\n{'9' * 5000} name\n123456789 name\n1234567890 name\n\u0663 name\n007 name\nname\n"
    assert talk(script) == (
        "? syntax error: id '\u00b2' is not 1 to 9 ASCII digits\n\n"
        "? syntax error: id '999999999999... (5000 digits)' is not 1 to 9 ASCII digits\n\n"
        "=123456789 alphago-lite\n\n? syntax error: id '1234567890' is not 1 to 9 ASCII digits\n\n"
        "? syntax error: id '\u0663' is not 1 to 9 ASCII digits\n\n=7 alphago-lite\n\n= alphago-lite\n\n")


class EndlessLine:
    """One line of ten million characters, then ``name``; records the sizes the reader asks for."""

    def __init__(self):
        self.left, self.asked, self.rest = 10_000_000, [], ["name\n"]

    def readline(self, size=-1):
        self.asked.append(size)
        if self.left:
            piece = self.left if size < 0 else min(size, self.left)
            self.left -= piece
            return "x" * piece + ("\n" if not self.left else "")
        return self.rest.pop(0) if self.rest else ""


def test_an_over_long_line_gets_one_error_and_is_never_held_whole():
    stream, out = EndlessLine(), io.StringIO()
    serve(GtpEngine(FirstMoveAgent()), stream, out, max_line_chars=1000)
    assert out.getvalue() == "? syntax error: line longer than 1000 characters\n\n= alphago-lite\n\n"
    assert max(stream.asked) == 1001
    assert talk("x" * MAX_LINE_CHARS + "\nname\n") == "? unknown command\n\n= alphago-lite\n\n"  # at the limit


HOSTILE_WORDS = st.one_of(
    st.sampled_from(COMMAND_WORDS).map(str.encode),
    st.binary(max_size=30),                                                           # random bytes
    st.text(st.characters(categories=["Nd", "No"]), min_size=1, max_size=8).map(str.encode),  # '²', '٣'
    st.integers(1, 6000).map(lambda digits: b"9" * digits),                          # huge numbers
    st.integers(100, 700).map(lambda length: b"x" * length),                         # long lines
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.lists(HOSTILE_WORDS, min_size=1, max_size=4).map(b" ".join), max_size=10),
       max_line_chars=st.sampled_from([500, MAX_LINE_CHARS]))
@example(lines=[b"\xc2\xb2 name", b"name"], max_line_chars=MAX_LINE_CHARS)
@example(lines=[b"9" * 5000 + b" name", b"name"], max_line_chars=MAX_LINE_CHARS)
def test_fuzz_hostile_bytes_get_exactly_one_response_per_command_line(tmp_path, monkeypatch, lines,
                                                                       max_line_chars):
    monkeypatch.chdir(tmp_path)  # printsgf FILE must not litter the repository
    data = b"\n".join(lines + [b"name", b""])
    instream = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="replace", newline="\n")  # as stdin
    out = io.StringIO()
    engine = GtpEngine(RandomAgent(seed=0), EngineConfig(visits=4, analysis_step=2))
    serve(engine, instream, out, max_line_chars=max_line_chars)
    responses = [r for r in out.getvalue().split("\n\n") if r]
    text_lines = data.decode("utf-8", errors="replace").split("\n")
    assert len(responses) == count_commands(text_lines, max_line_chars)
    assert all(r.lstrip("\n")[:1] in "=?" for r in responses)
    if not engine.quit_requested:
        assert responses[-1] == "= alphago-lite"


def gtp_process(data, **env):
    """Run ``alphago-lite gtp --random`` on ``data``: (exit code, stdout text)."""
    done = subprocess.run([os.path.join(os.path.dirname(os.sys.executable), "alphago-lite"), "gtp", "--random"],
                          input=data, capture_output=True, timeout=120, env={**os.environ, **env})
    return done.returncode, done.stdout.decode("utf-8", errors="replace")


@pytest.mark.slow
def test_the_issue_lines_do_not_kill_the_engine_process():
    assert gtp_process(b"\xc2\xb2 name\nname\n") == (
        0, "? syntax error: id '\u00b2' is not 1 to 9 ASCII digits\n\n= alphago-lite\n\n")
    code, out = gtp_process(b"9" * 5000 + b" name\nname\n")
    assert code == 0 and out.endswith("digits\n\n= alphago-lite\n\n") and out.count("\n\n") == 2
    # an echoed non-ASCII character on an ASCII-only output becomes '?' instead of killing the engine
    assert gtp_process(b"boardsize \xc2\xb2\nname\n", PYTHONIOENCODING="ascii") == (
        0, "? syntax error: '?' is not a number\n\n= alphago-lite\n\n")


def test_gtp_command_line_survives_raw_bytes(tmp_path):
    data = b"\xff\xfe garbage\x00\n1 name\n\x80play b D4\nplay b D4\n2 genmove w\nquit\n"
    done = subprocess.run([os.path.join(os.path.dirname(os.sys.executable), "alphago-lite"), "gtp", "--random",
                           "--seed", "1"], input=data, capture_output=True, timeout=60, cwd=tmp_path)
    responses = done.stdout.decode().split("\n\n")
    assert done.returncode == 0 and responses[:3] == ["? unknown command", "=1 alphago-lite", "? unknown command"]
    assert responses[3] == "= " and responses[4].startswith("=2 ") and responses[5:] == ["= ", ""]


class SlowInput:
    """A stream whose second command arrives only after a pause (a GUI waiting on analysis)."""

    def __init__(self, first, later, pause):
        self._lines, self._pause, self._index = [first, later], pause, 0

    def readline(self, size=-1):
        if self._index == 1:
            time.sleep(self._pause)
        if self._index >= len(self._lines):
            return ""
        self._index += 1
        return self._lines[self._index - 1]


INFO = re.compile(r"info move ([A-HJ-T]\d+|pass) visits (\d+) winrate (\d+) prior (\d+) order (\d+) pv((?: \S+)+?)"
                  r"(?= info |$)")


def test_lz_analyze_streams_info_lines_until_the_next_command():
    out = io.StringIO()
    engine = GtpEngine(FirstMoveAgent(), EngineConfig(analysis_step=4))
    serve(engine, SlowInput("7 lz-analyze b 2\n", "name\n", 0.3), out)
    text = out.getvalue()
    assert text.startswith("=7\ninfo move A9 ") and text.endswith("\n\n= alphago-lite\n\n")
    lines = text.split("\n\n")[0].split("\n")[1:]
    assert len(lines) >= 3
    totals = []
    for line in lines:
        entries = INFO.findall(line)
        assert [e[0] for e in entries] == ["A9", "B9"] and [e[4] for e in entries] == ["0", "1"]
        assert entries[0][2] == "6250" and entries[0][3] == "2500" and entries[1][3] == "1250"
        assert entries[0][5].split() == ["A9", "B9"]
        totals.append(int(entries[0][1]))
    assert totals == sorted(totals) and totals[-1] > totals[0]


def test_kata_analyze_floats_and_genmove_analyze_plays():
    out = talk("kata-analyze interval 0 maxmoves 1\nlz-genmove_analyze b 1000\nshowboard\n",
               visits=8, analysis_step=4)
    first = out.split("\n\n")[0]
    assert first == "=\ninfo move A9 visits 4 winrate 0.625000 prior 0.250000 order 0 pv A9 B9"
    second = out.split("\n\n")[1]
    assert second.startswith("=\ninfo move A9 visits 8 winrate 6250 ") and second.endswith("\nplay A9")
    assert "  9 (X). ." in out.split("\n\n")[2]


def test_analyze_argument_errors():
    assert parse_analyze_args(("w", "50", "minmoves", "2", "ownership", "true")).interval_cs == 50
    assert talk("lz-analyze interval\nlz-analyze 10 bogus 1\n") == (
        "? syntax error: 'interval' needs a value\n\n? syntax error: unknown analysis option 'bogus'\n\n")


def test_fixed_handicap_tables():
    assert fixed_handicap_points(19, 3) == [Game(19).size * 15 + 3, 3 * 19 + 15, 3 * 19 + 3]  # D4 Q16 D16
    assert talk("boardsize 19\nfixed_handicap 9\nboardsize 9\nfixed_handicap 10\n") == (
        "= \n\n= D4 Q16 D16 Q4 D10 Q10 K4 K16 K10\n\n= \n\n"
        "? invalid number of stones: 9x9 takes fixed handicaps of 2 to 9\n\n")
    points = free_handicap_points(9, 12)
    assert len(set(points)) == 12 and points[:9] == fixed_handicap_points(9, 9)


def test_fixed_handicap_agrees_with_gnugo():
    queries = [(size, n) for size in (7, 9, 10, 13, 19) for n in range(2, 10 if size % 2 and size > 7 else 5)]
    script = "".join(f"boardsize {s}\nclear_board\nfixed_handicap {n}\n" for s, n in queries)
    out = subprocess.run(gnugo_command(0), input=script + "quit\n", capture_output=True, text=True,
                         timeout=20).stdout
    answers = [r[2:] for r in out.split("\n\n") if r.strip() and r[2:].strip()]
    assert len(answers) == len(queries)
    for (size, n), answer in zip(queries, answers):
        ours = talk(f"boardsize {size}\nfixed_handicap {n}\n").split("\n\n")[1][2:]
        assert set(ours.split()) == set(answer.split()), (size, n)


def test_set_free_handicap_checks_the_vertex_list():
    assert talk("set_free_handicap D4\nset_free_handicap D4 D4\nset_free_handicap D4 pass\n"
                "set_free_handicap D4 E5\ngenmove b\n") == (
        "? bad vertex list: give 2 or more distinct points, no pass\n\n" * 3 + "= \n\n= A9\n\n")


def test_clock_budgets_never_exceed_the_time_left():
    clock, game = Clock(), Game(size=9)
    assert clock.budget(1, game, 0.5) is None
    clock.settings(60, 0, 0)
    assert 0.5 < clock.budget(1, game, 0.5) < 2.0
    clock.time_left(1, 1.0, 0)
    assert clock.budget(1, game, 0.5) <= 0.5
    clock.settings(0, 10, 5)                      # byo-yomi only: 5 moves in 10 s
    assert abs(clock.budget(-1, game, 0.5) - 1.5) < 1e-9
    clock.settings(0, 5, 0)                       # the spec's "no time limit"
    assert clock.budget(1, game, 0.5) is None


def test_time_settings_reach_the_agent():
    seen = []

    class Timed(FirstMoveAgent):
        def genmove(self, game, visits=None, seconds=None):
            seen.append(seconds)
            return super().genmove(game, visits, seconds)
    assert talk("time_settings 300 0 0\ntime_left b 30 0\ngenmove b\ntime_settings x 0 0\n", agent=Timed()) == (
        "= \n\n= \n\n= A9\n\n? syntax error: 'x' is not a number\n\n")
    assert 0 < seen[0] < 30 / 30


def test_gnugo_is_found():
    assert find_gnugo() is not None
    assert gnugo_command(3)[1:] == ["--mode", "gtp", "--level", "3", "--chinese-rules"]


def test_reader_thread_does_not_block_on_quit():
    read_end, write_end = os.pipe()
    out = io.StringIO()
    with os.fdopen(write_end, "w") as writer:
        writer.write("quit\n")
        writer.flush()
        thread = threading.Thread(target=serve, args=(GtpEngine(FirstMoveAgent()), os.fdopen(read_end), out))
        thread.start()
        thread.join(5)
    assert not thread.is_alive() and out.getvalue() == "= \n\n"


# ------------------------------------------------------------------- dead stones (scoring.py) ---
def talk_on(diagram, agent, text, to_play="B", komi=0.5):
    """``text`` to an engine whose game is the drawn position."""
    from alphago_lite.go import game_from_diagram
    engine = GtpEngine(agent, EngineConfig(board_size=7, komi=komi, visits=16))
    engine.game = game_from_diagram(diagram, to_play=to_play, komi=komi, max_moves=980)
    agent.new_game(engine.game)
    out = io.StringIO()
    serve(engine, io.StringIO(text), out)
    return out.getvalue()


def test_final_score_and_status_lists_remove_the_dead_stone():
    from test_scoring import DEAD_STONE, DEAD_STONE_OWNERSHIP, drawn_agent
    answers = talk_on(DEAD_STONE, drawn_agent(DEAD_STONE_OWNERSHIP),
                      "final_score\nfinal_status_list dead\nfinal_status_list alive\nfinal_status_list seki\n"
                      "final_status_list DEAD\nfinal_status_list\nfinal_status_list asleep\n")
    assert answers == ("= B+13.5\n\n= B6\n\n= D7 D6 D5 D4 D3 D2 D1\nF7 F6 F5 F4 F3 F2 F1\n\n= \n\n= B6\n\n"
                       "? syntax error: expected final_status_list dead|alive|seki\n\n"
                       "? syntax error: 'asleep' is not dead, alive or seki\n\n")


def test_the_count_of_a_position_is_searched_once_for_final_score_and_the_status_lists(monkeypatch):
    from test_scoring import DEAD_STONE, DEAD_STONE_OWNERSHIP, drawn_agent

    from alphago_lite import scoring
    counted = []
    person_score = scoring.person_score
    monkeypatch.setattr(scoring, "person_score", lambda *a: counted.append(1) or person_score(*a))
    answers = talk_on(DEAD_STONE, drawn_agent(DEAD_STONE_OWNERSHIP),
                      "final_score\nfinal_status_list dead\nfinal_status_list alive\nplay b A1\nfinal_score\n"
                      "komi 7.5\nfinal_score\n")
    assert answers.startswith("= B+13.5\n\n= B6\n\n")
    assert len(counted) == 3  # once for the drawn position, once after A1, once with the new komi


def test_final_status_list_seki():
    from test_scoring import SEKI, SEKI_OWNERSHIP, drawn_agent
    answers = talk_on(SEKI, drawn_agent(SEKI_OWNERSHIP), "final_status_list seki\nfinal_status_list dead\n")
    assert answers == "= B7 B6 B5 A4 B4\nA6\n\n= \n\n"


def test_without_an_ownership_head_the_count_is_tromp_taylor():
    from test_scoring import DEAD_STONE

    from alphago_lite.agents.mcts import MctsAgent
    from alphago_lite.net.evaluator import UniformEvaluator
    for agent in (FirstMoveAgent(), MctsAgent(UniformEvaluator(7, "agz"), visits=8)):
        answers = talk_on(DEAD_STONE, agent, "final_score\nfinal_status_list dead\nfinal_status_list alive\n")
        assert answers == "= W+8.5\n\n= \n\n= D7 D6 D5 D4 D3 D2 D1\nF7 F6 F5 F4 F3 F2 F1\nB6\n\n"


def test_genmove_answers_a_pass_with_a_pass_when_nothing_is_left_to_gain():
    from test_scoring import DEAD_STONE, DEAD_STONE_OWNERSHIP, drawn_agent
    agent = drawn_agent(DEAD_STONE_OWNERSHIP)
    assert talk_on(DEAD_STONE, agent, "play W pass\ngenmove B\nfinal_score\n", to_play="W") == \
        "= \n\n= pass\n\n= B+13.5\n\n"
    # White, losing by the count, plays on after Black's pass
    answer = talk_on(DEAD_STONE, drawn_agent(DEAD_STONE_OWNERSHIP), "play B pass\ngenmove W\n")
    assert answer.startswith("= \n\n= ") and answer != "= \n\n= pass\n\n"
