"""The Ray inference service: remote answers equal in-process ones, hot weight swaps lose nothing."""

import numpy as np
import pytest
import ray
import torch
from evaluator_inputs import random_batches

from actors.inference import InferenceServer, RemoteEvaluator
from alphago_lite.net.evaluator import Evaluator, InProcessEvaluator
from alphago_lite.net.model import PolicyValueNet

SIZE, PLANES = 5, 3


def net(seed):
    torch.manual_seed(seed)
    return PolicyValueNet(SIZE, PLANES, blocks=1, channels=8, value_hidden=8).eval()


def batches(count, batch, seed):
    return random_batches(count, batch, PLANES, SIZE, seed)


def start_server(seed=0, **options):
    model = net(seed)
    return InferenceServer.options(num_cpus=0).remote(model.arch(), "agz", model.state_dict(), 0,
                                                      max_batch=64, batch_timeout_ms=2, cpu_threads=1, **options)


@ray.remote(num_cpus=0)
class Client:
    """A stand-in for a search worker: evaluates its batches through the service."""

    def __init__(self, servers):
        self.evaluator = RemoteEvaluator(servers, SIZE, "agz")

    def run(self, work):
        return [self.evaluator.evaluate(planes, legal) for planes, legal in work]


def test_two_clients_get_what_the_in_process_evaluator_returns(ray_cluster):
    servers = [start_server(), start_server()]
    assert isinstance(RemoteEvaluator(servers, SIZE, "agz"), Evaluator)
    work = {name: batches(6, 7, seed) for seed, name in enumerate(["a", "b"])}
    clients = {name: Client.remote(servers) for name in work}
    answers = ray.get([clients[name].run.remote(work[name]) for name in work])
    local = InProcessEvaluator(net(0), SIZE, "agz")
    for name, got in zip(work, answers):
        assert len(got) == 6
        for (planes, legal), (policy, value) in zip(work[name], got):
            want_policy, want_value = local.evaluate(planes, legal)
            np.testing.assert_allclose(policy, want_policy, atol=1e-6)
            np.testing.assert_allclose(value, want_value, atol=1e-6)
            assert np.all(policy[~legal] == 0)
    stats = ray.get([s.stats.remote() for s in servers])
    assert [s["requests"] for s in stats] == [6, 6]  # round-robin from each client
    assert sum(s["positions"] for s in stats) == 2 * 6 * 7


def test_weight_swap_mid_stream(ray_cluster):
    server = start_server(seed=0)
    client = RemoteEvaluator([server], SIZE, "agz")
    work = batches(70, 4, seed=7)
    refs = [client.submit(p, l) for p, l in work[:20]]
    assert client.result(refs[0]).weights_version == 0
    refs += [client.submit(p, l) for p, l in work[20:40]]
    swap = server.set_weights.remote(1, ray.put(net(1).state_dict()))  # while requests are in flight
    refs += [client.submit(p, l) for p, l in work[40:60]]
    assert ray.get(swap) == 1
    refs += [client.submit(p, l) for p, l in work[60:]]

    answers = [client.result(r, timeout=30) for r in refs]
    assert len(answers) == 70
    seen = [a.weights_version for a in answers]
    assert seen == sorted(seen) and seen[0] == 0 and set(seen[60:]) == {1}
    local = {v: InProcessEvaluator(net(v), SIZE, "agz") for v in (0, 1)}
    for (planes, legal), answer in zip(work, answers):
        want_policy, want_value = local[answer.weights_version].evaluate(planes, legal)
        np.testing.assert_allclose(answer.policy, want_policy, atol=1e-6)
        np.testing.assert_allclose(answer.value, want_value, atol=1e-6)
    assert ray.get(server.stats.remote())["weights_version"] == 1


@pytest.mark.slow
def test_bench_inference_smoke(ray_cluster, capsys):
    from alphago_lite.benchmarks.inference import main

    assert main(["--size", "5", "--blocks", "1", "--channels", "8", "--batch", "16", "--seconds", "0.3",
                 "--device", "cpu"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0].strip() for line in lines[1:]] == ["raw forward", "in-process", "ray service"]
    assert all("evals/s" in line and "x raw" in line for line in lines[1:])


def test_servers_started_from_the_inference_config(ray_cluster):
    from actors.inference import start_inference_servers
    from alphago_lite.config import InferenceConfig

    model = net(3)
    cfg = InferenceConfig(num_servers=1, device="auto", max_batch=16, cpu_threads=1)
    servers = start_inference_servers(cfg, model.arch(), "agz", model.state_dict(), weights_version=4)
    assert len(servers) == 1  # no GPU in this test cluster
    remote = RemoteEvaluator(servers, SIZE, "agz")
    (planes, legal), = batches(1, 40, seed=9)  # larger than max_batch: chunked by the server
    policy, value = remote.evaluate(planes, legal)
    want_policy, want_value = InProcessEvaluator(net(3), SIZE, "agz").evaluate(planes, legal)
    np.testing.assert_allclose(policy, want_policy, atol=1e-6)
    np.testing.assert_allclose(value, want_value, atol=1e-6)
    assert remote.weights_version == 4
    stats = ray.get(servers[0].stats.remote())
    assert (stats["torch_threads"], stats["positions"], stats["weights_version"]) == (1, 40, 4)
    ray.kill(servers[0])
