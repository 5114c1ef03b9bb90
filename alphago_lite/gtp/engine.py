"""The GTP engine: a ``Game`` and an ``Agent`` behind the GTP version 2 commands.

Vocabulary
----------
handler      a method answering one command; it gets the arguments and returns the result text or
             raises ``GtpError`` with the spec's standard message (``syntax error``, ``illegal move``,
             ``unacceptable size``, ``cannot undo``, ``board not empty``, ``invalid number of stones``,
             ``bad vertex list``, ``cannot load file``), followed by details after a colon.
streaming    ``lz-analyze``, ``kata-analyze`` and the ``*-genmove_analyze`` commands write their response
             as they think (see gtp.py and gtp_analysis.py).
scoring      ``final_score`` and ``final_status_list`` remove dead stones when the agent's net has an
             ownership head (see scoring.py: ownership averaged over the search's principal variation,
             a chain dead below -0.6 for its colour, seki by mutual self-atari); without one they give the
             Tromp-Taylor count and call every stone alive. The answers look the same either way.
pass answer  ``genmove`` and ``reg_genmove`` answer the opponent's pass with a pass when nothing is left to
             gain by that count (``scoring.reply_to_pass``).
fixed handicap  the spec's placement (section 4.1.1): stones on the 3rd line (boards up to 12x12) or
             the 4th line (13x13 and up); at most 9 stones on odd boards from 9x9, else at most 4.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

from alphago_lite import scoring
from alphago_lite.agents.base import RESIGN, Agent
from alphago_lite.go import Game, IllegalMove, from_gtp, to_gtp
from alphago_lite.go.game import parse_colour
from alphago_lite.gtp.analysis import Clock, move_text, parse_analyze_args, stream_analysis
from alphago_lite.gtp.transport import STREAMED, Command, GtpError, Session


@dataclass(frozen=True)
class EngineConfig:
    name: str = "alphago-lite"
    version: str = "0.1.0"
    board_size: int = 9          # until the controller sends boardsize
    komi: float = 7.5
    superko: str = "positional"
    visits: int | None = 200     # per genmove (an upper limit when a clock runs too)
    lag_seconds: float = 0.5     # kept back from each move's time budget for delays we cannot see
    analysis_step: int = 16      # visits between two checks for the next command while analysing


def fixed_handicap_points(size: int, stones: int) -> list[int]:
    """The spec's fixed handicap placement as flat indices; GtpError when it does not exist."""
    most = 9 if size % 2 == 1 and size >= 9 else 4
    if size < 7 or not 2 <= stones <= most:
        raise GtpError(f"invalid number of stones: {size}x{size} takes fixed handicaps of 2 to {most}"
                       if size >= 7 else f"invalid number of stones: no fixed handicap on {size}x{size}")
    edge = 3 if size < 13 else 4
    low, high, mid = edge, size + 1 - edge, (size + 1) // 2   # GTP line / column numbers (1-based)
    corners = [(low, low), (high, high), (low, high), (high, low)]
    sides = [(low, mid), (high, mid)], [(mid, low), (mid, high)]
    layout = corners[:min(stones, 4)]
    if stones >= 6:
        layout += sides[0]
    if stones >= 8:
        layout += sides[1]
    if stones in (5, 7, 9):
        layout.append((mid, mid))
    return [(size - line) * size + (column - 1) for column, line in layout]


