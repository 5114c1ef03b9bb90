"""Self-play only (no learner) on the cluster: the Ray side of `alphago-lite selfplay`."""
from __future__ import annotations

import time
from pathlib import Path

import ray

from actors.cluster import connected, stop_selfplay
from actors.inference import start_inference_servers
from actors.replay_buffer import start_replay_buffer
from actors.worker_pool import check_capacity, start_search_workers
from alphago_lite.run_dir import RunDir


def run_selfplay(cfg, state: dict, meta, out: Path, games: int, seed: int) -> None:
    """Play ``games`` games with the checkpoint's weights; shards go to ``out/games``."""
    with connected(cfg.cluster):
        check_capacity(cfg)  # a cluster too small for self-play would wait for ever
        version = int(meta.extra.get("weights_version", meta.step))
        weights = ray.put(state)  # held until the end: a restarted server rebuilds from it
        servers = start_inference_servers(cfg.inference, meta.arch, meta.feature_set, weights, version)
        buffer = start_replay_buffer(RunDir.at(out).games, cfg.replay, meta.feature_set, seed)
        games_before = ray.get(buffer.stats.remote())["games"]
        pool = None
        start = time.time()
        try:
            pool = start_search_workers(cfg, servers, buffer, seed=seed, max_games=games)
            pool.wait()
        except KeyboardInterrupt:
            print("interrupted: every finished game is already in the shards")
        finally:
            stats = ray.get(buffer.stats.remote())
            stop_selfplay(pool, servers, buffer)
    elapsed = time.time() - start
    print(f"{stats['games'] - games_before} games ({stats['positions_seen']} training positions) "
          f"in {elapsed:.1f} s written to {RunDir.at(out).games}")
