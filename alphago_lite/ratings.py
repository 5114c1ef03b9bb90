"""Match statistics shared by the training arena and the ``match`` command: score intervals and Elo."""
from __future__ import annotations

import math


def wilson_interval(score: float, games: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson's 95% interval (z = 1.96) of a score (a share of points) over ``games`` games."""
    if games <= 0:
        return 0.0, 1.0
    denominator = 1 + z * z / games
    centre = (score + z * z / (2 * games)) / denominator
    half = z * math.sqrt(score * (1 - score) / games + z * z / (4 * games * games)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def elo_difference(score: float, games: int | None = None) -> float:
    """The Elo difference that predicts this expected score.

    Without ``games`` a score of 1 or 0 gives +-inf (an interval's ends may be that). With ``games``
    the score is first kept half a game away from 0 and 1, so that a training log always gets a
    finite number for a clean sweep."""
    if games is not None:
        margin = 0.5 / max(games, 1)
        score = min(max(score, margin), 1 - margin)
    if score <= 0:
        return -math.inf
    if score >= 1:
        return math.inf
    return 400 * math.log10(score / (1 - score))
