"""Distributed play (``gtp`` / ``play`` with ``--address``): the search runs in this process on the head
node, the net on an inference server that the command starts on the cluster, here on the only node
with CPUs to spare (``ray.cluster_utils.Cluster``: a head without CPUs and a worker node).

Equal answers: a forward on the CPU gives numbers that depend on the batch a position is in, so both
engines evaluate positions one at a time (``max_batch=1``, fp32); with one search thread the search
is then deterministic, and the remote engine's GTP conversation must be the in-process one's, byte for
byte.
"""
from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
import ray
import torch
from ray.cluster_utils import Cluster

from actors.remote_play import cluster_session, remote_agent
from alphago_lite.agents.mcts import MctsAgent
from alphago_lite.config import ConfigError, InferenceConfig
from alphago_lite.gtp.engine import EngineConfig, GtpEngine
from alphago_lite.gtp.transport import serve
from alphago_lite.net.checkpoint import load_model, save_checkpoint
from alphago_lite.net.evaluator import InProcessEvaluator
from alphago_lite.net.features import num_planes
from alphago_lite.net.model import PolicyValueNet

pytestmark = pytest.mark.slow  # a two-node Ray cluster, inference servers, a command in a subprocess

VISITS = 48
# moves, a genmove of each colour, a pass, and the analysis commands (their info lines are written at
# intervals of time, so the comparison keeps only the final move of lz-genmove_analyze)
SCRIPT = ("boardsize 5\nkomi 0.5\nplay b C3\ngenmove w\ngenmove b\nplay w pass\ngenmove b\n"
          "lz-genmove_analyze w 1000\ngenmove b\nshowboard\n")


@pytest.fixture(scope="module")
def cluster():
    assert not ray.is_initialized(), "Ray is already initialized: an earlier test module did not shut it down"
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    try:
        worker = cluster.add_node(num_cpus=2)
        ray.init(address=cluster.address, log_to_driver=False)
        yield cluster, worker
    finally:
        ray.shutdown()
        cluster.shutdown()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    net = PolicyValueNet(5, num_planes("agz"), blocks=1, channels=16)
    return save_checkpoint(tmp_path_factory.mktemp("net") / "net.pt", net, feature_set="agz", step=0)


def conversation(agent) -> tuple[str, list, list]:
    """The GTP output of SCRIPT without the analysis' info lines, and the visits and mean values of the
    root moves of the last search (equal only if every evaluation was, bit for bit)."""
    out = io.StringIO()
    serve(GtpEngine(agent, EngineConfig(board_size=5, komi=0.5, visits=VISITS)), io.StringIO(SCRIPT), out)
    stats = agent.search.stats(0)
    text = "\n".join(line for line in out.getvalue().split("\n") if not line.startswith("info "))
    return text, stats.visits.tolist(), stats.q.tolist()


def node_of(cluster: Cluster, actor) -> str:
    return cluster.global_state.actor_table(actor._actor_id.hex())["Address"]["NodeID"]


def test_a_gtp_engine_on_the_head_answers_as_in_process_with_its_net_on_another_node(cluster, checkpoint):
    ray_cluster, worker = cluster
    model, _ = load_model(checkpoint)
    expected = conversation(MctsAgent(InProcessEvaluator(model, 5, "agz", precision="fp32", max_batch=1),
                                      visits=VISITS))
    serving = InferenceConfig(device="cpu", precision="fp32", max_batch=1)
    with cluster_session(ray_cluster.address), remote_agent(checkpoint, serving, visits=VISITS, threads=1) as agent:
        (server,) = agent.evaluator.servers
        assert node_of(ray_cluster, server) == worker.node_id != ray.get_runtime_context().get_node_id()
        answered = conversation(agent)
        positions = ray.get(server.stats.remote())["positions"]
    assert answered == expected
    assert "= " in answered[0] and "?" not in answered[0] and sum(answered[1]) == VISITS - 1
    assert positions == agent.search.evaluations > 0  # every leaf went to the server


def test_tree_threads_on_the_head_share_a_server_on_another_node(cluster, checkpoint):
    ray_cluster, _ = cluster
    serving = InferenceConfig(device="cpu", precision="fp32")
    with cluster_session(ray_cluster.address), remote_agent(checkpoint, serving, visits=200, threads=4) as agent:
        out = io.StringIO()
        serve(GtpEngine(agent, EngineConfig(board_size=5, komi=0.5, visits=200)),
              io.StringIO("genmove b\ngenmove w\n"), out)
        assert agent.search.shared_tree and agent.search.pending_virtual_loss(0) == 0
        positions = ray.get(agent.evaluator.servers[0].stats.remote())["positions"]
    moves = [line for line in out.getvalue().split("\n") if line]
    assert len(moves) == 2 and all(m.startswith("= ") and m != "= resign" for m in moves)
    assert positions == agent.search.evaluations > 0


def test_the_gtp_command_with_an_address_plays_through_the_cluster(cluster, checkpoint):
    ray_cluster, _ = cluster
    command = [sys.executable, "-m", "alphago_lite.cli", "gtp", "--model", str(checkpoint), "--visits", "16",
               "--threads", "2", "--precision", "fp32", "--address", ray_cluster.address]
    done = subprocess.run(command, input="genmove b\nquit\n", capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert done.returncode == 0, done.stderr[-2000:]
    first, *_ = done.stdout.split("\n\n")
    assert first.startswith("= ") and first != "= resign"
    assert f"Loaded checkpoint {checkpoint}" in done.stderr


def test_a_malformed_address_is_a_config_error_before_ray_is_asked():
    with pytest.raises(ConfigError, match="address"):
        cluster_session("not an address")
