"""``SearchWorker``: a Ray actor that plays self-play games and hands each finished game to a sink actor
(the replay buffer) as soon as it ends.

Streaming: ``run`` pushes ``encode_record(record)`` bytes to ``buffer.add.remote(...)`` game by game
and keeps at most ``MAX_UNACKED`` acknowledgements outstanding, so a slow buffer slows self-play
down instead of piling up games in memory. Start it with ``max_concurrency=2`` (a threaded actor) so
that ``stop`` and ``stats`` answer while ``run`` plays; ``stop`` takes effect when the next game ends.
"""
from __future__ import annotations

import threading
from collections.abc import Callable

import ray

from actors.inference import RemoteEvaluator
from alphago_lite.config import Config
from alphago_lite.selfplay.player import SelfPlayer
from alphago_lite.selfplay.records import encode_record

MAX_UNACKED = 4


@ray.remote
class SearchWorker:
    """Self-play over ``servers`` (InferenceServer handles) or, when given, the evaluator built by
    ``make_evaluator()`` in this process (a uniform or in-process net, for tests and CPU-only runs)."""

    def __init__(self, cfg: Config, servers: list, buffer, seed: int,
                 make_evaluator: Callable[[], object] | None = None):
        self.evaluator = make_evaluator() if make_evaluator else \
            RemoteEvaluator(servers, cfg.game.size, cfg.model.feature_set)
        self.player = SelfPlayer(self.evaluator, cfg, seed=seed, model_version=self._model_version)
        self.buffer = buffer
        self.stopping = threading.Event()
        self.games = self.moves = 0

    def _model_version(self) -> int:
        return int(self.evaluator.weights_version)

    def run(self, max_games: int | None = None) -> int:
        """Play until stopped or max_games (None: forever); returns the games stored by this call.
        A game counts once the buffer has acknowledged it, or is acknowledged before run returns."""
        stored, unacked = 0, []
        if self.stopping.is_set():
            return 0
        for record in self.player.games(max_games):
            unacked.append(self.buffer.add.remote(encode_record(record)))
            self.games += 1
            self.moves += len(record.moves)
            stored += 1
            if len(unacked) > MAX_UNACKED:
                ray.get(unacked.pop(0))
            if self.stopping.is_set():
                break
        ray.get(unacked)
        return stored

    def stop(self) -> None:
        self.stopping.set()

    def stats(self) -> dict:
        return {"games": self.games, "moves": self.moves,
                "evaluations": self.player.search.evaluations, "model_version": self._model_version()}
