"""Runs that were moved, copied or damaged on disk (issue 10): `train --resume DIR` trains in DIR, damaged
game data is skipped and reported, a damaged newest checkpoint falls back to the newest good one."""
from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest

from alphago_lite.cli import main
from alphago_lite.config import load_config
from alphago_lite.net.checkpoint import CheckpointError, load_checkpoint
from alphago_lite.net.features import num_planes
from alphago_lite.net.model import build_model
from alphago_lite.selfplay.replay import read_stored_games
from learner.checkpoints import CheckpointStore
from learner.loop import TrainingRun, train


def tiny(run_dir, *overrides):
    return load_config("configs/tiny.yaml", [f"run_dir={run_dir}", "search.num_simulations=16",
                                             "evaluation.eval_every=0", *overrides])


def snapshot(folder) -> dict:
    """Every file under folder: relative path -> (content hash, mtime)."""
    return {str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def metrics(run_dir) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def moved_run(ray_cluster, tmp_path_factory):
    """A short tiny run trained in runs/a, then moved to runs/c (its config.yaml still says runs/a).
    Four games a shard and at least 300 positions (6 games) before the first step: two shards or more."""
    root = tmp_path_factory.mktemp("runs")
    cfg = tiny(root / "a", "learner.total_steps=10", "learner.checkpoint_every=10", "learner.publish_every=5",
               "learner.min_positions=300", "replay.shard_games=4")
    assert train(cfg, quiet=True).name == "ckpt-00000010.pt"
    (root / "a").rename(root / "c")
    return root / "c"


def resume(run_dir, *overrides) -> int:
    return main(["train", "--resume", str(run_dir), "--quiet", "learner.min_positions=100", *overrides])


@pytest.mark.slow
def test_a_moved_or_copied_run_resumes_where_it_is(moved_run, tmp_path):
    """A copy of runs/c (whose config.yaml names runs/a) trains in the copy: runs/a is not brought back,
    runs/c (the original) is not changed or pruned."""
    original = snapshot(moved_run)
    copy = tmp_path / "copy"
    shutil.copytree(moved_run, copy)
    assert resume(copy, "learner.total_steps=12") == 0
    assert not (moved_run.parent / "a").exists()
    assert snapshot(moved_run) == original
    assert load_checkpoint(copy / "checkpoints" / "ckpt-00000012.pt")[1].step == 12
    assert load_config(str(copy)).run_dir == str(copy)  # the saved config says where the run is now


@pytest.mark.slow
def test_damaged_games_are_skipped_counted_and_reported(moved_run, tmp_path, capsys):
    """Issue 10's reproductions: 200 bytes overwritten at byte 5000 of shard 0, shard 1 truncated to half.
    The run resumes and trains on; the console and metrics.jsonl name both files and the games lost."""
    run = tmp_path / "run"
    shutil.copytree(moved_run, run)
    games = run / "games"
    stored = len(read_stored_games(games).games)
    shard0, shard1 = games / "shard-000000.msgpack", games / "shard-000001.msgpack"
    assert shard0.stat().st_size > 5200
    raw = bytearray(shard0.read_bytes())
    raw[5000:5200] = np.random.default_rng(0).integers(0, 256, 200, dtype=np.uint8).tobytes()
    shard0.write_bytes(bytes(raw))
    shard1.write_bytes(shard1.read_bytes()[:shard1.stat().st_size // 2])
    intact = len(read_stored_games(games).games)
    capsys.readouterr()

    assert resume(run, "learner.total_steps=12") == 0
    assert (run / "checkpoints" / "ckpt-00000012.pt").is_file()
    [report] = [r for r in metrics(run) if "damaged_data" in r]
    assert {p["file"] for p in report["damaged_data"]} == {str(shard0), str(shard1)}
    assert report["damaged_games_lost"] == stored - intact > 0
    out = capsys.readouterr().out
    assert f"damaged game data skipped ({stored - intact} games lost)" in out
    assert str(shard0) in out and str(shard1) in out


def test_resume_refuses_to_move_the_run_elsewhere(tmp_path):
    from alphago_lite.commands.train import resume_config
    run = tmp_path / "run"
    TrainingRun(tiny(run)).progress.close()  # writes config.yaml
    assert resume_config(str(run), ["learner.total_steps=5"]).run_dir == str(run)
    with pytest.raises((SystemExit, ValueError), match="drop the run_dir override"):
        resume_config(str(run), [f"run_dir={tmp_path / 'elsewhere'}"])


def _store_with_checkpoints(run_dir, steps) -> CheckpointStore:
    model = build_model(tiny(run_dir).model, 5, num_planes("agz"))
    store = CheckpointStore(run_dir / "checkpoints", keep=5)
    for step in steps:
        store.save(model, "agz", step, None, {"weights_version": step // 10})
    return store


def _truncate(path):
    path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])


def test_a_damaged_newest_checkpoint_falls_back_to_the_newest_good_one(tmp_path, capsys):
    run_dir = tmp_path / "run"
    store = _store_with_checkpoints(run_dir, [50, 100, 150])
    _truncate(store.directory / "ckpt-00000150.pt")
    run = TrainingRun(tiny(run_dir), resume=True)
    run.progress.close()
    assert run.trainer.step == 100 and run.version == 10
    assert run.resumed_from == store.directory / "ckpt-00000100.pt"
    out = capsys.readouterr().out
    assert "checkpoint ckpt-00000150.pt is damaged (" in out and "; resuming from ckpt-00000100.pt" in out
    assert any("ckpt-00000150.pt is damaged" in r.get("note", "") for r in metrics(run_dir))


def test_no_readable_checkpoint_is_an_error_saying_what_to_do(tmp_path):
    run_dir = tmp_path / "run"
    store = _store_with_checkpoints(run_dir, [50, 100])
    for path in store.all():
        _truncate(path)
    with pytest.raises(CheckpointError, match=r"no checkpoint in .* can be read \(ckpt-00000100.pt, "
                                              r"ckpt-00000050.pt\): .*move them out of .* and resume\. "
                                              r"The newest: unreadable"):
        TrainingRun(tiny(run_dir), resume=True)


def test_a_checkpoint_of_another_board_size_is_refused_not_skipped(tmp_path):
    """A config that does not fit the run is the user's mistake: no fallback to older checkpoints."""
    run_dir = tmp_path / "run"
    _store_with_checkpoints(run_dir, [50, 100])
    with pytest.raises(CheckpointError, match=r"ckpt-00000100.pt: trained for 5x5 .* the config says 7x7"):
        TrainingRun(tiny(run_dir, "game.size=7"), resume=True)
