"""RequestBatcher (Ray-free): merging, deadlines, weight swaps between batches, failures, stats."""

import asyncio
import threading
import time

import numpy as np
import pytest
import torch
from evaluator_inputs import random_batches

from alphago_lite.net.batcher import RequestBatcher, new_forward_thread
from alphago_lite.net.evaluator import EvaluatorInputError, InProcessEvaluator
from alphago_lite.net.model import PolicyValueNet
from alphago_lite.net.wire import WireError, encode_request

SIZE, PLANES = 5, 3


def net(seed):
    torch.manual_seed(seed)
    return PolicyValueNet(SIZE, PLANES, blocks=1, channels=8, value_hidden=8).eval()


def requests(count, per_request, seed=0):
    return random_batches(count, per_request, PLANES, SIZE, seed)


class SlowEvaluator(InProcessEvaluator):
    """Records the size of every forward and sleeps in it, so that requests pile up meanwhile."""

    def __init__(self, *args, delay=0.02, **kwargs):
        super().__init__(*args, **kwargs)
        self.delay, self.batch_sizes = delay, []

    def evaluate(self, planes, legal):
        self.batch_sizes.append(len(planes))
        time.sleep(self.delay)
        return super().evaluate(planes, legal)


def test_concurrent_requests_are_merged_and_each_gets_its_slice():
    evaluator = SlowEvaluator(net(0), SIZE, "agz")
    direct = InProcessEvaluator(net(0), SIZE, "agz")
    reqs = requests(20, 3)

    async def main():
        batcher = RequestBatcher(evaluator, max_batch=16, batch_timeout_ms=5)
        answers = await asyncio.gather(*(batcher.submit(encode_request(p, l)) for p, l in reqs))
        stats = batcher.stats()
        await batcher.close()
        return answers, stats

    answers, stats = asyncio.run(main())
    assert len(answers) == 20
    for (planes, legal), answer in zip(reqs, answers):
        want_policy, want_value = direct.evaluate(planes, legal)
        np.testing.assert_allclose(answer.policy, want_policy, atol=1e-5)
        np.testing.assert_allclose(answer.value, want_value, atol=1e-5)
        assert answer.weights_version == 0
    assert sum(evaluator.batch_sizes) == 60
    assert max(evaluator.batch_sizes) == 15  # 5 whole requests of 3 fit in max_batch 16
    assert len(evaluator.batch_sizes) <= 6
    assert (stats["requests"], stats["positions"], stats["batches"]) == (20, 60, len(evaluator.batch_sizes))
    assert 0 < stats["batch_fill"] <= 1 and stats["evals_per_s"] > 0
    # the forward thread's time in the evaluator: at least its sleeps, and never more than the span measured
    assert stats["forward_seconds"] >= evaluator.delay * len(evaluator.batch_sizes)
    assert stats["forward_busy"] == pytest.approx(stats["forward_seconds"] / stats["seconds"])
    assert 0 < stats["forward_busy"] <= 1


def test_full_batch_goes_at_once_and_a_lone_request_after_the_timeout():
    evaluator = InProcessEvaluator(net(0), SIZE, "agz")

    async def timed(batcher, count):
        start = time.perf_counter()
        await asyncio.gather(*(batcher.submit(encode_request(p, l)) for p, l in requests(count, 4)))
        return time.perf_counter() - start

    async def main():
        patient = RequestBatcher(evaluator, max_batch=8, batch_timeout_ms=5000)
        full = await timed(patient, 2)  # 2 x 4 = max_batch: no waiting for the 5 s deadline
        await patient.close()
        quick = RequestBatcher(evaluator, max_batch=8, batch_timeout_ms=50)
        lone = await timed(quick, 1)
        await quick.close()
        return full, lone

    full, lone = asyncio.run(main())
    assert full < 1.0
    assert 0.045 < lone < 1.0


def test_weight_swap_between_batches_never_mixes_versions():
    evaluator = SlowEvaluator(net(0), SIZE, "agz", delay=0.005)
    versions = {0: InProcessEvaluator(net(0), SIZE, "agz"), 1: InProcessEvaluator(net(1), SIZE, "agz")}
    reqs = requests(60, 2, seed=1)

    async def main():
        batcher = RequestBatcher(evaluator, max_batch=8, batch_timeout_ms=1)
        tasks = [asyncio.ensure_future(batcher.submit(encode_request(p, l))) for p, l in reqs[:30]]
        await asyncio.sleep(0.01)  # some batches have run by now, others wait
        await batcher.set_weights(1, net(1).state_dict())
        tasks += [asyncio.ensure_future(batcher.submit(encode_request(p, l))) for p, l in reqs[30:]]
        answers = await asyncio.gather(*tasks)
        await batcher.close()
        return answers

    answers = asyncio.run(main())
    assert len(answers) == 60
    seen = [a.weights_version for a in answers]
    assert set(seen) == {0, 1} and all(v == 1 for v in seen[30:])
    for (planes, legal), answer in zip(reqs, answers):
        want_policy, _ = versions[answer.weights_version].evaluate(planes, legal)
        np.testing.assert_allclose(answer.policy, want_policy, atol=1e-5)


def test_failures_reach_only_the_callers_concerned():
    class Flaky(InProcessEvaluator):
        fail_next = True

        def evaluate(self, planes, legal):
            if self.fail_next:
                self.fail_next = False
                raise RuntimeError("device lost")
            return super().evaluate(planes, legal)

    (planes, legal), = requests(1, 2)

    async def main():
        batcher = RequestBatcher(Flaky(net(0), SIZE, "agz"), max_batch=8, batch_timeout_ms=1)
        with pytest.raises(WireError, match="wire version"):
            await batcher.submit(encode_request(planes, legal)._replace(version=2))
        with pytest.raises(EvaluatorInputError, match="planes must be uint8"):
            await batcher.evaluate(planes[:, :2], legal)
        with pytest.raises(RuntimeError, match="device lost"):
            await batcher.submit(encode_request(planes, legal))
        answer = await batcher.submit(encode_request(planes, legal))  # still serving
        await batcher.close()
        return answer

    assert asyncio.run(main()).policy.shape == (2, 26)


class ThreadRecordingEvaluator(InProcessEvaluator):
    """Records the native thread of its construction, every forward and every weight swap."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.threads = {"built": threading.get_native_id()}

    def evaluate(self, planes, legal):
        self.threads.setdefault("evaluate", set()).add(threading.get_native_id())
        return super().evaluate(planes, legal)

    def set_weights(self, version, state_dict):
        self.threads.setdefault("set_weights", set()).add(threading.get_native_id())
        super().set_weights(version, state_dict)


def test_an_evaluator_built_on_the_forward_thread_runs_all_its_torch_work_there():
    # one OpenMP team per process (see new_forward_thread): build, forwards and swaps on one thread
    forward_thread = new_forward_thread()
    evaluator = forward_thread.submit(ThreadRecordingEvaluator, net(0), SIZE, "agz").result()
    assert evaluator.threads["built"] != threading.get_native_id()

    async def main():
        batcher = RequestBatcher(evaluator, max_batch=8, batch_timeout_ms=1, forward_thread=forward_thread)
        await asyncio.gather(*(batcher.submit(encode_request(p, l)) for p, l in requests(6, 3)))
        await batcher.set_weights(1, net(1).state_dict())
        await batcher.submit(encode_request(*requests(1, 2)[0]))
        await batcher.close()

    asyncio.run(main())
    assert evaluator.threads["evaluate"] == {evaluator.threads["built"]}
    assert evaluator.threads["set_weights"] == {evaluator.threads["built"]}
