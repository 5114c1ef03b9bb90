"""``alphago-lite`` console script: one subcommand per job, each defined next to the code it runs.

Each command module exposes ``register(subparsers)`` that adds its parser and sets ``func`` (a callable
taking the parsed args and returning an exit code). Modules are imported lazily on purpose: ``--help``
and ``bench rules`` must not pay for importing torch or ray.

Errors: a mistake of the user (``alphago_lite.errors.UserError`` and its kinds, a missing or unreadable
input file) is printed as one ``error: ...`` line on stderr with exit code 2; a traceback means a bug.
``alphago-lite --debug COMMAND ...`` shows the traceback of any error.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from alphago_lite.errors import UserError
from alphago_lite.net.memory import keep_freed_memory

# subcommand -> module that registers it (imported only when needed)
COMMANDS = {
    "train": "alphago_lite.commands.train",
    "selfplay": "alphago_lite.commands.selfplay",
    "play": "alphago_lite.commands.play",
    "gtp": "alphago_lite.commands.gtp",
    "match": "alphago_lite.commands.match",
    "bench": "alphago_lite.commands.bench",
    "config": "alphago_lite.commands.config",
    "models": "alphago_lite.commands.models",
    "report": "alphago_lite.commands.report",
}

HELP = {
    "train": "train a net by self-play from a config file (AlphaZero loop on Ray)",
    "selfplay": "generate self-play games from a fixed net (no learner)",
    "play": "play against the agent in the terminal",
    "gtp": "run as a GTP engine (Sabaki, Lizzie, KaTrain, GNU Go, ...)",
    "match": "play a match between two engines or checkpoints",
    "bench": "benchmarks: rules, inference, search, selfplay",
    "config": "show every config key with its default and documentation",
    "models": "list the nets shipped with the package",
    "report": "plot a run's losses, speed and evaluations (RUN_DIR/report.png and report.md)",
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alphago-lite", description="Learn Go by self-play.")
    parser.add_argument("--debug", action="store_true",
                        help="show the Python traceback of an error (by default a user error is one line)")
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


# errors of input files: the file named is the problem, not the program
INPUT_FILE_ERRORS = (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)
EXIT_USER_ERROR = 2  # argparse's code for a bad command line
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for Ctrl-C


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # global options take no value, so the first word that is not an option names the command
    command = next((word for word in argv if not word.startswith("-")), None)
    command = command if command in COMMANDS else None
    parser = build_parser(only=command if command else "__none__")
    args = parse_command_line(parser, argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if command is None else 2
    # every command that runs the net forwards batch after batch: keep their freed activations (net/memory.py)
    keep_freed_memory()
    try:
        return int(args.func(args) or 0)
    except (UserError, *INPUT_FILE_ERRORS) as err:
        if args.debug:
            raise
        print(user_error_text(err), file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def parse_command_line(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """``parser.parse_args``, except that key=value overrides may also follow the options
    (`train CONFIG --init-from NET key=value`): argparse gives the positional list only the words
    before the first option."""
    args, extra = parser.parse_known_args(argv)
    if extra:
        if not hasattr(args, "overrides") or any(word.startswith("-") or "=" not in word for word in extra):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.overrides = list(args.overrides) + extra
    return args


def user_error_text(err: Exception) -> str:
    """``error: <message>`` in at most two lines: a message of several lines (one quoting a library's
    explanation) keeps its first line, and the second says where the rest is."""
    if isinstance(err, OSError) and err.filename is not None:
        message = f"{err.filename}: {(err.strerror or str(err)).lower()}"
    else:
        message = str(err).strip() or type(err).__name__
    first, _, rest = message.partition("\n")
    if rest.strip():
        return f"error: {first}\n(the full message: run again with alphago-lite --debug ...)"
    return f"error: {first}"


if __name__ == "__main__":
    sys.exit(main())
