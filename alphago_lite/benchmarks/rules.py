"""`alphago-lite bench rules`: random games through our engine, side by side with OpenSpiel's C++ go.

Figures (one line each, moves per second, single thread, positional superko):
  (a) our Python per-move API: ``legal_moves()`` then ``play()`` each move;
  (b) our compiled random-playout loop (uniform over legal moves, no Python per move);
  OpenSpiel: its C++ ``go`` game driven from Python, ``legal_actions()`` then ``apply_action()``.
OpenSpiel's legal_actions ignores superko and ours is exact, so (a) is the harder comparison.
"""
from __future__ import annotations

import argparse
import random
import time

from alphago_lite.go import Game, core


def python_api_moves_per_second(size: int, seconds: float, seed: int = 0) -> float:
    rng = random.Random(seed)
    moves = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        game = Game(size=size, komi=7.5)
        while not game.is_over:
            legal = game.legal_moves()
            game.play(int(legal[rng.randrange(len(legal))]))
            moves += 1
    return moves / (time.perf_counter() - start)


def compiled_moves_per_second(size: int, seconds: float, seed: int = 0) -> float:
    game = Game(size=size, komi=7.5)
    state, hist = game.raw_position()
    core.random_playouts(state, hist, 1, seed)  # compile / warm up
    moves, games = 0, 4
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        moves += core.random_playouts(state, hist, games, seed + moves)
    return moves / (time.perf_counter() - start)


def openspiel_moves_per_second(size: int, seconds: float, seed: int = 0) -> float | None:
    try:
        import pyspiel
    except ImportError:
        return None
    rng = random.Random(seed)
    go = pyspiel.load_game("go", {"board_size": size, "komi": 7.5})
    moves = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        state = go.new_initial_state()
        while not state.is_terminal():
            legal = state.legal_actions()
            state.apply_action(legal[rng.randrange(len(legal))])
            moves += 1
    return moves / (time.perf_counter() - start)


def run(sizes=(9, 19), seconds: float = 3.0, out=print) -> dict:
    Game(size=9).legal_moves()  # compile before timing
    results = {}
    for size in sizes:
        api = python_api_moves_per_second(size, seconds)
        compiled = compiled_moves_per_second(size, seconds)
        spiel = openspiel_moves_per_second(size, seconds)
        results[size] = (api, compiled, spiel)
        out(f"rules {size}x{size} (a) python API legal_moves+play: {api:,.0f} moves/s")
        out(f"rules {size}x{size} (b) compiled random playouts:    {compiled:,.0f} moves/s")
        if spiel is None:
            out(f"rules {size}x{size} openspiel: not installed (pip install 'alphago-lite[bench]')")
        else:
            out(f"rules {size}x{size} openspiel C++ go from python:     {spiel:,.0f} moves/s")
            out(f"rules {size}x{size} ratio (a)/openspiel: {api / spiel:.2f}  (target >= 0.3)")
            out(f"rules {size}x{size} ratio (b)/openspiel: {compiled / spiel:.2f}  (target >= 2)")
    return results


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", type=int, nargs="+", default=[9, 19], help="board sizes")
    parser.add_argument("--seconds", type=float, default=3.0, help="time per figure")


def main(args: argparse.Namespace) -> int:
    run(tuple(args.sizes), args.seconds)
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    add_arguments(p)
    raise SystemExit(main(p.parse_args()))
