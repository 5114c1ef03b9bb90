"""Benchmark: how much of the net's raw throughput survives the evaluator and the Ray service.

Same net, batch size and device, one run; for each backend (torch, openvino) and precision (fp32, bf16,
auto) three lines, in positions answered per second:
  raw          the forward alone in a tight loop (torch: the module under autocast, on the GPU bf16 or
               fp32 in a CUDA graph on a device-resident batch; openvino: the compiled net's infer)
  in-process   the evaluator's ``evaluate`` on uint8 planes + legal masks (host copies, masking)
  ray service  an ``InferenceServer`` fed by K client actors, each keeping ``--in-flight`` requests of
               ``--request`` positions outstanding through ``RemoteEvaluator`` (encoded once: see
               ``BenchClient``); beside it the server's own count (positions it forwarded over the same
               span, by its clock)

Every figure is positions answered over the whole measuring span, after a warm-up: no best-of-windows,
whose short windows let two answers noticed together pass for a near-zero interval (this bench once
printed 672x raw that way). The span is cut into ``--rounds`` rounds that measure the three figures in
turn, so that a virtual machine whose speed changes during the run (other tenants) slows all three alike.
A figure above the raw forward of the same net by more than NOISE is flagged: on a shared machine the raw
forward was then measured while others slowed it down.

    alphago-lite bench inference --size 9 --blocks 6 --channels 64 --batch 256 --clients 1
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from collections import deque
from collections.abc import Callable

import numpy as np
import ray
import torch

from actors.cluster import connected
from actors.inference import InferenceServer, RemoteEvaluator
from alphago_lite.benchmarks.steal import StealMeter
from alphago_lite.config import ClusterConfig
from alphago_lite.net.backends import build_evaluator
from alphago_lite.net.evaluator import resolve_device
from alphago_lite.net.model import PolicyValueNet
from alphago_lite.net.precision import PRECISIONS, cpu_bf16_kind
from alphago_lite.net.wire import encode_request

IN_PLANES = 17  # AlphaGo Zero's feature set
WARMUP_CALLS = 3  # untimed calls before a span: kernel selection, compilation, allocator
NOISE = 1.1  # a figure above raw x NOISE is flagged: no layer can beat the forward it wraps


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--size", type=int, default=9, help="board size")
    p.add_argument("--blocks", type=int, default=6, help="residual blocks")
    p.add_argument("--channels", type=int, default=64, help="channels per block")
    p.add_argument("--batch", type=int, default=256, help="positions per forward pass (server max_batch)")
    p.add_argument("--request", type=int, default=None, help="positions per client request (default: --batch)")
    p.add_argument("--clients", type=int, default=1, help="Ray client actors")
    p.add_argument("--in-flight", type=int, default=2, help="requests each client keeps outstanding")
    p.add_argument("--seconds", type=float, default=4.0, help="measuring span per figure")
    p.add_argument("--rounds", type=int, default=4,
                   help="the span is cut into this many rounds, each measuring the three figures in turn")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--backends", default=None,
                   help="comma-separated: torch,openvino (default: both where openvino is installed)")
    p.add_argument("--precisions", default=None,
                   help="comma-separated, of auto, fp32, bf16 (default: fp32,bf16; fp32 alone on a CPU without "
                        "bf16 instructions, where bf16 runs emulated)")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads of every forward (default: the CPUs this process may use); fewer leave a "
                        "core to the clients and Ray, as a server beside search workers does")


# ------------------------------------------------------------------ rate arithmetic
def span_rate(step: Callable[[], object], positions: int, seconds: float,
              sync: Callable[[], object] = lambda: None, clock: Callable[[], float] = time.perf_counter) -> float:
    """Positions per second of ``step`` (``positions`` each) over one span of at least ``seconds``, after
    ``WARMUP_CALLS`` untimed calls: calls x positions / the span's length."""
    for _ in range(WARMUP_CALLS):
        step()
    sync()
    calls, start = 0, clock()
    while clock() - start < seconds:
        step()
        calls += 1
    sync()
    return calls * positions / (clock() - start)


