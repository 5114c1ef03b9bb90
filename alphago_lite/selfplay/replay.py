"""Durable game storage and the sampling window the learner trains from.

Shards: ``RUN_DIR/games/shard-000042.msgpack`` files, each a sequence of length-prefixed msgpack game
records (``records.encode_record``). A game is appended and flushed with fsync before it counts, so a
crash loses at most the game being written. When a writer closes a shard it appends one line to
``games/shards.jsonl`` (name, games, bytes), so that a reader can tell how many games a damaged shard
held; shards written before that index existed simply have no line.
Damaged data never stops a reader and is never dropped silently: a torn or garbled record is skipped
(the reader resynchronises at the next intact record, or skips the rest of the shard) and reported as
``DamagedData`` (file, byte offset, bytes skipped, games lost, what was wrong).
Window: the most recent ``window_min_games + window_growth * games_seen`` games, capped at
``window_max_games`` (it grows with the run, as KataGo's does). Positions are sampled uniformly from
the window; each sample gets a random board symmetry.
"""
from __future__ import annotations

import json
import os
import re
import struct
import warnings
from collections import deque
from dataclasses import asdict, dataclass, replace
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
SHARD_GLOB = "shard-*.msgpack"
SHARD_INDEX = "shards.jsonl"
# a record is a msgpack map: its first byte is a fixmap, map16 or map32 header (resynchronising
# after damage tries only the offsets whose payload starts with one)
_RECORD_START = re.compile(rb"[\x80-\x8f\xde\xdf]")


class ShardWriter:
    """Appends records to numbered shard files, starting a new file every ``games_per_shard``."""

    def __init__(self, directory: str | os.PathLike, games_per_shard: int):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.games_per_shard = games_per_shard
        existing = sorted(self.directory.glob(SHARD_GLOB))
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
            _index_closed_shard(Path(self._file.name), self.in_shard)
            self._file = None


def _index_closed_shard(shard: Path, games: int) -> None:
    """One line of ``shards.jsonl`` for a shard that will never grow again."""
    line = json.dumps({"shard": shard.name, "games": games, "bytes": shard.stat().st_size})
    with open(shard.parent / SHARD_INDEX, "a") as index:
        index.write(line + "\n")
        index.flush()
        os.fsync(index.fileno())


def read_shard_index(directory: str | os.PathLike) -> dict[str, dict]:
    """``{shard name: {"games": n, "bytes": b}}`` of the shards whose writer closed them. The index is a
    cross-check only: an unreadable line (a torn last line) is ignored."""
    path = Path(directory) / SHARD_INDEX
    entries = {}
    lines = path.read_text(errors="replace").splitlines() if path.is_file() else []
    for line in lines:
        try:
            entry = json.loads(line)
            entries[str(entry["shard"])] = {"games": int(entry["games"]), "bytes": int(entry["bytes"])}
        except (ValueError, TypeError, KeyError):
            continue
    return entries


@dataclass(frozen=True)
class DamagedData:
    """A stretch of stored game data that could not be used: where it is and what it cost."""

    file: str
    offset: int           # byte where the damage starts
    bytes_skipped: int
    games_lost: int       # at least this many (a garbled length prefix hides how many records it held)
    what: str

    def describe(self) -> str:
        games = "1 game" if self.games_lost == 1 else f"{self.games_lost} games"
        return f"{self.file}: {games} lost, {self.bytes_skipped} bytes skipped at byte {self.offset} ({self.what})"

    def as_dict(self) -> dict:
        return asdict(self)


class StoredGame(NamedTuple):
    """A game read back from a shard, with where its record lies (to report it if it cannot be used)."""

    file: str
    offset: int
    length: int           # bytes of the record, its length prefix included
    record: GameRecord


@dataclass
class ShardContents:
    games: list[StoredGame]
    problems: list[DamagedData]


def _record_at(data: bytes, pos: int) -> tuple[GameRecord | None, int, str]:
    """(record, frame length, problem) of the record framed at ``pos``: the record is None when it
    cannot be read; the frame length is 0 when its length prefix does not fit in the file."""
    if pos + _LENGTH.size > len(data):
        return None, 0, "torn record header"
    (length,) = _LENGTH.unpack_from(data, pos)
    end = pos + _LENGTH.size + length
    if end > len(data):
        return None, 0, f"torn record: its length prefix says {length} bytes, {len(data) - pos - 4} remain"
    try:
        return decode_record(data[pos + _LENGTH.size:end]), end - pos, ""
    except (RecordError, ArithmeticError) as err:  # garbage can decode to numbers no field takes
        return None, end - pos, str(err)


def _next_intact_record(data: bytes, start: int) -> int | None:
    """Offset of the first record at or after ``start`` that decodes, or None."""
    for match in _RECORD_START.finditer(data, start + _LENGTH.size):
        pos = match.start() - _LENGTH.size
        if _record_at(data, pos)[0] is not None:
            return pos
    return None


def _skip_damage(data: bytes, pos: int, frame: int) -> int:
    """Where reading goes on after a damaged record at ``pos``: after its frame when the length prefix
    leads to an intact record (or the end of the file), else at the next intact record, else the end."""
    after = pos + frame
    if frame and (after == len(data) or _record_at(data, after)[0] is not None):
        return after
    found = _next_intact_record(data, pos + 1)
    return len(data) if found is None else found


