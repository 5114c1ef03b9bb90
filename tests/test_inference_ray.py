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


@pytest.mark.slow  # two servers, two client actors: 8 s; the quick tier keeps a server that answers as the net
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


def assert_each_answer_is_its_versions(work, answers, atol: float) -> None:
    """Each answer equals what the in-process net of the weights version that answered gives."""
    local = {v: InProcessEvaluator(net(v), SIZE, "agz") for v in (0, 1)}
    for (planes, legal), answer in zip(work, answers):
        want_policy, want_value = local[answer.weights_version].evaluate(planes, legal)
        np.testing.assert_allclose(answer.policy, want_policy, atol=atol)
        np.testing.assert_allclose(answer.value, want_value, atol=atol)

@pytest.mark.slow
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
    # not asserted: answers in submission order around the swap. The server is an async Ray actor, and
    # Ray does not keep the execution order of an async actor's tasks (docs: "Actor Task Execution
    # Order"), so a request sent later can join an earlier batch; each answer is its version's (below)
    assert seen[0] == 0 and set(seen[60:]) == {1} and set(seen) == {0, 1}
    assert_each_answer_is_its_versions(work, answers, atol=1e-6)
    assert ray.get(server.stats.remote())["weights_version"] == 1


@pytest.mark.slow  # an OpenVINO export and a compile in the server
def test_openvino_server_swaps_weights_mid_stream(ray_cluster):
    pytest.importorskip("openvino")
    server = start_server(seed=0, backend="openvino")
    client = RemoteEvaluator([server], SIZE, "agz")
    work = batches(30, 4, seed=8)
    refs = [client.submit(p, l) for p, l in work[:10]]
    assert client.result(refs[0], timeout=60).weights_version == 0
    swap = server.set_weights.remote(1, ray.put(net(1).state_dict()))  # compiled beside the forwards
    refs += [client.submit(p, l) for p, l in work[10:20]]
    assert ray.get(swap) == 1
    refs += [client.submit(p, l) for p, l in work[20:]]
    answers = [client.result(r, timeout=60) for r in refs]
    seen = [a.weights_version for a in answers]
    assert seen[0] == 0 and set(seen[20:]) == {1}  # any order before that: see test_weight_swap_mid_stream
    assert_each_answer_is_its_versions(work, answers, atol=1e-5)
    stats = ray.get(server.stats.remote())
    assert (stats["backend"], stats["precision"], stats["weights_version"]) == ("openvino", "fp32", 1)
    assert stats["last_prepare_s"] > 0
    ray.kill(server)


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_span_rate_is_positions_over_the_whole_span():
    from actors.benchmarks.inference import WARMUP_CALLS, span_rate
    clock, calls = FakeClock(), []

    def step():  # each call takes 0.25 s of the fake clock
        calls.append(clock.now)
        clock.now += 0.25
    assert span_rate(step, positions=64, seconds=2.0, clock=clock) == 64 / 0.25  # 8 calls in 2 s
    assert len(calls) == WARMUP_CALLS + 8
    slow_then_fast = iter([1.0, 1.0, 1.0] + [1.5] + [0.25] * 10)  # warm-up, one slow call, then fast

    def uneven():
        clock.now += next(slow_then_fast)
    # 1.5 + 2 x 0.25 = 2.0 s for 3 calls: the slow call counts (no best window drops it)
    assert span_rate(uneven, positions=64, seconds=2.0, clock=clock) == 3 * 64 / 2.0


def test_completions_rate_counts_answers_inside_the_span_over_its_length():
    from actors.benchmarks.inference import completions_rate
    # two answers noticed together (one batch answering two requests) add two requests, nothing more
    completions = [9.0, 10.5, 11.0, 11.0, 12.5, 14.0, 14.5]
    assert completions_rate(completions, positions=100, start=10.0, stop=14.0) == 5 * 100 / 4.0
    assert completions_rate([12.0, 12.0], positions=256, start=10.0, stop=14.0) == 2 * 256 / 4.0
    assert completions_rate([], positions=256, start=10.0, stop=14.0) == 0.0