def completions_rate(completions: list[float], positions: int, start: float, stop: float) -> float:
    """Positions per second answered in [start, stop]: requests of ``positions`` that completed inside
    the span, over the span's whole length (requests in flight at either end shift it by at most one
    request per client and slot)."""
    inside = sum(1 for t in completions if start <= t <= stop)
    return inside * positions / (stop - start)


def forward_busy_and_speed(positions: int, forward_seconds: float, span_seconds: float,
                           raw: float) -> tuple[float, float]:
    """A server's rate over the raw forward's, split in two factors: the share of the span its forward thread
    spent in the net (below 1: it waited for requests) and its positions per second while there over the raw
    rate (below 1: other work took its CPU). ``span_seconds`` counts every server's span when there are several."""
    return forward_seconds / span_seconds, positions / max(forward_seconds, 1e-9) / raw


# ------------------------------------------------------------------ the figures
def random_batch(batch: int, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    planes = (rng.random((batch, IN_PLANES, size, size)) < 0.3).astype(np.uint8)
    legal = rng.random((batch, size * size + 1)) < 0.7
    legal[:, -1] = True
    return planes, legal


def raw_forward_step(model: PolicyValueNet, planes: np.ndarray, device: torch.device,
                     precision: str = "fp32") -> tuple[Callable[[], object], Callable[[], object]]:
    """(step, sync) of the torch forward alone (``precision`` resolved: fp32 or bf16): on the CPU the module
    under autocast, on the GPU a CUDA graph of it on a device-resident batch (captured here, once)."""
    x = torch.from_numpy(planes).float().to(device)
    bf16 = precision == "bf16"
    if device.type != "cuda":
        def step():
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                model(x)
        return step, lambda: None
    x = x.contiguous(memory_format=torch.channels_last)

    def forward():
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16,
                                                    cache_enabled=False):
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
    return graph.replay, torch.cuda.synchronize


def raw_step(backend: str, evaluator, planes: np.ndarray,
             device: torch.device) -> tuple[Callable[[], object], Callable[[], object]]:
    """(step, sync) of the raw forward of ``evaluator``'s net: OpenVINO's compiled net, or torch's."""
    if backend == "openvino":
        return (lambda: evaluator.raw_forward(planes)), lambda: None
    return raw_forward_step(evaluator.model, planes, device, evaluator.precision)


def raw_rate(backend: str, evaluator, planes: np.ndarray, device: torch.device, seconds: float) -> float:
    step, sync = raw_step(backend, evaluator, planes, device)
    return span_rate(step, len(planes), seconds, sync=sync)


class RayService:
    """An ``InferenceServer`` and ``--clients`` client actors, started once; ``span(seconds)`` measures one
    span: (positions the clients got answered per second, the server's stats over the same span, whose
    ``evals_per_s`` counts the positions it forwarded by its own clock)."""

    def __init__(self, model: PolicyValueNet, args: argparse.Namespace, device: torch.device, backend: str,
                 precision: str) -> None:
        self.args = args
        self.on_gpu = device.type == "cuda"
        self.server = InferenceServer.options(num_cpus=0 if not self.on_gpu else 1,
                                              num_gpus=1 if self.on_gpu else 0).remote(
            model.arch(), "agz", {k: v.cpu() for k, v in model.state_dict().items()}, 0, device=str(device),
            max_batch=args.batch, batch_timeout_ms=2.0, cpu_threads=torch.get_num_threads(), precision=precision,
            backend=backend)
        self.clients = [BenchClient.remote([self.server], args.size, args.request, args.in_flight, seed)
                        for seed in range(args.clients)]
        ray.get(self.server.stats.remote())  # the server is up (net compiled) before any clock starts
        self.warmed_up = False

    def span(self, seconds: float) -> tuple[float, dict]:
        # a lead before the span: the clients' requests are flowing when it starts (the first one longer:
        # CUDA graph capture and kernel selection happen on the first batches)
        lead = (2.0 if self.on_gpu else 1.0) if not self.warmed_up else 0.2
        self.warmed_up = True
        start = time.time() + lead
        stop = start + seconds
        runs = [client.run.remote(stop) for client in self.clients]
        time.sleep(max(0.0, start - time.time()))
        ray.get(self.server.stats.remote(reset=True))  # the server's own count starts with the span
        completions = [t for run in ray.get(runs) for t in run]
        stats = ray.get(self.server.stats.remote())
        return completions_rate(completions, self.args.request, start, stop), stats

    def close(self) -> None:
        for actor in (*self.clients, self.server):
            ray.kill(actor)


