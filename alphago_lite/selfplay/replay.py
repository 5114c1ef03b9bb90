"""Durable game storage and the sampling window the learner trains from.

Shards: ``RUN_DIR/games/shard-000042.msgpack`` files, each a sequence of length-prefixed msgpack game
records (``records.encode_record``). A game is appended and flushed with fsync before it counts, so a
crash loses at most the game being written; a torn last record (a kill in mid-write) is skipped on
reading with a warning, never mistaken for a game.
Window: the most recent ``window_min_games + window_growth * games_seen`` games, capped at
``window_max_games`` (it grows with the run, as KataGo's does). Positions are sampled uniformly from
the window; each sample gets a random board symmetry.
"""
from __future__ import annotations

import os
import struct
import warnings
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np

from alphago_lite.config import ReplayConfig
from alphago_lite.go import BLACK, Game
from alphago_lite.net.features import encode_into, get_feature_set
from alphago_lite.net.symmetry import apply_to_planes, apply_to_policy
from alphago_lite.selfplay.records import GameRecord, RecordError, decode_record, encode_record

_LENGTH = struct.Struct("<I")
SHARD_PATTERN = "shard-{:06d}.msgpack"


class ShardWriter:
    """Appends records to numbered shard files, starting a new file every ``games_per_shard``."""

    def __init__(self, directory: str | os.PathLike, games_per_shard: int):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.games_per_shard = games_per_shard
        existing = sorted(self.directory.glob("shard-*.msgpack"))
        # never append to a shard of an earlier run: its tail may be torn
        self.index = int(existing[-1].stem.split("-")[1]) + 1 if existing else 0
        self.in_shard = 0
        self._file = None

    def append(self, record: GameRecord) -> None:
        if self._file is None or self.in_shard >= self.games_per_shard:
            self.close()
            self._file = open(self.directory / SHARD_PATTERN.format(self.index), "ab")
            self.index += 1
            self.in_shard = 0
        data = encode_record(record)
        self._file.write(_LENGTH.pack(len(data)) + data)
        self._file.flush()
        os.fsync(self._file.fileno())
        self.in_shard += 1

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def read_shard(path: str | os.PathLike) -> Iterator[GameRecord]:
    data = Path(path).read_bytes()
    pos = 0
    while pos < len(data):
        if pos + 4 > len(data):
            warnings.warn(f"{path}: torn record header at byte {pos} skipped", stacklevel=2)
            return
        (length,) = _LENGTH.unpack_from(data, pos)
        chunk = data[pos + 4:pos + 4 + length]
        if len(chunk) < length:
            warnings.warn(f"{path}: torn record at byte {pos} skipped", stacklevel=2)
            return
        try:
            yield decode_record(chunk)
        except RecordError as err:
            raise RecordError(f"{path}: record at byte {pos}: {err}") from None
        pos += 4 + length


def read_games(directory: str | os.PathLike) -> list[GameRecord]:
    """Every game stored under ``directory``, oldest first."""
    games = []
    for shard in sorted(Path(directory).glob("shard-*.msgpack")):
        games.extend(read_shard(shard))
    return games


def encode_positions(record: GameRecord, feature_set: str) -> tuple[np.ndarray, np.ndarray]:
    """Input planes of every full-search position of a game (uint8 [P, C, S, S]) and their move
    indices in the game."""
    fs = get_feature_set(feature_set)
    size = record.size
    keep = [i for i, full in enumerate(record.full_search) if full]
    planes = np.zeros((len(keep), fs.num_planes, size, size), np.uint8)
    game = Game(size=size, komi=record.komi, superko=record.rules.get("superko", "positional"),
                suicide=bool(record.rules.get("suicide", False)), max_moves=record.rules.get("max_moves"))
    wanted = set(keep)
    row = 0
    for i, move in enumerate(record.moves):
        if i in wanted:
            state, hist = game.raw_position()
            encode_into(state, hist, fs.kernel_id, planes[row])
            row += 1
        game.play(move)
    return planes, np.asarray(keep, np.int64)


