"""``MctsAgent``: the agent protocol (agent.py) over one-game batched search, for play, GTP and matches.

The tree follows the game: when the game advanced by moves the tree knows, the subtree is kept;
any other change (undo, new game, setup) starts a fresh tree. Search runs in chunks so that a visit
budget and a time budget can both stop it. With ``threads > 1`` every thread searches the one tree
(tree parallelism), so a time budget buys more visits; each analysis gives its visits per second.

With ``search.algorithm: gumbel`` a move is chosen greedily (no Gumbel noise) by Sequential Halving
over a budget of new simulations planned before the first chunk (``visits``; with only a time limit,
the agent's default visits, searched on by the interior rule if time is left). The analysis then
lists Sequential Halving's move first and gives each candidate's improved policy pi' as its ``prior``.
"""
from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from alphago_lite.agents.base import RESIGN, Analysis, Candidate, value_to_winrate
from alphago_lite.config import SearchConfig
from alphago_lite.go import Game
from alphago_lite.search import BatchedSearch

CHUNK_SECONDS = 0.05  # with a time budget and several threads: search in steps of about this long


class MctsAgent:
    def __init__(self, evaluator, search_cfg: SearchConfig | None = None, visits: int = 200,
                 resign_threshold: float | None = None, chunk: int = 32, threads: int = 1):
        self.evaluator = evaluator
        self.board_size = int(evaluator.board_size)
        self.training_komi: float | None = None  # set by load_agent from the run's config
        # threads > 1: they all search the one tree at once (tree parallelism, see BatchedSearch)
        self.cfg = search_cfg or SearchConfig(num_simulations=visits, reuse_tree=True, threads=threads)
        self.visits = visits
        self.resign_threshold = self.cfg.resign_threshold if resign_threshold is None else resign_threshold
        self.chunk = chunk
        self.search: BatchedSearch | None = None
        self._history: tuple | None = None
        self._komi: float | None = None

    # ------------------------------------------------------------------------ protocol ---
    def new_game(self, game: Game) -> None:
        self._history = None

    def think(self, game: Game, visits: int) -> Analysis:
        self._sync(game)
        before, start = self.search.root_visits(0), time.perf_counter()
        self.search.search(np.array([before + max(visits, 1)]))
        return self._analysis(game, before, start)

    def genmove(self, game: Game, visits: int | None = None, seconds: float | None = None) -> Analysis:
        budget = visits if visits is not None else (None if seconds is not None else self.visits)
        self._sync(game)
        if self.search.gumbel:  # a plan of new simulations; the budget becomes the root visits to reach
            budget_or_default = budget if budget is not None else self.visits
            target = self.search.start_gumbel(0, max(budget_or_default, 1))
            budget = target if budget is not None else None
        before, start = self.search.root_visits(0), time.perf_counter()
        while True:
            done = self.search.root_visits(0)
            if budget is not None and done >= budget:
                break
            elapsed = time.perf_counter() - start
            if seconds is not None and elapsed >= seconds and done >= 2:
                break
            step = self._step(done - before, elapsed, seconds)
            if budget is not None:
                step = min(step, budget - done)
            self.search.search(np.array([done + max(step, 1)]))
        analysis = self._analysis(game, before, start)
        if analysis.winrate < value_to_winrate(self.resign_threshold) and self.resign_threshold > -1:
            return replace(analysis, move=RESIGN)
        return analysis

    def _step(self, new_visits: int, elapsed: float, seconds: float | None) -> int:
        """Visits of the next search call. One thread: ``chunk`` (a time budget is checked between
        calls). Several: each call costs the threads a start and a drain, so without a time budget the
        whole rest at once, with one about CHUNK_SECONDS of visits at the rate seen so far."""
        threads = self.search.threads
        if threads == 1:
            return self.chunk
        if seconds is None:
            return 1 << 30  # capped by the visit budget
        if new_visits <= 0 or elapsed <= 0:
            return self.chunk * threads
        rate = new_visits / elapsed
        return max(self.chunk, int(rate * min(CHUNK_SECONDS, seconds - elapsed)))

    # --------------------------------------------------------------------------- inside ---
    def _sync(self, game: Game) -> None:
        if game.size != self.board_size:
            raise ValueError(f"this agent's net plays {self.board_size}x{self.board_size}, "
                             f"not {game.size}x{game.size}")
        if game.is_over:
            raise ValueError("the game is over: there is no move to choose")
        # the search scores finished positions with its komi: a new komi needs a new search
        if self.search is None or self.search.max_moves < game.max_moves or self._komi != game.komi:
            if self.search is not None:
                self.search.close()
            self.search = BatchedSearch(self.evaluator, self.cfg, slots=1, size=game.size, komi=game.komi,
                                        max_moves=max(game.max_moves, 2 * game.size * game.size),
                                        max_simulations=max(self.visits, 800))
            self._komi = game.komi
            self._history = None
        history = (tuple(game.history), tuple(game.move_colours), game.to_play, game.komi)
        old = self._history
        if old is not None and len(history[0]) == len(old[0]) + 1 and history[0][:-1] == old[0] \
                and history[3] == old[3]:
            self.search.advance(0, game, history[0][-1])
        elif old != history:
            self.search.set_root(0, game)
        self._history = history

    def _analysis(self, game: Game, visits_before: int, start: float) -> Analysis:
        """What the search knows now; visits/s counts the visits added since ``start`` (perf_counter)."""
        stats = self.search.stats(0)
        order = [int(m) for m in np.argsort(-stats.visits, kind="stable") if stats.visits[m] > 0]
        priors = stats.priors
        if stats.improved_policy is not None:  # Gumbel: its choice first, and pi' shown as the prior
            priors = stats.improved_policy
            order.sort(key=lambda m: m != stats.best_move)  # a stable sort keeps the rest by visits
        candidates = tuple(
            Candidate(move=m, visits=int(stats.visits[m]), winrate=value_to_winrate(float(stats.q[m])),
                      prior=float(priors[m]), pv=tuple(self.search.principal_variation(0, m)))
            for m in order)
        best = order[0] if order else game.size * game.size
        elapsed = time.perf_counter() - start
        rate = (stats.total_visits - visits_before) / elapsed if elapsed > 0 else 0.0
        return Analysis(move=best, winrate=value_to_winrate(stats.value), visits=stats.total_visits,
                        candidates=candidates, visits_per_second=rate)
