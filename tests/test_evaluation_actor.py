"""Evaluation matches in their own actor (actors/evaluator.py): the learner trains on while one plays,
and its result lands in metrics.jsonl with the step the net was submitted at."""
from __future__ import annotations

import json

import pytest

from alphago_lite.config import load_config
from learner.loop import train


@pytest.mark.slow
def test_the_learner_trains_on_while_an_evaluation_match_plays(ray_cluster, tmp_path):
    run_dir = tmp_path / "run"
    # no throttle: the learner never waits for self-play, so only a match played in the loop could stop it
    cfg = load_config("configs/tiny.yaml", [f"run_dir={run_dir}", "search.num_simulations=16",
                                            "learner.total_steps=200", "learner.max_samples_per_position=null",
                                            "learner.checkpoint_every=100", "evaluation.eval_every=10",
                                            "evaluation.eval_games=24", "evaluation.eval_simulations=16"])
    train(cfg, quiet=True)
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    evaluations = [r for r in records if "eval_score" in r]
    assert evaluations, "no evaluation result in metrics.jsonl"
    first = evaluations[0]
    assert first["eval_submitted_step"] == 20  # step 10 only marks the first best net
    assert first["step"] > first["eval_submitted_step"]  # steps were taken while the match played
    assert first["eval_wins"] + first["eval_losses"] + first["eval_draws"] == 24
    notes = [r["note"] for r in records if "note" in r]
    assert any("evaluation skipped, the match submitted at step 20 is still playing" in n for n in notes)
    assert (run_dir / "checkpoints" / "best.pt").exists()
