"""`alphago-lite train CONFIG --init-from MODEL`: a new run that starts from a net's weights."""
import json

import pytest
import torch

from alphago_lite.config import load_config
from alphago_lite.net.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from alphago_lite.net.features import num_planes
from alphago_lite.net.model import build_model
from learner.loop import TrainingRun


def tiny(run_dir, *overrides):
    return load_config("configs/tiny.yaml", [f"run_dir={run_dir}", "search.num_simulations=8",
                                             "learner.checkpoint_every=5", "evaluation.eval_every=0", *overrides])


def save_net(path, cfg, size=None, feature_set="agz"):
    torch.manual_seed(123)
    model = build_model(cfg.model, size or cfg.game.size, num_planes(feature_set))
    save_checkpoint(path, model, feature_set=feature_set, step=777)
    return model


def test_the_new_run_starts_from_the_nets_weights_at_step_0(tmp_path):
    cfg = tiny(tmp_path / "run")
    source = save_net(tmp_path / "net.pt", cfg)
    run = TrainingRun(cfg, init_from=tmp_path / "net.pt", quiet=True)
    try:
        assert run.trainer.step == 0 and run.init_from == str(tmp_path / "net.pt")
        for name, tensor in source.state_dict().items():
            assert torch.equal(run.trainer.model.state_dict()[name].cpu(), tensor)
        assert run.trainer.optimizer.state_dict()["state"] == {}  # a fresh optimizer
    finally:
        run.progress.close()
    record = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[0])
    assert record["init_from"] == str(tmp_path / "net.pt") and record["init_from_step"] == 777


@pytest.mark.parametrize("size, overrides, message", [
    (7, (), "trained for 7x7 with feature set 'agz'; the config says 5x5"),
    (None, ("model.channels=24",), "its net has channels = 16, the config's model section makes 24"),
])
def test_a_net_that_does_not_fit_the_config_is_refused_naming_the_mismatch(tmp_path, size, overrides, message):
    save_net(tmp_path / "net.pt", tiny(tmp_path / "other"), size=size)
    with pytest.raises(CheckpointError, match=message):
        TrainingRun(tiny(tmp_path / "run", *overrides), init_from=tmp_path / "net.pt")


def test_init_from_and_resume_are_refused_together(tmp_path):
    with pytest.raises(ValueError, match="give one of them"):
        TrainingRun(tiny(tmp_path / "run"), resume=True, init_from=tmp_path / "net.pt")


@pytest.mark.slow
def test_train_init_from_records_the_source_in_metrics_and_checkpoints(tmp_path, capsys):
    from alphago_lite.cli import main
    cfg = tiny(tmp_path / "run")
    save_net(tmp_path / "net.pt", cfg)
    assert main(["train", "configs/tiny.yaml", f"run_dir={tmp_path / 'run'}", "search.num_simulations=8",
                 "learner.checkpoint_every=5", "evaluation.eval_every=0", "--init-from", str(tmp_path / "net.pt"),
                 "--max-steps", "5", "--quiet"]) == 0
    _, meta = load_checkpoint(tmp_path / "run" / "checkpoints" / "ckpt-00000005.pt")
    assert meta.step == 5 and meta.extra["init_from"] == str(tmp_path / "net.pt")
    assert "starting from the weights of" in capsys.readouterr().out
