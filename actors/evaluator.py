"""``EvaluationActor``: evaluation and gating matches off the learner, so that training never waits.

The learner submits the newest weights and the best net's weights (ObjectRefs: the actor may live on
any node), keeps training, and polls the returned ObjectRef once a step (learner/loop.py). One match
at a time: ``play`` runs in the actor's one thread.

CPUs: the actor reserves one CPU when the cluster has one to spare once self-play is placed; otherwise
it reserves none (``num_cpus=0``) and its match shares the CPUs of self-play and the learner, which
slows them a little but never stops training (running the match in the learner, as before, stopped
training for the whole match).
"""
from __future__ import annotations

import dataclasses

import ray

from actors.worker_pool import _cpus_for_search, worker_count, worker_cpus
from alphago_lite.config import Config
from alphago_lite.net.evaluator import InProcessEvaluator
from alphago_lite.net.model import PolicyValueNet
from alphago_lite.selfplay.arena import MatchResult, play_match


@ray.remote
class EvaluationActor:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg

    def _evaluator(self, arch: dict, weights: dict) -> InProcessEvaluator:
        model = PolicyValueNet.from_arch(arch)
        model.load_state_dict(weights)
        return InProcessEvaluator(model, self.cfg.game.size, self.cfg.model.feature_set, cpu_threads=1)

    def play(self, newest_arch: dict, newest_weights: dict, best_arch: dict, best_weights: dict,
             seed: int) -> MatchResult:
        """``evaluation.eval_games`` games, newest first (its score is the result's), as
        ``selfplay.arena.play_match`` plays them. ObjectRef arguments arrive resolved."""
        ec = self.cfg.evaluation
        return play_match(self._evaluator(newest_arch, newest_weights), self._evaluator(best_arch, best_weights),
                          game_cfg=self.cfg.game, search_cfg=dataclasses.replace(self.cfg.search, reuse_tree=False),
                          games=ec.eval_games, simulations=ec.eval_simulations, seed=seed)


def spare_cpus(cfg: Config) -> float:
    """CPUs left once the learner, the inference servers and the search workers have theirs (counted
    from the config, not from what Ray has placed so far: workers still starting would lose their CPU)."""
    return _cpus_for_search(cfg) - worker_count(cfg) * worker_cpus(cfg)


def start_evaluation_actor(cfg: Config) -> tuple[ray.actor.ActorHandle, bool]:
    """The actor, and whether it has a CPU of its own (see the module docstring)."""
    spare = spare_cpus(cfg) >= 1
    actor = EvaluationActor.options(num_cpus=1 if spare else 0).remote(cfg)
    return actor, spare
