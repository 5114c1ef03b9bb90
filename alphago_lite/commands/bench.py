"""`alphago-lite bench WHAT`: each benchmark prints one line per figure, with its peer in the same run."""
from __future__ import annotations

import argparse
import importlib

# name -> (module, help). The benchmarks that start Ray clusters live in actors/benchmarks/, the others
# in alphago_lite/benchmarks/; a benchmark's module is imported only when it is the one asked for.
BENCHMARKS = {
    "rules": ("alphago_lite.benchmarks.rules", "rules engine vs OpenSpiel's C++ go"),
    "inference": ("actors.benchmarks.inference", "raw forward vs in-process evaluator vs Ray service"),
    "search": ("alphago_lite.benchmarks.search", "MCTS simulations/s vs OpenSpiel's MCTSBot"),
    "selfplay": ("actors.benchmarks.selfplay", "self-play throughput of the whole cluster"),
}


class BenchmarkParser(argparse.ArgumentParser):
    """A benchmark's parser that imports its module (``add_arguments``, ``main``) when it parses, so
    that `bench rules` and `bench --help` load neither torch nor Ray."""

    module_name: str | None = None

    def parse_known_args(self, args=None, namespace=None):
        if self.module_name is not None:
            module = importlib.import_module(self.module_name)
            self.module_name = None
            module.add_arguments(self)
            self.set_defaults(func=module.main)
        return super().parse_known_args(args, namespace)


def register(subparsers) -> None:
    parser = subparsers.add_parser("bench", help="benchmarks: " + ", ".join(BENCHMARKS))
    which = parser.add_subparsers(dest="benchmark", metavar="WHAT", required=True,
                                  parser_class=BenchmarkParser)
    for name, (module_name, help_text) in BENCHMARKS.items():
        which.add_parser(name, help=help_text).module_name = module_name
