"""Distributed play (``play`` / ``gtp`` with ``--address``): the search runs on this machine, the net on
a Ray cluster's inference servers, the layout of AlphaGo's distributed version (search threads on one
machine, the networks on the cluster's GPUs).

``cluster_session(address)`` holds the connection for a whole game (Ray's lifecycle is
``actors.cluster.connected``'s: a cluster joined this way is left at the end, never started or shut
down). ``start_remote_agent`` starts the checkpoint's servers on the cluster (one per GPU, or one on a
CPU: ``actors.inference.server_placement``) and returns an ``MctsAgent`` whose leaves they evaluate,
each search thread with requests of its own. The servers belong to this driver: Ray ends them when it
disconnects.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from alphago_lite.config import ClusterConfig, InferenceConfig

if TYPE_CHECKING:  # the search (numba) loads only when an agent is built
    from alphago_lite.agents.mcts import MctsAgent

SERVER_START_TIMEOUT_S = 300  # a server that is not up by then will not be (no resources, a bad node)


def cluster_session(address: str | None) -> contextlib.AbstractContextManager:
    """Connected to the cluster at ``address`` ('auto', 'ray://host:port', 'host:port') for the block;
    nothing at all without an address. A malformed address is a ConfigError naming it."""
    if address is None:
        return contextlib.nullcontext()
    cluster = ClusterConfig(address=address)  # checks the address before Ray is imported
    from actors.cluster import connected
    return connected(cluster)


def start_remote_agent(checkpoint: str | os.PathLike, inference: InferenceConfig, *, visits: int,
                       threads: int) -> tuple[MctsAgent, list]:
    """An agent whose evaluations go to inference servers of ``checkpoint``'s net started on the
    connected cluster (``inference`` says how many, on which device, in which precision), and the
    servers' handles."""
    import ray

    from actors.inference import RemoteEvaluator, start_inference_servers
    from alphago_lite.agents.loading import training_komi
    from alphago_lite.agents.mcts import MctsAgent
    from alphago_lite.net.checkpoint import load_model
    model, meta = load_model(checkpoint)
    servers = start_inference_servers(inference, model.arch(), meta.feature_set, model.state_dict())
    try:  # a server that cannot be placed or built fails here, not at the first move
        ray.get([server.stats.remote() for server in servers], timeout=SERVER_START_TIMEOUT_S)
    except Exception:
        servers.kill()  # the servers and their weights store
        raise
    agent = MctsAgent(RemoteEvaluator(servers, meta.board_size, meta.feature_set), visits=visits, threads=threads)
    agent.training_komi = training_komi(checkpoint)
    return agent, servers


@contextlib.contextmanager
def remote_agent(checkpoint: str | os.PathLike, inference: InferenceConfig, *, visits: int,
                 threads: int) -> Iterator[MctsAgent]:
    """``start_remote_agent`` for a block, its servers ended after it (tests, embedding programs)."""
    agent, servers = start_remote_agent(checkpoint, inference, visits=visits, threads=threads)
    try:
        yield agent
    finally:
        if agent.search is not None:
            agent.search.close()
        servers.kill()
