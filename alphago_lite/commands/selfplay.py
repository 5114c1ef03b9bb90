"""`alphago-lite selfplay --model PATH --out DIR [--games N] [--config FILE] [key=value ...]`.

Self-play only, no learner: inference servers hold the checkpoint's weights, search workers play, and
a replay buffer appends every finished game to msgpack shards in ``DIR/games/`` (the format
``alphago_lite.replay.read_games`` and a training run's replay buffer read). The resolved config is
written to ``DIR/config.yaml``. Ray is imported only when the command runs (``alphago_lite`` itself
never imports it).
"""
from __future__ import annotations

from pathlib import Path

from alphago_lite.errors import UserError


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
        raise UserError(f"game.size is {cfg.game.size} but the checkpoint plays on {board_size}x{board_size}")
    if cfg.model.feature_set != feature_set:
        raise UserError(f"model.feature_set is {cfg.model.feature_set!r} but the checkpoint uses "
                        f"{feature_set!r}")
    return cfg


def run(args) -> int:
    if args.games < 1:
        raise UserError(f"--games must be at least 1, got {args.games}")
    from alphago_lite.config import save_config
    from alphago_lite.net.checkpoint import load_checkpoint
    state, meta = load_checkpoint(args.model)  # a CheckpointError (a UserError) names what is wrong
    overrides = list(args.overrides) + ([f"cluster.address={args.address}"] if args.address else [])
    cfg = resolve_config(args.config, overrides, meta.board_size, meta.feature_set)

    from actors.selfplay_run import run_selfplay  # Ray lives in actors/, imported only here
    save_config(cfg, str(args.out))
    run_selfplay(cfg, state, meta, Path(args.out), args.games, args.seed)
    return 0