@pytest.mark.slow
def test_bench_inference_smoke(ray_cluster, capsys):
    from actors.benchmarks.inference import main

    threads_before = torch.get_num_threads()
    try:  # --threads sets the process's torch threads: put them back for the tests after this one
        assert main(["--size", "5", "--blocks", "1", "--channels", "8", "--batch", "16", "--seconds", "0.3",
                     "--device", "cpu", "--backends", "torch", "--precisions", "fp32,bf16", "--threads", "1",
                     "--rounds", "2"]) == 0
    finally:
        torch.set_num_threads(threads_before)
    header, *lines = capsys.readouterr().out.splitlines()
    assert "threads 1," in header
    lines = [line for line in lines if " note: " not in line]
    steal = [line for line in lines if " host steal during these rounds: " in line]
    assert [line.split()[:2] for line in steal] == [["torch", "fp32"], ["torch", "bf16"]]
    lines = [line for line in lines if line not in steal]
    assert [line.split(":")[0].split() for line in lines] == [
        ["torch", precision, *figure.split()] for precision in ("fp32", "bf16")
        for figure in ("raw forward", "in-process", "ray service")]
    assert all("evals/s" in line and "x raw" in line for line in lines)
    assert "server's own count" in lines[2] and "server's own count" in lines[5]
    assert all("server threads 1, forward busy " in lines[row] and " x raw; 2 rounds]" in lines[row] for row in (2, 5))


def test_bench_inference_times_bf16_by_default_only_where_it_is_not_emulated():
    from actors.benchmarks.inference import default_precisions
    assert default_precisions("cpu", "none") == "fp32"  # AVX2 only: torch would emulate bf16
    assert default_precisions("cpu", "avx512") == "fp32,bf16"
    assert default_precisions("cpu", "amx") == "fp32,bf16"
    assert default_precisions("cuda", "none") == "fp32,bf16"


@pytest.mark.parametrize("option", ["--threads", "--rounds"])
def test_bench_inference_refuses_a_count_below_one(option):
    from actors.benchmarks.inference import main

    with pytest.raises(SystemExit, match=f"{option} must be at least 1, got 0"):
        main([option, "0", "--backends", "torch"])


def test_servers_started_from_the_inference_config(ray_cluster):
    from actors.inference import start_inference_servers
    from alphago_lite.config import InferenceConfig

    model = net(3)
    cfg = InferenceConfig(num_servers=1, device="auto", max_batch=16, cpu_threads=1, precision="fp32")
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
    assert (stats["backend"], stats["precision"]) == ("torch", "fp32")
    ray.kill(servers[0])


def test_bench_selfplay_measures_each_backend_and_precision_asked_for():
    import argparse

    from actors.benchmarks.selfplay import _variants
    args = argparse.Namespace(precision="fp32,auto", backend="torch,openvino")
    assert _variants(args, ["seed=1"]) == [
        ("torch fp32", ["seed=1", "inference.backend=torch", "inference.precision=fp32"]),
        ("torch auto", ["seed=1", "inference.backend=torch", "inference.precision=auto"]),
        ("openvino fp32", ["seed=1", "inference.backend=openvino", "inference.precision=fp32"]),
        ("openvino auto", ["seed=1", "inference.backend=openvino", "inference.precision=auto"])]
    assert _variants(argparse.Namespace(precision=None, backend=None), []) == [("", [])]  # the config as is
    with pytest.raises(SystemExit, match="--precision must be a comma-separated list of auto, fp32, bf16"):
        _variants(argparse.Namespace(precision="fp32,fp16", backend=None), [])


def test_auto_cpu_threads_use_every_core_on_one_reserved_cpu(ray_cluster):
    from actors.inference import cpu_forward_threads, server_placement
    from alphago_lite.config import InferenceConfig

    auto = InferenceConfig(device="cpu", cpu_threads=0)
    assert ray.cluster_resources()["CPU"] == 2
    assert (cpu_forward_threads(auto, servers=1), cpu_forward_threads(auto, servers=2)) == (2, 1)
    assert server_placement(auto) == ("cpu", 1, {"num_cpus": 1})  # room left for a search worker
    assert cpu_forward_threads(InferenceConfig(device="cpu", cpu_threads=3), servers=1) == 3  # as asked
