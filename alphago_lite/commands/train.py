"""`alphago-lite train CONFIG [key=value ...] [--init-from MODEL]` and `alphago-lite train --resume RUN_DIR`."""
from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser("train", help="train a net by self-play from a config file",
                              description="Run the AlphaZero loop on a local or remote Ray cluster.")
    p.add_argument("config", nargs="?", help="YAML config (configs/tiny.yaml, ...)")
    p.add_argument("overrides", nargs="*", help="dotted overrides, e.g. search.num_simulations=64")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a stopped or crashed run")
    p.add_argument("--init-from", metavar="MODEL",
                   help="start a new run from the weights of this net (a checkpoint file, or shipped[:NAME]); "
                        "fresh optimizer and replay buffer")
    p.add_argument("--address", help="join this Ray cluster ('auto' or ray://host:port)")
    p.add_argument("--max-steps", type=int, help="stop after this many learner steps (for tests)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=run)


def resume_config(run_dir: str, overrides: list[str]):
    """The config saved in ``run_dir`` with ``overrides``, training in ``run_dir`` itself: a moved run
    goes on in its new place and a copied run is a run of its own, whatever run_dir was saved."""
    import dataclasses

    from alphago_lite.config import apply_overrides, load_config, parse_override
    from alphago_lite.run_dir import RunDir
    config_file = RunDir.at(run_dir).config_file
    if not config_file.is_file():
        raise SystemExit(f"error: {run_dir} is not a run directory (no config.yaml in it)")
    if any(parse_override(item)[0] == "run_dir" for item in overrides):
        raise SystemExit(f"error: --resume {run_dir} trains in {run_dir}: drop the run_dir override "
                         "(copy the run directory to continue it elsewhere)")
    cfg = apply_overrides(load_config(str(config_file)), overrides)
    return dataclasses.replace(cfg, run_dir=str(run_dir))


def run(args) -> int:
    from alphago_lite.config import load_config
    from alphago_lite.errors import UserError
    overrides = list(args.overrides)
    if args.address:
        overrides.append(f"cluster.address={args.address}")
    if args.resume:
        if args.config:
            overrides.insert(0, args.config)  # `train --resume DIR key=value`: no config file
        cfg = resume_config(args.resume, overrides)
    elif args.config:
        cfg = load_config(args.config, overrides)
    else:
        raise UserError("give a config file (e.g. configs/tiny.yaml) or --resume RUN_DIR")
    init_from = args.init_from
    if init_from is not None:
        from alphago_lite.models import is_shipped_spec, resolve_shipped
        if is_shipped_spec(init_from):
            init_from = resolve_shipped(init_from, board_size=cfg.game.size).checkpoint
    from learner.loop import train  # imports torch and ray: only when training
    path = train(cfg, resume=bool(args.resume), max_steps=args.max_steps, quiet=args.quiet, init_from=init_from)
    # the progress display has finished its live line
    print(f"last checkpoint: {path}" if path is not None else
          "stopped before training started: no checkpoint written")
    return 0
