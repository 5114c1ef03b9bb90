"""Terminal play driven through scripted input streams, bad input of every kind included."""
import io

from alphago_lite.agents.base import Analysis, Candidate, RandomAgent
from alphago_lite.go import BLACK, WHITE, Game, from_gtp, game_from_diagram
from alphago_lite.play.terminal import HELP, PlayOptions, TerminalGame, render_board, star_points
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
        "Score now (area, komi 0.5, no dead stones removed): White leads by 3.5.",
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
