"""``GameRecord``: one finished self-play game, and its versioned msgpack codec.

A record keeps what training needs and what a person wants to look at:
  moves             flat indices (size*size = pass), in order, black first unless setup says otherwise
  visit_moves[i]    the root moves searched before move i (sparse visit distribution) ...
  visit_counts[i]   ... and their visit counts (empty when the move was not searched)
  root_values[i]    search value of the root for the player to move, in [-1, 1]
  full_search[i]    True when move i had a full search (playout-cap randomisation: only those train)
  result            'B+3.5', 'W+R', '0' (draw); winner: 1 black, -1 white, 0 draw
This is record format RECORD_VERSION; readers refuse other versions with a clear error.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import msgpack
import numpy as np

RECORD_VERSION = 1


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

    def __post_init__(self):
        n = len(self.moves)
        for name in ("visit_moves", "visit_counts", "root_values", "full_search"):
            if len(getattr(self, name)) != n:
                raise RecordError(f"game record field {name!r} has {len(getattr(self, name))} entries "
                                  f"for {n} moves")

    def policy_target(self, i: int) -> np.ndarray:
        """Visit distribution of move i as a dense float32 [size*size + 1] vector summing to 1."""
        target = np.zeros(self.size * self.size + 1, np.float32)
        counts = np.asarray(self.visit_counts[i], np.float32)
        if counts.sum() > 0:
            target[list(self.visit_moves[i])] = counts / counts.sum()
        return target

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
    if obj.get("v") != RECORD_VERSION:
        raise RecordError(f"game record version {obj.get('v')!r} is not supported "
                          f"(this build reads version {RECORD_VERSION})")
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
            extra=dict(obj.get("extra", {})))
    except KeyError as err:
        raise RecordError(f"game record lacks field {err.args[0]!r}") from None
    except (TypeError, ValueError) as err:
        raise RecordError(f"game record has a malformed field: {err}") from None


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
