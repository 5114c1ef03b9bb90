"""``SearchWorker``: a Ray actor playing self-play games against the inference servers and handing
each finished game to the replay buffer as soon as it ends."""
from __future__ import annotations

import threading

import ray

from alphago_lite.config import Config
from alphago_lite.records import encode_record
from alphago_lite.selfplay import SelfPlayer

from actors.inference import RemoteEvaluator


@ray.remote
class SearchWorker:
    """Run with ``max_concurrency=2`` so that ``stop`` and ``stats`` answer while ``run`` plays."""

    def __init__(self, cfg: Config, servers: list, buffer, seed: int):
        self.evaluator = RemoteEvaluator(servers, cfg.game.size, cfg.model.feature_set)
        self.player = SelfPlayer(self.evaluator, cfg, seed=seed,
                                 model_version=lambda: self.evaluator.weights_version or 0)
        self.buffer = buffer
        self.stopping = threading.Event()
        self.games = 0

    def run(self, max_games: int | None = None) -> int:
        """Play until stopped (or max_games); each game is stored before the next one counts."""
        pending = []
        for record in self.player.games(max_games):
            pending.append(self.buffer.add.remote(encode_record(record)))
            self.games += 1
            if self.stopping.is_set():
                break
            # keep at most a few acknowledgements outstanding
            if len(pending) > 4:
                ray.get(pending.pop(0))
        ray.get(pending)
        return self.games

    def stop(self) -> None:
        self.stopping.set()

    def stats(self) -> dict:
        return {"games": self.games, "evaluations": self.player.search.evaluations}
