"""``alphago-lite report RUN_DIR``: RUN_DIR/report.png and RUN_DIR/report.md from RUN_DIR/metrics.jsonl."""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser("report", help="plot a run's losses, speed and evaluations",
                                   description="Write RUN_DIR/report.png (losses, NN evals/s, games per hour, "
                                               "evaluation results over wall-clock time; needs matplotlib) "
                                               "and RUN_DIR/report.md from RUN_DIR/metrics.jsonl.")
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory (holds metrics.jsonl)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from alphago_lite.report import write_report
    png, md = write_report(args.run_dir)
    print(f"wrote {png} ({png.stat().st_size // 1024} KB) and {md}")
    return 0
