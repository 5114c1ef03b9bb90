"""The Ray side of a run as a user meets it: a cluster too small for self-play is refused at once; a
local run listens on 127.0.0.1 only and keeps Ray's token authentication; SIGTERM stops a run the way
Ctrl-C does; and however the driver ends, no Ray process of the run is left behind.

The slow tests run ``alphago-lite train`` as a process in a session of its own and look at the
processes of that session."""
import importlib.util
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import ray

from actors.worker_pool import check_capacity
from alphago_lite.config import load_config
from alphago_lite.errors import UserError

REPO = Path(__file__).resolve().parent.parent
LOOPBACK = {"127.0.0.1", "::ffff:127.0.0.1", "::1"}
# a few simulations and no evaluation matches: the run is up and training within seconds
QUICK = ["configs/tiny.yaml", "search.num_simulations=8", "evaluation.eval_every=0", "learner.total_steps=100000"]


def tiny(*overrides: str):
    return load_config(str(REPO / "configs" / "tiny.yaml"), list(overrides))


@pytest.mark.slow  # a Ray cluster of its own
def test_capacity_check_accepts_tiny_and_names_what_is_missing(ray_cluster):
    assert ray.cluster_resources()["CPU"] == 2
    check_capacity(tiny())  # 1 CPU for the inference server, 1 for the search worker
    with pytest.raises(UserError, match="the cluster has 2 CPUs and this run needs at least 3: 2 for 1 "
                                        "inference server .*inference.cpu_threads=2.* and 1 for a search worker"):
        check_capacity(tiny("inference.cpu_threads=2"))
    with pytest.raises(UserError, match="the cluster has 0 GPUs and the inference servers need 1 GPU"):
        check_capacity(tiny("inference.device=cuda"))


@pytest.mark.slow
def test_after_a_normal_end_the_watchdog_ends_only_the_runs_marked_processes():
    """(After the driver's death it also ends the driver's descendants: the kill -9 test below.)"""
    from actors import orphan_watchdog
    marked = subprocess.Popen(["sleep", "600"], env={**os.environ, orphan_watchdog.OWNER_ENV: "run-1"})
    other_run = subprocess.Popen(["sleep", "600"], env={**os.environ, orphan_watchdog.OWNER_ENV: "run-2"})
    unmarked_child = subprocess.Popen(["sleep", "600"])
    watchdog = subprocess.Popen([sys.executable, orphan_watchdog.__file__, "run-1"], stdin=subprocess.PIPE)
    try:
        watchdog.stdin.write(orphan_watchdog.STOP)
        watchdog.stdin.close()
        assert watchdog.wait(timeout=60) == 0
        assert marked.wait(timeout=60) == -signal.SIGTERM
        assert other_run.poll() is None and unmarked_child.poll() is None
    finally:
        for proc in (marked, other_run, unmarked_child, watchdog):
            proc.kill()


# ------------------------------------------------------------------------ the console script ---

def start_training(run_dir: Path, *overrides: str) -> tuple[subprocess.Popen, Path, Path]:
    """``alphago-lite train`` in a new session; returns the process and the files of its stdout, stderr."""
    out, err = run_dir.parent / f"{run_dir.name}.out", run_dir.parent / f"{run_dir.name}.err"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    with open(out, "w") as stdout, open(err, "w") as stderr:
        driver = subprocess.Popen([sys.executable, "-m", "alphago_lite.cli", "train", *QUICK, f"run_dir={run_dir}",
                                   *overrides], cwd=REPO, env=env, stdout=stdout, stderr=stderr,
                                  start_new_session=True)
    return driver, out, err


def wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {seconds} s for {what}")
        time.sleep(0.5)


def session_processes(session: int) -> list:
    """The live processes of a session (a zombie holds nothing and waits only for its reaper)."""
    import psutil  # Ray's bundled copy, importable once ray is imported

    found = []
    for proc in psutil.process_iter():
        try:
            if os.getsid(proc.pid) == session and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (ProcessLookupError, psutil.Error):
            continue
    return found


def assert_session_ends(session: int, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while (left := session_processes(session)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not left, f"still running after {seconds} s: " + "; ".join(
        f"{proc.pid} {proc.name()} {' '.join(proc.cmdline())[:100]}" for proc in left)


def listening_addresses(processes: list) -> dict[str, set[str]]:
    import psutil

    found = {}
    for proc in processes:
        try:
            sockets = proc.net_connections(kind="inet")
        except psutil.Error:
            continue
        for sock in sockets:
            if sock.status == psutil.CONN_LISTEN:
                found.setdefault(proc.name(), set()).add(sock.laddr.ip)
    return found


def raylet_environment(processes: list) -> dict[str, str]:
    [raylet] = [proc for proc in processes if proc.name() == "raylet"]
    return raylet.environ()


@pytest.mark.slow
def test_train_on_a_cluster_too_small_exits_naming_the_cpus(tmp_path):
    driver, out, err = start_training(tmp_path / "run", "cluster.num_cpus=1")
    assert driver.wait(timeout=300) == 2  # without the check it waits for self-play for ever
    stderr = err.read_text()
    assert "Traceback" not in stderr
    assert ("error: the cluster has 1 CPU and this run needs at least 2: 1 for 1 inference server "
            in stderr)


@pytest.mark.slow
def test_a_local_run_listens_on_loopback_and_stops_on_sigterm_like_ctrl_c(tmp_path):
    driver, out, err = start_training(tmp_path / "run")
    try:
        wait_for(lambda: "step " in out.read_text() and "/100000" in out.read_text(), 300, "training to start")
        processes = session_processes(driver.pid)
        listening = listening_addresses(processes)
        assert "raylet" in listening and "gcs_server" in listening
        assert {name: ips - LOOPBACK for name, ips in listening.items() if ips - LOOPBACK} == {}
        if importlib.util.find_spec("ray._private.authentication") is not None:  # Ray with token auth
            assert raylet_environment(processes).get("RAY_AUTH_MODE") == "token"
        driver.send_signal(signal.SIGTERM)
        assert driver.wait(timeout=120) == 0
    finally:
        driver.kill()
    stdout, stderr = out.read_text(), err.read_text()
    assert "interrupted: writing a checkpoint and stopping the actors" in stdout
    assert "last checkpoint:" in stdout and list((tmp_path / "run" / "checkpoints").glob("ckpt-*.pt"))
    assert "SIGTERM received" not in stderr and "Traceback" not in stderr  # no C++ stack dump
    # no error-level noise on a normal run: Ray's C++ error lines ("[date time E pid tid] file.cc: ...")
    # or Python ERROR records (a restartable actor with object-store arguments printed one: ray#53727)
    noise = [line for line in stderr.splitlines() if re.search(r"^\[[^\]]* E \d+ \d+\]|\bERROR\b", line)]
    assert noise == [], noise
    assert_session_ends(driver.pid)


@pytest.mark.slow
def test_kill_9_of_the_driver_leaves_no_ray_process_behind(tmp_path):
    driver, out, err = start_training(tmp_path / "run")
    try:
        wait_for(lambda: "step " in out.read_text(), 300, "the actors to start")
        assert len(session_processes(driver.pid)) > 5  # gcs, raylet, agents, actors
    finally:
        driver.kill()
    driver.wait()
    # without the watchdog, the raylet's agents wait a minute for the dead GCS
    assert_session_ends(driver.pid)
