"""`alphago-lite bench search`: batched MCTS simulations/s next to OpenSpiel's Python MCTSBot, and how
busy self-play keeps a real (tiny) network.

Figures, one line each:
  ours, 1 thread     simulations/s of ``BatchedSearch`` over ``--slots`` games, uniform evaluator
                     (no feature planes, answered in the search thread, so only search cost is
                     measured), ``--simulations`` per move, moves chosen greedily and trees reused;
                     only new simulations count;
  ours, 2 threads    the same games split across two search threads;
  ours, 1 game       one game (the play mode), with each of ``--game-threads`` (1 and 2 by default): one
                     thread keeps two batches from the tree in flight, several search the tree at once
                     (tree parallelism); each figure with its ratio to one thread (target >= 1.7 at 2);
  peer, 2 trees      two 1-thread searches of the same positions on separate trees at once: what
                     the machine gives two threads that share nothing, the peer of the 2-thread figure;
  1 game, net        with ``--net``: the one-game figures again, the net (a checkpoint, or ``shipped``:
                     the net shipped for ``--size``) answering on ``--device`` at precision auto;
                     issue 14's GPU target: >= 6x one thread at 16 threads (``--game-threads 1,4,8,16``);
  openspiel          ``open_spiel.python.algorithms.mcts.MCTSBot`` with PUCT selection and an
                     equivalent uniform evaluator (value 0, uniform prior), same simulations per move;
  ratios             ours 1 thread / openspiel (target >= 5) and 2 threads / 1 thread (target >= 1.7);
  net busy share     NN evaluations/s achieved by self-play with a random net on the CPU, divided by
                     the raw forward throughput of the same evaluator at the same batch size (target
                     >= 70%): the share of time the search keeps the network busy.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from numba import njit

from alphago_lite.benchmarks.steal import StealMeter
from alphago_lite.config import SearchConfig, load_config
from alphago_lite.go import Game
from alphago_lite.net.evaluator import Evaluator, InProcessEvaluator, UniformEvaluator
from alphago_lite.net.features import get_feature_set
from alphago_lite.net.model import PolicyValueNet
from alphago_lite.search import BatchedSearch
from alphago_lite.selfplay.player import SelfPlayer

KOMI = 7.5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", type=int, default=9, help="board size")
    parser.add_argument("--simulations", type=int, default=800, help="simulations per move")
    parser.add_argument("--slots", type=int, default=32,
                        help="games searched together (selfplay.games_per_worker's default)")
    parser.add_argument("--seconds", type=float, default=5.0, help="time per search measurement")
    parser.add_argument("--game-threads", type=thread_counts, default=(1, 2), metavar="N,N,...",
                        help="thread counts of the one-game measurement (default 1,2); the first is the base")
    parser.add_argument("--leaves-per-round", type=int, default=SearchConfig.leaves_per_round, metavar="L",
                        help="leaves each game (each thread, on one game's tree) gathers per batching round")
    parser.add_argument("--selfplay-seconds", type=float, default=8.0, help="time of the self-play run")
    parser.add_argument("--net", metavar="PATH|shipped", default=None,
                        help="also measure one game with this net answering (a checkpoint, or 'shipped': the "
                             "net shipped for --size), at each of --game-threads")
    parser.add_argument("--device", default="auto", help="the --net's device: cpu, cuda or auto (default)")
    parser.add_argument("--no-openspiel", action="store_true", help="skip OpenSpiel's MCTSBot")
    parser.add_argument("--no-selfplay", action="store_true", help="skip self-play with a net")


def thread_counts(text: str) -> tuple[int, ...]:
    """argparse type of --game-threads: comma-separated thread counts, each at least 1."""
    try:
        counts = tuple(int(part) for part in text.split(","))
    except ValueError:
        counts = ()
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of thread counts like 1,2,4")
    return counts


def uniform_evaluator(size: int) -> UniformEvaluator:
    evaluator = UniformEvaluator(size, "agz")
    evaluator.needs_planes = False
    return evaluator


# ---------------------------------------------------------------------------- our search ---

@njit(cache=True)
def most_visited(visits: np.ndarray, u: float) -> int:
    """The most visited move; of several, the k-th for k = floor(u * their number), u in [0, 1).
    Compiled, because right after a search the interpreter's own memory is cold: np.flatnonzero and a
    numpy Generator's choice took ~65 us a move there, 3% of a 2-thread search of 800 simulations on 9x9
    (measured), time during which the other tree thread idles."""
    best = visits.max()
    ties = 0
    for v in visits:
        ties += v == best
    k = int(u * ties)
    for move in range(visits.shape[0]):
        if visits[move] == best:
            if k == 0:
                return move
            k -= 1
    return -1  # not reached: some move holds the maximum


class SelfPlayingSearch:
    """``slots`` greedy games searched together with ``threads`` threads; ``move()`` plays one move in
    every game and returns (new simulations, seconds, the moves played). The uniform evaluator answers,
    or ``evaluator``.

    A game plays its search's most visited move, ties broken at random (seeded). With the uniform
    evaluator every leaf is worth 0 until the board fills, so most moves tie, and a first-of-the-ties
    choice (np.argmax) made one thread play a1, b1, c1 ... in board order, the same game every time:
    the one-game figures then came from that one degenerate game's 162 positions, repeated (2 threads
    1.42-1.54x one thread on them, 1.76x on the varied games whose ties the threads' timing broke)."""

    def __init__(self, size: int, sims: int, slots: int, threads: int, leaves: int = SearchConfig.leaves_per_round,
                 evaluator: Evaluator | None = None):
        self.size, self.sims, self.slots = size, sims, slots
        self.max_moves = 2 * size * size
        cfg = SearchConfig(num_simulations=sims, threads=threads, leaves_per_round=leaves)
        evaluator = evaluator if evaluator is not None else uniform_evaluator(size)
        self.search = BatchedSearch(evaluator, cfg, slots=slots, size=size, komi=KOMI,
                                    max_moves=self.max_moves, threads=threads)
        self.games = [self._new_game(slot) for slot in range(slots)]
        self.rng = random.Random(0)
        self.search.search(np.full(slots, 2))  # compile the kernels outside the clock

    def _new_game(self, slot: int) -> Game:
        game = Game(size=self.size, komi=KOMI, max_moves=self.max_moves)
        self.search.set_root(slot, game)
        return game

    def move(self, moves: list[int] | None = None) -> tuple[int, float, list[int]]:
        """Search every game's position, then play each search's choice, or ``moves`` (one per slot: the
        choices of another run that searched these same positions)."""
        start = time.perf_counter()
        before = sum(self.search.root_visits(s) for s in range(self.slots))
        self.search.search(np.full(self.slots, self.sims))
        done = sum(self.search.root_visits(s) for s in range(self.slots)) - before
        played = []
        for slot, game in enumerate(self.games):
            # every run makes its own choice, a follower too, so that each one times the same work
            move = most_visited(self.search.stats(slot).visits, self.rng.random())
            if moves is not None:
                move = moves[slot]
            played.append(move)
            game.play(move)
            self.search.advance(slot, game, move)
            if game.is_over:
                self.games[slot] = self._new_game(slot)
        return done, time.perf_counter() - start, played

    def block(self, moves: list[list[int]]) -> tuple[int, float]:
        """Play ``moves`` (one list per move, as ``move`` takes them); returns (new simulations, seconds)."""
        done, spent = 0, 0.0
        for played in moves:
            d, t, _ = self.move(played)
            done += d
            spent += t
        return done, spent

    def close(self) -> None:
        self.search.close()


