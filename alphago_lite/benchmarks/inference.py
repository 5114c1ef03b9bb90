"""Benchmark: how much of the net's raw throughput survives the evaluator and the Ray service.

Same net, same batch size, same device, same run, three figures (evaluations per second, each the
best of 4 windows, since neighbours on a shared machine only ever slow a figure down):
  1. raw         the forward pass alone in a tight loop (GPU: bf16 + CUDA graph on a device-resident batch)
  2. in-process  ``InProcessEvaluator.evaluate`` on uint8 planes + legal masks (host copies, masking)
  3. ray         ``InferenceServer`` fed by K client actors, each keeping ``--in-flight`` requests of
                 ``--request`` positions outstanding through ``RemoteEvaluator.submit``

    python scripts/bench_inference.py --size 9 --blocks 6 --channels 64 --batch 256 --clients 1
"""

from __future__ import annotations

import argparse
import time
from collections import deque
from collections.abc import Callable

import numpy as np
import torch

from alphago_lite.net.evaluator import InProcessEvaluator, resolve_device
from alphago_lite.net.model import PolicyValueNet

IN_PLANES = 17  # AlphaGo Zero's feature set
WINDOWS = 4  # each figure is the best of this many equal measuring windows


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--size", type=int, default=9, help="board size")
    p.add_argument("--blocks", type=int, default=6, help="residual blocks")
    p.add_argument("--channels", type=int, default=64, help="channels per block")
    p.add_argument("--batch", type=int, default=256, help="positions per forward pass (server max_batch)")
    p.add_argument("--request", type=int, default=None, help="positions per client request (default: --batch)")
    p.add_argument("--clients", type=int, default=1, help="Ray client actors")
    p.add_argument("--in-flight", type=int, default=2, help="requests each client keeps outstanding")
    p.add_argument("--seconds", type=float, default=4.0, help="measuring time per figure")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")


def random_batch(batch: int, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    planes = (rng.random((batch, IN_PLANES, size, size)) < 0.3).astype(np.uint8)
    legal = rng.random((batch, size * size + 1)) < 0.7
    legal[:, -1] = True
    return planes, legal


def rate(step: Callable[[], None], positions: int, seconds: float, sync: Callable[[], None] = lambda: None) -> float:
    """Positions per second of ``step``: the best of ``WINDOWS`` windows after a short warm-up.
    The best window, not the mean, because other processes on a shared machine only ever slow us down."""
    for _ in range(3):
        step()
    sync()
    best = 0.0
    for _ in range(WINDOWS):
        calls, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / WINDOWS:
            step()
            calls += 1
        sync()
        best = max(best, calls * positions / (time.perf_counter() - start))
    return best


def best_window_rate(completions: list[float], positions: int, start: float, seconds: float) -> float:
    """Like ``rate`` for request completion times: in each window, positions finished after the window's
    first completion divided by the time from that first completion to the last one."""
    completions = sorted(completions)
    width, best = seconds / WINDOWS, 0.0
    for i in range(WINDOWS):
        inside = [t for t in completions if start + i * width <= t < start + (i + 1) * width]
        if len(inside) >= 2 and inside[-1] > inside[0]:
            best = max(best, (len(inside) - 1) * positions / (inside[-1] - inside[0]))
    return best


def raw_forward_rate(model: PolicyValueNet, planes: np.ndarray, device: torch.device, seconds: float) -> float:
    x = torch.from_numpy(planes).float().to(device)
    if device.type != "cuda":
        def step():
            with torch.inference_mode():
                model(x)
        return rate(step, len(planes), seconds)
    x = x.contiguous(memory_format=torch.channels_last)

    def forward():
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, cache_enabled=False):
            return model(x)

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            forward()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        forward()
    return rate(graph.replay, len(planes), seconds, sync=torch.cuda.synchronize)


