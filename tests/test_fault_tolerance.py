"""Fault tolerance: Ctrl-C on `alphago-lite train` stops cleanly and the run resumes; a kill -9 during a
checkpoint write leaves the previous checkpoint loadable; a killed inference server is restarted by Ray
and the requests it held are answered."""
from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import uuid
import warnings
from pathlib import Path

import numpy as np
import pytest
import ray
import torch
from child_processes import default_ctrl_c
from evaluator_inputs import random_batches

from actors.cluster import local_options
from actors.inference import RemoteEvaluator, start_inference_servers
from alphago_lite.config import load_config
from alphago_lite.net.checkpoint import load_checkpoint
from alphago_lite.net.features import num_planes
from alphago_lite.net.model import build_model
from alphago_lite.selfplay.replay import read_games
from learner.checkpoints import CheckpointStore

pytestmark = pytest.mark.slow  # real runs killed and resumed in subprocesses

REPO = Path(__file__).resolve().parent.parent
# in the environment of every process these tests start (Ray's processes inherit it): only processes
# carrying it are ever killed by the clean-up
MARKER = f"ALPHAGO_LITE_FAULT_TEST={uuid.uuid4().hex}"
CHECKPOINT_WRITER = REPO / "tests" / "_write_checkpoints_forever.py"
CHECKPOINT_NAME = re.compile(r"ckpt-\d{8}\.pt")