class SeparateTrees:
    """Two one-thread searches of the same positions on separate trees, at once, each in its own thread:
    what this machine gives two threads that share nothing, the peer of one tree searched by two. On a
    shared virtual machine that is not twice one thread: each virtual CPU runs on whatever host core it
    is given, and two busy ones slow each other (a 2-vCPU EPYC guest, five runs of this benchmark in a
    row: two separate trees 1.56-1.86x one thread, median 1.78)."""

    def __init__(self, size: int, sims: int, leaves: int):
        self.runs = [SelfPlayingSearch(size, sims, 1, 1, leaves) for _ in range(2)]
        self._other = ThreadPoolExecutor(1)

    def block(self, moves: list[list[int]]) -> tuple[int, float]:
        """Both searches play ``moves``; returns (their new simulations together, wall-clock seconds)."""
        start = time.perf_counter()
        other = self._other.submit(self.runs[1].block, moves)
        done, _ = self.runs[0].block(moves)
        done += other.result()[0]
        return done, time.perf_counter() - start

    def close(self) -> None:
        self._other.shutdown()
        for run in self.runs:
            run.close()


BLOCK_SECONDS = 0.25


def our_simulations_per_second(size: int, sims: int, slots: int, thread_counts: tuple[int, ...],
                               seconds: float, leaves: int = SearchConfig.leaves_per_round,
                               separate_trees: bool = False,
                               evaluators: list[Evaluator] | None = None) -> list[float]:
    """Simulations/s for each thread count, on the same positions. The first run plays a block of moves
    (BLOCK_SECONDS) by its own choices; each other run then searches those same positions, playing the
    first run's moves; and again, so that the load other programs put on a shared machine falls on all
    of them alike. The same positions, because a search's cost depends on the position (a late-game
    board has fewer moves, its trees are deeper and narrower, and threads collide in them more): when
    each run played its own games, a 2.5 s measurement covered about 40 moves with 1 thread and 65 with
    2, of one game, and the 2-thread figure was partly that of a later phase. Blocks, not single moves:
    turns of one move leave a multi-threaded run's second core idle for a whole search of the others
    before each of its own, and its figure then measured how fast an idle virtual CPU wakes up
    (hundreds of microseconds per 5 ms search here) more than the search. ``separate_trees`` (one game
    only): one more figure, last, of ``SeparateTrees`` on the same blocks. ``evaluators``: one per thread
    count (a net's), answering instead of the uniform one."""
    runs = [SelfPlayingSearch(size, sims, slots, threads, leaves, evaluators[i] if evaluators else None)
            for i, threads in enumerate(thread_counts)]
    if separate_trees:
        runs.append(SeparateTrees(size, sims, leaves))
    done, spent = [0] * len(runs), [0.0] * len(runs)
    while sum(spent) < seconds * len(runs):
        block, played = 0.0, []
        while block < BLOCK_SECONDS:
            d, t, moves = runs[0].move()
            done[0] += d
            spent[0] += t
            block += t
            played.append(moves)
        for i, run in enumerate(runs[1:], 1):
            d, t = run.block(played)
            done[i] += d
            spent[i] += t
    for run in runs:
        run.close()
    return [d / t for d, t in zip(done, spent)]


