"""Terminal play driven through scripted input streams, bad input of every kind included, and Ctrl-C."""
import io
import re
from datetime import datetime

import pytest

from alphago_lite.agents.base import Analysis, Candidate, RandomAgent
from alphago_lite.go import BLACK, WHITE, Game, from_gtp, game_from_diagram, to_gtp
from alphago_lite.play.terminal import (
    HELP,
    INTERRUPTED,
    PlayOptions,
    TerminalGame,
    default_save_name,
    render_board,
    star_points,
)
from alphago_lite.sgf import load_sgf

KO_AND_SUICIDE = """
    .XOO.
    X.XOO
    .XO..
    .....
    ....."""


class ScriptedAgent:
    """Plays the given GTP moves in order; ``think`` only looks at the next one."""

    board_size = None

    def __init__(self, moves):
        self.moves = list(moves)

    def new_game(self, game):
        pass

    def think(self, game, visits):
        move = from_gtp(self.moves[0], game.size)
        return Analysis(move, 0.75, visits, (Candidate(move, visits, 0.75, 0.5, (move,)),))

    def genmove(self, game, visits=None, seconds=None):
        analysis = self.think(game, 3)
        self.moves.pop(0)
        return analysis


def play(script, game, agent, human=BLACK):
    out = io.StringIO()
    code = TerminalGame(agent, game, PlayOptions(human_colour=human, visits=3), io.StringIO(script), out).run()
    assert code == 0
    return out.getvalue()


def messages(output):
    """The one-line messages, without board drawings and prompts."""
    lines = []
    for line in output.split("\n"):
        line = line.split("> ")[-1]
        if line and not line.startswith(("    A", "  ", "captures:", "You play Black.")):
            lines.append(line)
    return lines


def test_every_kind_of_bad_input_gets_one_line_and_the_prompt_again(tmp_path):
    script = ("hello world\nZ9\nundo\nB5\nE5\nA1\nC4\nhint\nscore\nsave /nonexistent/dir/x.sgf\n"
              "undo\n\npass\nD3\nresign\n" f"save {tmp_path}/g.sgf\n")
    out = play(script, game_from_diagram(KO_AND_SUICIDE, to_play="B", komi=0.5),
               ScriptedAgent(["B4", "pass"]))
    assert messages(out) == [
        "Not understood: malformed coordinate 'hello world': expected a letter and a number like 'D4', "
        "or 'pass'. Type 'help' for the commands.",
        "Not understood: coordinate 'Z9' is off a 5x5 board. Type 'help' for the commands.",
        "Nothing to undo: you have not played a move yet.",
        "Illegal move B5: point occupied.",
        "Illegal move E5: suicide.",
        "You play A1.",
        "The agent plays B4: win rate 75.0%, 3 visits, pv B4",
        "Illegal move C4: repeats an earlier position (ko/superko).",
        "Hint: pass (win rate 75.0%, 3 visits, pv pass)",
        "Score now (area, komi 0.5, no dead stones removed: this net has no ownership head): White leads by 3.5.",
        "Cannot save /nonexistent/dir/x.sgf: No such file or directory.",
        "You play pass.",
        "The agent plays pass: win rate 75.0%, 3 visits, pv pass",
        "Game over: W+0.5 (area score with komi 0.5: -0.5 for Black). Type 'save FILE.sgf' to keep it, or 'quit'.",
        "The game is over (W+0.5): no more moves. 'undo', 'save FILE.sgf' or 'quit'.",
        "The game is already over.",
        f"Saved {tmp_path}/g.sgf.",
        "End of input: goodbye.",
    ]
    record = load_sgf(tmp_path / "g.sgf")
    assert record.moves == (("B", None), ("W", None)) and record.result == "W+0.5"
    assert record.black_player == "human" and record.white_player == "alphago-lite"


def test_undo_takes_back_your_move_and_the_reply():
    game = Game(size=9)
    out = play("E5\nundo\nquit\n", game, ScriptedAgent(["C3"]))
    assert game.history == [] and out.rstrip().endswith("Goodbye.")
    assert "You play E5." in out and "The agent plays C3" in out


