"""The one owner of the Ray lifecycle: join or start a cluster, and take a self-play cluster down.

Every entry point (the training loop, the selfplay command, the benchmarks, the tests) goes through
here, so that a local cluster is always started the same way and actors are always stopped in the same
order: search workers first (they stop feeding the buffer), then the replay buffer closes its shard
(every game in it is already fsynced; closing releases the file), then servers and buffer are killed.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import ray

from alphago_lite.config import ClusterConfig


def local_options(num_cpus: int | None = None, num_gpus: int | None = None) -> dict:
    """``ray.init`` options of a new local cluster. ``address="local"`` always starts a new one: never
    attach to a cluster that ``ray start`` or another process left running on this machine."""
    return dict(address="local", num_cpus=num_cpus, num_gpus=num_gpus, include_dashboard=False,
                log_to_driver=False)


def connect(cluster: ClusterConfig) -> bool:
    """Join the configured cluster, or start a local one sized by the config. Returns True when this
    call started Ray in this process (the caller then owns its shutdown); False when Ray was already
    up (a test fixture, an embedding program)."""
    if ray.is_initialized():
        return False
    if cluster.address:
        ray.init(address=cluster.address, log_to_driver=False)
    else:
        ray.init(**local_options(cluster.num_cpus, cluster.num_gpus))
    return True


@contextlib.contextmanager
def connected(cluster: ClusterConfig) -> Iterator[None]:
    """Ray for the duration of a block; shut down at its end only if the block started it."""
    started = connect(cluster)
    try:
        yield
    finally:
        if started:
            ray.shutdown()


def stop_selfplay(pool, servers: list, buffer, note: Callable[[str], None] = print) -> None:
    """Take down what ``start_search_workers``, ``start_inference_servers`` and ``start_replay_buffer``
    started, in the one safe order (see the module docstring). Any of them may be None (a start that
    failed half-way)."""
    if pool is not None:
        pool.stop()
    if buffer is not None:
        try:
            ray.get(buffer.close.remote(), timeout=30)
        except Exception as err:  # the buffer fsyncs every game; closing only releases the file
            note(f"replay buffer did not close cleanly: {err}")
    for actor in list(servers or []) + ([buffer] if buffer is not None else []):
        ray.kill(actor)