# ----------------------------------------------------------------------------- openspiel ---

def openspiel_simulations_per_second(size: int, sims: int, seconds: float) -> float | None:
    try:
        import pyspiel
        from open_spiel.python.algorithms import mcts
    except ImportError:
        return None

    class UniformSpielEvaluator(mcts.Evaluator):
        """Value 0 for both players and a uniform prior: what our uniform evaluator answers."""

        def evaluate(self, state):
            return np.zeros(2)

        def prior(self, state):
            legal = state.legal_actions()
            return [(a, 1.0 / len(legal)) for a in legal]

    game = pyspiel.load_game("go", {"board_size": size, "komi": KOMI})
    bot = mcts.MCTSBot(game, uct_c=1.25, max_simulations=sims, evaluator=UniformSpielEvaluator(),
                       solve=False, random_state=np.random.RandomState(0),
                       child_selection_fn=mcts.SearchNode.puct_value)
    state, moves, start = game.new_initial_state(), 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        if state.is_terminal():
            state = game.new_initial_state()
        state.apply_action(bot.step(state))
        moves += 1
    return moves * sims / (time.perf_counter() - start)


# ------------------------------------------------------------------ self-play with a net ---

class TimedEvaluator(Evaluator):
    """Passes calls through to an evaluator, counting positions, batches and time inside it, and
    keeping the largest batch it saw (real self-play inputs for the raw forward measurement)."""

    def __init__(self, inner):
        self.inner, self.board_size, self.feature_set = inner, inner.board_size, inner.feature_set
        self.positions = self.batches = 0
        self.busy = 0.0
        self.sample = None

    def evaluate(self, planes, legal):
        start = time.perf_counter()
        out = self.inner.evaluate(planes, legal)
        self.busy += time.perf_counter() - start
        self.positions += len(planes)
        self.batches += 1
        if self.sample is None or len(planes) > len(self.sample[0]):
            self.sample = (planes.copy(), legal.copy())
        return out


