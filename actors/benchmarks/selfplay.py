"""Benchmark: self-play throughput of the whole cluster (search workers + inference servers + buffer).

Runs self-play from a config (random weights; throughput does not depend on them) for ``--seconds``
after a warm-up, then prints, all from the same run:
  games/h          games finished in the window (a long game may not finish in a short window), and
                   an estimate: estimated positions/s / moves per game (max_moves if none finished)
  positions/s      moves of those finished games per second, and an estimate that also counts the
                   games still in flight: NN evaluations / simulations per move
  NN evals/s       positions evaluated by the inference servers (their own counters)
  batch fill       mean positions per forward pass / max_batch
  share of raw     NN evals/s over the raw forward throughput of the same net at the same (mean)
                   batch size on this machine, timed after the actors are stopped

``--precision fp32,auto`` (and/or ``--backend torch,openvino``) runs the whole measurement once per
combination, one after the other in the same process, and ends with one ratio line per combination:
its NN evals/s over the first one's.

    alphago-lite bench selfplay --config configs/go9_cpu.yaml --seconds 30 --precision fp32,auto
"""
from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import ray
import torch

from actors.benchmarks.inference import forward_busy_and_speed, parse_list, raw_rate
from actors.cluster import connected, stop_selfplay
from actors.inference import start_inference_servers
from actors.replay_buffer import start_replay_buffer
from actors.worker_pool import start_search_workers
from alphago_lite.benchmarks.steal import StealMeter
from alphago_lite.config import Config, load_config, resolved_max_moves
from alphago_lite.net.backends import build_evaluator
from alphago_lite.net.features import num_planes
from alphago_lite.net.model import build_model
from alphago_lite.net.precision import PRECISIONS


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("overrides", nargs="*", help="dotted config overrides, e.g. search.num_simulations=50")
    p.add_argument("--config", default="configs/go9_cpu.yaml", help="YAML config (default go9_cpu.yaml)")
    p.add_argument("--seconds", type=float, default=30.0, help="measuring window after the warm-up")
    p.add_argument("--workers", type=int, default=None, help="search workers (default: from the config)")
    p.add_argument("--precision", default=None,
                   help="comma-separated inference precisions to compare, e.g. fp32,auto (default: the config's)")
    p.add_argument("--backend", default=None,
                   help="comma-separated inference backends to compare, e.g. torch,openvino (default: the config's)")


def _server_totals(servers, reset: bool) -> dict:
    stats = ray.get([s.stats.remote(reset=reset) for s in servers])
    positions = sum(s["positions"] for s in stats)
    batches = sum(s["batches"] for s in stats)
    return {"positions": positions, "batches": batches, "threads": stats[0]["forward_threads"],
            "batch_fill": float(np.mean([s["batch_fill"] for s in stats])), "precision": stats[0]["precision"],
            "forward_seconds": sum(s["forward_seconds"] for s in stats)}


def _variants(args: argparse.Namespace, base: list[str]) -> list[tuple[str, list[str]]]:
    """(label, overrides) per combination of --backend and --precision; one unlabelled run without them."""
    backends = parse_list(args.backend, ("torch", "openvino"), "--backend") if args.backend else [None]
    precisions = parse_list(args.precision, PRECISIONS, "--precision") if args.precision else [None]
    variants = []
    for backend in backends:
        for precision in precisions:
            extra = ([f"inference.backend={backend}"] if backend else []) + \
                    ([f"inference.precision={precision}"] if precision else [])
            variants.append((" ".join(filter(None, (backend, precision))), base + extra))
    return variants


def measure(cfg: Config, seconds: float) -> dict:
    """Self-play for ``seconds`` after a warm-up; the servers' counts and the games finished meanwhile."""
    fs = cfg.model.feature_set
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model, cfg.game.size, num_planes(fs)).eval()
    with connected(cfg.cluster):
        servers = start_inference_servers(cfg.inference, model.arch(), fs, model.state_dict())
        with tempfile.TemporaryDirectory(prefix="bench-selfplay-") as games_dir:
            buffer = start_replay_buffer(games_dir, cfg.replay, fs, 0)
            pool = start_search_workers(cfg, servers, buffer, seed=cfg.seed)
            try:
                # warm-up: numba compilation and the first batches are not throughput
                while _server_totals(servers, reset=False)["batches"] < 5:
                    time.sleep(0.5)
                time.sleep(2.0)
                _server_totals(servers, reset=True)
                games_before = ray.get(buffer.stats.remote())["games"]
                start = time.perf_counter()
                time.sleep(seconds)
                served = _server_totals(servers, reset=True)
                elapsed = time.perf_counter() - start
                games = ray.get(buffer.stats.remote())["games"] - games_before
            finally:
                stop_selfplay(pool, servers, buffer)
            from alphago_lite.selfplay.replay import read_games
            finished = read_games(games_dir)[games_before:games_before + games]
    return {"model": model, "served": served, "elapsed": elapsed, "games": games, "finished": finished,
            "servers": len(servers), "workers": len(pool.workers)}


