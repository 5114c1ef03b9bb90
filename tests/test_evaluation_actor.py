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


class _RecordingServers:
    """Stands in for the ServerGroup: records what the learner publishes."""

    def __init__(self):
        self.published = []

    def publish(self, version, weights):
        self.published.append((version, weights))


def _run_with_a_match_in_flight(run_dir, score_wins: int, score_losses: int):
    """A TrainingRun with gating on and a finished match of the given score submitted at step 40."""
    import ray

    from alphago_lite.selfplay.arena import MatchResult
    from learner.loop import PendingEvaluation, TrainingRun
    cfg = load_config("configs/tiny.yaml", [f"run_dir={run_dir}", "evaluation.gating=true",
                                            "evaluation.gating_threshold=0.55"])
    run = TrainingRun(cfg, quiet=True)
    run.servers = _RecordingServers()
    run.trainer.step = 40
    run.store.mark_best(run.checkpoint())  # the best net before the match
    best_before = (run_dir / "checkpoints" / "best.pt").read_bytes()
    run.trainer.step = 60
    candidate = run.checkpoint()
    weights = ray.put({"marker": "the weights that played"})
    result = ray.put(MatchResult(wins=score_wins, losses=score_losses, draws=0))
    run.evaluation = PendingEvaluation(result, candidate, weights, step=60)
    run.trainer.step = 75  # the learner went on while the match played
    return run, weights, best_before


@pytest.mark.slow  # a cluster of its own: 4 s to start
def test_with_gating_a_net_that_passes_is_published_when_its_match_ends(ray_cluster, tmp_path):
    run, weights, best_before = _run_with_a_match_in_flight(tmp_path / "run", score_wins=7, score_losses=3)
    assert run.servers.published == []  # nothing is published before the result is taken
    run.poll_evaluation(wait=True)
    # the weights that played the match are published (not the learner's newer ones), as version 1
    assert run.servers.published == [(1, weights)]
    assert run.version == 1 and run.evaluation is None
    assert (tmp_path / "run" / "checkpoints" / "best.pt").read_bytes() != best_before
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    evaluation = [r for r in records if "eval_score" in r][-1]
    assert evaluation["promoted"] is True and evaluation["eval_submitted_step"] == 60 and evaluation["step"] == 75


@pytest.mark.slow  # as above
def test_with_gating_a_net_that_fails_is_never_published(ray_cluster, tmp_path):
    run, _, best_before = _run_with_a_match_in_flight(tmp_path / "run", score_wins=5, score_losses=5)
    run.poll_evaluation(wait=True)
    assert run.servers.published == [] and run.version == 0
    assert (tmp_path / "run" / "checkpoints" / "best.pt").read_bytes() == best_before
