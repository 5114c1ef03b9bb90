"""scripts/ship_net.py: a run's checkpoint becomes a shipped net whose card the package reads, with the
training figures of the run's metrics and the strength a real match summary printed."""
from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest
import torch

from alphago_lite.go import BLACK, WHITE
from alphago_lite.models import read_card, shipped_model
from alphago_lite.net.checkpoint import load_model, save_checkpoint
from alphago_lite.net.features import num_planes
from alphago_lite.net.model import PolicyValueNet
from alphago_lite.play.match import GameOutcome, MatchReport

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "ship_net.py"


def ship(*argv: str) -> int:
    return runpy.run_path(str(SCRIPT))["main"](list(argv))


@pytest.fixture
def run_dir(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text("game:\n  size: 5\n  komi: 2.5\nmodel:\n  blocks: 1\n  channels: 8\n")
    torch.manual_seed(0)
    model = PolicyValueNet(5, num_planes("agz"), blocks=1, channels=8, value_hidden=8)
    save_checkpoint(run / "checkpoints" / "ckpt-00000400.pt", model, feature_set="agz", step=400,
                    optimizer_state={"state": {}, "param_groups": []})
    metrics = [{"step": 200, "time": 1800.0, "games": 50, "positions": 900, "loss": 3.0},
               {"step": 210, "time": 1850.0, "eval_score": 0.6},
               {"step": 400, "time": 3600.0, "games": 120, "positions": 2000, "loss": 2.9},
               {"step": 600, "time": 5400.0, "games": 150, "positions": 2600, "loss": 2.8}]  # after the shipped step
    (run / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in metrics))
    return run


def test_a_checkpoint_becomes_a_shipped_net_with_its_runs_figures_and_a_measured_strength(
        run_dir, tmp_path, monkeypatch):
    models = tmp_path / "models"
    monkeypatch.setenv("ALPHAGO_LITE_MODELS_DIR", str(models))
    ckpt = run_dir / "checkpoints" / "ckpt-00000400.pt"
    ship("package", str(ckpt), "--name", "go5", "--config", "configs/go5.yaml", "--cpus", "2",
         "--machine", "test box", "--commit", "abc123")
    card = read_card(models / "go5.json")
    assert (card.board_size, card.komi, card.learner_steps, card.games, card.positions) == (5, 2.5, 400, 120, 2000)
    assert (card.wall_clock_hours, card.cpu_hours, card.commit) == (1.0, 2.0, "abc123")
    assert card.search == {"algorithm": "puct", "gumbel_considered": 16, "c_visit": 50.0, "c_scale": 1.0}
    shipped, meta = load_model(models / "go5.pt")
    original, _ = load_model(ckpt)
    assert meta.optimizer_state is None  # weights only
    for key, value in original.state_dict().items():
        assert torch.equal(value, shipped.state_dict()[key])

    outcomes = [GameOutcome(i, BLACK if i % 2 == 0 else WHITE, BLACK if i < 3 else WHITE, "B+3.5", "two passes",
                            20, f"g{i}.sgf", None, (i,)) for i in range(4)]
    log = tmp_path / "match.log"
    log.write_text("game 1 ...\n" + MatchReport("go5", "gnugo-10", tuple(outcomes)).summary() + "\n")
    ship("strength", "go5", "--log", str(log), "--opponent", "gnugo:10", "--visits", "200",
         "--command", "alphago-lite match shipped gnugo:10 --size 5 --games 4")
    (measured,) = shipped_model("go5").strength
    # A won games 0 and 2 (Black, Black wins) and lost 1 (White, Black wins) and won 3 (White, White wins)
    assert (measured.opponent, measured.games, measured.score, measured.visits) == ("gnugo:10", 4, 0.75, 200)
    low, high = measured.ci95
    stored = json.loads((models / "go5.json").read_text())["strength"][0]
    assert (stored["as_black"], stored["as_white"]) == ("2-0-0", "1-1-0")
    assert 0 < low < 0.75 < high < 1


