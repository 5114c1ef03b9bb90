"""Ray actor around the durable shard store and the sampling window (alphago_lite.selfplay.replay)."""
from __future__ import annotations

import json
from pathlib import Path

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from alphago_lite.config import ReplayConfig
from alphago_lite.selfplay.records import decode_record
from alphago_lite.selfplay.replay import ReplayWindow, ShardWriter, read_games


@ray.remote
class ReplayBuffer:
    """``add`` stores a game durably (fsync) before counting it; ``sample`` draws a training batch."""

    def __init__(self, games_dir: str, replay_cfg: ReplayConfig, feature_set: str, seed: int = 0,
                 rng_state: str | None = None):
        self.window = ReplayWindow(replay_cfg, feature_set, seed)
        if rng_state is not None:  # resume: the sampler continues where the checkpoint left it
            self.window.rng.bit_generator.state = json.loads(rng_state)
        stored = read_games(games_dir) if Path(games_dir).is_dir() else []
        # resume: count every stored game, but encode only the ones the window can hold
        self.window.games_seen = max(len(stored) - replay_cfg.window_max_games, 0)
        for record in stored[-replay_cfg.window_max_games:]:
            self.window.add(record)
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
                "window_games": len(self.window.games), "window_positions": self.window.num_positions}

    def close(self) -> None:
        self.writer.close()


def start_replay_buffer(games_dir: str | Path, replay_cfg: ReplayConfig, feature_set: str, seed: int = 0,
                        rng_state: str | None = None):
    """A ReplayBuffer on this (the driver's) node: it writes ``games_dir`` on this machine, and a run
    cannot go on without it, so it must not land on a worker node that may go away (Ray would place an
    actor that asks for no resources on any node)."""
    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    return ReplayBuffer.options(num_cpus=0, scheduling_strategy=here).remote(
        str(games_dir), replay_cfg, feature_set, seed, rng_state)
