"""Search workers of a run: how many, where, and restarting their game loops after a failure.

Ray restarts a dead worker actor (``max_restarts``); its ``run`` call in flight then fails, and
``check`` starts the loop again on the restarted actor. Games lost are at most those in flight there.
"""
from __future__ import annotations

import ray

from alphago_lite.config import Config

from actors.search_worker import SearchWorker


def worker_count(cfg: Config) -> int:
    if cfg.selfplay.num_workers:
        return cfg.selfplay.num_workers
    cpus = int(ray.cluster_resources().get("CPU", 1))
    # leave one CPU for the learner (the driver) and one per CPU inference server
    servers = cfg.inference.num_servers or 1
    return max(1, cpus - 1 - (0 if ray.cluster_resources().get("GPU") else servers))


class WorkerPool:
    def __init__(self, cfg: Config, servers: list, buffer, seed: int, max_games: int | None = None):
        self.max_games = max_games
        count = worker_count(cfg)
        self.workers = [SearchWorker.options(num_cpus=min(1, cfg.search.threads), max_restarts=-1,
                                             max_concurrency=2).remote(cfg, servers, buffer, seed + i)
                        for i in range(count)]
        per_worker = None if max_games is None else -(-max_games // count)
        self.per_worker = per_worker
        self.runs = {w: w.run.remote(per_worker) for w in self.workers}
        self.restarts = 0

    def check(self) -> None:
        """Restart the game loop of any worker whose loop ended with an error (a crash)."""
        done, _ = ray.wait(list(self.runs.values()), num_returns=len(self.runs), timeout=0)
        for worker, ref in list(self.runs.items()):
            if ref in done:
                try:
                    ray.get(ref)
                except (ray.exceptions.RayActorError, ray.exceptions.RayTaskError):
                    self.restarts += 1
                    self.runs[worker] = worker.run.remote(self.per_worker)

    def wait(self) -> None:
        """Block until every worker has played its games (restarting crashed loops)."""
        while True:
            self.check()
            done, pending = ray.wait(list(self.runs.values()), num_returns=len(self.runs), timeout=1.0)
            if not pending:
                try:
                    ray.get(done)
                    return
                except (ray.exceptions.RayActorError, ray.exceptions.RayTaskError):
                    continue

    def stop(self) -> None:
        for w in self.workers:
            try:
                ray.get(w.stop.remote(), timeout=10)
            except Exception:  # a dead or stuck worker is killed below anyway
                pass
            ray.kill(w)


def start_search_workers(cfg: Config, servers: list, buffer, seed: int,
                         max_games: int | None = None) -> WorkerPool:
    return WorkerPool(cfg, servers, buffer, seed, max_games)