def raw_share_reference(cfg: Config, run: dict) -> tuple[int, float]:
    """The batch size and raw forward rate (all servers together) to compare the servers' rate with:
    the same backend, resolved precision and threads as a server's forward, at its mean batch."""
    served = run["served"]
    batch = max(int(round(served["positions"] / max(served["batches"], 1))), 1)
    torch.set_num_threads(max(int(served["threads"]), 1))
    rng = np.random.default_rng(0)
    fs = cfg.model.feature_set
    planes = (rng.random((batch, num_planes(fs), cfg.game.size, cfg.game.size)) < 0.3).astype(np.uint8)
    evaluator = build_evaluator(cfg.inference.backend, run["model"], fs, precision=served["precision"],
                                max_batch=batch, cpu_threads=torch.get_num_threads())
    return batch, raw_rate(cfg.inference.backend, evaluator, planes, torch.device("cpu"), 4.0) * run["servers"]


def report(cfg: Config, config_name: str, run: dict) -> float:
    """Print the figures of one run; returns its NN evals/s."""
    served, elapsed, games, finished = run["served"], run["elapsed"], run["games"], run["finished"]
    moves = sum(len(g.moves) for g in finished)
    evals = served["positions"] / elapsed
    mean_batch = served["positions"] / max(served["batches"], 1)
    batch, raw = raw_share_reference(cfg, run)
    print(f"bench selfplay: {config_name} {cfg.game.size}x{cfg.game.size} {cfg.model.blocks}x"
          f"{cfg.model.channels}, {run['workers']} worker(s) x {cfg.selfplay.games_per_worker} games, "
          f"{run['servers']} server(s) x {served['threads']} thread(s) {cfg.inference.backend} "
          f"{served['precision']}, {cfg.search.num_simulations} sims, {elapsed:.0f} s")
    # steady state: positions/s over moves per game; with no finished game, the longest a game can be
    # gives a lower bound (the workers start all their games at once, so a short window sees none end)
    length, how = (moves / len(finished), "their mean length") if finished else \
        (resolved_max_moves(cfg.game), "max_moves: a lower bound")
    estimate = evals / cfg.search.num_simulations * 3600 / max(length, 1)
    print(f"games/h        : {games * 3600 / elapsed:10.1f}  ({games} games finished)   "
          f"~{estimate:.0f} (estimated positions/s x 3600 / {length:.0f} moves per game, {how})")
    print(f"positions/s    : {moves / elapsed:10.1f}  (finished games)   "
          f"~{evals / cfg.search.num_simulations:.1f} (NN evals / simulations per move)")
    print(f"NN evals/s     : {evals:10.0f}")
    print(f"batch fill     : {served['batch_fill']:10.2f}  (mean batch {mean_batch:.1f} of "
          f"{cfg.inference.max_batch})")
    print(f"share of raw   : {evals / raw:10.2f}  (raw forward at batch {batch}: {raw:.0f} evals/s "
          f"on {run['servers']} server(s))")
    # share of raw = forward busy x forward speed: idle servers (the searches are the limit) or slow forwards
    # (other threads of the server, or other processes, take its CPU)
    busy, speed = forward_busy_and_speed(served["positions"], served["forward_seconds"], elapsed * run["servers"],
                                         raw / run["servers"])
    print(f"forward busy   : {busy:10.2f}  (share of the window the servers' forward threads spent in the net)")
    print(f"forward speed  : {speed:10.2f}  (positions per second of forward over the raw rate)", flush=True)
    return evals


def main(args: argparse.Namespace | list[str] | None = None) -> int:
    if not isinstance(args, argparse.Namespace):
        parser = argparse.ArgumentParser(prog="bench_selfplay", description=__doc__.splitlines()[0])
        add_arguments(parser)
        args = parser.parse_args(args)
    base = list(args.overrides) + ([f"selfplay.num_workers={args.workers}"] if args.workers else [])
    rates = []
    for label, overrides in _variants(args, base):
        cfg = load_config(args.config, overrides)
        with StealMeter() as steal:
            run = measure(cfg, args.seconds)
        rates.append((label, report(cfg, args.config, run)))
        print(steal.line("this run"), flush=True)
    if len(rates) > 1:
        first_label, first = rates[0]
        for label, evals in rates[1:]:
            print(f"ratio          : {evals / first:10.2f}  (NN evals/s of {label} over {first_label}, same run)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