def ray_service_rate(model: PolicyValueNet, args: argparse.Namespace, device: torch.device) -> tuple[float, dict]:
    import ray  # only this figure needs Ray

    from actors.cluster import connected
    from actors.inference import InferenceServer, RemoteEvaluator
    from alphago_lite.config import ClusterConfig

    @ray.remote(num_cpus=0)
    class BenchClient:
        def __init__(self, servers, size, seed):
            self.evaluator = RemoteEvaluator(servers, size, "agz")
            self.planes, self.legal = random_batch(args.request, size, seed)

        def run(self, start: float, stop: float) -> list[float]:
            """Keep requests in flight until ``stop``; return the completion times after ``start``."""
            pending, completions = deque(), []
            while time.time() < stop:
                while len(pending) < args.in_flight:
                    pending.append(self.evaluator.submit(self.planes, self.legal))
                self.evaluator.result(pending.popleft())
                if time.time() >= start:
                    completions.append(time.time())
            return completions

    # reuses the caller's Ray (tests, the CLI) when there is one
    with connected(ClusterConfig(num_cpus=max(2, args.clients + 1))):
        on_gpu = device.type == "cuda"
        server = InferenceServer.options(num_cpus=0 if not on_gpu else 1, num_gpus=1 if on_gpu else 0).remote(
            model.arch(), "agz", {k: v.cpu() for k, v in model.state_dict().items()}, 0, device=str(device),
            max_batch=args.batch, batch_timeout_ms=2.0, cpu_threads=torch.get_num_threads())
        clients = [BenchClient.remote([server], args.size, seed) for seed in range(args.clients)]
        warmup = 2.0 if on_gpu else 1.0  # CUDA graph capture happens on the first batches
        ray.get(server.stats.remote())  # the server is up before the clock starts
        start = time.time() + warmup
        runs = ray.get([c.run.remote(start, start + args.seconds) for c in clients])
        service = best_window_rate([t for run in runs for t in run], args.request, start, args.seconds)
        stats = ray.get(server.stats.remote())
        return service, stats


def main(args: argparse.Namespace | list[str] | None = None) -> int:
    if not isinstance(args, argparse.Namespace):
        parser = argparse.ArgumentParser(prog="bench_inference", description=__doc__.splitlines()[0])
        add_arguments(parser)
        args = parser.parse_args(args)
    args.request = args.request or args.batch
    device = resolve_device(args.device)
    torch.manual_seed(0)
    model = PolicyValueNet(args.size, IN_PLANES, args.blocks, args.channels).eval()
    evaluator = InProcessEvaluator(model, args.size, "agz", device=device, max_batch=args.batch)
    model = evaluator.model  # moved to the device (channels_last on GPU)
    planes, legal = random_batch(args.batch, args.size)
    print(f"bench inference: {args.size}x{args.size} {args.blocks}x{args.channels} batch {args.batch} "
          f"device {device} torch threads {torch.get_num_threads()}", flush=True)

    figures = {"raw forward": raw_forward_rate(model, planes, device, args.seconds)}
    print(f"raw forward   : {figures['raw forward']:10.0f} evals/s  (1.00 x raw)", flush=True)
    figures["in-process"] = rate(lambda: evaluator.evaluate(planes, legal), args.batch, args.seconds)
    print(f"in-process    : {figures['in-process']:10.0f} evals/s  "
          f"({figures['in-process'] / figures['raw forward']:.2f} x raw)", flush=True)
    evaluator = None  # free its device buffers for the server

    service, stats = ray_service_rate(model.cpu() if device.type == "cuda" else model, args, device)
    print(f"ray service   : {service:10.0f} evals/s  ({service / figures['raw forward']:.2f} x raw)  "
          f"[{args.clients} client(s) x {args.in_flight} in flight x {args.request} positions; "
          f"batch fill {stats['batch_fill']:.2f}, queue latency {stats['queue_latency_ms_mean']:.1f} ms, "
          f"server threads {stats['torch_threads']}]",
          flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