def test_a_log_without_a_match_summary_is_refused(run_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("ALPHAGO_LITE_MODELS_DIR", str(tmp_path / "models"))
    ship("package", str(run_dir / "checkpoints" / "ckpt-00000400.pt"), "--name", "go5", "--config", "c.yaml",
         "--cpus", "1", "--machine", "m", "--commit", "c")
    (tmp_path / "empty.log").write_text("Traceback: the match crashed\n")
    with pytest.raises(SystemExit, match="no match summary"):
        ship("strength", "go5", "--log", str(tmp_path / "empty.log"), "--opponent", "gnugo:10", "--visits", "200",
             "--command", "x")


def test_fp16_weights_halve_the_file_and_load_into_the_fp32_net(run_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("ALPHAGO_LITE_MODELS_DIR", str(tmp_path / "models"))
    ckpt = run_dir / "checkpoints" / "ckpt-00000400.pt"
    for name, extra in (("full", ()), ("half", ("--fp16",))):
        ship("package", str(ckpt), "--name", name, "--config", "c.yaml", "--cpus", "1", "--machine", "m",
             "--commit", "c", *extra)
    original, _ = load_model(ckpt)
    shipped, _ = load_model(tmp_path / "models" / "half.pt")
    for key, value in original.state_dict().items():
        loaded = shipped.state_dict()[key]
        assert loaded.dtype == value.dtype  # fp32 again (and the integer BN counters untouched)
        assert torch.allclose(loaded.float(), value.float(), rtol=1e-3, atol=1e-3)
    full, half = ((tmp_path / "models" / f"{n}.pt").stat().st_size for n in ("full", "half"))
    assert half < full


def test_a_resumed_run_or_one_without_its_config_is_refused(run_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("ALPHAGO_LITE_MODELS_DIR", str(tmp_path / "models"))
    ckpt = str(run_dir / "checkpoints" / "ckpt-00000400.pt")
    args = ("package", ckpt, "--name", "go5", "--config", "c.yaml", "--cpus", "1", "--machine", "m", "--commit", "c")
    with (run_dir / "metrics.jsonl").open("a") as f:  # a second session: its clock starts again
        f.write(json.dumps({"step": 620, "time": 30.0, "games": 160, "positions": 2700, "loss": 2.7}) + "\n")
    with pytest.raises(SystemExit, match="several sessions"):
        ship(*args)
    (run_dir / "config.yaml").unlink()
    with pytest.raises(SystemExit, match="no config.yaml"):
        ship(*args)


def test_the_training_before_a_warm_start_counts_in_the_card(run_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("ALPHAGO_LITE_MODELS_DIR", str(tmp_path / "models"))
    second = tmp_path / "second"
    (second / "checkpoints").mkdir(parents=True)
    (second / "config.yaml").write_text((run_dir / "config.yaml").read_text())
    net, _ = load_model(run_dir / "checkpoints" / "ckpt-00000400.pt")
    save_checkpoint(second / "checkpoints" / "ckpt-00000100.pt", net, feature_set="agz", step=100)
    record = {"step": 100, "time": 900.0, "games": 30, "positions": 500, "loss": 3.1}
    (second / "metrics.jsonl").write_text(json.dumps(record))
    ship("package", str(second / "checkpoints" / "ckpt-00000100.pt"), "--name", "go5", "--config", "c.yaml",
         "--cpus", "1", "--machine", "m", "--commit", "c",
         "--warm-started-from", str(run_dir / "checkpoints" / "ckpt-00000400.pt"))
    card = read_card(tmp_path / "models" / "go5.json")
    assert (card.learner_steps, card.games, card.positions, card.wall_clock_hours) == (500, 150, 2500, 1.25)
    _, meta = load_model(card.checkpoint)
    assert meta.step == 500


def test_a_run_warm_started_from_a_shipped_net_adds_that_nets_card(run_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("ALPHAGO_LITE_MODELS_DIR", str(tmp_path / "models"))
    args = ("package", str(run_dir / "checkpoints" / "ckpt-00000400.pt"), "--name", "go5", "--config", "c.yaml",
            "--cpus", "2", "--machine", "m", "--commit", "c")
    earlier = {"card_version": 1, "board_size": 5, "komi": 2.5, "config": "configs/go5.yaml", "learner_steps": 1000,
               "games": 300, "positions": 6000, "wall_clock_hours": 0.5, "cpu_hours": 0.5, "machine": "m",
               "commit": "b", "strength": []}  # one core for half an hour
    (tmp_path / "earlier.json").write_text(json.dumps(earlier))
    ship(*args, "--continues-card", str(tmp_path / "earlier.json"))
    card = read_card(tmp_path / "models" / "go5.json")
    # this run: 400 steps, 120 games, 2000 positions in 1 h on 2 cores
    assert (card.learner_steps, card.games, card.positions) == (1400, 420, 8000)
    assert (card.wall_clock_hours, card.cpu_hours) == (1.5, 2.5)
    _, meta = load_model(card.checkpoint)
    assert meta.extra["continues_card"]["commit"] == "b"  # where the earlier training is described
    with pytest.raises(SystemExit, match="the card this package rewrites"):
        ship(*args, "--continues-card", str(tmp_path / "models" / "go5.json"))
    (tmp_path / "earlier.json").write_text(json.dumps({**earlier, "board_size": 7, "komi": 7.5}))
    with pytest.raises(SystemExit, match="is a 7x7 net at komi 7.5; this run is 5x5 at komi 2.5"):
        ship(*args, "--continues-card", str(tmp_path / "earlier.json"))
