"""`alphago-lite selfplay --model PATH --out DIR [--games N] [--config FILE] [key=value ...]`.

Self-play only, no learner: inference servers hold the checkpoint's weights, search workers play, and
a replay buffer appends every finished game to msgpack shards in ``DIR/games/`` (the format
``alphago_lite.replay.read_games`` and a training run's replay buffer read). The resolved config is
written to ``DIR/config.yaml``. Ray is imported only when the command runs (``alphago_lite`` itself
never imports it).
"""
from __future__ import annotations

import time
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("selfplay", help="generate self-play games from a fixed net (no learner)",
                              description="Play self-play games with a checkpoint on a local or remote "
                                          "Ray cluster and write them as replay shards.")
    p.add_argument("overrides", nargs="*", help="dotted overrides, e.g. search.num_simulations=64")
    p.add_argument("--model", required=True, metavar="PATH", help="checkpoint (.pt) that plays")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory; shards go to DIR/games/")
    p.add_argument("--games", type=int, default=100,
                   help="games to play (rounded up to a multiple of the number of workers; default 100)")
    p.add_argument("--config", metavar="FILE",
                   help="YAML config for search/self-play/inference/cluster (default: built-in defaults "
                        "with the checkpoint's board size)")
    p.add_argument("--address", help="join this Ray cluster ('auto' or ray://host:port)")
    p.add_argument("--seed", type=int, default=0, help="seed of the search workers")
    p.set_defaults(func=run)


def resolve_config(config_file: str | None, overrides: list[str], board_size: int, feature_set: str):
    """The config the self-play uses; its board size and feature set must be the checkpoint's."""
    from alphago_lite.config import load_config
    # the checkpoint fixes these two; a config file or an override that disagrees is an error below
    implied = [f"game.size={board_size}", f"model.feature_set={feature_set}"] if config_file is None else []
    cfg = load_config(config_file, implied + list(overrides))
    if cfg.game.size != board_size:
        raise ValueError(f"game.size is {cfg.game.size} but the checkpoint plays on {board_size}x{board_size}")
    if cfg.model.feature_set != feature_set:
        raise ValueError(f"model.feature_set is {cfg.model.feature_set!r} but the checkpoint uses "
                         f"{feature_set!r}")
    return cfg


def run(args) -> int:
    if args.games < 1:
        raise SystemExit(f"error: --games must be at least 1, got {args.games}")
    from alphago_lite.checkpoint import CheckpointError, load_checkpoint
    from alphago_lite.config import save_config
    try:
        state, meta = load_checkpoint(args.model)
        overrides = list(args.overrides) + ([f"cluster.address={args.address}"] if args.address else [])
        cfg = resolve_config(args.config, overrides, meta.board_size, meta.feature_set)
    except (CheckpointError, ValueError) as err:
        raise SystemExit(f"error: {err}") from None

    import ray

    from actors.inference import start_inference_servers
    from actors.replay_buffer import ReplayBuffer
    from actors.worker_pool import start_search_workers
    from learner.loop import connect

    out = Path(args.out)
    save_config(cfg, str(out))
    started_ray = not ray.is_initialized()
    connect(cfg)
    version = int(meta.extra.get("weights_version", meta.step))
    servers = start_inference_servers(cfg.inference, meta.arch, meta.feature_set, state, version)
    buffer = ReplayBuffer.options(num_cpus=0).remote(str(out / "games"), cfg.replay, meta.feature_set,
                                                     args.seed)
    games_before = ray.get(buffer.stats.remote())["games"]
    pool = None
    start = time.time()
    try:
        pool = start_search_workers(cfg, servers, buffer, seed=args.seed, max_games=args.games)
        pool.wait()
    except KeyboardInterrupt:
        print("interrupted: every finished game is already in the shards")
    finally:
        if pool is not None:
            pool.stop()
        stats = ray.get(buffer.stats.remote())
        ray.get(buffer.close.remote())
        for actor in servers + [buffer]:
            ray.kill(actor)
        if started_ray:
            ray.shutdown()
    elapsed = time.time() - start
    print(f"{stats['games'] - games_before} games ({stats['positions_seen']} training positions) "
          f"in {elapsed:.1f} s written to {out / 'games'}")
    return 0
