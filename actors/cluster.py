"""The one owner of the Ray lifecycle: join or start a cluster, and take a self-play cluster down.

Every entry point (the training loop, the selfplay command, the benchmarks, the tests) goes through
here, so that a local cluster is always started the same way and actors are always stopped in the same
order: search workers first (they stop feeding the buffer), then the replay buffer closes its shard
(every game in it is already fsynced; closing releases the file), then servers and buffer are killed.

A local cluster (``start_local``, no ``cluster.address``):
- listens on 127.0.0.1 only (see ``_loopback_node``); nothing of it is reachable from the network;
- keeps Ray's token authentication where this Ray has it: Ray turns it on for a new local cluster
  unless ``RAY_AUTH_MODE`` says otherwise, and nothing here changes that;
- ends with its driver, however the driver ends (normal end, exception, SIGTERM, ``kill -9``): a
  watchdog process (``actors/orphan_watchdog.py``) ends whatever Ray process is left within seconds.
While ``connected`` runs its block, SIGTERM stops the driver the way Ctrl-C does (KeyboardInterrupt:
the training loop writes a checkpoint and stops the actors) instead of Ray's handler, which prints a
C++ stack dump.
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

if TYPE_CHECKING:  # only the annotation: the lifecycle does not import the servers' module
    from actors.inference import ServerGroup
import ray._private.ray_constants as ray_constants

from actors import orphan_watchdog
from alphago_lite.config import ClusterConfig

WATCHDOG_EXIT_SECONDS = orphan_watchdog.GRACE_SECONDS + 3.0


def local_options(num_cpus: int | None = None, num_gpus: int | None = None) -> dict:
    """``ray.init`` options of a new local cluster. ``address="local"`` always starts a new one: never
    attach to a cluster that ``ray start`` or another process left running on this machine."""
    return dict(address="local", num_cpus=num_cpus, num_gpus=num_gpus, include_dashboard=False,
                log_to_driver=False)


def start_local(num_cpus: int | None = None, num_gpus: int | None = None) -> subprocess.Popen:
    """Start a new local cluster on 127.0.0.1 whose processes all end with this one (see the module
    docstring). Returns its watchdog, for ``stop_local`` after ``ray.shutdown``."""
    marker = uuid.uuid4().hex
    # its output goes nowhere: holding the driver's stdout open would delay EOF for whoever reads it
    watchdog = subprocess.Popen([sys.executable, orphan_watchdog.__file__, marker], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with _loopback_node(), _environment(orphan_watchdog.OWNER_ENV, marker):
            ray.init(**local_options(num_cpus, num_gpus))
    except BaseException:
        stop_local(watchdog)
        raise
    return watchdog


def stop_local(watchdog: subprocess.Popen) -> None:
    """Tell the watchdog of a cluster that ``ray.shutdown`` took down that this is a normal end (it then
    ends only stragglers of the cluster, none of this process's other children), and wait for it."""
    try:
        watchdog.stdin.write(orphan_watchdog.STOP)
        watchdog.stdin.close()
    except BrokenPipeError:  # the watchdog is gone already
        pass
    try:
        watchdog.wait(timeout=WATCHDOG_EXIT_SECONDS)
    except subprocess.TimeoutExpired:
        watchdog.kill()


@contextlib.contextmanager
def _loopback_node() -> Iterator[None]:
    """While a local node starts, its address is 127.0.0.1, where Ray's servers then listen.

    Ray takes a new node's address from the route to the outside and its servers listen there or on
    every interface; ``_node_ip_address="127.0.0.1"`` is mapped back to that address. Ray's switch for
    machines that never join a cluster (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER``, read once at import into
    ``ray_constants.ENABLE_RAY_CLUSTER``) makes it take the loopback address instead. Once the node has
    started its address is fixed, so the switch is put back for anything else in this process."""
    saved = getattr(ray_constants, "ENABLE_RAY_CLUSTER", True)
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = saved


@contextlib.contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    """``name=value`` in the environment of the processes started meanwhile (and only of those)."""
    saved = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if saved is None:
            del os.environ[name]
        else:
            os.environ[name] = saved


@contextlib.contextmanager
def _sigterm_stops_like_ctrl_c() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt in the main thread for the block's duration. Installed after
    ``ray.init``, which sets a handler of its own that prints a C++ stack dump."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        # a handler set outside Python (Ray's) reads as None and cannot be put back: the default then
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


@contextlib.contextmanager
def connected(cluster: ClusterConfig) -> Iterator[None]:
    """Ray for the duration of a block: join the configured cluster, or start a local one sized by the
    config. Ray is shut down at the end only if the block started it (not when a test fixture or an
    embedding program had Ray up already)."""
    if ray.is_initialized():
        with _sigterm_stops_like_ctrl_c():
            yield
        return
    watchdog = None
    if cluster.address:
        ray.init(address=cluster.address, log_to_driver=False)
    else:
        watchdog = start_local(cluster.num_cpus, cluster.num_gpus)
    try:
        with _sigterm_stops_like_ctrl_c():
            yield
    finally:
        ray.shutdown()
        if watchdog is not None:
            stop_local(watchdog)


def largest_node_cpus() -> int:
    """CPUs of the cluster's largest live node: an actor asking for more could never be placed."""
    return max((int(n["Resources"].get("CPU", 0)) for n in ray.nodes() if n.get("Alive")), default=1)


def on_this_node() -> NodeAffinitySchedulingStrategy:
    """Placement on the driver's node, for the actors a run cannot go on without (the replay buffer, the
    servers' weights store): on a worker node that goes away, Ray would place them anywhere, or lose them."""
    return NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)


def stop_selfplay(pool, servers: ServerGroup | None, buffer, note: Callable[[str], None] = print) -> None:
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
    if servers is not None:
        servers.kill()  # the servers and their weights store
    if buffer is not None:
        ray.kill(buffer)
