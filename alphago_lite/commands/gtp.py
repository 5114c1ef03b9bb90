"""``alphago-lite gtp``: run as a GTP version 2 engine on stdin/stdout (Sabaki, Lizzie, KaTrain, GNU Go)."""
from __future__ import annotations

import argparse
import sys

from alphago_lite.commands.play import add_agent_options, board_size, build_agent, finite_float


def register(subparsers) -> None:
    parser = subparsers.add_parser("gtp", help="run as a GTP engine (Sabaki, Lizzie, KaTrain, GNU Go, ...)",
                                   description="Speak GTP version 2 on stdin/stdout.")
    add_agent_options(parser)
    parser.add_argument("--size", type=board_size, default=None,
                        help="initial board size (default: the net's, or 9)")
    parser.add_argument("--komi", type=finite_float, default=7.5, help="initial komi (default 7.5)")
    parser.add_argument("--name", default="alphago-lite", help="name reported to the controller")
    parser.add_argument("--lag", type=float, default=0.5,
                        help="seconds kept back from every move's time budget (default 0.5)")
    parser.set_defaults(func=run)


def analysis_step(threads: int) -> int:
    """Visits of one analysis step: the engine's default per search thread, so that each step gives
    every thread of a tree search a batch or two (one thread: the default, searches as before)."""
    from alphago_lite.gtp.engine import EngineConfig
    return EngineConfig.analysis_step * max(threads, 1)


def run(args: argparse.Namespace) -> int:
    from actors.remote_play import cluster_session
    with cluster_session(args.address):  # --address: the whole session on the cluster's servers
        return _serve(args)


def _serve(args: argparse.Namespace) -> int:
    from alphago_lite.gtp.engine import EngineConfig, GtpEngine
    from alphago_lite.gtp.transport import serve_stdio
    try:
        agent = build_agent(args, log=sys.stderr)  # stdout speaks GTP only
        config = EngineConfig(name=args.name, board_size=args.size or agent.board_size or 9, komi=args.komi,
                              visits=args.visits, lag_seconds=args.lag, analysis_step=analysis_step(args.threads))
        engine = GtpEngine(agent, config)
    except ValueError as exc:
        print(f"alphago-lite gtp: {exc}", file=sys.stderr)
        return 2
    serve_stdio(engine)
    return 0
