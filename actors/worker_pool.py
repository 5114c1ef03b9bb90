"""Search workers of a run: how many, where, and replacing them after a failure.

A worker whose process or node dies is replaced by the pool: ``check`` sees its game loop fail with
the actor gone, starts a new worker with the same arguments (and seed) in its place, and starts its
loop. Ray's own restarts (``max_restarts``) are not used: a worker's constructor takes actor handles
(servers, buffer), and Ray logs an error line for every restartable actor with such arguments
(ray#53727). Games lost are at most those in flight there.

Placement: workers are spread over the cluster's nodes (Ray's SPREAD strategy), so a cluster of
self-play nodes gets workers on each of them rather than packed onto the driver's node. A replacement
waits for a free CPU wherever one comes; the other workers go on meanwhile.
"""
from __future__ import annotations

import math

import ray

from actors.cluster import largest_node_cpus
from actors.inference import server_placement
from actors.search_worker import SearchWorker
from alphago_lite.config import Config
from alphago_lite.errors import UserError


def worker_count(cfg: Config) -> int:
    """``selfplay.num_workers``, or for 0 as many as the CPUs left for search hold (at least one CPU's
    worth: ``selfplay.workers_per_cpu`` workers of one thread)."""
    if cfg.selfplay.num_workers:
        return cfg.selfplay.num_workers
    cpus = worker_cpus(cfg)
    return max(1, round(1 / cpus), int(_cpus_for_search(cfg) / cpus))


def _cpus_for_search(cfg: Config) -> int:
    """The cluster's CPUs less one for the learner (the driver) and those the inference servers reserve."""
    cpus = int(ray.cluster_resources().get("CPU", 1))
    _, servers, resources = server_placement(cfg.inference)
    return cpus - 1 - servers * resources["num_cpus"]


def worker_cpus(cfg: Config) -> float:
    """CPUs one search worker reserves: one per search thread (numba kernels run truly in parallel),
    but never more than the CPUs left for search or than the largest node has, or it could never be
    placed (its threads then share fewer CPUs). A worker of one thread reserves 1 / workers_per_cpu:
    with inference on the CPU it waits for the net most of the time (go9_cpu on 2 cores: 16% of a
    core each), and a second one keeps the server's batches fuller."""
    if cfg.search.threads == 1:
        return 1 / cfg.selfplay.workers_per_cpu
    return max(1, min(cfg.search.threads, _cpus_for_search(cfg), largest_node_cpus()))


def check_capacity(cfg: Config) -> None:
    """Refuse a run the connected cluster cannot place: every inference server and at least one search
    worker must fit, or self-play never starts and the run waits for games for ever. Raises UserError
    naming what is missing (GPUs, CPUs) and what the run asks for."""
    available = ray.cluster_resources()
    cpus, gpus = int(available.get("CPU", 0)), int(available.get("GPU", 0))
    device, servers, resources = server_placement(cfg.inference)
    asked = f"inference.num_servers={cfg.inference.num_servers}, inference.device={cfg.inference.device}"
    gpus_needed = max(servers, 1) * resources.get("num_gpus", 0) if device == "cuda" else 0
    if gpus_needed > gpus:
        raise UserError(f"the cluster has {_count(gpus, 'GPU')} and the inference servers need "
                        f"{_count(gpus_needed, 'GPU')} ({asked}); use inference.device=cpu or a cluster with GPUs")
    server_cpus = servers * resources["num_cpus"]
    needed = server_cpus + worker_cpus(cfg)
    if needed > cpus:
        raise UserError(f"the cluster has {_count(cpus, 'CPU')} and this run needs at least {needed:g}: "
                        f"{server_cpus} for {_count(servers, 'inference server')} ({asked}, inference.cpu_threads="
                        f"{cfg.inference.cpu_threads}) and {worker_cpus(cfg):g} for a search worker; give it more "
                        f"(cluster.num_cpus={math.ceil(needed)} for a local one) or ask for less")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


class WorkerPool:
    def __init__(self, cfg: Config, servers: list, buffer, seed: int, max_games: int | None = None):
        self.max_games = max_games
        count = worker_count(cfg)
        self._options = dict(num_cpus=worker_cpus(cfg), max_concurrency=2, scheduling_strategy="SPREAD")
        self._arguments = [(cfg, list(servers), buffer, seed + i) for i in range(count)]
        self.workers = [self._start(i) for i in range(count)]
        per_worker = None if max_games is None else -(-max_games // count)
        self.per_worker = per_worker
        self.runs = {i: w.run.remote(per_worker) for i, w in enumerate(self.workers)}
        self.restarts = 0  # workers replaced after a failure

    def _start(self, index: int):
        return SearchWorker.options(**self._options).remote(*self._arguments[index])

    def check(self) -> None:
        """Replace any worker whose game loop ended because the worker died, and start the loop again on
        a worker whose loop failed with an error."""
        done, _ = ray.wait(list(self.runs.values()), num_returns=len(self.runs), timeout=0)
        for index, ref in list(self.runs.items()):
            if ref not in done:
                continue
            try:
                ray.get(ref)
            except ray.exceptions.RayActorError:  # the worker (its process or node) is gone
                self.restarts += 1
                ray.kill(self.workers[index])
                self.workers[index] = self._start(index)
                self.runs[index] = self.workers[index].run.remote(self.per_worker)
            except ray.exceptions.RayTaskError:  # the loop raised; the worker lives on
                self.restarts += 1
                self.runs[index] = self.workers[index].run.remote(self.per_worker)

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
        # all at once, under one timeout: a worker waiting for a restart (its node gone, no CPU free)
        # never answers, and must not cost its own timeout in turn
        ray.wait([w.stop.remote() for w in self.workers], num_returns=len(self.workers), timeout=10)
        for w in self.workers:
            ray.kill(w)


def start_search_workers(cfg: Config, servers: list, buffer, seed: int,
                         max_games: int | None = None) -> WorkerPool:
    return WorkerPool(cfg, servers, buffer, seed, max_games)
