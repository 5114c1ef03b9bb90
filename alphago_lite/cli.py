"""``alphago-lite`` console script: one subcommand per job, each defined next to the code it runs.

Each command module exposes ``register(subparsers)`` that adds its parser and sets ``func`` (a callable
taking the parsed args and returning an exit code). Modules are imported lazily on purpose: ``--help``
and ``bench rules`` must not pay for importing torch or ray.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> module that registers it (imported only when needed)
COMMANDS = {
    "train": "alphago_lite.commands.train",
    "selfplay": "alphago_lite.commands.selfplay",
    "play": "alphago_lite.commands.play",
    "gtp": "alphago_lite.commands.gtp",
    "match": "alphago_lite.commands.match",
    "bench": "alphago_lite.commands.bench",
    "config": "alphago_lite.commands.config",
}

HELP = {
    "train": "train a net by self-play from a config file (AlphaZero loop on Ray)",
    "selfplay": "generate self-play games from a fixed net (no learner)",
    "play": "play against the agent in the terminal",
    "gtp": "run as a GTP engine (Sabaki, Lizzie, KaTrain, GNU Go, ...)",
    "match": "play a match between two engines or checkpoints",
    "bench": "benchmarks: rules, inference, search, selfplay",
    "config": "show every config key with its default and documentation",
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alphago-lite", description="Learn Go by self-play.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        if only is not None and name != only:
            sub.add_parser(name, help=HELP[name])
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name != module_name:
                raise
            sub.add_parser(name, help=HELP[name] + " (not available yet)")
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = argv[0] if argv and argv[0] in COMMANDS else None
    parser = build_parser(only=command if command else "__none__")
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if command is None else 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
