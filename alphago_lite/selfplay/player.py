"""Self-play: many games advanced together by one ``BatchedSearch``, each finished game a ``GameRecord``.

Per move, each game gets either a full search (root noise, recorded as a training target) or, with
playout-cap randomisation, a cheap one (no noise, not trained on).
PUCT: Dirichlet noise; the first ``temperature_moves`` moves are sampled from the visit counts, later
ones are the most visited move; the policy target is the visit distribution.
Gumbel: Gumbel noise at the root of every full search, which also samples the move that Sequential
Halving plays (so no temperature); a cheap search plays greedily; the policy target is the improved
policy pi'. Every record stores the final ownership (Tromp-Taylor area of the final position).
A game resigns when its root value falls below ``resign_threshold``, except in the share of games
(``resign_disabled_fraction``) that never resign, which measure how often resigning would be wrong.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from alphago_lite.config import Config, resolved_dirichlet_alpha, resolved_max_moves, resolved_temperature_moves
from alphago_lite.go import Game
from alphago_lite.search import BatchedSearch
from alphago_lite.selfplay.records import GameRecord, area_ownership, sparse_policy


@dataclass
class _Slot:
    game: Game
    resign_disabled: bool
    moves: list = field(default_factory=list)
    visit_moves: list = field(default_factory=list)
    visit_counts: list = field(default_factory=list)
    root_values: list = field(default_factory=list)
    full_search: list = field(default_factory=list)
    policy_moves: list = field(default_factory=list)    # Gumbel only: pi' of full searches ...
    policy_weights: list = field(default_factory=list)  # ... as sparse_policy gives it, () otherwise


_PER_MOVE = ("visit_moves", "visit_counts", "root_values", "full_search", "policy_moves", "policy_weights")


class SelfPlayer:
    """Plays games with one evaluator; ``games()`` yields each record as soon as its game ends."""

    def __init__(self, evaluator, cfg: Config, slots: int | None = None, seed: int = 0,
                 model_version: Callable[[], int] = lambda: 0):
        self.cfg, self.evaluator, self.model_version = cfg, evaluator, model_version
        self.rng = np.random.default_rng(seed)
        self.size = cfg.game.size
        self.slots = slots or cfg.selfplay.games_per_worker
        self.max_moves = resolved_max_moves(cfg.game)
        self.alpha = resolved_dirichlet_alpha(cfg.search, self.size)
        self.temperature_moves = resolved_temperature_moves(cfg.search, self.size)
        self.search = BatchedSearch(evaluator, cfg.search, slots=self.slots, size=self.size, komi=cfg.game.komi,
                                    max_moves=self.max_moves, max_simulations=cfg.search.num_simulations)

    def _new_slot(self) -> _Slot:
        g = self.cfg.game
        game = Game(size=g.size, komi=g.komi, superko=g.superko, suicide=g.suicide,
                    max_moves=self.max_moves)
        disabled = bool(self.rng.random() < self.cfg.search.resign_disabled_fraction)
        return _Slot(game, disabled)

    def games(self, count: int | None = None) -> Iterator[GameRecord]:
        """Yield finished games; ``count`` None plays forever."""
        started = 0
        active: dict[int, _Slot] = {}
        for i in range(self.slots):
            if count is None or started < count:
                active[i] = self._new_slot()
                self.search.set_root(i, active[i].game)
                started += 1
        while active:
            for i, record in self._step(active):
                yield record
                if count is None or started < count:
                    active[i] = self._new_slot()
                    self.search.set_root(i, active[i].game)
                    started += 1
                else:
                    del active[i]

    def _step(self, active: dict[int, _Slot]) -> list[tuple[int, GameRecord]]:
        """One move in every active game; returns the games that ended."""
        sp = self.cfg.selfplay
        full = {i: bool(self.rng.random() < sp.full_search_prob) for i in active}
        targets = self._gumbel_targets(active, full) if self.search.gumbel else self._puct_targets(active, full)
        self.search.search(targets)
        ended = []
        for i, slot in active.items():
            stats = self.search.stats(i)
            game = slot.game
            self._note_search(slot, stats, full[i])
            if stats.value < self.cfg.search.resign_threshold and not slot.resign_disabled:
                for name in _PER_MOVE:
                    getattr(slot, name).pop()  # resigning is not a move to learn from
                game.resign()
            else:
                move = stats.best_move if self.search.gumbel else self._choose(stats.visits, game.move_number)
                game.play(move)
                slot.moves.append(move)
                self.search.advance(i, game, move)
            if game.is_over:
                ended.append((i, self._record(slot)))
        return ended

    def _puct_targets(self, active: dict[int, _Slot], full: dict[int, bool]) -> np.ndarray:
        sp, sc = self.cfg.selfplay, self.cfg.search
        # a full search adds noise to an expanded root: expand fresh roots first
        fresh = np.zeros(self.slots, np.int64)
        for i in active:
            if full[i] and not self.search.root_expanded(i):
                fresh[i] = 1
        if fresh.any():
            self.search.search(fresh)
        targets = np.zeros(self.slots, np.int64)
        for i in active:
            if full[i]:
                self.search.add_root_noise(i, self.rng, self.alpha, sc.noise_weight)
            sims = sc.num_simulations if full[i] else sp.cheap_simulations
            # total root visits, reused ones included; at least 2 so some child has a visit
            targets[i] = max(sims, 2)
        return targets

    def _gumbel_targets(self, active: dict[int, _Slot], full: dict[int, bool]) -> np.ndarray:
        """Plan each game's search: n new simulations, with Gumbel noise for the full ones only."""
        sp, sc = self.cfg.selfplay, self.cfg.search
        targets = np.zeros(self.slots, np.int64)
        for i in active:
            sims = sc.num_simulations if full[i] else sp.cheap_simulations
            targets[i] = self.search.start_gumbel(i, sims, self.rng if full[i] else None)
        return targets

    def _note_search(self, slot: _Slot, stats, full: bool) -> None:
        """Append one searched position's statistics to the game's per-move lists."""
        searched = np.flatnonzero(stats.visits)
        slot.visit_moves.append(tuple(int(m) for m in searched))
        slot.visit_counts.append(tuple(int(stats.visits[m]) for m in searched))
        slot.root_values.append(stats.value)
        slot.full_search.append(full)
        moves, weights = sparse_policy(stats.improved_policy) if full and self.search.gumbel else ((), ())
        slot.policy_moves.append(moves)
        slot.policy_weights.append(weights)

    def _choose(self, visits: np.ndarray, move_number: int) -> int:
        sc = self.cfg.search
        if move_number < self.temperature_moves and sc.temperature > 0:
            weights = visits.astype(np.float64) ** (1.0 / sc.temperature)
            return int(self.rng.choice(len(visits), p=weights / weights.sum()))
        return int(np.argmax(visits))

    def _record(self, slot: _Slot) -> GameRecord:
        g = slot.game
        return GameRecord(
            size=g.size, komi=g.komi,
            rules={"superko": g.superko, "suicide": g.suicide, "max_moves": g.max_moves},
            moves=tuple(slot.moves), visit_moves=tuple(slot.visit_moves),
            visit_counts=tuple(slot.visit_counts), root_values=tuple(slot.root_values),
            full_search=tuple(slot.full_search), result=g.result(), winner=int(g.winner),
            model_version=int(self.model_version()), resign_disabled=slot.resign_disabled,
            resigned=g.resigned,
            policy_moves=tuple(slot.policy_moves) if self.search.gumbel else (),
            policy_weights=tuple(slot.policy_weights) if self.search.gumbel else (),
            ownership=tuple(int(o) for o in area_ownership(g.board).ravel()))

    def close(self) -> None:
        self.search.close()


def play_games(evaluator, cfg: Config, n: int, seed: int = 0) -> list[GameRecord]:
    """Play n complete self-play games and return their records (in the order they finished)."""
    player = SelfPlayer(evaluator, cfg, slots=min(n, cfg.selfplay.games_per_worker), seed=seed)
    try:
        return list(player.games(n))
    finally:
        player.close()
