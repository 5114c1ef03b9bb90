"""Make a trained net a shipped one: alphago_lite/models/NAME.pt and its model card NAME.json.

    # the net (weights only: no optimizer state) and a card with the run's training figures
    python scripts/ship_net.py package runs/go7/checkpoints/ckpt-00020000.pt --name go7 \\
        --config configs/go7.yaml --cpus 2 --machine "2-core Xeon (avx512_bf16), no GPU"
    # a run warm-started from a shipped net (--init-from shipped:go7) adds that net's card (a copy):
    #   package ... --continues-card /tmp/go7-before.json
    # one measured match per call, from the log of the `alphago-lite match` that measured it
    python scripts/ship_net.py strength go7 --log match-gnugo10.log --opponent gnugo:10 --visits 200 \\
        --command "alphago-lite match shipped gnugo:10 --size 7 --games 100 --visits 200 --opening-moves 4"

The card's figures come from files, never from typing: training from the run's metrics.jsonl, strength
from the match's own summary lines (score and 95% interval as `match` printed them).
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

from alphago_lite.agents.loading import SEARCH_KEYS_FROM_TRAINING
from alphago_lite.config import load_config
from alphago_lite.models import CARD_VERSION, models_dir, read_card
from alphago_lite.net.checkpoint import load_model, save_checkpoint
from alphago_lite.report import read_metrics
from alphago_lite.run_dir import config_beside

_GAMES = re.compile(r": (\d+) games \((\d+) distinct\), (\d+) wins, (\d+) losses, (\d+) draws")
_SCORE = re.compile(r"score ([\d.]+) \(95% CI ([\d.]+) \.\. ([\d.]+)\)")
_COLOURS = re.compile(r"as Black: (\d+-\d+-\d+) \(wins-losses-draws\); as White: (\d+-\d+-\d+)")


def training_figures(run_dir: Path, step: int) -> dict:
    """Games, positions and wall-clock of a run up to learner step ``step``, from its metrics.jsonl (read
    by ``report.read_metrics``). One session only: a resumed process recounts positions from its replay
    window, so the figures of several sessions cannot be added up from the metrics alone."""
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        raise SystemExit(f"no {path}: give a checkpoint inside a run directory (RUN_DIR/checkpoints/...)")
    metrics = read_metrics(path)
    if metrics.sessions > 1:
        raise SystemExit(f"{path} holds several sessions (the run was resumed): its figures do not add up; "
                         "ship from a run of one session (warm-start a new run with --init-from instead)")
    reached = [point for point in metrics.steps if point.step <= step]
    if not reached:
        raise SystemExit(f"{path} has no progress record up to step {step}")
    last = reached[-1]
    return {"games": last.games, "positions": last.positions, "seconds": last.hours * 3600}


def parse_match_summary(text: str) -> dict:
    """Games, distinct games, wins/losses/draws, score and its 95% interval from `alphago-lite match` output."""
    games, score = _GAMES.search(text), _SCORE.search(text)
    if games is None or score is None:
        raise SystemExit("no match summary ('N games (D distinct), ...' and 'score ... (95% CI ...)') in the log")
    n, distinct, wins, losses, draws = map(int, games.groups())
    found = {"games": n, "distinct_games": distinct, "wins": wins, "losses": losses, "draws": draws,
             "score": float(score.group(1)), "ci95": [float(score.group(2)), float(score.group(3))]}
    colours = _COLOURS.search(text)
    if colours is not None:  # wins-losses-draws with each colour
        found["as_black"], found["as_white"] = colours.groups()
    return found


def continued_card(path: Path, written: Path, board_size: int, komi: float):
    """The card of the shipped net a run was warm-started from, checked: not the card ``package`` is about
    to write (a second package would count its training twice), and of the same board size and komi.
    Returns it read (``ModelCard``) and as stored (the dict the new net keeps in its extra)."""
    if path.resolve() == written.resolve():
        raise SystemExit(f"--continues-card {path} is the card this package rewrites: give a copy made "
                         "before the first package (a second one would add its training again)")
    card = read_card(path)
    if (card.board_size, card.komi) != (board_size, komi):
        raise SystemExit(f"--continues-card {path} is a {card.board_size}x{card.board_size} net at komi "
                         f"{card.komi:g}; this run is {board_size}x{board_size} at komi {komi:g}")
    return card, json.loads(path.read_text())  # read_card has checked it is JSON


def package(args: argparse.Namespace) -> None:
    model, meta = load_model(args.checkpoint)
    run_dir = Path(args.checkpoint).resolve().parent.parent
    run_config = config_beside(args.checkpoint)
    if run_config is None:  # the defaults would give the card a komi the net never trained with
        raise SystemExit(f"no config.yaml of the run beside {args.checkpoint} or its folder")
    cfg = load_config(run_config)
    figures = training_figures(run_dir, meta.step)
    steps = meta.step
    for earlier in args.warm_started_from:  # the training before the warm start counts too
        _, earlier_meta = load_model(earlier)
        before = training_figures(Path(earlier).resolve().parent.parent, earlier_meta.step)
        figures = {key: figures[key] + before[key] for key in figures}
        steps += earlier_meta.step
    hours = figures["seconds"] / 3600
    cpu_hours = hours * args.cpus
    out = models_dir() / f"{args.name}.pt"
    continued, continued_raw = None, None
    if args.continues_card:  # a run warm-started from a shipped net: that net's training counts too
        continued, continued_raw = continued_card(Path(args.continues_card), out.with_suffix(".json"),
                                                   meta.board_size, cfg.game.komi)
        figures["games"] += continued.games
        figures["positions"] += continued.positions
        steps += continued.learner_steps
        hours += continued.wall_clock_hours
        cpu_hours += continued.cpu_hours
    if args.fp16:  # halves the file; loading copies the weights into the fp32 net
        model = model.half()
    save_checkpoint(out, model, feature_set=meta.feature_set, step=steps,
                    extra={"shipped_from": str(Path(args.checkpoint).resolve()),
                           "warm_started_from": [str(Path(p).resolve()) for p in args.warm_started_from],
                           "continues_card": continued_raw})
    commit = args.commit or subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                                           check=True).stdout.strip()
    card = {"card_version": CARD_VERSION, "board_size": meta.board_size, "komi": cfg.game.komi,
            "config": str(args.config), "learner_steps": steps, "games": figures["games"],
            "positions": figures["positions"], "wall_clock_hours": round(hours, 3),
            "cpu_hours": round(cpu_hours, 3), "machine": args.machine, "commit": commit, "strength": []}
    # play, gtp and match search the shipped net as its training did (it has no run config beside it)
    card["search"] = {key: getattr(cfg.search, key) for key in SEARCH_KEYS_FROM_TRAINING}
    if args.note:
        card["note"] = args.note
    out.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    read_card(out.with_suffix(".json"))  # what we wrote must be what the package reads
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB) and {out.with_suffix('.json')}")


def strength(args: argparse.Namespace) -> None:
    path = models_dir() / f"{args.name}.json"
    card = json.loads(path.read_text())
    found = parse_match_summary(Path(args.log).read_text())
    card["strength"].append({"opponent": args.opponent, "visits": args.visits, "command": args.command, **found})
    path.write_text(json.dumps(card, indent=2) + "\n")
    print(read_card(path).describe())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("package", help="write NAME.pt and a model card from a run's checkpoint")
    p.add_argument("checkpoint")
    p.add_argument("--name", required=True)
    p.add_argument("--config", required=True, help="the config file the run was trained from")
    p.add_argument("--cpus", type=float, required=True, help="CPU cores the run had (CPU-hours = wall x cpus)")
    p.add_argument("--machine", required=True)
    p.add_argument("--commit", help="the commit that trained it (default: HEAD)")
    p.add_argument("--warm-started-from", action="append", default=[], metavar="CHECKPOINT",
                   help="the checkpoint (inside its own run directory) the run was warm-started from with "
                        "--init-from: its run's steps, games, positions and time up to it are added (repeat "
                        "for a chain of warm starts)")
    p.add_argument("--continues-card", metavar="CARD",
                   help="the model card (a copy: package rewrites NAME.json) of the shipped net the run was "
                        "warm-started from (--init-from shipped:NAME), whose run directory is gone: its steps, "
                        "games, positions, wall-clock and CPU-hours are added")
    p.add_argument("--note", help="anything else a reader of the card must know (e.g. a warm start)")
    p.add_argument("--fp16", action="store_true", help="store the weights as fp16")
    p.set_defaults(func=package)
    s = sub.add_parser("strength", help="add one measured match to NAME.json")
    s.add_argument("name")
    s.add_argument("--log", required=True, help="the output of the alphago-lite match that measured it")
    s.add_argument("--opponent", required=True)
    s.add_argument("--visits", type=int, required=True)
    s.add_argument("--command", required=True, help="the exact match command")
    s.set_defaults(func=strength)
    args = parser.parse_args(argv)
    args.func(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
