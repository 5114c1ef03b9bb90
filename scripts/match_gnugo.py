"""Match an agent against GNU Go: ``python scripts/match_gnugo.py model:CKPT.pt gnugo:0 --games 20``.

A thin entry over ``alphago-lite match`` (same arguments); B defaults to ``gnugo:0`` when only A is given.
"""
from __future__ import annotations

import argparse
import sys

from alphago_lite.commands.match import add_match_arguments, run


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    positional = [a for a in argv if not a.startswith("-")]
    if len(positional) == 1 and argv and not argv[0].startswith("-"):
        argv.insert(1, "gnugo:0")
    parser = argparse.ArgumentParser(prog="match_gnugo.py", description=__doc__)
    add_match_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