def free_handicap_points(size: int, stones: int) -> list[int]:
    """Our choice for ``place_free_handicap``: the fixed placement as far as it goes, then the points
    farthest from every stone so far (off the first two lines while there is room)."""
    if not 2 <= stones < size * size:
        raise GtpError(f"invalid number of stones: {stones} on {size}x{size}")
    most = 9 if size % 2 == 1 and size >= 9 else 4
    chosen = fixed_handicap_points(size, min(stones, most)) if size >= 7 else []
    inner = [p for p in range(size * size) if 2 <= p // size < size - 2 and 2 <= p % size < size - 2]
    pool = inner if len(inner) >= stones else list(range(size * size))
    while len(chosen) < stones:
        def distance(p: int) -> int:
            return min((abs(p // size - q // size) + abs(p % size - q % size) for q in chosen),
                       default=size * size - abs(p // size - size // 2) - abs(p % size - size // 2))
        chosen.append(max((p for p in pool if p not in chosen), key=distance))
    return chosen


class GtpEngine:
    """Answers GTP commands for one agent. ``execute`` is the only entry point (see gtp.serve)."""

    def __init__(self, agent: Agent, config: EngineConfig = EngineConfig()) -> None:
        self.agent, self.config = agent, config
        self.quit_requested = False
        self.clock = Clock()
        self.game = self._new_game(config.board_size, config.komi)
        self._last_count = None  # (position, person_score's answer): see _person_score
        self._plain = {
            "protocol_version": lambda a: "2", "name": lambda a: config.name,
            "version": lambda a: config.version, "known_command": self.known_command,
            "list_commands": lambda a: "\n".join(self.commands()), "quit": self.quit,
            "boardsize": self.boardsize, "clear_board": self.clear_board, "komi": self.komi,
            "play": self.play, "genmove": self.genmove, "reg_genmove": self.reg_genmove,
            "undo": self.undo, "showboard": lambda a: "\n" + self.game.render(),
            "final_score": self.final_score, "final_status_list": self.final_status_list,
            "time_settings": self.time_settings,
            "time_left": self.time_left, "fixed_handicap": self.fixed_handicap,
            "place_free_handicap": self.place_free_handicap, "set_free_handicap": self.set_free_handicap,
            "loadsgf": self.loadsgf, "printsgf": self.printsgf,
        }
        self._streaming = {
            "lz-analyze": self.analyze, "kata-analyze": self.analyze,
            "lz-genmove_analyze": self.genmove_analyze, "kata-genmove_analyze": self.genmove_analyze,
        }

    def commands(self) -> list[str]:
        return list(self._plain) + list(self._streaming)

    def execute(self, command: Command, session: Session) -> object:
        if command.name in self._plain:
            return self._plain[command.name](command.args)
        if command.name in self._streaming:
            return self._streaming[command.name](command, session)
        raise GtpError("unknown command")

    # ------------------------------------------------------------------------------ helpers ---
    def _new_game(self, size: int, komi: float) -> Game:
        # no practical move limit: the controller decides when a game ends
        game = Game(size=size, komi=komi, superko=self.config.superko, max_moves=20 * size * size)
        self.agent.new_game(game)
        return game

    @staticmethod
    def _arity(args: tuple[str, ...], count: int, usage: str) -> None:
        if len(args) != count:
            raise GtpError(f"syntax error: expected {usage}")

    @staticmethod
    def _colour(text: str) -> int:
        try:
            return parse_colour(text)
        except ValueError:
            raise GtpError(f"syntax error: {text!r} is not a colour") from None

    def _vertex(self, text: str) -> int:
        try:
            return from_gtp(text, self.game.size)
        except ValueError as exc:
            raise GtpError(f"syntax error: {exc}") from None

    @staticmethod
    def _number(text: str, kind=float):
        try:
            value = kind(text)
        except ValueError:
            raise GtpError(f"syntax error: {text!r} is not a number") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise GtpError(f"syntax error: {text!r} is not a finite number")
        return value

    # ---------------------------------------------------------------------- admin and setup ---
    def known_command(self, args):
        self._arity(args, 1, "known_command COMMAND")
        return "true" if args[0] in self._plain or args[0] in self._streaming else "false"

    def quit(self, args):
        self.quit_requested = True
        return ""

    def boardsize(self, args):
        self._arity(args, 1, "boardsize SIZE")
        size = self._number(args[0], int)
        wanted = self.agent.board_size
        if not 2 <= size <= 25 or (wanted is not None and size != wanted):
            raise GtpError(f"unacceptable size: this engine plays {wanted}x{wanted}" if wanted
                           else "unacceptable size: 2 to 25")
        self.game = self._new_game(size, self.game.komi)
        return ""

    def clear_board(self, args):
        self.game = self._new_game(self.game.size, self.game.komi)
        return ""

    def komi(self, args):
        self._arity(args, 1, "komi FLOAT")
        self.game.komi = float(self._number(args[0]))
        self.agent.new_game(self.game)  # values depend on komi
        return ""

    def _place_handicap(self, points: list[int]) -> str:
        if self.game.history or self.game.board.any():
            raise GtpError("board not empty")
        self.game.place_setup(black=points, to_play="W")
        self.agent.new_game(self.game)
        return " ".join(to_gtp(p, self.game.size) for p in points)

    def fixed_handicap(self, args):
        self._arity(args, 1, "fixed_handicap NUMBER")
        return self._place_handicap(fixed_handicap_points(self.game.size, self._number(args[0], int)))

    def place_free_handicap(self, args):
        self._arity(args, 1, "place_free_handicap NUMBER")
        return self._place_handicap(free_handicap_points(self.game.size, self._number(args[0], int)))

    def set_free_handicap(self, args):
        points = [self._vertex(v) for v in args]
        n = self.game.size * self.game.size
        if len(points) < 2 or len(set(points)) != len(points) or n in points or len(points) >= n:
            raise GtpError("bad vertex list: give 2 or more distinct points, no pass")
        self._place_handicap(points)
        return ""

    # -------------------------------------------------------------------------------- moves ---
    def play(self, args):
        self._arity(args, 2, "play COLOUR VERTEX")
        colour, move = self._colour(args[0]), self._vertex(args[1])
        try:
            self.game.play(move, colour)
        except IllegalMove as exc:
            raise GtpError(f"illegal move: {exc.reason}") from None
        return ""

    def _choose(self, game: Game, colour: int):
        if game.is_over:
            raise GtpError("game is over: undo or clear_board first")
        if game.to_play != colour:
            game.set_to_play(colour)
        budget = self.clock.budget(colour, game, self.config.lag_seconds)
        started = time.monotonic()
        analysis = self.agent.genmove(game, visits=self.config.visits, seconds=budget)
        analysis = scoring.reply_to_pass(self.agent, game, analysis)
        self.clock.spent(colour, time.monotonic() - started)
        return analysis

    def genmove(self, args):
        self._arity(args, 1, "genmove COLOUR")
        colour = self._colour(args[0])
        analysis = self._choose(self.game, colour)
        if analysis.move != RESIGN:
            self.game.play(analysis.move, colour)
        return move_text(analysis.move, self.game.size)

    def reg_genmove(self, args):
        self._arity(args, 1, "reg_genmove COLOUR")
        return move_text(self._choose(self.game.copy(), self._colour(args[0])).move, self.game.size)

    def undo(self, args):
        if not self.game.history:
            raise GtpError("cannot undo")
        self.game.undo()
        self.agent.new_game(self.game)
        return ""

    def _person_score(self) -> tuple[float, scoring.StoneStatus] | None:
        """The dead-stone-aware count of the position; a GUI asks final_score and then the status lists
        of the same position, so the last position's count is kept (its search is the expensive part)."""
        visits = self.config.visits or scoring.SCORE_VISITS
        position = (self.game.board.tobytes(), self.game.to_play, tuple(self.game.history), self.game.komi, visits)
        if self._last_count is None or self._last_count[0] != position:
            self._last_count = position, scoring.person_score(self.agent, self.game, visits)
        return self._last_count[1]

    def final_score(self, args):
        counted = self._person_score()
        return scoring.score_text(self.game.score() if counted is None else counted[0])

    def final_status_list(self, args):
        self._arity(args, 1, "final_status_list dead|alive|seki")
        wanted = args[0].lower()
        if wanted not in ("dead", "alive", "seki"):
            raise GtpError(f"syntax error: {args[0]!r} is not dead, alive or seki")
        counted = self._person_score()
        if counted is None:  # Tromp-Taylor: every stone on the board counts as alive
            chains = scoring.board_chains(self.game.board) if wanted == "alive" else []
        else:
            chains = getattr(counted[1], wanted)
        # one chain a line, as GNU Go answers
        return "\n".join(" ".join(to_gtp(p, self.game.size) for p in chain.points) for chain in chains)

    # --------------------------------------------------------------------------------- time ---
    def time_settings(self, args):
        self._arity(args, 3, "time_settings MAIN_TIME BYO_YOMI_TIME BYO_YOMI_STONES")
        self.clock.settings(self._number(args[0]), self._number(args[1]), self._number(args[2], int))
        return ""

    def time_left(self, args):
        self._arity(args, 3, "time_left COLOUR TIME STONES")
        self.clock.time_left(self._colour(args[0]), self._number(args[1]), self._number(args[2], int))
        return ""

    # ---------------------------------------------------------------------------------- SGF ---
    def loadsgf(self, args):
        if len(args) not in (1, 2):
            raise GtpError("syntax error: expected loadsgf FILE [MOVE_NUMBER]")
        from alphago_lite.sgf.game import game_from_sgf, load_sgf
        until = self._number(args[1], int) if len(args) == 2 else None
        try:
            record = load_sgf(args[0])
            if until is not None:  # the position before move number `until` is played
                record = dataclasses.replace(record, moves=record.moves[:max(0, until - 1)], comments=())
            wanted = self.agent.board_size
            if wanted is not None and record.size != wanted:
                raise ValueError(f"board size {record.size}, this engine plays {wanted}x{wanted}")
            game = game_from_sgf(record, superko=self.config.superko,
                                 max_moves=max(20 * record.size ** 2, len(record.moves) + 1))
        except (OSError, ValueError) as exc:
            raise GtpError(f"cannot load file: {exc}") from None
        self.game = game
        self.agent.new_game(game)
        return ""

    def printsgf(self, args):
        from alphago_lite.sgf.game import save_sgf, sgf_from_game, write_sgf
        record = sgf_from_game(self.game)
        if not args:
            return "\n" + write_sgf(record).strip()
        try:
            save_sgf(args[0], record)
        except OSError as exc:
            raise GtpError(f"cannot save file: {exc}") from None
        return ""

    # ----------------------------------------------------------------------------- analysis ---
    def analyze(self, command: Command, session: Session):
        request = parse_analyze_args(command.args)
        game = self.game
        if game.is_over:
            raise GtpError("game is over: nothing to analyse")
        if request.colour is not None and request.colour != game.to_play:
            game = game.copy()
            game.set_to_play(request.colour)
        session.write(f"={'' if command.id is None else command.id}\n")
        stream_analysis(self.agent, game, request, session, command.name.startswith("kata"),
                        self.config.analysis_step)
        return STREAMED

    def genmove_analyze(self, command: Command, session: Session):
        request = parse_analyze_args(command.args)
        colour = self.game.to_play if request.colour is None else request.colour
        if self.game.is_over:
            raise GtpError("game is over: undo or clear_board first")
        self.game.set_to_play(colour)
        budget = self.clock.budget(colour, self.game, self.config.lag_seconds)
        session.write(f"={'' if command.id is None else command.id}\n")
        started = time.monotonic()
        analysis = stream_analysis(self.agent, self.game, request, session, command.name.startswith("kata"),
                                   self.config.analysis_step, stop_after=budget,
                                   max_visits=self.config.visits or 200)
        self.clock.spent(colour, time.monotonic() - started)
        if analysis.move != RESIGN:
            self.game.play(analysis.move, colour)
        session.write(f"play {move_text(analysis.move, self.game.size)}\n")
        return STREAMED