@ray.remote(num_cpus=0)
class BenchClient:
    """Keeps ``in_flight`` requests of ``request`` positions outstanding through ``RemoteEvaluator``. The
    positions are encoded once: encoding is a search worker's work, on its own CPU, and here it would take
    the service's (20-37% of a core at the rates of a 2-core machine)."""

    def __init__(self, servers, size: int, request: int, in_flight: int, seed: int):
        self.evaluator = RemoteEvaluator(servers, size, "agz")
        self.request = encode_request(*random_batch(request, size, seed))
        self.in_flight = in_flight

    def run(self, stop: float) -> list[float]:
        """Keep requests in flight until ``stop``; return every completion time."""
        pending, completions = deque(), []
        while time.time() < stop:
            while len(pending) < self.in_flight:
                pending.append(self.evaluator.submit_packed(self.request))
            self.evaluator.result(pending.popleft())
            completions.append(time.time())
        for ref in pending:  # answered before the next span starts, not during it
            self.evaluator.result(ref)
        return completions


def measure(backend: str, precision: str, model: PolicyValueNet, args: argparse.Namespace,
            device: torch.device) -> None:
    """Print the three lines of one backend and precision. The span is cut into ``--rounds`` rounds, each
    measuring the raw forward, the in-process evaluator and the service in turn, so that a machine whose
    speed changes during the run (other tenants of a virtual machine) slows all three alike."""
    planes, legal = random_batch(args.batch, args.size)
    evaluator = build_evaluator(backend, model, "agz", device=str(device), precision=precision, max_batch=args.batch,
                                cpu_threads=torch.get_num_threads())
    resolved = evaluator.precision  # auto shows what it chose: 'auto>fp32'
    label = f"{backend:8s} {precision if precision == resolved else f'{precision}>{resolved}':9s}"
    step, sync = raw_step(backend, evaluator, planes, device)
    seconds = args.seconds / args.rounds
    raws, in_processes, services, own_counts, forward_spans, stats = [], [], [], [], [], {}
    # reuses the caller's Ray (tests, the CLI) when there is one
    with connected(ClusterConfig(num_cpus=max(2, args.clients + 1))):
        service = RayService(model, args, device, backend, resolved)
        try:
            with StealMeter() as steal:
                for _ in range(args.rounds):
                    raws.append(span_rate(step, args.batch, seconds, sync=sync))
                    in_processes.append(span_rate(lambda: evaluator.evaluate(planes, legal), args.batch, seconds))
                    rate, stats = service.span(seconds)
                    services.append(rate)
                    own_counts.append(stats["evals_per_s"])
                    forward_spans.append((stats["positions"], stats["forward_seconds"], stats["seconds"]))
        finally:
            service.close()
    # rounds of equal length: the mean of their rates is positions over the whole time of each figure
    raw, in_process, served, own = (float(np.mean(rates)) for rates in (raws, in_processes, services, own_counts))
    busy, speed = forward_busy_and_speed(*(sum(column) for column in zip(*forward_spans)), raw)
    print(f"{label} raw forward : {raw:10.0f} evals/s  (1.00 x raw)", flush=True)
    print(f"{label} in-process  : {in_process:10.0f} evals/s  ({in_process / raw:.2f} x raw)", flush=True)
    print(f"{label} ray service : {served:10.0f} evals/s  ({served / raw:.2f} x raw)  "
          f"[server's own count {own:.0f} evals/s ({own / raw:.2f} x raw); "
          f"{args.clients} client(s) x {args.in_flight} in flight x {args.request} positions; "
          f"batch fill {stats['batch_fill']:.2f}, queue latency {stats['queue_latency_ms_mean']:.1f} ms, "
          f"server threads {stats['forward_threads']}, forward busy {busy:.2f}, forward speed {speed:.2f} x raw; "
          f"{args.rounds} rounds]", flush=True)
    print(f"{label} {steal.line('these rounds')}", flush=True)
    for figure, value in (("in-process", in_process), ("ray service", served), ("server's own count", own)):
        if value > raw * NOISE:
            print(f"{label} note: {figure} is {value / raw:.2f} x raw: the raw forward was slowed down by "
                  f"other work on this machine; measure again when it is quiet", flush=True)


