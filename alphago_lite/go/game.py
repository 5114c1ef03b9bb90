"""``Game``: the Python face of the rules engine (one game with its history, undo and scoring).

The position itself lives in two flat arrays owned by the game (see ``core``); ``raw_position()``
hands them to compiled code (features, search), which must copy them before playing moves.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from . import core
from .coords import check_size, from_point, parse_move, to_gtp

KO_RULES = {"simple": core.KO_SIMPLE, "positional": core.KO_POSITIONAL,
            "situational": core.KO_SITUATIONAL}
COLOUR_NAMES = {core.BLACK: "black", core.WHITE: "white"}
STONE_CHARS = {core.BLACK: "X", core.WHITE: "O", core.EMPTY: "."}


class IllegalMove(ValueError):
    """A move the rules forbid. ``move`` (GTP text), ``reason`` and ``board`` (rendered) say why."""

    def __init__(self, move: str, colour: int, reason: str, board: str):
        self.move, self.colour, self.reason, self.board = move, colour, reason, board
        super().__init__(f"illegal move {move} by {COLOUR_NAMES.get(colour, colour)}: {reason}\n{board}")


def parse_colour(colour: int | str) -> int:
    if colour in (core.BLACK, core.WHITE) and not isinstance(colour, bool):
        return int(colour)
    if isinstance(colour, str) and colour.strip().lower() in ("b", "black"):
        return core.BLACK
    if isinstance(colour, str) and colour.strip().lower() in ("w", "white"):
        return core.WHITE
    raise ValueError(f"unknown colour {colour!r}: expected 1/-1, 'B'/'W' or 'black'/'white'")


class Game:
    """A game of Go under area (Tromp-Taylor) scoring with a choice of ko rule and suicide rule."""

    def __init__(self, size: int = 9, komi: float = 7.5, superko: str = "positional",
                 suicide: bool = False, max_moves: int | None = None):
        check_size(size)
        if superko not in KO_RULES:
            raise ValueError(f"unknown superko rule {superko!r}: expected one of {sorted(KO_RULES)}")
        if max_moves is None:
            max_moves = 2 * size * size
        if isinstance(max_moves, bool) or not isinstance(max_moves, int) or max_moves < 1:
            raise ValueError(f"max_moves must be a positive integer, got {max_moves!r}")
        if not math.isfinite(float(komi)):  # a nan komi would score every game as nan, and no SGF holds it
            raise ValueError(f"komi must be a finite number, got {komi!r}")
        self.size = size
        self.komi = float(komi)
        self.superko = superko
        self.suicide = bool(suicide)
        self.max_moves = max_moves
        self._state = np.empty(core.state_length(size), np.int32)
        self._hist = np.empty((min(max_moves, 4 * size * size) + 2, 4), np.uint64)
        core.reset(self._state, self._hist, size, KO_RULES[superko], int(self.suicide), max_moves)
        self._start_state = self._state.copy()
        self._start_hist0 = self._hist[0].copy()
        self._moves: list[int] = []
        self._colours: list[int] = []
        self._resigned = 0

    # ------------------------------------------------------------------------------ queries ---
    @property
    def to_play(self) -> int:
        return int(self._state[core.H_TO_PLAY])

    @property
    def board(self) -> np.ndarray:
        """int8 (size, size): 1 black, -1 white, 0 empty; row 0 is the top line. A copy."""
        n = self.size * self.size
        return self._state[core.STATE_HEADER:core.STATE_HEADER + n].astype(np.int8).reshape(
            self.size, self.size)

    @property
    def history(self) -> list[int]:
        """Moves played so far as flat indices (``size*size`` is pass)."""
        return list(self._moves)

    @property
    def move_colours(self) -> list[int]:
        return list(self._colours)

    @property
    def move_number(self) -> int:
        return int(self._state[core.H_MOVE_NUMBER])

    @property
    def last_move(self) -> int | None:
        last = int(self._state[core.H_LAST_MOVE])
        return None if last == core.NO_MOVE else last

    @property
    def captures(self) -> dict[int, int]:
        """Stones captured so far by each colour."""
        return {core.BLACK: int(self._state[core.H_CAPTURES_B]),
                core.WHITE: int(self._state[core.H_CAPTURES_W])}

    @property
    def ko_point(self) -> int | None:
        ko = int(self._state[core.H_KO_POINT])
        return None if ko == core.NO_MOVE else ko

    @property
    def consecutive_passes(self) -> int:
        return int(self._state[core.H_PASSES])

    @property
    def resigned(self) -> int:
        """Colour that resigned, or 0."""
        return self._resigned

    @property
    def is_over(self) -> bool:
        state = self._state
        return bool(self._resigned or state[core.H_PASSES] >= 2
                    or state[core.H_MOVE_NUMBER] >= self.max_moves)

    def legal_moves(self) -> np.ndarray:
        """Legal moves as flat indices (pass included, last); empty once the game is over."""
        if self.is_over:
            return np.empty(0, np.int32)
        out = np.empty(self.size * self.size + 1, np.int32)
        count = core.legal_moves_into(self._state, self._hist, out)
        return out[:count]

    def legal_mask(self) -> np.ndarray:
        """bool [size*size + 1]; all False once the game is over."""
        out = np.zeros(self.size * self.size + 1, np.bool_)
        if not self.is_over:
            core.legal_mask(self._state, self._hist, out)
        return out

    def fills_own_eye(self, move: int | str) -> bool:
        """True when ``move`` is an empty point whose every neighbour is a stone of the player to move."""
        return bool(core.fills_own_eye(self._state, parse_move(move, self.size)))

    def is_legal(self, move: int | str) -> bool:
        m = parse_move(move, self.size)
        return not self.is_over and core.check_move(self._state, self._hist, m) == core.LEGAL

    def score(self) -> float:
        """Tromp-Taylor area score of the position as it stands: Black minus White minus komi."""
        black, white = core.area_score(self._state)
        return black - white - self.komi

    @property
    def winner(self) -> int | None:
        """BLACK, WHITE, 0 for a draw, or None while the game goes on."""
        if self._resigned:
            return -self._resigned
        if not self.is_over:
            return None
        s = self.score()
        return core.BLACK if s > 0 else core.WHITE if s < 0 else 0

    def result(self) -> str | None:
        """SGF-style result: 'B+3.5', 'W+R', '0' (draw), or None while the game goes on."""
        w = self.winner
        if w is None:
            return None
        if w == 0:
            return "0"
        letter = "B" if w == core.BLACK else "W"
        return f"{letter}+R" if self._resigned else f"{letter}+{abs(self.score()):g}"

    def raw_position(self) -> tuple[np.ndarray, np.ndarray]:
        """(state, hist) arrays for compiled code. Read them; copy before playing moves on them."""
        return self._state, self._hist

    # ----------------------------------------------------------------------------- actions ---
    def play(self, move: int | str, colour: int | str | None = None) -> None:
        """Play a move (flat index or GTP text) for the player to move, or for ``colour``.
        Raises IllegalMove (a ValueError) and leaves the game unchanged if the rules forbid it."""
        if type(move) is int and 0 <= move <= self.size * self.size:
            m = move
        else:
            m = parse_move(move, self.size)
        if colour is not None:
            c = parse_colour(colour)
            if self.is_over:
                raise IllegalMove(to_gtp(m, self.size), c, core.REASONS[core.GAME_OVER], self.render())
            self._state[core.H_TO_PLAY] = c
        state = self._state
        if self._resigned or state[core.H_PASSES] >= 2 or state[core.H_MOVE_NUMBER] >= self.max_moves:
            raise IllegalMove(to_gtp(m, self.size), self.to_play, core.REASONS[core.GAME_OVER],
                              self.render())
        if state[core.H_MOVE_NUMBER] + 1 >= self._hist.shape[0]:
            self._hist = np.concatenate([self._hist, np.empty_like(self._hist)])
        c = int(state[core.H_TO_PLAY])
        code = core.play(state, self._hist, m)
        if code:
            raise IllegalMove(to_gtp(m, self.size), c, core.REASONS[code], self.render())
        self._moves.append(m)
        self._colours.append(c)

    def resign(self, colour: int | str | None = None) -> None:
        if self.is_over:
            raise IllegalMove("resign", self.to_play, core.REASONS[core.GAME_OVER], self.render())
        self._resigned = self.to_play if colour is None else parse_colour(colour)

    def set_to_play(self, colour: int | str) -> None:
        """Let ``colour`` move next (SGF PL[], or a GUI placing consecutive stones of one colour)."""
        self._state[core.H_TO_PLAY] = parse_colour(colour)

    def place_setup(self, black: Iterable[int] = (), white: Iterable[int] = (),
                    to_play: int | str | None = None) -> None:
        """Put setup stones (handicap, SGF AB/AW) on the board before the first move."""
        if self._moves or self._resigned:
            raise ValueError("setup stones can only be placed before the first move")
        n = self.size * self.size
        for colour, points in ((core.BLACK, black), (core.WHITE, white)):
            for p in points:
                p = int(p) if not isinstance(p, tuple) else from_point(p, self.size)
                if not 0 <= p < n:
                    raise ValueError(f"setup point {p} is off a {self.size}x{self.size} board")
                self._state[core.STATE_HEADER + p] = colour
        if to_play is not None:
            self._state[core.H_TO_PLAY] = parse_colour(to_play)
        dead = core.rebuild(self._state, self._hist)
        if dead:
            core.reset(self._state, self._hist, self.size, KO_RULES[self.superko],
                       int(self.suicide), self.max_moves)
            raise ValueError(f"setup leaves {dead} group(s) without liberties")
        self._start_state = self._state.copy()
        self._start_hist0 = self._hist[0].copy()

    def undo(self) -> None:
        """Take back the last action (a resignation, or a move) and restore the state exactly."""
        if self._resigned:
            self._resigned = 0
            return
        if not self._moves:
            raise ValueError("nothing to undo: no move has been played")
        self._moves.pop()
        self._colours.pop()
        self._replay_from_start()

    def _replay_from_start(self) -> None:
        self._state[:] = self._start_state
        self._hist[0] = self._start_hist0
        moves = np.asarray(self._moves, np.int32)
        colours = np.asarray(self._colours, np.int32)
        bad = core.replay(self._state, self._hist, moves, colours)
        assert bad == -1, "a recorded move became illegal on replay"
        if self._moves:
            # the player to move after the last move is its opponent, whatever set_to_play did since
            self._state[core.H_TO_PLAY] = -self._colours[-1]

    def copy(self) -> Game:
        other = object.__new__(Game)
        other.__dict__.update(self.__dict__)
        other._state = self._state.copy()
        other._hist = self._hist.copy()
        other._moves = list(self._moves)
        other._colours = list(self._colours)
        return other

    # ----------------------------------------------------------------------------- display ---
    def render(self, last_move_marker: bool = True) -> str:
        """Plain-text board: X black, O white, coordinates on all sides, last move in brackets."""
        from .coords import GTP_COLUMNS
        cols = GTP_COLUMNS[:self.size]
        header = "    " + " ".join(cols)
        lines = [header]
        board = self.board
        last = self.last_move if last_move_marker else None
        for row in range(self.size):
            line_no = self.size - row
            cells = ""
            for col in range(self.size):
                ch = STONE_CHARS[int(board[row, col])]
                p = row * self.size + col
                if p == last:
                    cells = cells[:-1] + "(" + ch + ")"
                else:
                    cells += ch + " "
            lines.append(f"{line_no:>3} {cells.rstrip():<{2 * self.size}}{line_no}")
        lines.append(header)
        lines.append(f"{COLOUR_NAMES[self.to_play]} to play, move {self.move_number}, captures "
                     f"B {self.captures[core.BLACK]} W {self.captures[core.WHITE]}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Game(size={self.size}, komi={self.komi}, moves={self.move_number})"


def replay_moves(game: Game, moves: Sequence[int | str]) -> Game:
    """Play each move in turn on ``game`` (returned for chaining)."""
    for m in moves:
        game.play(m)
    return game


def game_from_diagram(diagram: str, to_play: int | str = "B", **rules) -> Game:
    """Build a game from a drawn board (minigo style): one line per row, top line first, with ``X``
    black, ``O`` white and ``.`` empty (spaces ignored). The size comes from the number of lines."""
    rows = [line.replace(" ", "") for line in diagram.strip().splitlines() if line.strip()]
    size = len(rows)
    if any(len(r) != size for r in rows):
        raise ValueError(f"diagram is not square: {size} rows of lengths {[len(r) for r in rows]}")
    black, white = [], []
    for row, text in enumerate(rows):
        for col, ch in enumerate(text):
            if ch not in "XO.":
                raise ValueError(f"diagram has {ch!r} at row {row}, column {col}; use X, O or .")
            (black if ch == "X" else white if ch == "O" else []).append(row * size + col)
    game = Game(size=size, **rules)
    game.place_setup(black, white, to_play=to_play)
    return game
