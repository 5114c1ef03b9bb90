"""``alphago-lite play``: a game against the agent in the terminal.

Also defines the agent options shared with ``gtp`` (``--model``, ``--run``, ``--random``, ``--visits``,
``--device``), ``build_agent`` that turns them into an Agent, and the argument types ``finite_float`` and
``board_size`` that ``gtp`` and ``match`` use too.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from typing import TextIO

from alphago_lite.net.precision import PRECISIONS


def finite_float(text: str) -> float:
    """argparse type of --komi: a finite number (a nan komi scores every game nan)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def board_size(text: str) -> int:
    """argparse type of --size: a size the rules engine plays."""
    from alphago_lite.go.coords import MAX_SIZE, MIN_SIZE
    try:
        size = int(text)
    except ValueError:
        size = None
    if size is None or not MIN_SIZE <= size <= MAX_SIZE:
        raise argparse.ArgumentTypeError(f"{text!r} is not a board size from {MIN_SIZE} to {MAX_SIZE}")
    return size


def check_device(name: str) -> None:
    """ValueError in one line for a --device this torch cannot use, before a net is loaded onto it."""
    if name in ("cpu", "auto"):
        return
    import torch
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"--device {name}: not a device (cpu, cuda, cuda:N or auto)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        why = "was built without CUDA" if torch.version.cuda is None else "sees no CUDA device"
        raise ValueError(f"--device {name}: this torch {torch.__version__} {why}; use --device cpu")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ValueError(f"--device {name}: there are only {torch.cuda.device_count()} CUDA devices")


def add_agent_options(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model", metavar="PATH",
                        help="checkpoint file to play with (default: the net shipped for the board size)")
    source.add_argument("--run", metavar="RUN_DIR",
                        help="run directory: play its checkpoints/best.pt, else its newest checkpoint")
    source.add_argument("--random", action="store_true", help="a uniformly random player (no network)")
    parser.add_argument("--visits", type=int, default=200, help="search visits per move (default 200)")
    parser.add_argument("--device", default="cpu",
                        help="cpu, cuda or auto (default cpu); with --address, of the cluster's servers")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help="the net's number format: fp32, bf16 or auto (bf16 where it is faster; default)")
    parser.add_argument("--threads", type=int, default=1,
                        help="search threads, all on the game's one tree at once (default 1)")
    parser.add_argument("--seed", type=int, default=None, help="random seed of --random")
    parser.add_argument("--address", metavar="auto|ray://HOST:PORT", default=None,
                        help="search here, the net on inference servers started on this Ray cluster")


def build_agent(args: argparse.Namespace, log: TextIO | None = None):
    """The agent the options name, saying on ``log`` (stdout by default) which checkpoint it loaded.
    A ValueError (AgentNotFound, CheckpointError, an unusable device) explains what is wrong."""
    from alphago_lite.agents.base import RandomAgent
    from alphago_lite.agents.loading import find_checkpoint, load_agent
    if args.random:
        if args.address is not None:
            raise ValueError("--address sends a net's evaluations to a cluster: give --model or --run, not --random")
        return RandomAgent(seed=args.seed)
    if args.threads < 1:
        raise ValueError(f"--threads must be at least 1, got {args.threads}")
    if args.address is None:  # with one, the net runs on the cluster's devices
        check_device(args.device)
    # with neither --model nor --run: the net shipped for the board size (default 9x9), if any
    path = find_checkpoint(model_path=args.model, run_dir=args.run, board_size=args.size or 9)
    if args.address is not None:  # inside cluster_session (run)
        from actors.remote_play import start_remote_agent
        from alphago_lite.config import InferenceConfig
        agent, _ = start_remote_agent(path, InferenceConfig(device=args.device, precision=args.precision),
                                      visits=args.visits, threads=args.threads)
    else:
        agent = load_agent(model_path=path, visits=args.visits, device=args.device, threads=args.threads,
                           precision=args.precision)
    print(f"Loaded checkpoint {path}", file=log or sys.stdout)
    return agent


def register(subparsers) -> None:
    parser = subparsers.add_parser("play", help="play against the agent in the terminal",
                                   description="Play a game against the agent in the terminal.")
    add_agent_options(parser)
    parser.add_argument("--size", type=board_size, default=None, help="board size (default: the net's, or 9)")
    parser.add_argument("--komi", type=finite_float, default=None,
                        help="komi (default: the one the net was trained with, else 7.5)")
    parser.add_argument("--colour", "--color", choices=("black", "white"), default="black",
                        help="your colour (default black)")
    parser.add_argument("--seconds", type=float, default=None, help="agent's thinking time per move")
    parser.add_argument("--handicap", type=int, default=0, help="handicap stones for Black (2-9)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from actors.remote_play import cluster_session
    try:
        with cluster_session(args.address):  # --address: the whole game on the cluster's servers
            return _play(args)
    except KeyboardInterrupt:  # while the net loads; the game answers a Ctrl-C itself (offers to save)
        print("\nInterrupted.", file=sys.stderr)
        return 130


def _play(args: argparse.Namespace) -> int:
    from alphago_lite.go import BLACK, WHITE, Game
    from alphago_lite.gtp.engine import fixed_handicap_points
    from alphago_lite.gtp.transport import GtpError
    from alphago_lite.play.terminal import PlayOptions, TerminalGame
    try:
        agent = build_agent(args)
        size = args.size or agent.board_size or 9
        if agent.board_size not in (None, size):
            raise ValueError(f"the agent's net plays {agent.board_size}x{agent.board_size}, not {size}x{size}")
        # the komi asked for, else the one the net was trained with, else the common 7.5
        komi = next(k for k in (args.komi, agent.training_komi, 7.5) if k is not None)
        game = Game(size=size, komi=komi)
        if args.handicap:
            game.place_setup(black=fixed_handicap_points(size, args.handicap), to_play="W")
    except (ValueError, GtpError) as exc:
        print(f"alphago-lite play: {exc}", file=sys.stderr)
        return 2
    colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    options = PlayOptions(human_colour=BLACK if args.colour == "black" else WHITE, visits=args.visits,
                          seconds=args.seconds, colour=colour)
    return TerminalGame(agent, game, options, sys.stdin, sys.stdout).run()