def test_agent_moves_first_when_you_are_white_and_help_lists_commands():
    game = Game(size=9)
    out = play("help\n", game, ScriptedAgent(["E5"]), human=WHITE)
    assert game.history == [40]
    assert messages(out)[1:3] == ["The agent plays E5: win rate 75.0%, 3 visits, pv E5", HELP]


def test_resign_ends_the_game_with_the_result():
    game = Game(size=9)
    out = play("resign\n", game, RandomAgent(seed=0))
    assert game.result() == "W+R" and "Game over: W+R (Black resigned)." in out


def test_board_drawing_plain_and_coloured():
    game = Game(size=9)
    game.play("C3")
    game.play("J9")
    plain = render_board(game).split("\n")
    assert plain[0] == "    A B C D E F G H J" and plain[-2] == plain[0]
    assert plain[1] == "  9 . . . . . . . .(O)9"
    assert plain[3] == "  7 . . + . . . + . . 7"      # star points
    assert plain[7] == "  3 . . X . . . + . . 3"
    assert plain[-1] == "captures: Black 0, White 0; move 2; Black to play"
    assert "\x1b[" not in "\n".join(plain) and "\x1b[" in render_board(game, colour=True)
    assert sorted(star_points(19)) == sorted(r * 19 + c for r in (3, 9, 15) for c in (3, 9, 15))


# ------------------------------------------------------------------------------------ Ctrl-C ---

class Keyboard(io.StringIO):
    """Typed lines; a line ``^C`` is a Ctrl-C (KeyboardInterrupt) at that point. ``tty``: interactive."""

    def __init__(self, text, tty=False):
        super().__init__(text)
        self.tty = tty

    def isatty(self):
        return self.tty

    def readline(self, *args):
        line = super().readline(*args)
        if line.strip() == "^C":
            raise KeyboardInterrupt
        return line


def interrupted(script, tty=False, agent=None):
    """(exit code, messages) of a 9x9 game against an agent answering D4, E5 ... typed on a keyboard."""
    out = io.StringIO()
    game = TerminalGame(agent or ScriptedAgent(["D4", "E5", "F6"]), Game(size=9), PlayOptions(visits=3),
                        Keyboard(script, tty), out)
    try:
        code = game.run()
    except KeyboardInterrupt:  # would stop pytest itself
        pytest.fail("Ctrl-C escaped from the game")
    return code, messages(out.getvalue())


def saved_moves(path):
    return [(colour, to_gtp(r * 9 + c, 9)) for colour, (r, c) in load_sgf(path).moves]


def test_ctrl_c_on_a_non_interactive_input_saves_to_a_dated_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, said = interrupted("C3\n^C\n")
    [name] = [p.name for p in tmp_path.iterdir()]
    assert code == INTERRUPTED == 130 and re.fullmatch(r"alphago-lite-\d{8}-\d{6}\.sgf", name)
    assert said[-2:] == [f"Interrupted: saving the game to {name}.", f"Saved {name}."]
    assert saved_moves(name) == [("B", "C3"), ("W", "D4")]


def test_ctrl_c_on_a_terminal_asks_for_the_file_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, said = interrupted("C3\nC4\n^C\nmine.sgf\n", tty=True)
    prompt = r"Interrupted\. Save the game as SGF\? File name \[alphago-lite-\d{8}-\d{6}\.sgf\], or 'no': "
    assert code == 130 and re.fullmatch(prompt + r"Saved mine\.sgf\.", said[-1])
    assert saved_moves("mine.sgf") == [("B", "C3"), ("W", "D4"), ("B", "C4"), ("W", "E5")]
    assert interrupted("C3\n^C\nno\n", tty=True)[1][-1].endswith(": Not saved.")
    assert [p.name for p in tmp_path.iterdir()] == ["mine.sgf"]