def raw_forward_per_second(evaluator, planes: np.ndarray, legal: np.ndarray, batch: int,
                           seconds: float) -> float:
    """Positions/s of back-to-back ``evaluate`` calls on ``batch`` rows cycled from planes/legal;
    the best of three windows, so that a burst of load from other programs does not count."""
    rows = np.arange(batch) % len(planes)
    x, mask = np.ascontiguousarray(planes[rows]), np.ascontiguousarray(legal[rows])
    evaluator.evaluate(x, mask)
    best = 0.0
    for _ in range(3):
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / 3:
            evaluator.evaluate(x, mask)
            done += batch
        best = max(best, done / (time.perf_counter() - start))
    return best


def selfplay_net_share(size: int, slots: int, seconds: float) -> tuple[float, float, float, float, int]:
    """(achieved evals/s, raw evals/s at the mean batch, share, time share inside evaluate, mean batch)."""
    cfg = load_config(overrides=[f"game.size={size}", "model.blocks=2", "model.channels=32",
                                 "search.num_simulations=64", f"selfplay.games_per_worker={slots}"])
    torch.manual_seed(0)
    fs = get_feature_set(cfg.model.feature_set)
    net = PolicyValueNet(size, fs.num_planes, cfg.model.blocks, cfg.model.channels)
    # one core for the net, the other for the search (this is a 2-core machine)
    inner = InProcessEvaluator(net, size, cfg.model.feature_set, device="cpu", cpu_threads=1)
    evaluator = TimedEvaluator(inner)
    player = SelfPlayer(evaluator, cfg, slots=slots, seed=0)
    stream = player.games(None)
    start = time.perf_counter()
    for _ in stream:  # games end one by one; the slot starts a new one at once
        if time.perf_counter() - start >= seconds:
            break
    elapsed = time.perf_counter() - start
    stream.close()
    player.close()
    achieved = evaluator.positions / elapsed
    batch = max(1, round(evaluator.positions / max(evaluator.batches, 1)))
    raw = raw_forward_per_second(inner, *evaluator.sample, batch, seconds=3.0)
    return achieved, raw, achieved / raw, evaluator.busy / elapsed, batch


def one_game_line(threads: int, rate: float, base_threads: int, base_rate: float, net: str | None = None) -> str:
    """The one-game figure of ``threads``, with its ratio to the base thread count's; ``net``: what
    answered, when not the uniform evaluator."""
    def named(n: int) -> str:
        return f"{n} thread{'s' if n > 1 else ''}"
    line = f"ours, {named(threads)}, 1 game{', ' + net if net else ''}: {rate:,.0f} simulations/s"
    if threads == base_threads:
        return line
    goal = (1, 16, 6.0) if net else (1, 2, 1.7)  # issue 14's: 16 threads with a net on a GPU; 2 on 2 cores
    target = f"; target >= {goal[2]:g}" if (base_threads, threads) == goal[:2] else ""
    return f"{line} ({rate / base_rate:.2f}x {named(base_threads)}{target}; the threads search one tree)"


