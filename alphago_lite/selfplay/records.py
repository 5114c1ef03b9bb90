"""``GameRecord``: one finished self-play game, and its versioned msgpack codec.

A record keeps what training needs and what a person wants to look at:
  moves             flat indices (size*size = pass), in order, black first unless setup says otherwise
  visit_moves[i]    the root moves searched before move i (sparse visit distribution) ...
  visit_counts[i]   ... and their visit counts (empty when the move was not searched)
  root_values[i]    search value of the root for the player to move, in [-1, 1]
  full_search[i]    True when move i had a full search (playout-cap randomisation: only those train)
  policy_moves[i]   the policy target of move i when it is not the visit distribution (Gumbel search's
  policy_weights[i] improved policy pi'): moves and weights in units of 1/POLICY_SCALE; () per move
                    when the target is the visit distribution, () for the whole game when none is
  ownership         final ownership of each point (flat, row-major) from Black's view: +1 black, -1
                    white, 0 neither, by Tromp-Taylor area of the final position; () when not recorded
  result            'B+3.5', 'W+R', '0' (draw); winner: 1 black, -1 white, 0 draw
This is record format RECORD_VERSION; readers also read the versions in READABLE_VERSIONS (version 1
has neither policy weights nor ownership) and refuse others with a clear error.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import msgpack
import numpy as np

RECORD_VERSION = 2
READABLE_VERSIONS = (1, 2)
POLICY_SCALE = 65536  # a policy weight w stands for w / POLICY_SCALE (small ints pack into few bytes)


class RecordError(ValueError):
    """A game record that cannot be decoded (wrong version, missing or malformed fields)."""


@dataclass(frozen=True)
class GameRecord:
    size: int
    komi: float
    rules: dict                     # {"superko": ..., "suicide": ..., "max_moves": ...}
    moves: tuple[int, ...]
    visit_moves: tuple[tuple[int, ...], ...]
    visit_counts: tuple[tuple[int, ...], ...]
    root_values: tuple[float, ...]
    full_search: tuple[bool, ...]
    result: str
    winner: int
    model_version: int = 0
    resign_disabled: bool = False
    resigned: int = 0               # colour that resigned after the last move, 0 if nobody did
    setup_black: tuple[int, ...] = ()
    setup_white: tuple[int, ...] = ()
    extra: dict = field(default_factory=dict)
    policy_moves: tuple[tuple[int, ...], ...] = ()
    policy_weights: tuple[tuple[int, ...], ...] = ()
    ownership: tuple[int, ...] = ()

    def __post_init__(self):
        n = len(self.moves)
        for name in ("visit_moves", "visit_counts", "root_values", "full_search"):
            if len(getattr(self, name)) != n:
                raise RecordError(f"game record field {name!r} has {len(getattr(self, name))} entries "
                                  f"for {n} moves")
        for name in ("policy_moves", "policy_weights"):
            if getattr(self, name) and len(getattr(self, name)) != n:
                raise RecordError(f"game record field {name!r} has {len(getattr(self, name))} entries "
                                  f"for {n} moves (or must be empty)")
        if self.ownership and len(self.ownership) != self.size * self.size:
            raise RecordError(f"game record field 'ownership' has {len(self.ownership)} points for a "
                              f"{self.size}x{self.size} board (or must be empty)")

    def policy_target(self, i: int) -> np.ndarray:
        """The policy target of move i as a dense float32 [size*size + 1] vector summing to 1 (all zeros
        when the move was not searched): the recorded weights if any, else the visit distribution."""
        target = np.zeros(self.size * self.size + 1, np.float32)
        weighted = bool(self.policy_weights) and bool(self.policy_weights[i])
        moves = self.policy_moves[i] if weighted else self.visit_moves[i]
        weights = np.asarray(self.policy_weights[i] if weighted else self.visit_counts[i], np.float32)
        if weights.sum() > 0:
            target[list(moves)] = weights / weights.sum()
        return target

    @property
    def has_ownership(self) -> bool:
        return bool(self.ownership)

    def ownership_for_mover(self, mover: int) -> np.ndarray:
        """Final ownership float32 [size, size] from the view of ``mover`` (1 black, -1 white): +1 where
        the player to move ends up owning the point."""
        if not self.ownership:
            raise RecordError("this game record has no ownership (written before version 2)")
        return mover * np.asarray(self.ownership, np.float32).reshape(self.size, self.size)

    @property
    def num_training_positions(self) -> int:
        return sum(self.full_search)


def encode_record(record: GameRecord) -> bytes:
    payload = {
        "v": RECORD_VERSION, "size": record.size, "komi": record.komi, "rules": record.rules,
        "moves": list(record.moves), "visit_moves": [list(v) for v in record.visit_moves],
        "visit_counts": [list(c) for c in record.visit_counts],
        "root_values": [float(v) for v in record.root_values],
        "full_search": [bool(f) for f in record.full_search], "result": record.result,
        "winner": record.winner, "model_version": record.model_version,
        "resign_disabled": record.resign_disabled, "resigned": record.resigned,
        "setup_black": list(record.setup_black),
        "setup_white": list(record.setup_white), "extra": record.extra,
        "policy_moves": [list(m) for m in record.policy_moves],
        "policy_weights": [list(w) for w in record.policy_weights], "ownership": list(record.ownership),
    }
    return msgpack.packb(payload, use_bin_type=True)


def decode_record(data: bytes) -> GameRecord:
    try:
        obj = msgpack.unpackb(data, raw=False, strict_map_key=False)
    except Exception as err:  # msgpack raises several unrelated types for bad bytes
        raise RecordError(f"game record is not valid msgpack: {err}") from None
    return record_from_dict(obj)


def record_from_dict(obj) -> GameRecord:
    if not isinstance(obj, dict):
        raise RecordError(f"game record must be a map, got {type(obj).__name__}")
    if obj.get("v") not in READABLE_VERSIONS:
        readable = ", ".join(map(str, READABLE_VERSIONS))
        raise RecordError(f"game record version {obj.get('v')!r} is not supported "
                          f"(this build reads versions {readable})")
    try:
        return GameRecord(
            size=int(obj["size"]), komi=float(obj["komi"]), rules=dict(obj["rules"]),
            moves=tuple(int(m) for m in obj["moves"]),
            visit_moves=tuple(tuple(int(m) for m in v) for v in obj["visit_moves"]),
            visit_counts=tuple(tuple(int(c) for c in v) for v in obj["visit_counts"]),
            root_values=tuple(float(v) for v in obj["root_values"]),
            full_search=tuple(bool(f) for f in obj["full_search"]), result=str(obj["result"]),
            winner=int(obj["winner"]), model_version=int(obj["model_version"]),
            resign_disabled=bool(obj["resign_disabled"]), resigned=int(obj.get("resigned", 0)),
            setup_black=tuple(obj.get("setup_black", ())), setup_white=tuple(obj.get("setup_white", ())),
            extra=dict(obj.get("extra", {})),
            policy_moves=tuple(tuple(int(m) for m in v) for v in obj.get("policy_moves", ())),
            policy_weights=tuple(tuple(int(w) for w in v) for v in obj.get("policy_weights", ())),
            ownership=tuple(int(o) for o in obj.get("ownership", ())))
    except KeyError as err:
        raise RecordError(f"game record lacks field {err.args[0]!r}") from None
    except (TypeError, ValueError) as err:
        raise RecordError(f"game record has a malformed field: {err}") from None


def sparse_policy(policy: np.ndarray) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """A dense policy (float [size*size + 1]) as (moves, weights) for ``policy_moves`` and
    ``policy_weights``: weights rounded to units of 1/POLICY_SCALE, moves that round to 0 left out."""
    weights = np.rint(np.asarray(policy, np.float64) * POLICY_SCALE).astype(np.int64)
    moves = np.flatnonzero(weights > 0)
    return tuple(int(m) for m in moves), tuple(int(w) for w in weights[moves])


def area_ownership(board: np.ndarray) -> np.ndarray:
    """Tromp-Taylor ownership of each point of ``board`` (int [S, S], 1 black, -1 white, 0 empty):
    a stone's colour, the colour of an empty region that reaches stones of only that colour, else 0.
    Returns int8 [S, S]; its +1 and -1 counts are the area score's (``go.core.area_score``)."""
    size = board.shape[0]
    owner = np.asarray(board, np.int8).copy()
    seen = owner != 0
    for start in zip(*np.nonzero(~seen)):
        if seen[start]:
            continue
        region, reaches, stack = [], set(), [start]
        seen[start] = True
        while stack:
            r, c = stack.pop()
            region.append((r, c))
            for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
                if 0 <= rr < size and 0 <= cc < size:
                    if board[rr, cc] != 0:
                        reaches.add(int(board[rr, cc]))
                    elif not seen[rr, cc]:
                        seen[rr, cc] = True
                        stack.append((rr, cc))
        if len(reaches) == 1:
            colour = reaches.pop()
            for point in region:
                owner[point] = colour
    return owner


def replay_record(record: GameRecord):
    """The record's game replayed through the rules engine (raises if a move is illegal)."""
    from alphago_lite.go import Game
    game = Game(size=record.size, komi=record.komi, superko=record.rules.get("superko", "positional"),
                suicide=bool(record.rules.get("suicide", False)),
                max_moves=record.rules.get("max_moves"))
    if record.setup_black or record.setup_white:
        game.place_setup(record.setup_black, record.setup_white)
    for m in record.moves:
        game.play(m)
    if record.resigned:
        game.resign(record.resigned)
    return game


def record_to_sgf(record: GameRecord) -> str:
    """SGF text of the game, with the visit-weighted win rate of each searched move as a comment."""
    from alphago_lite.sgf.game import sgf_from_game, write_sgf
    game = replay_record(record)
    comments = []
    for i, value in enumerate(record.root_values):
        visits = sum(record.visit_counts[i])
        winrate = 50.0 * (value + 1.0)
        comments.append(f"winrate {winrate:.1f}% visits {visits}" if visits else None)
    sgf = sgf_from_game(game, black_player=f"alphago_lite v{record.model_version}",
                        white_player=f"alphago_lite v{record.model_version}", result=record.result,
                        comments=tuple(comments))
    return write_sgf(sgf)
