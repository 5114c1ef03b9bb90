"""``alphago-lite models``: the nets shipped with the package, with what they cost and how strong they are."""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser("models", help="list the nets shipped with the package",
                                   description="List the shipped nets (alphago_lite/models/NAME.pt with its "
                                               "model card NAME.json): board size, training, measured strength.")
    parser.add_argument("--dir", default=None,
                        help="another folder of nets and cards (default: the package's, or $ALPHAGO_LITE_MODELS_DIR)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from alphago_lite.models import models_dir, shipped_models
    models = shipped_models(args.dir)
    if not models:
        print(f"no nets shipped yet in {models_dir(args.dir)}")
        return 0
    for card in models:
        print(card.describe())
    return 0
