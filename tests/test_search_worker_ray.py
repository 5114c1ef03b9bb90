"""The SearchWorker actor in a real Ray cluster: games stream into a sink actor, decode and replay."""
from functools import partial

import pytest
import ray

from actors.search_worker import SearchWorker
from alphago_lite.config import load_config
from alphago_lite.net.evaluator import UniformEvaluator
from alphago_lite.selfplay.records import decode_record, replay_record


@ray.remote(num_cpus=0)
class Sink:
    """Stands in for the replay buffer: keeps what ``add`` receives."""

    def __init__(self):
        self.items = []

    def add(self, data: bytes) -> int:
        self.items.append(data)
        return len(self.items)

    def received(self) -> list:
        return self.items


@pytest.mark.slow  # a cluster of its own and a worker actor's games: 11 s
def test_worker_streams_two_replayable_games_to_the_sink(ray_cluster):
    cfg = load_config(overrides=["game.size=5", "game.komi=2.5", "game.max_moves=30",
                                 "search.num_simulations=8", "search.leaves_per_round=2",
                                 "selfplay.games_per_worker=2"])
    sink = Sink.remote()
    # a library callable: workers cannot import this test module to unpickle a function from it
    uniform_5x5 = partial(UniformEvaluator, 5, "agz")
    worker = SearchWorker.options(num_cpus=1, max_concurrency=2).remote(cfg, [], sink, 7,
                                                                        make_evaluator=uniform_5x5)
    assert ray.get(worker.run.remote(2), timeout=60) == 2
    records = [decode_record(data) for data in ray.get(sink.received.remote())]
    assert len(records) == 2
    for record in records:
        game = replay_record(record)
        assert game.is_over and game.result() == record.result
        assert record.size == 5 and 0 < len(record.moves) <= 30
    stats = ray.get(worker.stats.remote())
    assert stats["games"] == 2 and stats["moves"] == sum(len(r.moves) for r in records)
    assert stats["evaluations"] > 0

    # stop() answers while nothing runs, and a later run then returns at once
    ray.get(worker.stop.remote())
    assert ray.get(worker.run.remote(5), timeout=30) == 0