def net_evaluators(net: str, size: int, device: str, count: int) -> tuple[int, list[Evaluator], str]:
    """``--net``: (its board size, ``count`` evaluators of it, how the lines name it). One model for
    them all; precision auto (bf16 on a GPU)."""
    from alphago_lite.commands.play import check_device
    from alphago_lite.models import SHIPPED, shipped_model
    from alphago_lite.net.checkpoint import load_model
    check_device(device)
    path = shipped_model(board_size=size).checkpoint if net == SHIPPED else Path(net)
    if not path.is_file():
        raise ValueError(f"--net {net}: no such checkpoint file")
    model, meta = load_model(path, device=device)
    board = meta.board_size
    evaluators = [InProcessEvaluator(model, board, meta.feature_set, device=device, precision="auto")
                  for _ in range(count)]
    arch = model.arch()
    name = (f"net {path.stem} ({board}x{board}, {arch['blocks']}x{arch['channels']}) on "
            f"{evaluators[0].device}, {evaluators[0].precision}")  # the device and the precision auto chose
    return board, evaluators, name


def separate_trees_line(rate: float, one_thread: float, one_tree: float) -> str:
    """The peer of the 2-thread one-game figure: two 1-thread searches on separate trees at once."""
    return (f"peer, 2 separate trees at once (1 thread each, same positions): {rate:,.0f} simulations/s "
            f"({rate / one_thread:.2f}x 1 thread: what this machine gives two threads that share nothing; "
            f"2 threads on one tree made {one_tree / rate:.2f}x that)")


def main(args: argparse.Namespace) -> int:
    size, sims = args.size, args.simulations
    leaves = args.leaves_per_round
    net = None
    if args.net:  # loaded first: a wrong path or device is said at once, not after the measurements
        try:
            net = net_evaluators(args.net, size, args.device, len(args.game_threads))
        except ValueError as exc:
            print(f"alphago-lite bench search: {exc}", file=sys.stderr)
            return 2
    print(f"bench search: {size}x{size}, {sims} simulations per move, {leaves} leaves per round, uniform "
          f"evaluator; figures from a shared machine vary run to run")
    with StealMeter() as steal:
        one, two = our_simulations_per_second(size, sims, args.slots, (1, 2), args.seconds, leaves)
    print(f"ours, 1 thread, {args.slots} games: {one:,.0f} simulations/s")
    print(f"ours, 2 threads, {args.slots} games: {two:,.0f} simulations/s")
    print(f"2 threads / 1 thread: {two / one:.2f}x (target >= 1.7)")
    print(steal.line(f"the {args.slots}-game measurement"))
    game_threads = args.game_threads
    peer = game_threads[0] == 1 and 2 in game_threads  # the peer of the 2-thread figure
    with StealMeter() as steal:
        rates = our_simulations_per_second(size, sims, 1, game_threads, args.seconds / 2, leaves, peer)
    for threads, rate in zip(game_threads, rates):
        print(one_game_line(threads, rate, game_threads[0], rates[0]))
    if peer:
        print(separate_trees_line(rates[-1], rates[0], rates[game_threads.index(2)]))
    print(steal.line("the one-game measurement"))
    if net is not None:
        board, evaluators, name = net
        with StealMeter() as steal:
            rates = our_simulations_per_second(board, sims, 1, game_threads, args.seconds / 2, leaves,
                                               evaluators=evaluators)
        for threads, rate in zip(game_threads, rates):
            print(one_game_line(threads, rate, game_threads[0], rates[0], name))
        print(steal.line("the one-game measurement with the net"))
    if not args.no_openspiel:
        spiel = openspiel_simulations_per_second(size, sims, args.seconds)
        if spiel is None:
            print("openspiel MCTSBot: not installed")
        else:
            print(f"openspiel MCTSBot (python, 1 thread): {spiel:,.0f} simulations/s")
            print(f"ours 1 thread / openspiel: {one / spiel:.1f}x (target >= 5)")
    if not args.no_selfplay:
        achieved, raw, share, busy, batch = selfplay_net_share(size, args.slots, args.selfplay_seconds)
        print(f"self-play with a 2x32 net on CPU: {achieved:,.0f} evaluations/s, raw forward at batch "
              f"{batch}: {raw:,.0f}/s, share {100 * share:.0f}% (target >= 70%), "
              f"time inside evaluate {100 * busy:.0f}%")
    return 0