def read_shard_checked(path: str | os.PathLike, closed: dict | None = None) -> ShardContents:
    """Every intact game of a shard and every damaged stretch, without raising on damaged data.
    ``closed`` (the shard's index entry: games, bytes) counts the games lost beyond what the damage
    shows, such as those of a truncated tail."""
    data = Path(path).read_bytes()
    games, problems = [], []
    pos = 0
    while pos < len(data):
        record, frame, problem = _record_at(data, pos)
        if record is not None:
            games.append(StoredGame(str(path), pos, frame, record))
            pos += frame
            continue
        resume_at = _skip_damage(data, pos, frame)
        if resume_at == len(data) and resume_at != pos + frame:
            problem += "; the rest of the shard skipped"
        elif resume_at != pos + frame:
            problem += "; skipped to the next intact record"
        problems.append(DamagedData(str(path), pos, resume_at - pos, 1, problem))
        pos = resume_at
    if closed is not None:
        problems = _count_hidden_losses(str(path), len(data), len(games), problems, closed)
    return ShardContents(games, problems)


def _count_hidden_losses(path: str, size: int, intact: int, problems: list[DamagedData],
                         closed: dict) -> list[DamagedData]:
    """Adds the games a shard held when it was closed but that no damaged stretch accounts for (a
    truncated tail takes whole records with it) to its last damaged stretch."""
    hidden = closed["games"] - intact - sum(p.games_lost for p in problems)
    if hidden <= 0:
        return problems
    last = problems[-1] if problems else DamagedData(path, size, 0, 0, "shard ends early")
    what = f"{last.what}; {closed['games']} games and {closed['bytes']} bytes when it was closed, {size} bytes now"
    return problems[:-1] + [replace(last, games_lost=last.games_lost + hidden, what=what)]


def read_stored_games(directory: str | os.PathLike) -> ShardContents:
    """Every intact game under ``directory``, oldest first, and every damaged stretch (shards listed in
    the shard index but missing count as damaged too)."""
    directory = Path(directory)
    index = read_shard_index(directory)
    games, problems = [], []
    shards = sorted(directory.glob(SHARD_GLOB))
    for shard in shards:
        contents = read_shard_checked(shard, index.get(shard.name))
        games += contents.games
        problems += contents.problems
    present = {shard.name for shard in shards}
    for name, entry in sorted(index.items()):
        if name not in present:
            problems.append(DamagedData(str(directory / name), 0, entry["bytes"], entry["games"],
                                        "shard file is missing"))
    return ShardContents(games, problems)


def _warn(problems: list[DamagedData]) -> None:
    for problem in problems:
        warnings.warn(problem.describe(), stacklevel=3)


def read_shard(path: str | os.PathLike) -> list[GameRecord]:
    """The intact games of one shard; each damaged stretch is skipped with a warning."""
    contents = read_shard_checked(path)
    _warn(contents.problems)
    return [game.record for game in contents.games]


def read_games(directory: str | os.PathLike) -> list[GameRecord]:
    """Every intact game stored under ``directory``, oldest first; each damaged stretch is skipped with a
    warning (``read_stored_games`` returns them instead)."""
    contents = read_stored_games(directory)
    _warn(contents.problems)
    return [game.record for game in contents.games]


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

    def __init__(self, cfg: ReplayConfig, feature_set: str, seed: int = 0, board_size: int | None = None):
        self.cfg, self.feature_set = cfg, feature_set
        self.board_size = board_size  # None: the size of the first game added
        self.games: deque = deque()
        self.games_seen = 0
        self.positions_seen = 0
        self.rng = np.random.default_rng(seed)

    def window_size(self) -> int:
        grown = self.cfg.window_min_games + self.cfg.window_growth * self.games_seen
        return int(min(self.cfg.window_max_games, grown))

    def add(self, record: GameRecord) -> None:
        """Encode a game's training positions into the window; a record that does not replay (or is
        for another board size) raises RecordError and leaves the window as it was."""
        planes, policies, values = self._encode(record)
        self.games.append(WindowGame(planes, policies, values, *_ownership_targets(record)))
        self.games_seen += 1
        self.positions_seen += len(values)
        while len(self.games) > self.window_size():
            self.games.popleft()

    def _encode(self, record: GameRecord) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        size = self.board_size if self.board_size is not None else record.size
        if record.size != size:  # one such game would break every batch it is sampled into
            raise RecordError(f"game on a {record.size}x{record.size} board; this window holds {size}x{size} games")
        try:
            planes, index = encode_positions(record, self.feature_set)
            policies = np.stack([record.policy_target(i) for i in index]) if len(index) else \
                np.zeros((0, size * size + 1), np.float32)
        except (ValueError, IndexError, OverflowError) as err:  # illegal or out-of-range moves
            raise RecordError(f"game record does not replay: {err}") from None
        self.board_size = size
        values = np.array([_outcome_for_mover(record, i) for i in index], np.float32)
        return planes, policies, values

    def restore(self, directory: str | os.PathLike) -> list[DamagedData]:
        """Refill the window from the shards under ``directory`` (a resumed run): every intact game
        counts, the newest ``window_max_games`` are encoded. Returns the damaged data skipped, games
        that do not replay included."""
        stored = read_stored_games(directory)
        problems = list(stored.problems)
        newest = stored.games[-self.cfg.window_max_games:]
        self.games_seen += len(stored.games) - len(newest)
        for game in newest:
            try:
                self.add(game.record)
            except RecordError as err:
                problems.append(DamagedData(game.file, game.offset, game.length, 1, str(err)))
        return problems

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