@pytest.mark.parametrize("answer", ["^C\n", "", "\n"], ids=["second Ctrl-C", "end of input", "empty answer"])
def test_a_second_ctrl_c_end_of_input_or_no_name_save_to_the_default_name(tmp_path, monkeypatch, answer):
    monkeypatch.chdir(tmp_path)
    code, _ = interrupted("C3\n^C\n" + answer, tty=True)
    [name] = [p.name for p in tmp_path.iterdir()]
    assert code == 130 and name.startswith("alphago-lite-") and saved_moves(name) == [("B", "C3"), ("W", "D4")]


def test_ctrl_c_while_the_agent_thinks_and_before_any_move(tmp_path, monkeypatch):
    class Interrupted(ScriptedAgent):
        def genmove(self, game, visits=None, seconds=None):
            raise KeyboardInterrupt
    monkeypatch.chdir(tmp_path)
    assert interrupted("C3\n", agent=Interrupted([]))[0] == 130
    [name] = [p.name for p in tmp_path.iterdir()]
    assert saved_moves(name) == [("B", "C3")]
    assert interrupted("^C\n") == (130, ["Interrupted: no moves to save."])
    assert len(list(tmp_path.iterdir())) == 1


def test_a_name_that_cannot_be_written_falls_back_to_the_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, said = interrupted("C3\n^C\n/nonexistent/dir/x.sgf\n", tty=True)
    assert said[-2].endswith(": Cannot save /nonexistent/dir/x.sgf: No such file or directory.")
    assert code == 130 and said[-1].startswith("Saved alphago-lite-")


def test_the_default_name_never_overwrites_a_file(tmp_path):
    now = datetime(2025, 1, 2, 3, 4, 5)
    assert default_save_name(now, tmp_path) == tmp_path / "alphago-lite-20250102-030405.sgf"
    (tmp_path / "alphago-lite-20250102-030405.sgf").write_text("kept")
    (tmp_path / "alphago-lite-20250102-030405-2.sgf").write_text("kept")
    assert default_save_name(now, tmp_path).name == "alphago-lite-20250102-030405-3.sgf"


# ------------------------------------------------------------------- dead stones (scoring.py) ---
def test_score_and_territory_remove_the_dead_stone_the_net_sees():
    from test_scoring import DEAD_STONE, DEAD_STONE_OWNERSHIP, drawn_agent
    game = game_from_diagram(DEAD_STONE, komi=0.5)
    out = play("score\nterritory\nquit\n", game, drawn_agent(DEAD_STONE_OWNERSHIP))
    assert "Score now (area, komi 0.5, dead stones (0 black, 1 white) removed, as the net sees them): " \
           "Black leads by 13.5." in out
    drawing = out.split("Black leads by 13.5.\nblack> ")[1].split("\n")[:9]
    assert drawing == ["    A B C D E F G",
                       "  7 b b b X . O w 7",
                       "  6 b o b X . O w 6",
                       "  5 b b b X . O w 5",
                       "  4 b b b X . O w 4",
                       "  3 b b b X . O w 3",
                       "  2 b b b X . O w 2",
                       "  1 b b b X . O w 1",
                       "    A B C D E F G"]


def test_without_an_ownership_head_territory_says_so():
    out = play("territory\nquit\n", Game(size=5), ScriptedAgent([]))
    assert "No territory estimate: this agent's net has no ownership head." in messages(out)


def test_the_agent_answers_your_pass_and_the_result_counts_dead_stones():
    from test_scoring import DEAD_STONE, DEAD_STONE_OWNERSHIP, drawn_agent
    game = game_from_diagram(DEAD_STONE, to_play="W", komi=0.5)
    out = play("pass\nquit\n", game, drawn_agent(DEAD_STONE_OWNERSHIP), human=WHITE)
    assert game.history[-2:] == [49, 49] and game.is_over
    assert ("Game over: B+13.5 by area with komi 0.5 and dead stones (0 black, 1 white) removed "
            "(+13.5 for Black; Tromp-Taylor, stones as they stand: W+8.5). Type 'save FILE.sgf' to keep it, "
            "or 'quit'.") in messages(out)
