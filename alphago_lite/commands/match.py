"""``alphago-lite match A B``: N games between two players, saved as SGF, with Elo statistics."""
from __future__ import annotations

import argparse
import functools
import sys

from alphago_lite.commands.play import board_size, check_device, finite_float
from alphago_lite.net.precision import PRECISIONS


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "match", help="play a match between two engines or checkpoints",
        description="Play N games between players A and B (alternating colours) and report A's results. "
                    "A player is gnugo[:LEVEL], random[:SEED], model:PATH (or PATH.pt), run:DIR, "
                    "shipped[:NAME] (the net shipped for --size, or by name) or gtp:'COMMAND LINE'. "
                    "GNU Go captures all dead stones before it passes (our referee counts the board as it "
                    "stands), and a game whose result it disputes counts as a loss for A.")
    add_match_arguments(parser)
    parser.set_defaults(func=run)


def add_match_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("a", metavar="A", help="the player the report is about")
    parser.add_argument("b", metavar="B", help="its opponent, e.g. gnugo:0")
    parser.add_argument("--games", type=int, default=10, help="number of games (default 10)")
    parser.add_argument("--size", type=board_size, default=9, help="board size (default 9)")
    parser.add_argument("--komi", type=finite_float, default=7.5, help="komi (default 7.5)")
    parser.add_argument("--visits", type=int, default=None, help="visits per move of our agents")
    parser.add_argument("--max-moves", type=int, default=None, help="move limit per game (default 2*size*size)")
    parser.add_argument("--out", default="match", help="directory for the SGF files (default ./match)")
    parser.add_argument("--device", default="cpu", help="device of our agents (default cpu)")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help="number format of our agents' nets: fp32, bf16 or auto (default)")
    parser.add_argument("--precision-b", choices=PRECISIONS, default=None,
                        help="B's number format when it differs from --precision (e.g. an fp32-vs-bf16 match)")
    parser.add_argument("--opening-moves", type=int, default=0, metavar="K",
                        help="draw the first K moves of each pair of games from the net's policy; each opening "
                             "is played with colours swapped (default 0: every game from the empty board)")
    parser.add_argument("--opening-temperature", type=float, default=1.0,
                        help="temperature of the openings' policy (default 1)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the openings' draws")
    parser.add_argument("--jobs", type=int, default=1, metavar="N",
                        help="games played at once, in N worker processes, each with its own players and one "
                             "thread for its net (default 1); the same colours and openings as one process for "
                             "the same --seed, and the same games where both players are deterministic")


def resolved_precision(player, asked: str) -> str:
    """The number format ``player``'s net runs in (fp32 or bf16), or ``asked`` for a player without a net."""
    from alphago_lite.play.match import player_evaluator
    return getattr(player_evaluator(player), "precision", asked)


def run(args: argparse.Namespace) -> int:
    from alphago_lite.play.match import MatchConfig, make_player, run_match
    players = []
    try:
        if args.games < 1:
            raise ValueError(f"--games must be at least 1, got {args.games}")
        check_device(args.device)
        if args.jobs < 1:
            raise ValueError(f"--jobs must be at least 1, got {args.jobs}")
        specs = ((args.a, args.precision), (args.b, args.precision_b or args.precision))
        for spec, precision in specs:
            players.append(make_player(spec, visits=args.visits, device=args.device, precision=precision,
                                       size=args.size))
        # worker processes build the same players, in the number format this process resolved ('auto'
        # times bf16 against fp32 and could decide otherwise in each process)
        factories = tuple(functools.partial(make_player, spec, visits=args.visits, device=args.device,
                                            precision=resolved_precision(player, precision), size=args.size)
                          for (spec, precision), player in zip(specs, players))
        config = MatchConfig(games=args.games, size=args.size, komi=args.komi, max_moves=args.max_moves,
                             out_dir=args.out, opening_moves=args.opening_moves,
                             opening_temperature=args.opening_temperature, seed=args.seed)
        report = run_match(players[0], players[1], config, jobs=args.jobs, factories=factories)
    except ValueError as exc:
        print(f"alphago-lite match: {exc}", file=sys.stderr)
        return 2
    finally:
        for player in players:
            player.close()
    print(report.summary())
    return 0
