"""Scoring like a person: dead stones found by the net's ownership, confirmed by the search, removed
before the area count. Tromp-Taylor (``Game.score``) stays the rule of self-play; this is for the
front ends (GTP ``final_score`` / ``final_status_list``, the terminal's score and end of game) and
for answering a pass with a pass.

Vocabulary
----------
ownership    float [S, S] in [-1, 1] from Black's view: +1 Black will own the point at the end, -1 White.
             A net gives it for the player to move (``PolicyValueNet.heads``); ``estimate_ownership``
             turns it to Black's view.
estimate     ``estimate_ownership``: the search thinks ``visits`` on the position, then the net's
             ownership is averaged over the root and the positions of the best move's principal
             variation (at most ``PV_PLIES`` moves deep), each turned to Black's view. KataGo averages
             over every visited leaf weighted by visits; the principal variation is the line the
             search trusts most, and it needs nothing from the search beyond its analysis.
dead chain   a chain whose ownership, averaged over its stones and taken for its own colour, is below
             ``-DEAD_THRESHOLD`` (the net is sure the opponent gets those points).
seki chain   a living chain with a liberty shared with a living chain of the other colour where a stone
             of either colour would be self-atari (its chain left with at most one liberty, capturing
             nothing): neither side can approach, so both live without eyes enough. Found on the board
             after the dead chains are removed. Such shared liberties reach both colours, so the area
             count already gives them to nobody.
count        area with dead stones removed: the Tromp-Taylor area of the board once the dead chains are
             taken off (stones, plus empty regions reaching only one colour), Black minus White minus komi.

Without an ownership head (``evaluator.has_ownership`` false, or an agent without a net) there is no
estimate, and the front ends keep today's Tromp-Taylor count (GTP answers stay plain: the difference
is documented here, not in the answer).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from alphago_lite.agents.base import Analysis, value_to_winrate
from alphago_lite.go import Game
from alphago_lite.selfplay.records import area_ownership

DEAD_THRESHOLD = 0.6   # mean ownership of a chain below -0.6 for its own colour: dead
PV_PLIES = 4           # positions of the principal variation averaged with the root's
SCORE_VISITS = 200     # search visits behind an estimate when the front end gives none
PASS_GAIN = 0.05       # win rate the best move must add over the net's own value to be worth playing


@dataclass(frozen=True)
class Chain:
    colour: int                # 1 black, -1 white
    points: tuple[int, ...]    # flat indices, ascending


@dataclass(frozen=True)
class StoneStatus:
    dead: tuple[Chain, ...]
    seki: tuple[Chain, ...]
    alive: tuple[Chain, ...]   # living chains not in seki

    def dead_points(self) -> list[int]:
        return sorted(p for chain in self.dead for p in chain.points)


@dataclass(frozen=True)
class OwnershipEstimate:
    ownership: np.ndarray      # float32 [S, S], Black's view, averaged over ``positions`` positions
    positions: int
    root_value: float          # the net's own value of the root for its player to move, in [-1, 1]


# ---------------------------------------------------------------------------------- the board ---
def _neighbours(point: int, size: int) -> list[int]:
    row, col = divmod(point, size)
    return [r * size + c for r, c in ((row - 1, col), (row + 1, col), (row, col - 1), (row, col + 1))
            if 0 <= r < size and 0 <= c < size]


def board_chains(board: np.ndarray) -> list[Chain]:
    """Every chain of ``board`` (int [S, S], 1 black, -1 white, 0 empty), in order of its first point."""
    size = board.shape[0]
    flat = np.asarray(board).ravel()
    seen, chains = set(), []
    for start in np.flatnonzero(flat):
        if int(start) in seen:
            continue
        colour, stack, points = int(flat[start]), [int(start)], []
        seen.add(int(start))
        while stack:
            point = stack.pop()
            points.append(point)
            for n in _neighbours(point, size):
                if flat[n] == colour and n not in seen:
                    seen.add(n)
                    stack.append(n)
        chains.append(Chain(colour, tuple(sorted(points))))
    return chains


def _liberties(chain: Chain, flat: np.ndarray, size: int) -> set[int]:
    return {n for p in chain.points for n in _neighbours(p, size) if flat[n] == 0}


def _self_atari(point: int, colour: int, flat: np.ndarray, size: int, chain_of: dict, liberties: dict) -> bool:
    """A stone of ``colour`` on the empty ``point`` leaves its chain at most one liberty and captures nothing."""
    own_liberties = {n for n in _neighbours(point, size) if flat[n] == 0}
    for n in _neighbours(point, size):
        if flat[n] == 0:
            continue
        chain = chain_of[n]
        if flat[n] == -colour and liberties[chain] == {point}:
            return False  # it captures
        if flat[n] == colour:
            own_liberties |= liberties[chain]
    own_liberties.discard(point)
    return len(own_liberties) <= 1


def _seki_chains(board: np.ndarray) -> set[Chain]:
    """Chains of ``board`` (dead stones already removed) in seki, by the rule of the module docstring."""
    size, flat = board.shape[0], np.asarray(board).ravel()
    chains = board_chains(board)
    chain_of = {p: chain for chain in chains for p in chain.points}
    liberties = {chain: _liberties(chain, flat, size) for chain in chains}
    seki: set[Chain] = set()
    for point in np.flatnonzero(flat == 0):
        point = int(point)
        touching = {chain_of[n] for n in _neighbours(point, size) if flat[n] != 0}
        if len({chain.colour for chain in touching}) < 2:
            continue
        if _self_atari(point, 1, flat, size, chain_of, liberties) and \
                _self_atari(point, -1, flat, size, chain_of, liberties):
            seki |= touching
    return seki


def classify_stones(board: np.ndarray, ownership: np.ndarray, threshold: float = DEAD_THRESHOLD) -> StoneStatus:
    """Dead, seki and alive chains of ``board`` given ``ownership`` (Black's view, [S, S])."""
    own = np.asarray(ownership, np.float64).ravel()
    chains = board_chains(board)
    dead = [c for c in chains if c.colour * own[list(c.points)].mean() < -threshold]
    seki = _seki_chains(remove_chains(board, dead))
    return StoneStatus(dead=tuple(dead), seki=tuple(c for c in chains if c in seki),
                       alive=tuple(c for c in chains if c not in seki and c not in dead))


def remove_chains(board: np.ndarray, chains) -> np.ndarray:
    cleaned = np.array(board, copy=True)
    for chain in chains:
        cleaned.flat[list(chain.points)] = 0
    return cleaned


def area_count(board: np.ndarray, dead, komi: float) -> float:
    """Area with the ``dead`` chains removed: Black minus White minus komi (see the module docstring)."""
    return float(area_ownership(remove_chains(board, dead)).sum()) - komi


def score_text(score: float) -> str:
    """GTP / SGF style: ``B+3.5``, ``W+0.5``, ``0``."""
    return "0" if score == 0 else f"{'B' if score > 0 else 'W'}+{abs(score):g}"


# ------------------------------------------------------------------------------ the estimate ---
def ownership_evaluator(agent):
    """The agent's evaluator when it can give ownership, else None (a random agent, a net without
    the head). Agents with a net keep it as ``agent.evaluator`` (MctsAgent, PolicyAgent)."""
    evaluator = getattr(agent, "evaluator", None)  # the Agent protocol does not require a net
    return evaluator if evaluator is not None and evaluator.has_ownership else None


def position_to_search(game: Game) -> Game:
    """A copy of ``game`` the search can think on: a game ended by passes goes back before its last
    pass (same board, history planes kept); one ended otherwise restarts from its board as setup."""
    position = game.copy()
    pass_move = game.size * game.size
    while position.is_over and position.history and position.history[-1] == pass_move \
            and not position.resigned:
        position.undo()
    if not position.is_over:
        return position
    fresh = Game(size=game.size, komi=game.komi, max_moves=max(game.max_moves, 2 * game.size * game.size))
    flat = game.board.ravel()
    fresh.place_setup(black=np.flatnonzero(flat == 1).tolist(), white=np.flatnonzero(flat == -1).tolist(),
                      to_play=game.to_play)
    return fresh


def estimate_ownership(agent, game: Game, visits: int = SCORE_VISITS,
                       analysis: Analysis | None = None) -> OwnershipEstimate | None:
    """The ownership estimate of the module docstring, or None without an ownership head. With
    ``analysis`` (a search just made on ``game``) no new search is made."""
    evaluator = ownership_evaluator(agent)
    if evaluator is None:
        return None
    from alphago_lite.net.features import encode_batch  # lazy: compiles numba kernels
    root = game if analysis is not None else position_to_search(game)
    if analysis is None:
        analysis = agent.think(root.copy(), max(int(visits), 1))
    positions = [root]
    line = analysis.candidates[0].pv if analysis.candidates else ()
    for move in line[:PV_PLIES]:
        following = positions[-1].copy()
        if not following.is_legal(move):
            break
        following.play(move)
        if following.is_over:
            break
        positions.append(following)
    planes = encode_batch(positions, evaluator.feature_set)
    legal = np.stack([p.legal_mask() for p in positions])
    _, values, ownership = evaluator.evaluate_with_ownership(planes, legal)
    movers = np.array([p.to_play for p in positions], np.float32)[:, None, None]
    black_view = (np.asarray(ownership, np.float32) * movers).mean(axis=0)
    return OwnershipEstimate(black_view.astype(np.float32), len(positions), float(values[0]))


def person_score(agent, game: Game, visits: int = SCORE_VISITS) -> tuple[float, StoneStatus] | None:
    """(count with dead stones removed, the stones' status), or None without an ownership head."""
    estimate = estimate_ownership(agent, game, visits)
    if estimate is None:
        return None
    status = classify_stones(game.board, estimate.ownership)
    return area_count(game.board, status.dead, game.komi), status


# ------------------------------------------------------------------------ answering a pass ---
def opponent_passed(game: Game) -> bool:
    pass_move = game.size * game.size
    return bool(game.history) and game.history[-1] == pass_move and game.move_colours[-1] == -game.to_play


def nothing_left_to_gain(game: Game, analysis: Analysis, estimate: OwnershipEstimate) -> bool:
    """The player to move wins by the count with dead stones removed, and the search's best move
    adds less than ``PASS_GAIN`` win rate to the net's own value of the position."""
    status = classify_stones(game.board, estimate.ownership)
    lead = game.to_play * area_count(game.board, status.dead, game.komi)
    best = analysis.candidates[0].winrate if analysis.candidates else analysis.winrate
    return lead > 0 and best - value_to_winrate(estimate.root_value) < PASS_GAIN


def reply_to_pass(agent, game: Game, analysis: Analysis) -> Analysis:
    """``analysis`` with its move turned into a pass when the opponent just passed and there is
    nothing left to gain (as KataGo and Leela Zero answer a pass); otherwise ``analysis`` unchanged.
    ``analysis`` is the agent's search of ``game`` for its player to move."""
    if analysis.move < 0 or not opponent_passed(game) or analysis.move == game.size * game.size:
        return analysis
    estimate = estimate_ownership(agent, game, analysis=analysis)
    if estimate is None or not nothing_left_to_gain(game, analysis, estimate):
        return analysis
    return dataclasses.replace(analysis, move=game.size * game.size)