class ReplayWindow:
    """Games in memory (the recent window), their encoded positions, and uniform sampling."""

    def __init__(self, cfg: ReplayConfig, feature_set: str, seed: int = 0):
        self.cfg, self.feature_set = cfg, feature_set
        self.games: deque = deque()
        self.games_seen = 0
        self.positions_seen = 0
        self.rng = np.random.default_rng(seed)

    def window_size(self) -> int:
        grown = self.cfg.window_min_games + self.cfg.window_growth * self.games_seen
        return int(min(self.cfg.window_max_games, grown))

    def add(self, record: GameRecord) -> None:
        planes, index = encode_positions(record, self.feature_set)
        size = record.size
        policies = np.stack([record.policy_target(i) for i in index]) if len(index) else \
            np.zeros((0, size * size + 1), np.float32)
        values = np.array([_outcome_for_mover(record, i) for i in index], np.float32)
        self.games.append(WindowGame(planes, policies, values, *_ownership_targets(record)))
        self.games_seen += 1
        self.positions_seen += len(index)
        while len(self.games) > self.window_size():
            self.games.popleft()

    @property
    def num_positions(self) -> int:
        return sum(len(g[2]) for g in self.games)

    def sample(self, batch_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(planes uint8 [B,C,S,S], policy float32 [B,A], value float32 [B], ownership float32 [B,S,S],
        ownership mask float32 [B]) drawn uniformly over the positions in the window, each under a random
        symmetry when enabled. Ownership is from the view of the player to move; a game recorded without
        it gives zeros and mask 0."""
        sizes = np.array([len(g.values) for g in self.games])
        if sizes.sum() == 0:
            raise ValueError("replay window holds no training positions yet")
        picks = self.rng.choice(len(sizes), size=batch_size, p=sizes / sizes.sum())
        planes, policies, values, ownership, mask = [], [], [], [], []
        for game_index in picks:
            game = self.games[game_index]
            i = int(self.rng.integers(len(game.values)))
            p, pol = game.planes[i], game.policies[i]
            own = game.movers[i] * game.ownership
            if self.cfg.symmetries:
                k = int(self.rng.integers(8))
                p = apply_to_planes(p, k)
                pol = apply_to_policy(pol, k, p.shape[-1])
                own = apply_to_planes(own, k)
            planes.append(p)
            policies.append(pol)
            values.append(game.values[i])
            ownership.append(own)
            mask.append(game.has_ownership)
        return (np.stack(planes), np.stack(policies).astype(np.float32), np.array(values, np.float32),
                np.stack(ownership).astype(np.float32), np.array(mask, np.float32))


class WindowGame(NamedTuple):
    """One game's training positions as the window keeps them (P = its full-search positions)."""

    planes: np.ndarray      # uint8 [P, C, S, S]
    policies: np.ndarray    # float32 [P, A]
    values: np.ndarray      # float32 [P], outcome for the player to move
    movers: np.ndarray      # int8 [P], colour to move (1 black, -1 white)
    ownership: np.ndarray   # int8 [S, S] final ownership from Black's view (zeros when not recorded)
    has_ownership: bool


def _ownership_targets(record: GameRecord) -> tuple[np.ndarray, np.ndarray, bool]:
    """(movers int8 [P], ownership int8 [S, S], recorded?) for a game's full-search positions; the
    mover by the same colour alternation as ``_outcome_for_mover``."""
    keep = [i for i, full in enumerate(record.full_search) if full]
    movers = np.array([BLACK if i % 2 == 0 else -BLACK for i in keep], np.int8)
    if not record.has_ownership:
        return movers, np.zeros((record.size, record.size), np.int8), False
    return movers, record.ownership_for_mover(BLACK).astype(np.int8), True


def _outcome_for_mover(record: GameRecord, i: int) -> float:
    """Game result (+1/-1/0) from the view of the player who was to move before move i (self-play
    games start from the empty board with black, and colours alternate)."""
    if record.winner == 0:
        return 0.0
    mover = BLACK if i % 2 == 0 else -BLACK
    return 1.0 if record.winner == mover else -1.0
