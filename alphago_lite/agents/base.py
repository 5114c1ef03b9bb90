"""Agents: whatever chooses moves for the terminal game, the GTP engine and matches.

Vocabulary
----------
agent       an object following the ``Agent`` protocol below. It may keep private state between calls
            (a search tree), but it never changes the ``Game`` it is given.
think       search ``visits`` more playouts on a position and report what it knows so far; calls on the
            same position accumulate (analysis streaming for GUIs calls it in small steps).
genmove     choose a move for the player to move, within a budget of visits and/or seconds.
analysis    an ``Analysis``: the chosen move, the root win rate and visits, and the candidate moves best
            first, each with its own win rate, visits, prior and principal variation (pv).
win rate    in [0, 1], always for the player to move at the root (GTP analysis needs exactly this).
RESIGN      ``Analysis.move == -1``: the agent gives up.

``PolicyAgent`` plays the network's policy without search; ``RandomAgent`` plays uniformly at random
and needs no network (tests, smoke runs). The MCTS agent implements the same protocol.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from alphago_lite.go import Game

RESIGN = -1


@dataclass(frozen=True)
class Candidate:
    move: int               # flat index, size*size = pass
    visits: int
    winrate: float          # in [0, 1] for the player to move at the root
    prior: float            # the network's policy probability for this move
    pv: tuple[int, ...]     # principal variation starting with ``move``


@dataclass(frozen=True)
class Analysis:
    move: int                           # chosen / best move (flat); RESIGN (-1) means resign
    winrate: float                      # root win rate for the player to move, in [0, 1]
    visits: int                         # total root visits
    candidates: tuple[Candidate, ...]   # best first
    visits_per_second: float = 0.0      # new visits of the call that made it, per second (0: unknown)


@runtime_checkable
class Agent(Protocol):
    board_size: int | None   # the only board size it can play, or None for any size
    training_komi: float | None  # the komi its net was trained with, when known

    def new_game(self, game: Game) -> None:
        """The position changed arbitrarily (new game, undo, loaded file): drop any tree."""

    def think(self, game: Game, visits: int) -> Analysis:
        """Search ``visits`` more on this position (accumulating) and report the analysis so far."""

    def genmove(self, game: Game, visits: int | None = None, seconds: float | None = None) -> Analysis:
        """Choose a move for ``game.to_play`` within the budget (whichever limit comes first)."""


def value_to_winrate(value: float) -> float:
    """A value in [-1, 1] (player to move) as a win rate in [0, 1]."""
    return float(min(1.0, max(0.0, (value + 1.0) / 2.0)))


def sensible_moves(game: Game) -> list[int]:
    """The legal moves other than pass and than filling one's own eye (what a random player considers)."""
    pass_move = game.size * game.size
    return [int(m) for m in game.legal_moves() if m != pass_move and not game.fills_own_eye(int(m))]


class RandomAgent:
    """Uniformly random legal moves; passes only when every other legal move fills its own eye.

    ``think`` accumulates fake visits spread over a few random candidates, so that analysis streaming
    can be exercised without a network."""

    board_size = None
    training_komi = None

    def __init__(self, seed: int | None = None, candidates: int = 3) -> None:
        self._rng = np.random.default_rng(seed)
        self._candidates = candidates
        self._position: tuple[int, ...] | None = None
        self._visits = 0

    def new_game(self, game: Game) -> None:
        self._position, self._visits = None, 0

    def think(self, game: Game, visits: int) -> Analysis:
        position = tuple(game.history) + (game.move_number, game.to_play)
        if position != self._position:
            self._position, self._visits = position, 0
        self._visits += max(0, int(visits))
        moves = sensible_moves(game) or [game.size * game.size]
        picked = self._rng.permutation(moves)[: self._candidates]
        share = self._visits // len(picked)
        candidates = tuple(Candidate(move=int(m), visits=share, winrate=0.5, prior=1.0 / len(moves),
                                     pv=(int(m),)) for m in picked)
        return Analysis(move=candidates[0].move, winrate=0.5, visits=self._visits, candidates=candidates)

    def genmove(self, game: Game, visits: int | None = None, seconds: float | None = None) -> Analysis:
        return self.think(game, 1)


class PolicyAgent:
    """The network's policy without search: one evaluation, the most probable legal move.

    ``visits`` is always 1 (the single evaluation); candidates are the top moves of the policy, each
    with the root value as its win rate (nothing better is known without search)."""

    def __init__(self, evaluator, top: int = 5) -> None:
        self.evaluator = evaluator
        self.board_size = int(evaluator.board_size)
        self.training_komi: float | None = None
        self._top = top

    def new_game(self, game: Game) -> None:
        pass  # no tree to drop

    def evaluate(self, game: Game) -> tuple[np.ndarray, float]:
        """(policy [S*S+1], value) for the player to move."""
        from alphago_lite.net.features import encode_game  # lazy: features compiles numba kernels
        if game.size != self.board_size:
            raise ValueError(f"this agent's net plays {self.board_size}x{self.board_size}, "
                             f"not {game.size}x{game.size}")
        planes = encode_game(game, self.evaluator.feature_set)[None]
        legal = game.legal_mask()[None]
        if not legal.any():
            raise ValueError("the game is over: there is no move to choose")
        policy, value = self.evaluator.evaluate(planes, legal)
        return policy[0], float(value[0])

    def think(self, game: Game, visits: int) -> Analysis:
        policy, value = self.evaluate(game)
        winrate = value_to_winrate(value)
        legal = np.flatnonzero(game.legal_mask())
        order = legal[np.argsort(-policy[legal], kind="stable")][: self._top]
        candidates = tuple(Candidate(move=int(m), visits=0, winrate=winrate, prior=float(policy[m]),
                                     pv=(int(m),)) for m in order)
        return Analysis(move=candidates[0].move, winrate=winrate, visits=1, candidates=candidates)

    def genmove(self, game: Game, visits: int | None = None, seconds: float | None = None) -> Analysis:
        return self.think(game, 1)