def default_precisions(device_type: str, bf16_kind: str) -> str:
    """fp32 and bf16, except on a CPU without bf16 instructions (``precision.cpu_bf16_kind`` 'none'): torch
    would time an emulated bf16 (8.5x slower than fp32 on an AVX2-only AMD EPYC) that no run would choose."""
    return "fp32" if device_type == "cpu" and bf16_kind == "none" else "fp32,bf16"


def parse_list(text: str, allowed: tuple[str, ...], what: str) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    unknown = [item for item in items if item not in allowed]
    if unknown or not items:
        raise SystemExit(f"{what} must be a comma-separated list of {', '.join(allowed)}, got {text!r}")
    return items


def main(args: argparse.Namespace | list[str] | None = None) -> int:
    if not isinstance(args, argparse.Namespace):
        parser = argparse.ArgumentParser(prog="bench_inference", description=__doc__.splitlines()[0])
        add_arguments(parser)
        args = parser.parse_args(args)
    args.request = args.request or args.batch
    has_openvino = importlib.util.find_spec("openvino") is not None
    backends = parse_list(args.backends or ("torch,openvino" if has_openvino else "torch"), ("torch", "openvino"),
                          "--backends")
    device = resolve_device(args.device)
    precisions = parse_list(args.precisions or default_precisions(device.type, cpu_bf16_kind()), PRECISIONS,
                            "--precisions")
    if "openvino" in backends and not has_openvino:
        raise SystemExit("bench inference: --backends openvino needs the openvino package: "
                         "pip install 'alphago-lite[openvino]'")
    if args.rounds < 1:
        raise SystemExit(f"bench inference: --rounds must be at least 1, got {args.rounds}")
    if args.threads is not None and args.threads < 1:
        raise SystemExit(f"bench inference: --threads must be at least 1, got {args.threads}")
    if "openvino" in backends and device.type == "cuda":
        raise SystemExit("bench inference: openvino runs on the CPU; use --device cpu or --backends torch")
    torch.manual_seed(0)
    model = PolicyValueNet(args.size, IN_PLANES, args.blocks, args.channels).eval()
    if device.type != "cuda":
        # as the in-process evaluator would: torch counts the machine's cores, not the ones we may use
        from alphago_lite.net.evaluator import default_cpu_threads
        torch.set_num_threads(args.threads or min(torch.get_num_threads(), default_cpu_threads()))
    print(f"bench inference: {args.size}x{args.size} {args.blocks}x{args.channels} batch {args.batch} "
          f"device {device} threads {torch.get_num_threads()}, {args.seconds:g} s per figure", flush=True)
    if args.precisions is None and "bf16" not in precisions:
        print("bench inference: no bf16 figures: this CPU has no bf16 instructions (avx512_bf16 or AMX), so bf16 "
              "would run emulated; --precisions fp32,bf16 measures it anyway", flush=True)
    for backend in backends:
        for precision in precisions:
            measure(backend, precision, model, args, device)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
