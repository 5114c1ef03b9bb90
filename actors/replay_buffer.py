"""Ray actor around the durable shard store and the sampling window (alphago_lite.selfplay.replay)."""
from __future__ import annotations

import json
from pathlib import Path

import ray

from actors.cluster import on_this_node
from alphago_lite.config import ReplayConfig
from alphago_lite.selfplay.records import decode_record
from alphago_lite.selfplay.replay import ReplayWindow, ShardWriter


@ray.remote
class ReplayBuffer:
    """``add`` stores a game durably (fsync) before counting it; ``sample`` draws a training batch.
    Damaged stored data found on resume is skipped and kept as plain dicts (``DamagedData.as_dict``):
    ``stats`` counts it, ``damaged_data`` hands it to the driver to report."""

    def __init__(self, games_dir: str, replay_cfg: ReplayConfig, feature_set: str, seed: int = 0,
                 rng_state: str | None = None, board_size: int | None = None):
        self.window = ReplayWindow(replay_cfg, feature_set, seed, board_size=board_size)
        if rng_state is not None:  # resume: the sampler continues where the checkpoint left it
            self.window.rng.bit_generator.state = json.loads(rng_state)
        damaged = self.window.restore(games_dir) if Path(games_dir).is_dir() else []
        self.damaged = [problem.as_dict() for problem in damaged]
        self.writer = ShardWriter(games_dir, replay_cfg.shard_games)
        self.games_added = 0

    def add(self, encoded_record: bytes) -> int:
        record = decode_record(encoded_record)
        self.writer.append(record)
        self.window.add(record)
        self.games_added += 1
        return self.window.games_seen

    def sample(self, batch_size: int):
        return self.window.sample(batch_size)

    def rng_state(self) -> str:
        """The sampler's numpy generator state as JSON (checkpoint extras hold plain strings)."""
        return json.dumps(self.window.rng.bit_generator.state)

    def stats(self) -> dict:
        return {"games": self.window.games_seen, "games_this_run": self.games_added,
                "positions_seen": self.window.positions_seen,
                "window_games": len(self.window.games), "window_positions": self.window.num_positions,
                "damaged_data": len(self.damaged)}

    def damaged_data(self, start: int = 0) -> list[dict]:
        """The damaged stretches of stored data skipped so far, from the ``start``-th on."""
        return self.damaged[start:]

    def close(self) -> None:
        self.writer.close()


def start_replay_buffer(games_dir: str | Path, replay_cfg: ReplayConfig, feature_set: str, seed: int = 0,
                        rng_state: str | None = None, board_size: int | None = None):
    """A ReplayBuffer on this (the driver's) node: it writes ``games_dir`` on this machine, and a run
    cannot go on without it, so it must not land on a worker node that may go away (Ray would place an
    actor that asks for no resources on any node)."""
    return ReplayBuffer.options(num_cpus=0, scheduling_strategy=on_this_node()).remote(
        str(games_dir), replay_cfg, feature_set, seed, rng_state, board_size)
