"""Multi-node on one machine: a Ray cluster of a head node and a worker node (``ray.cluster_utils.Cluster``).

A training run started from the head places search workers on the worker node; they play through the
inference server on the head and their games reach the replay buffer there. Removing the worker node
mid-run leaves the run going on the head: games keep arriving and the learner trains to its last step.
"""
from __future__ import annotations

import threading
import time

import pytest
import ray
from ray.cluster_utils import Cluster

from actors.search_worker import MAX_UNACKED
from alphago_lite.config import load_config
from alphago_lite.net.checkpoint import load_checkpoint
from alphago_lite.selfplay.replay import read_games
from learner.loop import TrainingRun

pytestmark = pytest.mark.slow  # a two-node Ray cluster and a training run on it

# The head holds the inference server (1 CPU), the replay buffer (0 CPUs) and one search worker; the
# worker node's CPUs are for search workers only.
HEAD_CPUS = 2
WORKER_NODE_CPUS = 2
TOTAL_STEPS = 60
# The learner waits for this many positions: about twice what the buffer holds when the worker node
# goes (some 16 games of ~50 positions), so every learner step comes after the removal.
MIN_POSITIONS = 2000
# Guards against a hang, not measurements: each wait normally ends within seconds.
STARTUP_TIMEOUT_S = 120
RUN_TIMEOUT_S = 180


@pytest.fixture(scope="module")
def cluster():
    # every other Ray test module shuts Ray down after itself; a session left open would be theirs to fix
    assert not ray.is_initialized(), "Ray is already initialized: an earlier test module did not shut it down"
    cluster = Cluster(initialize_head=True,
                      head_node_args={"num_cpus": HEAD_CPUS, "include_dashboard": False})
    try:
        ray.init(address=cluster.address, log_to_driver=False)
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()


class BackgroundRun:
    """``TrainingRun.run()`` in a daemon thread, keeping its result or its exception."""

    def __init__(self, run: TrainingRun):
        self.run, self.result, self.error = run, None, None
        self.thread = threading.Thread(target=self._target, daemon=True)
        self.thread.start()

    def _target(self) -> None:
        try:
            self.result = self.run.run()
        except BaseException as err:  # handed to the test thread by check()
            self.error = err

    def check(self) -> None:
        if self.error is not None:
            raise AssertionError("the training run failed") from self.error

    def finish(self, timeout: float):
        self.thread.join(timeout)
        self.check()
        assert not self.thread.is_alive(), f"the training run did not end within {timeout} s"
        return self.result

    def abandon(self) -> None:
        """Make a run that is still going leave its loop (after a failed assertion)."""
        if self.thread.is_alive():
            self.run.max_steps = 0
            self.thread.join(30)


def wait_for(condition, what: str, background: BackgroundRun, timeout: float = STARTUP_TIMEOUT_S):
    deadline = time.monotonic() + timeout
    while not condition():
        background.check()
        assert time.monotonic() < deadline, f"gave up waiting for {what} after {timeout} s"
        time.sleep(0.2)


def node_of(cluster: Cluster, actor) -> str:
    """Id of the node the (live) actor runs on, from the cluster's GCS tables."""
    return cluster.global_state.actor_table(actor._actor_id.hex())["Address"]["NodeID"]


def games_played(worker) -> int:
    return ray.get(worker.stats.remote())["games"]


def tiny(run_dir):
    return load_config("configs/tiny.yaml", [
        f"run_dir={run_dir}", "search.num_simulations=8", "selfplay.num_workers=2",
        "selfplay.games_per_worker=4", f"learner.min_positions={MIN_POSITIONS}",
        f"learner.total_steps={TOTAL_STEPS}", "learner.publish_every=10", "learner.checkpoint_every=30",
        "evaluation.eval_every=0"])


def test_workers_on_a_worker_node_feed_the_head_and_the_run_survives_losing_the_node(cluster, tmp_path):
    worker_node = cluster.add_node(num_cpus=WORKER_NODE_CPUS)
    head = ray.get_runtime_context().get_node_id()  # the driver runs on the head node
    run_dir = tmp_path / "run"
    run = TrainingRun(tiny(run_dir), quiet=True)
    background = BackgroundRun(run)
    try:
        wait_for(lambda: run.workers is not None, "the run to start its actors", background)
        workers = run.workers.workers
        # a method call returns once its actor is placed and built; its node is known from then on
        ray.get([w.stats.remote() for w in workers] + [s.stats.remote() for s in run.servers]
                + [run.buffer.stats.remote()])
        assert [node_of(cluster, s) for s in run.servers] == [head] * len(run.servers)
        assert node_of(cluster, run.buffer) == head, "the replay buffer must live on the driver's node"
        remote = [w for w in workers if node_of(cluster, w) == worker_node.node_id]
        assert remote, "no search worker was placed on the worker node"

        # a worker has at most MAX_UNACKED + 1 games unacknowledged, so beyond that some game of each
        # remote worker was stored by the buffer: it played through the head's inference server
        wait_for(lambda: all(games_played(w) > MAX_UNACKED + 1 for w in remote),
                 "games from the worker node", background)
        at_removal = ray.get(run.buffer.stats.remote())
        assert at_removal["games_this_run"] > MAX_UNACKED + 1
        # test sizing: the learner has not started, so all of its steps come after the removal
        assert at_removal["window_positions"] < MIN_POSITIONS and run.trainer.step == 0, at_removal

        cluster.remove_node(worker_node)
        last = background.finish(RUN_TIMEOUT_S)
    finally:
        background.abandon()

    assert last.name == f"ckpt-{TOTAL_STEPS:08d}.pt"
    _, meta = load_checkpoint(last)
    assert meta.step == TOTAL_STEPS
    # the pool saw the remote workers' loops fail with their node and asked for them again
    assert run.workers.restarts >= len(remote)
    games = read_games(run_dir / "games")
    # games recorded after the removal: the learner needed them to reach min_positions
    assert len(games) > at_removal["games_this_run"]
    assert sum(g.num_training_positions for g in games) >= MIN_POSITIONS
