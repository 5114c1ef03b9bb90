"""`alphago-lite bench WHAT`: each benchmark prints one line per figure, with its peer in the same run."""
from __future__ import annotations

import importlib

# name -> (module, help); Ray benchmarks live in actors/, which is why modules are imported lazily.
BENCHMARKS = {
    "rules": ("alphago_lite.benchmarks.rules", "rules engine vs OpenSpiel's C++ go"),
    "inference": ("alphago_lite.benchmarks.inference", "raw forward vs in-process evaluator vs Ray service"),
    "search": ("alphago_lite.benchmarks.search", "MCTS simulations/s vs OpenSpiel's MCTSBot"),
    "selfplay": ("alphago_lite.benchmarks.selfplay", "self-play throughput of the whole cluster"),
}


def register(subparsers) -> None:
    parser = subparsers.add_parser("bench", help="benchmarks: " + ", ".join(BENCHMARKS))
    which = parser.add_subparsers(dest="benchmark", metavar="WHAT", required=True)
    for name, (module_name, help_text) in BENCHMARKS.items():
        sub = which.add_parser(name, help=help_text)
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name != module_name:
                raise
            sub.set_defaults(func=lambda args, n=name: print(f"bench {n}: not available yet") or 1)
            continue
        module.add_arguments(sub)
        sub.set_defaults(func=module.main)
