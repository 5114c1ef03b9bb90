"""`alphago-lite train CONFIG [key=value ...]` and `alphago-lite train --resume RUN_DIR`."""
from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser("train", help="train a net by self-play from a config file",
                              description="Run the AlphaZero loop on a local or remote Ray cluster.")
    p.add_argument("config", nargs="?", help="YAML config (configs/tiny.yaml, ...)")
    p.add_argument("overrides", nargs="*", help="dotted overrides, e.g. search.num_simulations=64")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a stopped or crashed run")
    p.add_argument("--address", help="join this Ray cluster ('auto' or ray://host:port)")
    p.add_argument("--max-steps", type=int, help="stop after this many learner steps (for tests)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=run)


def run(args) -> int:
    from alphago_lite.config import apply_overrides, load_config
    from alphago_lite.run_dir import RunDir
    overrides = list(args.overrides)
    if args.address:
        overrides.append(f"cluster.address={args.address}")
    if args.resume:
        if args.config:
            overrides.insert(0, args.config)  # `train --resume DIR key=value`: no config file
        config_file = RunDir.at(args.resume).config_file
        if not config_file.is_file():
            raise SystemExit(f"error: {args.resume} is not a run directory (no config.yaml in it)")
        cfg = apply_overrides(load_config(str(config_file)), overrides)
    elif args.config:
        cfg = load_config(args.config, overrides)
    else:
        raise SystemExit("error: give a config file (e.g. configs/tiny.yaml) or --resume RUN_DIR")
    from learner.loop import train  # imports torch and ray: only when training
    path = train(cfg, resume=bool(args.resume), max_steps=args.max_steps, quiet=args.quiet)
    print(f"\nlast checkpoint: {path}" if path is not None else
          "\nstopped before training started: no checkpoint written")
    return 0
