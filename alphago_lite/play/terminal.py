"""Play the agent in a terminal: a board drawing and a small command language.

Vocabulary
----------
you / agent   the human's colour is ``PlayOptions.human_colour``; the agent plays the other one.
command       one input line: a move (``D4``, ``d4``), ``pass``, ``resign``, ``undo`` (takes back your
              last move and the agent's reply), ``hint``, ``score``, ``territory``, ``save FILE.sgf``,
              ``help``, ``quit``.
              Anything else gets one line saying what was wrong, and the prompt again.
score         with a net that has an ownership head, ``score`` and the end of the game count area with
              dead stones removed (scoring.py); ``territory`` draws the board with the net's estimate.
              Without one, the Tromp-Taylor count, said so. The agent answers a pass with a pass when
              nothing is left to gain by that count (``scoring.reply_to_pass``).
colour        ANSI colours only when asked for (``PlayOptions.colour``; the command line turns it on when
              stdout is a terminal and NO_COLOR is unset); otherwise plain text that survives pipes.

``TerminalGame`` reads lines from the stream it is given and writes to another, so tests drive it with
``io.StringIO``; it never calls ``input()``. End of input ends the game cleanly. Ctrl-C ends it too, with
exit code 130, after offering to save the game as SGF: an interactive input is asked for a file name; a
non-interactive one, an end of input or a second Ctrl-C saves to ``alphago-lite-DATE-TIME.sgf``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TextIO

from alphago_lite import scoring
from alphago_lite.agents.base import RESIGN, Agent, Analysis
from alphago_lite.go import BLACK, WHITE, Game, IllegalMove, from_gtp, to_gtp
from alphago_lite.go.coords import GTP_COLUMNS

NAMES = {BLACK: "Black", WHITE: "White"}
HELP = ("commands: a move like D4, pass, resign, undo (your last move and the agent's reply), hint, "
        "score, territory, save FILE.sgf, help, quit")
ANSI = {"black": "\x1b[1;30;43m", "white": "\x1b[1;97;43m", "board": "\x1b[30;43m", "last": "\x1b[1;31;43m",
        "reset": "\x1b[0m"}


INTERRUPTED = 130  # the exit code of a program stopped by Ctrl-C (128 + SIGINT)


def default_save_name(now: datetime, folder: Path = Path(".")) -> Path:
    """``alphago-lite-YYYYMMDD-HHMMSS.sgf`` in ``folder``, with ``-2``, ``-3`` ... added rather than
    overwriting a file already there."""
    stem = f"alphago-lite-{now:%Y%m%d-%H%M%S}"
    path, copy = folder / f"{stem}.sgf", 1
    while path.exists():
        copy += 1
        path = folder / f"{stem}-{copy}.sgf"
    return path


@dataclass(frozen=True)
class PlayOptions:
    human_colour: int = BLACK
    visits: int | None = 200
    seconds: float | None = None
    colour: bool = False        # ANSI colours in the board drawing


def star_points(size: int) -> set[int]:
    """Hoshi: 3-3 points up to 12x12, 4-4 from 13x13, plus the centre on odd boards and the side
    points from 15x15."""
    if size < 7:
        return set()
    edge = 3 if size < 13 else 4
    low, high, mid = edge - 1, size - edge, size // 2
    points = {(low, low), (low, high), (high, low), (high, high)}
    if size % 2:
        points.add((mid, mid))
        if size >= 15:
            points |= {(low, mid), (high, mid), (mid, low), (mid, high)}
    return {r * size + c for r, c in points}


def render_board(game: Game, colour: bool = False) -> str:
    """Coordinates on all four sides, ``X`` black, ``O`` white, ``+`` star points, the last move in
    brackets, then captures and whose turn it is."""
    size, board, last = game.size, game.board, game.last_move
    stars = star_points(size)
    letters = "    " + " ".join(GTP_COLUMNS[:size])
    lines = [letters]
    for row in range(size):
        cells = []
        for col in range(size):
            p, stone = row * size + col, int(board[row, col])
            text = "X" if stone == BLACK else "O" if stone == WHITE else "+" if p in stars else "."
            if colour and stone:
                text = ANSI["last" if p == last else "black" if stone == BLACK else "white"] + text + ANSI["board"]
            cells.append(text)
        line = " ".join(cells)
        if last is not None and last // size == row:  # brackets replace the spaces around the last move
            col = last % size
            left = " ".join(cells[:col])
            line = (left + "(" if col else "(") + cells[col] + ")" + " ".join(cells[col + 1:])
        if colour:
            line = ANSI["board"] + line + ANSI["reset"]
        number = size - row
        lines.append(f"{number:>3} {line}{'' if last is not None and last == row * size + size - 1 else ' '}{number}")
    lines.append(letters)
    captures = game.captures
    lines.append(f"captures: Black {captures[BLACK]}, White {captures[WHITE]}; "
                 f"move {game.move_number}; {NAMES[game.to_play]} to play")
    return "\n".join(lines)


TERRITORY_MARK = 0.5  # |ownership| from which an empty point is drawn as someone's territory


def render_territory(game: Game, ownership) -> str:
    """The board with the net's estimate: ``X``/``O`` living stones, ``x``/``o`` dead ones (they count for
    the other side), ``b``/``w`` empty points Black / White will own (|ownership| >= 0.5), ``.`` neither."""
    size, board = game.size, game.board
    dead = set(scoring.classify_stones(board, ownership).dead_points())
    letters = "    " + " ".join(GTP_COLUMNS[:size])
    lines = [letters]
    for row in range(size):
        cells = []
        for col in range(size):
            p, stone, owner = row * size + col, int(board[row, col]), float(ownership[row][col])
            if stone:
                mark = "X" if stone == BLACK else "O"
                cells.append(mark.lower() if p in dead else mark)
            else:
                cells.append("b" if owner >= TERRITORY_MARK else "w" if owner <= -TERRITORY_MARK else ".")
        lines.append(f"{size - row:>3} {' '.join(cells)} {size - row}")
    lines.append(letters)
    lines.append("X O stones, x o dead stones, b w territory of Black / White (the net's estimate)")
    return "\n".join(lines)


class TerminalGame:
    """One game between a person (the input stream) and an agent."""

    def __init__(self, agent: Agent, game: Game, options: PlayOptions, instream: TextIO, outstream: TextIO):
        self.agent, self.game, self.options = agent, game, options
        self._in, self._out = instream, outstream
        self._announced = False  # the end of the game was reported
        self.agent.new_game(game)

    def say(self, text: str) -> None:
        self._out.write(text + "\n")
        self._out.flush()

    def _read(self, prompt: str) -> str | None:
        self._out.write(prompt)
        self._out.flush()
        line = self._in.readline()
        return None if line == "" else line.strip()

    # ------------------------------------------------------------------------------ main loop ---
    def run(self) -> int:
        """Play until the game ends (then offer to save) or input ends / ``quit``; returns 0, or
        ``INTERRUPTED`` after a Ctrl-C (the game offered for saving first)."""
        try:
            return self._play()
        except KeyboardInterrupt:
            self.save_after_interrupt()
            return INTERRUPTED

    def _play(self) -> int:
        self.say(f"You play {NAMES[self.options.human_colour]}. {HELP}")
        self.say(render_board(self.game, self.options.colour))
        while True:
            if self.game.is_over and not self._announced:
                self._announced = True
                self.say(f"Game over: {self.describe_result()}. Type 'save FILE.sgf' to keep it, or 'quit'.")
            elif self.game.to_play != self.options.human_colour:
                self.agent_moves()
                continue
            line = self._read(f"{NAMES[self.game.to_play].lower()}> " if not self.game.is_over else "> ")
            if line is None:
                self.say("")
                self.say("End of input: goodbye.")
                return 0
            if not self.handle(line):
                self.say("Goodbye.")
                return 0

    def agent_moves(self) -> None:
        colour = self.game.to_play
        analysis = self.agent.genmove(self.game, visits=self.options.visits, seconds=self.options.seconds)
        analysis = scoring.reply_to_pass(self.agent, self.game, analysis)
        if analysis.move == RESIGN:
            self.game.resign(colour)
            self.say(f"The agent ({NAMES[colour]}) resigns.")
            return
        self.game.play(analysis.move)
        self.say(f"The agent plays {to_gtp(analysis.move, self.game.size)}: {self.explain(analysis)}")
        self.say(render_board(self.game, self.options.colour))

    def explain(self, analysis: Analysis) -> str:
        size = self.game.size
        best = analysis.candidates[0] if analysis.candidates else None
        pv = " ".join(to_gtp(m, size) for m in best.pv) if best else to_gtp(analysis.move, size)
        # the search speed, when the agent measured it (more search threads: more visits per second)
        speed = f" ({analysis.visits_per_second:,.0f} visits/s)" if analysis.visits_per_second > 0 else ""
        return f"win rate {100 * analysis.winrate:.1f}%, {analysis.visits} visits{speed}, pv {pv}"

    def describe_result(self) -> str:
        result = self.game.result()
        if self.game.resigned:
            return f"{result} ({NAMES[self.game.resigned]} resigned)"
        counted = self._person_score()
        if counted is None:
            return f"{result} (area score with komi {self.game.komi:g}: {self.game.score():+g} for Black)"
        score, status = counted
        return (f"{scoring.score_text(score)} by area with komi {self.game.komi:g} and {self._dead_text(status)} "
                f"removed ({score:+g} for Black; Tromp-Taylor, stones as they stand: {result})")

    def _person_score(self) -> tuple[float, scoring.StoneStatus] | None:
        return scoring.person_score(self.agent, self.game, self.options.visits or scoring.SCORE_VISITS)

    @staticmethod
    def _dead_text(status: scoring.StoneStatus) -> str:
        dead = {colour: sum(len(c.points) for c in status.dead if c.colour == colour) for colour in (BLACK, WHITE)}
        return f"dead stones ({dead[BLACK]} black, {dead[WHITE]} white)"

    # ------------------------------------------------------------------------------- commands ---
    def handle(self, line: str) -> bool:
        """Run one command line; False means quit."""
        words = line.split()
        if not words:
            return True
        word = words[0].lower()
        if word in ("quit", "exit"):
            return False
        handlers = {"help": self.cmd_help, "hint": self.cmd_hint, "score": self.cmd_score,
                    "territory": self.cmd_territory,
                    "undo": self.cmd_undo, "resign": self.cmd_resign, "save": self.cmd_save}
        if word in handlers:
            handlers[word](words[1:])
        else:
            self.cmd_move(line.strip())
        return True

    def cmd_help(self, args) -> None:
        self.say(HELP)

    def cmd_move(self, text: str) -> None:
        if self.game.is_over:
            self.say(f"The game is over ({self.game.result()}): no more moves. 'undo', 'save FILE.sgf' or 'quit'.")
            return
        try:
            move = from_gtp(text, self.game.size)
        except ValueError as exc:
            self.say(f"Not understood: {exc}. Type 'help' for the commands.")
            return
        try:
            self.game.play(move)
        except IllegalMove as exc:
            self.say(f"Illegal move {exc.move}: {exc.reason}.")
            return
        self.say(f"You play {to_gtp(move, self.game.size)}.")

    def cmd_resign(self, args) -> None:
        if self.game.is_over:
            self.say("The game is already over.")
            return
        self.game.resign(self.options.human_colour)

    def cmd_undo(self, args) -> None:
        """Take back moves until it is your turn again with one of your moves fewer."""
        game, human = self.game, self.options.human_colour
        if game.resigned:
            game.undo()
        elif human not in game.move_colours:
            self.say("Nothing to undo: you have not played a move yet.")
            return
        else:
            while game.move_colours and game.move_colours[-1] != human:
                game.undo()
            game.undo()
        self._announced = False
        self.agent.new_game(game)
        self.say(render_board(game, self.options.colour))

    def cmd_hint(self, args) -> None:
        if self.game.is_over:
            self.say("The game is over: no hint.")
            return
        analysis = self.agent.think(self.game.copy(), self.options.visits or 200)
        move = "resign" if analysis.move == RESIGN else to_gtp(analysis.move, self.game.size)
        self.say(f"Hint: {move} ({self.explain(analysis)})")

    def cmd_score(self, args) -> None:
        counted = self._person_score()
        score = self.game.score() if counted is None else counted[0]
        leader = "Black" if score > 0 else "White"
        text = "even" if score == 0 else f"{leader} leads by {abs(score):g}"
        how = "no dead stones removed: this net has no ownership head" if counted is None else \
            f"{self._dead_text(counted[1])} removed, as the net sees them"
        self.say(f"Score now (area, komi {self.game.komi:g}, {how}): {text}.")

    def cmd_territory(self, args) -> None:
        estimate = scoring.estimate_ownership(self.agent, self.game, self.options.visits or scoring.SCORE_VISITS)
        if estimate is None:
            self.say("No territory estimate: this agent's net has no ownership head.")
            return
        self.say(render_territory(self.game, estimate.ownership))

    def cmd_save(self, args) -> None:
        if len(args) != 1:
            self.say("Usage: save FILE.sgf")
            return
        self.save(args[0])

    def save(self, path: str | Path) -> bool:
        """Write the game as SGF to ``path``, saying whether that worked."""
        from alphago_lite.sgf.game import save_sgf, sgf_from_game
        human = self.options.human_colour
        names = {human: "human", -human: "alphago-lite"}
        try:
            save_sgf(path, sgf_from_game(self.game, black_player=names[BLACK], white_player=names[WHITE]))
        except OSError as exc:
            self.say(f"Cannot save {path}: {exc.strerror or exc}.")
            return False
        except ValueError as exc:  # a record that SGF cannot hold
            self.say(f"Cannot save {path}: {exc}.")
            return False
        self.say(f"Saved {path}.")
        return True

    # ------------------------------------------------------------------------------- Ctrl-C ---
    def save_after_interrupt(self) -> None:
        """After a Ctrl-C: ask for a file name (an interactive input) and save, or save to a default name."""
        self.say("")
        if not self.game.history and not self.game.resigned:
            self.say("Interrupted: no moves to save.")
            return
        default = default_save_name(datetime.now())
        answer = self._ask_file_name(default) if self._in.isatty() else None
        if answer is None:
            self.say(f"Interrupted: saving the game to {default}.")
        elif answer.lower() in ("no", "n"):
            self.say("Not saved.")
            return
        if not self.save(answer or default) and answer:
            self.save(default)  # the name given did not work: keep the game anyway

    def _ask_file_name(self, default: Path) -> str | None:
        """The answer to the save question: a file name, '' (the default), 'no'; None at end of input or
        on a second Ctrl-C."""
        try:
            return self._read(f"Interrupted. Save the game as SGF? File name [{default}], or 'no': ")
        except KeyboardInterrupt:
            self.say("")
            return None