def child_env() -> dict:
    # RAY_ADDRESS=local: the child's ray.init() starts its own cluster instead of attaching to one that
    # another process on this machine left in /tmp/ray/ray_current_cluster.
    name, value = MARKER.split("=")
    return {**os.environ, name: value, "PYTHONUNBUFFERED": "1", "RAY_ADDRESS": "local",
            "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}


def wait_for(condition, timeout: float, what: str, interval: float = 0.1):
    """Poll until condition() is truthy; returns its value, or fails naming what never happened."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"gave up after {timeout:.0f} s waiting for {what}")


# ------------------------------------------------------------------ (a) Ctrl-C, then resume ---

def start_training(log: Path, *args: str) -> subprocess.Popen:
    """`alphago-lite train ...` in its own session, so a Ctrl-C can go to its whole process group (as a
    terminal sends it) and every process the run starts can be found by session id afterwards."""
    with open(log, "w") as out:
        return subprocess.Popen([sys.executable, "-m", "alphago_lite.cli", "train", *args, "--quiet"],
                                cwd=REPO, env=child_env(), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, preexec_fn=default_ctrl_c)


def metrics(run_dir: Path) -> list[dict]:
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def step_records(records: list[dict]) -> list[dict]:
    return [r for r in records if "step" in r and "loss" in r]


def processes_in_session(session: int) -> list[str]:
    """Live (non-zombie) processes whose session id is `session`, as "pid name" strings. Ray starts
    gcs_server, raylet, agents and workers without a new session, so they all carry the driver's."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        state, _ppid, _pgrp, sid = stat[stat.rindex(")") + 2:].split()[:4]
        if int(sid) == session and state != "Z":
            found.append(f"{entry.name} {name}")
    return found


def finish(proc: subprocess.Popen, log: Path, timeout: float) -> int:
    """Exit code of proc within timeout; fails (after killing its session) if it does not exit."""
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_session(proc)
        pytest.fail(f"train did not exit within {timeout:.0f} s; its output:\n{log.read_text()[-3000:]}")


def kill_session(proc: subprocess.Popen) -> None:
    """SIGKILL what is left of the session started for proc: processes of that session that carry MARKER
    (a session id alone could have been reused once all of the session's processes are gone)."""
    for entry in processes_in_session(proc.pid):
        pid = int(entry.split()[0])
        try:
            if MARKER.encode() in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                os.kill(pid, signal.SIGKILL)
        except OSError:  # gone meanwhile
            pass
    proc.wait()


@pytest.fixture
def sessions():
    """Training processes a test starts; whatever of their sessions is left is killed at teardown."""
    started: list[subprocess.Popen] = []
    yield started
    for proc in started:
        kill_session(proc)


def assert_all_exited(proc: subprocess.Popen) -> None:
    """Every process of proc's session ends (Ray's workers may take a moment after the driver)."""
    if not Path("/proc").is_dir():
        warnings.warn("no /proc: cannot check that the run's Ray processes exited", stacklevel=2)
        return
    wait_for(lambda: not processes_in_session(proc.pid), 30, "the run's processes to exit")


def last_checkpoint_printed(log: Path) -> Path:
    found = re.findall(r"last checkpoint: (\S+)", log.read_text())
    assert found, f"train printed no 'last checkpoint:' line:\n{log.read_text()[-3000:]}"
    return Path(found[-1])


def games_without_torn_records(games_dir: Path) -> list:
    """Every stored game; a torn record (read_shard warns and skips it) fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return read_games(games_dir)


def test_ctrl_c_stops_cleanly_and_the_run_resumes(tmp_path, sessions):
    run_dir, log = tmp_path / "run", tmp_path / "train.log"
    # no checkpoint and no evaluation before the Ctrl-C: the only checkpoint must come from stopping
    proc = start_training(log, "configs/tiny.yaml", f"run_dir={run_dir}", "search.num_simulations=8",
                          "selfplay.games_per_worker=8", "learner.checkpoint_every=1000",
                          "evaluation.eval_every=0")
    sessions.append(proc)
    wait_for(lambda: step_records(metrics(run_dir)) or proc.poll() is not None, 150,
             "the first learner step in metrics.jsonl")
    assert proc.poll() is None, f"train exited before the Ctrl-C:\n{log.read_text()[-3000:]}"
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    code = finish(proc, log, timeout=90)
    output = log.read_text()
    assert code == 0, f"train exited with {code} after Ctrl-C:\n{output[-3000:]}"
    assert "Traceback" not in output, output[-3000:]

    # the last checkpoint: written on the way out, at the step where training stopped
    last_metrics = step_records(metrics(run_dir))[-1]
    store = CheckpointStore(run_dir / "checkpoints", keep=2)
    stopped_at = last_checkpoint_printed(log)
    assert store.all() == [stopped_at]
    _, meta = load_checkpoint(stopped_at, expect_board_size=5, expect_feature_set="agz")
    assert stopped_at.name == f"ckpt-{meta.step:08d}.pt"
    assert meta.step >= last_metrics["step"] >= 1

    # shards flushed: every game readable, at least as many as the learner had seen
    games = games_without_torn_records(run_dir / "games")
    assert len(games) >= last_metrics["games"] > 0
    assert all(len(g.moves) > 0 for g in games)

    # actors shut down: nothing the run started (gcs, raylet, workers) outlives it
    assert_all_exited(proc)

    # --resume continues from that step with the same games
    lines_before = len(metrics(run_dir))
    target = meta.step + 5
    resumed = start_training(tmp_path / "resume.log", "--resume", str(run_dir),
                             f"learner.total_steps={target}")
    sessions.append(resumed)
    code = finish(resumed, tmp_path / "resume.log", timeout=150)
    assert code == 0, (tmp_path / "resume.log").read_text()[-3000:]
    final = last_checkpoint_printed(tmp_path / "resume.log")
    assert final.name == f"ckpt-{target:08d}.pt"
    assert load_checkpoint(final)[1].step == target
    after = step_records(metrics(run_dir)[lines_before:])
    assert after[0]["step"] == meta.step + 1
    assert after[0]["games"] >= len(games)  # the resumed buffer counted the stored games
    assert games_without_torn_records(run_dir / "games")[:len(games)] == games
    assert_all_exited(resumed)


# ------------------------------------------------------------- (b) kill -9 during a write ---

def start_checkpoint_writer(directory: Path, log: Path, *args: str) -> subprocess.Popen:
    with open(log.with_suffix(".err"), "a") as err:
        return subprocess.Popen([sys.executable, str(CHECKPOINT_WRITER), str(directory), str(log), *args],
                                cwd=REPO, env=child_env(), stdout=subprocess.DEVNULL, stderr=err)


def log_lines(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.is_file() else []


def sigkill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def assert_store_is_sound(store: CheckpointStore) -> int:
    """Everything the store lists is a complete checkpoint; returns the latest one's step."""
    listed = store.all()
    assert listed, "no checkpoint survived"
    assert all(CHECKPOINT_NAME.fullmatch(p.name) for p in listed), listed
    for path in listed:
        load_checkpoint(path, expect_board_size=9, expect_feature_set="agz")
    return load_checkpoint(store.latest())[1].step


def temp_files(directory: Path) -> list[Path]:
    return sorted(directory.glob(".ckpt-*.tmp"))


def test_kill_during_checkpoint_write_leaves_the_previous_one_loadable(tmp_path):
    directory, log = tmp_path / "checkpoints", tmp_path / "writer.log"
    store = CheckpointStore(directory, keep=3)

    # a kill certain to land mid-write: temp file written and fsynced, not yet renamed
    proc = start_checkpoint_writer(directory, log, "--hold-before-rename-at", "3")
    try:
        wait_for(lambda: "holding 3" in log_lines(log) or proc.poll() is not None, 60, "write 3 to hold")
        assert proc.poll() is None, (log.read_text(), log.with_suffix(".err").read_text())
    finally:
        sigkill(proc)
    assert not (directory / "ckpt-00000003.pt").exists()
    assert len(temp_files(directory)) == 1  # the torn write is left behind, under a name no one reads
    assert assert_store_is_sound(store) == 2

    # kills at random moments after a write starts (writes take tens of milliseconds)
    rng = random.Random(7)
    previous = 2
    for _ in range(4):
        start = len(log_lines(log))
        proc = start_checkpoint_writer(directory, log)
        target = previous + 1 + rng.randrange(3)
        try:
            wait_for(lambda: f"writing {target}" in log_lines(log)[start:] or proc.poll() is not None, 60,  # noqa: B023 (called at once)
                     f"write {target} to start")
            assert proc.poll() is None, log.with_suffix(".err").read_text()
            time.sleep(rng.uniform(0.0, 0.05))
        finally:
            sigkill(proc)
        last_started = [int(line.split()[1]) for line in log_lines(log)[start:]
                        if line.startswith("writing")][-1]
        latest = assert_store_is_sound(store)
        # the write in flight either finished its rename (then it is the latest) or left no trace
        assert latest in (last_started - 1, last_started)
        previous = latest

    # a new run's store removes the torn writes' temp files (at least round 1's) and nothing else
    torn = temp_files(directory)
    assert len(torn) >= 1
    listed = store.all()
    assert store.remove_stale_temp_files() == torn
    assert temp_files(directory) == [] and store.all() == listed
    assert assert_store_is_sound(store) == previous


# ----------------------------------------------------------- (c) inference server restart ---

@pytest.fixture
def local_ray():
    """An in-process Ray for this test only: the tests above start their own clusters in subprocesses."""
    ray.init(**local_options(num_cpus=2))
    yield
    ray.shutdown()


def test_killed_inference_server_restarts_and_answers_what_it_held(local_ray):
    cfg = load_config(str(REPO / "configs" / "tiny.yaml"))
    torch.manual_seed(0)
    model = build_model(cfg.model, 5, num_planes("agz"))
    # held by this test for the server's lifetime: a restarted server is rebuilt from it
    weights = ray.put({k: v.detach().cpu() for k, v in model.state_dict().items()})
    [server] = start_inference_servers(cfg.inference, model.arch(), "agz", weights, weights_version=0)
    client = RemoteEvaluator([server], 5, "agz")
    work = random_batches(4, 64, num_planes("agz"), 5, seed=1)
    first = [client.evaluate(planes, legal) for planes, legal in work]

    # enough requests that some are still queued or running when the kill lands
    in_flight = [client.submit(planes, legal) for _ in range(12) for planes, legal in work]
    ray.kill(server, no_restart=False)
    sent = len(work) + len(in_flight)
    for i, ref in enumerate(in_flight):
        response = client.result(ref, timeout=120)
        want_policy, want_value = first[i % len(work)]
        np.testing.assert_allclose(response.policy, want_policy, atol=1e-6)
        np.testing.assert_allclose(response.value, want_value, atol=1e-6)
        assert response.weights_version == 0

    # the server really was restarted: its request counter started again below what was sent
    wait_for(lambda: ray.get(server.stats.remote(), timeout=60)["requests"] < sent, 60,
             "the server to come back restarted")
    again = [client.evaluate(planes, legal) for planes, legal in work]
    for (policy, value), (want_policy, want_value) in zip(again, first):
        np.testing.assert_allclose(policy, want_policy, atol=1e-6)
        np.testing.assert_allclose(value, want_value, atol=1e-6)
    assert client.weights_version == 0
