"""Matches between two evaluators, each searching with MCTS, all games advanced together; Elo.

Used for periodic evaluation and gating in training. The first ``opening_moves`` moves of each game
are sampled from the visit counts so that games between two deterministic players differ.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alphago_lite.config import GameConfig, SearchConfig, resolved_max_moves
from alphago_lite.go import BLACK, Game
from alphago_lite.net.evaluator import Evaluator
from alphago_lite.ratings import elo_difference
from alphago_lite.search import BatchedSearch


@dataclass(frozen=True)
class MatchResult:
    wins: int      # games won by the first player
    losses: int
    draws: int

    @property
    def games(self) -> int:
        return self.wins + self.losses + self.draws

    @property
    def score(self) -> float:
        """Share of points of the first player (a draw is half a point)."""
        return (self.wins + 0.5 * self.draws) / max(self.games, 1)

    def elo(self) -> float:
        """Elo difference of the first player over the second implied by the score (clamped)."""
        return elo_difference(self.score, games=self.games)


def play_match(first: Evaluator, second: Evaluator, *, game_cfg: GameConfig, search_cfg: SearchConfig,
               games: int, simulations: int, seed: int = 0, opening_moves: int = 4) -> MatchResult:
    """``games`` games between two evaluators, colours alternating (first is black in even games)."""
    rng = np.random.default_rng(seed)
    max_moves = resolved_max_moves(game_cfg)
    searches = [BatchedSearch(ev, search_cfg, slots=games, size=game_cfg.size, komi=game_cfg.komi, max_moves=max_moves,
                              max_simulations=simulations, threads=1) for ev in (first, second)]
    boards = [Game(size=game_cfg.size, komi=game_cfg.komi, superko=game_cfg.superko,
                   suicide=game_cfg.suicide, max_moves=max_moves) for _ in range(games)]
    try:
        while not all(g.is_over for g in boards):
            for side, search in enumerate(searches):
                targets = np.zeros(games, np.int64)
                for i, g in enumerate(boards):
                    if not g.is_over and _player_of(i, g) == side:
                        search.set_root(i, g)
                        targets[i] = max(simulations, 2)
                if not targets.any():
                    continue
                search.search(targets)
                for i in np.flatnonzero(targets):
                    stats = search.stats(int(i))
                    visits = stats.visits
                    g = boards[int(i)]
                    if g.move_number < opening_moves:
                        move = int(rng.choice(len(visits), p=visits / visits.sum()))
                    else:
                        move = stats.best_move  # the most visited (PUCT), Sequential Halving's (Gumbel)
                    g.play(move)
    finally:
        for s in searches:
            s.close()
    wins = losses = draws = 0
    for i, g in enumerate(boards):
        first_colour = BLACK if i % 2 == 0 else -BLACK
        if g.winner == 0:
            draws += 1
        elif g.winner == first_colour:
            wins += 1
        else:
            losses += 1
    return MatchResult(wins, losses, draws)


def _player_of(index: int, game: Game) -> int:
    """0 if the first evaluator is to move in game `index`, else 1."""
    first_colour = BLACK if index % 2 == 0 else -BLACK
    return 0 if game.to_play == first_colour else 1
