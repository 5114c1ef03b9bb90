"""SGF (Smart Game Format, FF[4]) game records: read, write, and bridge to the rules engine.

Vocabulary:

    point       ``(row, col)``, row 0 = the TOP line, col 0 = the left line; ``None`` = pass.
                The engine's flat index is ``row * size + col`` (same orientation).
    SGF point   two letters, first = column, second = row: ``"aa"`` top-left, ``"sa"`` top-right
                on 19x19. Letters ``a..z`` then ``A..Z`` (boards up to 52). A pass is ``""``;
                ``"tt"`` is also read as a pass on boards up to 19x19 (FF[3] habit).
    colour      ``"B"`` or ``"W"``.
    main line   the first child at every branch; other variations are ignored when reading.

Reading (`parse_sgf`, `load_sgf`) keeps what a Go program needs in the frozen `SgfGame`; the
root properties that no field models (DT, EV, GN, TM, OT, ...) stay in `SgfGame.properties` and
are written back verbatim. Defaults for missing properties: SZ -> 19, KM -> 0.0 (the FF[4]
default; no komi is invented), HA -> 0. Per-move properties other than the move and its comment
(C) are not kept; a comment on a node without a move joins the previous move's comment.
Setup stones (AB/AW) are read from the nodes before the first move; setup in the middle of a game
(AB/AW/AE after a move) is rejected with `SgfError`, because `SgfGame` cannot represent it, and so is
a point that two of AB/AW/AE of one node set (the FF[4] rule: a node changes a point once).
Inputs over the size and node limits (`syntax.MAX_SGF_BYTES`, `syntax.MAX_SGF_NODES`) are refused.

Writing (`write_sgf`, `save_sgf`) emits one root node, then one node per line per move:
``(;FF[4]GM[1]CA[UTF-8]AP[alphago_lite:0.1]SZ[9]KM[7.5]...`` ``;B[cc]`` ``;W[]`` ``)``, which
Sabaki, KaTrain and GNU Go read. ``parse_sgf(write_sgf(g)) == g`` for every valid `SgfGame`.

Engine bridge: `game_from_sgf` replays a record on `alphago_lite.go.Game` (each move for the
colour the file gives it); `sgf_from_game` records a Game. The engine is imported only there.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field

from alphago_lite.sgf.syntax import (
    MAX_SGF_BYTES,
    MAX_SIZE,
    Point,
    SgfError,
    SgfNode,
    ValueReader,
    check_length,
    decode_sgf_bytes,
    error_at,
    normalize_text,
    parse_collection,
    point_to_sgf,
    sgf_to_point,
    simple_text,
)

__all__ = [
    "SgfError", "SgfGame", "Point", "Move", "sgf_to_point", "point_to_sgf",
    "parse_sgf", "parse_sgf_all", "load_sgf", "write_sgf", "save_sgf", "game_from_sgf",
    "sgf_from_game",
]

Move = tuple[str, Point | None]

APPLICATION = "alphago_lite:0.1"
_COLOURS = ("B", "W")
_IDENTIFIER = re.compile(r"[A-Z]+")
# Root properties that SgfGame models with fields, or that the writer regenerates.
_MODELLED = frozenset({"FF", "GM", "CA", "AP", "SZ", "KM", "HA", "RU", "RE", "PB", "PW", "AB",
                       "AW", "AE", "PL", "C", "B", "W"})


# ---------------------------------------------------------------------------------------------
# The game record


@dataclass(frozen=True)
class SgfGame:
    """The main line of one SGF game. Lists given to the constructor are stored as tuples."""

    size: int = 19
    komi: float = 0.0
    """KM; 0.0 when the file has none."""
    handicap: int = 0
    rules: str | None = None
    """RU as written, e.g. "Chinese", "Japanese", "Tromp-Taylor"."""
    result: str | None = None
    """RE as written, e.g. "B+R", "W+0.5", "0" (draw), "Void"."""
    black_player: str | None = None
    white_player: str | None = None
    setup_black: tuple[Point, ...] = ()
    setup_white: tuple[Point, ...] = ()
    first_player: str | None = None
    """PL if given, else the colour of the first move; None when neither exists."""
    moves: tuple[Move, ...] = ()
    """``(colour, point)`` in order; point None = pass. Colours need not alternate."""
    comments: tuple[str | None, ...] = ()
    """One entry per move (None = no comment); an empty tuple means no comments at all."""
    root_comment: str | None = None
    properties: dict[str, list[str]] = field(default_factory=dict, hash=False)
    """Root properties no field models (DT, EV, GN, TM, OT ...), values unescaped."""

    def __post_init__(self) -> None:
        def put(name, value):
            object.__setattr__(self, name, value)

        if not isinstance(self.size, int) or not 1 <= self.size <= MAX_SIZE:
            raise ValueError(f"SGF board size must be an int in 1..{MAX_SIZE}, got {self.size!r}")
        if not isinstance(self.handicap, int) or self.handicap < 0:
            raise ValueError(f"handicap must be an int >= 0, got {self.handicap!r}")
        if not math.isfinite(self.komi):
            raise ValueError(f"komi must be a finite number, got {self.komi!r}")
        put("komi", float(self.komi))
        # Normalise text exactly as reading does, so that parse_sgf(write_sgf(g)) == g.
        for name in ("rules", "result", "black_player", "white_player"):
            put(name, simple_text(getattr(self, name)))
        if self.root_comment is not None:
            put("root_comment", normalize_text(self.root_comment))
        put("setup_black", tuple(tuple(p) for p in self.setup_black))
        put("setup_white", tuple(tuple(p) for p in self.setup_white))
        seen: set[Point] = set()
        for point in self.setup_black + self.setup_white:
            point_to_sgf(point, self.size)  # raises for off-board points
            if point in seen:
                raise ValueError(f"setup point {point} is given twice")
            seen.add(point)
        moves = tuple((colour, None if p is None else tuple(p)) for colour, p in self.moves)
        for colour, point in moves:
            if colour not in _COLOURS:
                raise ValueError(f"move colour must be 'B' or 'W', got {colour!r}")
            point_to_sgf(point, self.size)
        put("moves", moves)
        comments = tuple(None if c is None else normalize_text(c) for c in self.comments)
        comments = comments or (None,) * len(moves)
        if len(comments) != len(moves):
            raise ValueError(f"{len(comments)} comments for {len(moves)} moves")
        put("comments", comments)
        if self.first_player is None and moves:
            put("first_player", moves[0][0])
        if self.first_player not in (None, *_COLOURS):
            raise ValueError(f"first_player must be 'B', 'W' or None, got {self.first_player!r}")
        for ident, values in self.properties.items():
            if ident in _MODELLED or not _IDENTIFIER.fullmatch(ident):
                raise ValueError(f"properties may not hold {ident!r}: it is modelled by a field, "
                                 "regenerated when writing, or not an SGF identifier")
            if isinstance(values, str) or not values:
                raise ValueError(f"property {ident} needs a non-empty list of values, "
                                 f"got {values!r}")
        put("properties", {ident: [normalize_text(v) for v in values]
                           for ident, values in self.properties.items()})


# ---------------------------------------------------------------------------------------------
# Reading


def parse_sgf(text: str | bytes, index: int = 0) -> SgfGame:
    """The game at `index` (0 = first) of an SGF collection. Raises SgfError naming the place."""
    games = _games_of(text)
    if not 0 <= index < len(games[1]):
        raise SgfError(f"game index {index} out of range: the file holds {len(games[1])} game(s)")
    return _game_from_root(games[0], games[1][index])


def parse_sgf_all(text: str | bytes) -> list[SgfGame]:
    """Every game of an SGF collection, in file order."""
    decoded, roots = _games_of(text)
    return [_game_from_root(decoded, root) for root in roots]


def load_sgf(path: str | os.PathLike, index: int = 0) -> SgfGame:
    """Read an SGF file (charset from its CA property; UTF-8, then latin-1 by default). A file over
    `MAX_SGF_BYTES` is refused after reading one byte more than the limit (an endless pipe too)."""
    with open(path, "rb") as handle:
        data = handle.read(MAX_SGF_BYTES + 1)
    if len(data) > MAX_SGF_BYTES:
        raise SgfError(f"{os.fspath(path)} is larger than the SGF size limit of {MAX_SGF_BYTES:,} bytes (10 MB)")
    return parse_sgf(data, index=index)


def _games_of(text: str | bytes) -> tuple[str, list[SgfNode]]:
    if isinstance(text, (bytes, bytearray)):
        check_length(len(text))  # before decoding: that alone would cost as much as the bytes
    decoded = decode_sgf_bytes(text) if isinstance(text, (bytes, bytearray)) else text
    decoded = decoded.lstrip("\ufeff")
    return decoded, parse_collection(decoded)


def _read_size(reader: ValueReader, root: SgfNode) -> int:
    value = reader.one(root, "SZ")
    if value is None or not value.strip():
        return 19
    sides = value.split(":")
    try:
        numbers = [int(side) for side in sides]
    except ValueError:
        raise reader.fail(root, "SZ", f"SZ[{value}] is not a board size") from None
    if len(numbers) > 2 or len(set(numbers)) != 1:
        raise reader.fail(root, "SZ", f"SZ[{value}]: only square boards are supported")
    if not 1 <= numbers[0] <= MAX_SIZE:
        raise reader.fail(root, "SZ", f"SZ[{value}] is outside 1..{MAX_SIZE}")
    return numbers[0]


def _game_from_root(text: str, root: SgfNode) -> SgfGame:
    reader = ValueReader(text)
    game_type = reader.one(root, "GM")
    if game_type is not None and game_type.strip() not in ("", "1"):
        raise reader.fail(root, "GM", f"GM[{game_type}] is not Go (GM[1])")
    reader.size = _read_size(reader, root)
    setup: dict[Point, str] = {}  # point -> "B" or "W", in the order the stones were placed
    moves: list[Move] = []
    comments: list[str | None] = []
    first_player = None
    node: SgfNode | None = root
    while node is not None:
        has_setup = any(ident in node.properties for ident in ("AB", "AW", "AE"))
        if has_setup and moves:
            raise error_at(text, node.offset, "setup stones (AB/AW/AE) after the first move "
                                              "are not supported")
        if has_setup:
            _apply_setup(reader, node, setup)
        player = reader.one(node, "PL")
        if player is not None and not moves:
            if player.strip().upper() not in _COLOURS:
                raise reader.fail(node, "PL", f"PL[{player}] is not B or W")
            first_player = player.strip().upper()
        comment = reader.one(node, "C")
        move = _read_move(reader, node)
        if move is not None:
            moves.append(move)
            comments.append(comment if node is not root else None)
        elif comment is not None and moves and node is not root:
            previous = comments[-1]
            comments[-1] = comment if previous is None else previous + "\n\n" + comment
        node = node.children[0] if node.children else None
    return SgfGame(
        size=reader.size,
        komi=reader.number(root, "KM", float, 0.0),
        handicap=reader.number(root, "HA", int, 0),
        rules=reader.simple_text(root, "RU"),
        result=reader.simple_text(root, "RE"),
        black_player=reader.simple_text(root, "PB"),
        white_player=reader.simple_text(root, "PW"),
        setup_black=tuple(point for point, colour in setup.items() if colour == "B"),
        setup_white=tuple(point for point, colour in setup.items() if colour == "W"),
        first_player=first_player or (moves[0][0] if moves else None),
        moves=tuple(moves),
        comments=tuple(comments),
        root_comment=reader.one(root, "C"),
        properties={k: v for k, v in root.properties.items() if k not in _MODELLED},
    )


def _apply_setup(reader: ValueReader, node: SgfNode, setup: dict[Point, str]) -> None:
    """Add AB/AW stones and remove AE points; a node's setup replaces what earlier nodes put on its
    points. SgfError naming the point when two of AB/AW/AE of this node set the same point."""
    claimed: dict[Point, str] = {}
    for ident in ("AB", "AW", "AE"):
        for point, value in reader.points_and_values(node, ident).items():
            if point in claimed:
                raise reader.fail(node, ident, f"{claimed[point]} and {ident} both set point "
                                               f"{point_to_sgf(point, reader.size)} in one node", value)
            claimed[point] = ident
    for point, ident in claimed.items():
        setup.pop(point, None)  # re-placed stones go to the end, as they were placed
        if ident != "AE":
            setup[point] = ident[1]


def _read_move(reader: ValueReader, node: SgfNode) -> Move | None:
    present = [colour for colour in _COLOURS if colour in node.properties]
    if not present:
        return None
    if len(present) == 2:
        raise error_at(reader.text, node.offset, "a node holds both a B and a W move")
    colour = present[0]
    values = node.properties[colour]
    if len(values) != 1:
        raise reader.fail(node, colour, f"move {colour} has {len(values)} values, expected one")
    return colour, reader.point(node, colour, values[0], 0)


# ---------------------------------------------------------------------------------------------
# Writing


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("]", "\\]")


def _komi_text(komi: float) -> str:
    return str(int(komi)) if komi.is_integer() else repr(komi)


def write_sgf(game: SgfGame) -> str:
    """The game as FF[4] SGF text: a root node, then one move node per line."""
    root = [f"FF[4]GM[1]CA[UTF-8]AP[{APPLICATION}]SZ[{game.size}]KM[{_komi_text(game.komi)}]"]
    for ident, value in (("RU", game.rules), ("RE", game.result), ("PB", game.black_player),
                         ("PW", game.white_player)):
        if value is not None:
            root.append(f"{ident}[{_escape(value)}]")
    if game.handicap:
        root.append(f"HA[{game.handicap}]")
    for ident, values in game.properties.items():
        if ident not in _MODELLED:
            root.append(ident + "".join(f"[{_escape(v)}]" for v in values))
    for ident, points in (("AB", game.setup_black), ("AW", game.setup_white)):
        if points:
            root.append(ident + "".join(f"[{point_to_sgf(p, game.size)}]" for p in points))
    needs_player = not game.moves or game.moves[0][0] != game.first_player
    if game.first_player is not None and (needs_player or game.first_player == "W"):
        root.append(f"PL[{game.first_player}]")
    if game.root_comment is not None:
        root.append(f"C[{_escape(game.root_comment)}]")
    lines = ["(;" + "".join(root)]
    for (colour, point), comment in zip(game.moves, game.comments):
        node = f";{colour}[{point_to_sgf(point, game.size)}]"
        if comment is not None:
            node += f"C[{_escape(comment)}]"
        lines.append(node)
    return "\n".join(lines) + ")\n"


def save_sgf(path: str | os.PathLike, game: SgfGame) -> None:
    """Write the game to `path` as UTF-8 SGF."""
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(write_sgf(game))


# ---------------------------------------------------------------------------------------------
# Bridge to the rules engine (imported lazily: reading and writing SGF needs no numba)


def game_from_sgf(game: SgfGame, superko: str = "positional", suicide: bool = False,
                  max_moves: int | None = None):
    """Replay an SgfGame on a fresh `alphago_lite.go.Game`: setup stones, then every move.

    Each move is played for the colour the file gives it, so two moves of one colour in a row
    are fine. `max_moves` defaults to the engine's limit, raised to fit every move of the file.
    Raises SgfError naming the move number when the engine finds a move illegal."""
    from alphago_lite.go import Game, IllegalMove

    size = game.size
    limit = max(max_moves or 2 * size * size, len(game.moves) + 1)
    board = Game(size=size, komi=game.komi, superko=superko, suicide=suicide, max_moves=limit)
    if game.setup_black or game.setup_white or game.first_player:
        board.place_setup([r * size + c for r, c in game.setup_black],
                          [r * size + c for r, c in game.setup_white],
                          to_play=game.first_player)
    for number, (colour, point) in enumerate(game.moves, start=1):
        flat = size * size if point is None else point[0] * size + point[1]
        try:
            board.play(flat, colour=colour)
        except IllegalMove as exc:
            where = point_to_sgf(point, size) or "pass"
            raise SgfError(f"move {number} ({colour}[{where}]) is illegal: {exc.reason}") from exc
    return board


def sgf_from_game(game, black_player: str | None = None, white_player: str | None = None,
                  rules: str | None = "Chinese", result: str | None = None,
                  comments=(), handicap: int | None = None, **extra: list[str]) -> SgfGame:
    """The record of an `alphago_lite.go.Game`: its start position, moves and colours.

    rules: RU to write; "Chinese" (area scoring, superko) is the closest name GUIs know.
    result: RE; defaults to ``game.result()`` (None while the game goes on).
    handicap: HA; defaults to the number of black setup stones when only Black has setup
    stones, at least two, and White moves first. `extra` are further root properties (DT=[...])."""
    size = game.size
    start = game.copy()
    while start.history or start.resigned:  # back to the position after the setup stones
        start.undo()
    board = start.board
    setup = {colour: tuple((int(r), int(c)) for r, c in zip(*(board == colour).nonzero()))
             for colour in (1, -1)}
    first_player = "B" if start.to_play == 1 else "W"
    if handicap is None:
        handicap = len(setup[1]) if (len(setup[1]) >= 2 and not setup[-1]
                                     and first_player == "W") else 0
    moves = tuple(("B" if colour == 1 else "W", None if m == size * size else divmod(m, size))
                  for m, colour in zip(game.history, game.move_colours))
    return SgfGame(size=size, komi=game.komi, handicap=handicap, rules=rules,
                   result=game.result() if result is None else result,
                   black_player=black_player, white_player=white_player,
                   setup_black=setup[1], setup_white=setup[-1], first_player=first_player,
                   moves=moves, comments=tuple(comments), properties=dict(extra))
