"""Thinking for the GTP engine: analysis streaming for GUIs and the time budget of each move.

Vocabulary
----------
analyze request  the arguments of ``lz-analyze`` / ``kata-analyze`` / ``*-genmove_analyze``:
                 ``[colour] [interval]`` or keyword pairs ``interval N``, ``minmoves N``, ``maxmoves N``
                 (KataGo's ``ownership`` / ``pvVisits`` ... flags are accepted and ignored).
interval         centiseconds between two ``info`` lines; 0 means after every search step.
info line        one line per update holding every candidate, best first:
                 ``info move D4 visits 12 winrate 5123 prior 1234 order 0 pv D4 C3 info move ...``.
                 Leela Zero style (``lz-``) scales win rate and prior to 0..10000 integers; KataGo style
                 (``kata-``) writes them as floats in [0, 1].
clock            GTP time control (Canadian byo-yomi): main time, then ``byo_stones`` moves per
                 ``byo_time`` seconds. ``time_settings 0 T 0`` with T > 0 means no time limit.
budget           seconds one move may take: an even share of what is left, minus a safety margin
                 (``lag``) for the controller's and the network's delays, so the engine never loses on
                 time.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import TextIO

from alphago_lite.agents.base import RESIGN, Agent, Analysis
from alphago_lite.go import Game, to_gtp
from alphago_lite.go.game import parse_colour
from alphago_lite.gtp.transport import GtpError, Session

_IGNORED_FLAGS = {"ownership", "ownershipStdev", "pvVisits", "pvEdgeVisits", "movesOwnership",
                  "movesOwnershipStdev", "rootInfo"}
MIN_BUDGET_SECONDS = 0.05


@dataclass(frozen=True)
class AnalyzeRequest:
    colour: int | None          # None: the player to move
    interval_cs: int = 100
    minmoves: int = 0           # at least this many candidates (we send what we have)
    maxmoves: int = 0           # at most this many candidates; 0 = all


def _non_negative_int(text: str, what: str) -> int:
    if not text.isdigit():
        raise GtpError(f"syntax error: {what} must be a non-negative integer, got {text!r}")
    return int(text)


def parse_analyze_args(args: tuple[str, ...]) -> AnalyzeRequest:
    """``[colour] [interval] [keyword value]...`` -> AnalyzeRequest; GtpError on anything else."""
    words = list(args)
    colour = None
    if words and words[0].lower() in ("b", "w", "black", "white"):
        colour = parse_colour(words.pop(0))
    values = {"interval": 100, "minmoves": 0, "maxmoves": 0}
    if words and words[0].isdigit():
        values["interval"] = int(words.pop(0))
    while words:
        key = words.pop(0)
        if not words:
            raise GtpError(f"syntax error: {key!r} needs a value")
        value = words.pop(0)
        if key in values:
            values[key] = _non_negative_int(value, key)
        elif key not in _IGNORED_FLAGS:
            raise GtpError(f"syntax error: unknown analysis option {key!r}")
    return AnalyzeRequest(colour, values["interval"], values["minmoves"], values["maxmoves"])


def format_info(analysis: Analysis, size: int, kata: bool, maxmoves: int = 0) -> str:
    """Every candidate of ``analysis`` as one ``info ...`` line (see module docstring)."""
    parts = []
    candidates = analysis.candidates[:maxmoves] if maxmoves else analysis.candidates
    for order, c in enumerate(candidates):
        if kata:
            winrate, prior = f"{c.winrate:.6f}", f"{c.prior:.6f}"
        else:
            winrate, prior = str(round(c.winrate * 10000)), str(round(c.prior * 10000))
        pv = " ".join(to_gtp(m, size) for m in c.pv)
        parts.append(f"info move {to_gtp(c.move, size)} visits {c.visits} winrate {winrate} "
                     f"prior {prior} order {order} pv {pv}")
    return " ".join(parts)


def stream_analysis(agent: Agent, game: Game, request: AnalyzeRequest, session: Session, kata: bool,
                    step_visits: int, stop_after: float | None = None,
                    max_visits: int | None = None, log: TextIO | None = None) -> Analysis:
    """Think in steps of ``step_visits`` (never past ``max_visits``) and write an info line every
    interval; at the end, the search speed goes to ``log`` (stderr: ``report_speed``).

    Without limits (``lz-analyze``) it runs until the next command arrives; with ``stop_after`` seconds
    and/or ``max_visits`` (``genmove_analyze``) it runs until the first limit and ignores input. The
    first update is always written, so even an analysis stopped at once tells the GUI something."""
    interruptible = stop_after is None and max_visits is None
    started = last_output = time.monotonic()
    interval = request.interval_cs / 100.0
    analysis = agent.think(game, step_visits)
    first, first_done = analysis, time.monotonic()
    session.write(format_info(analysis, game.size, kata, request.maxmoves) + "\n")
    while True:
        if stop_after is not None and time.monotonic() - started >= stop_after:
            break
        if max_visits is not None and analysis.visits >= max_visits:
            break
        if interruptible and session.input_pending():
            break
        before = analysis.visits
        step = step_visits if max_visits is None else min(step_visits, max_visits - analysis.visits)
        analysis = agent.think(game, step)
        if time.monotonic() - last_output >= interval:
            session.write(format_info(analysis, game.size, kata, request.maxmoves) + "\n")
            last_output = time.monotonic()
        if analysis.visits == before:  # the agent learns nothing more by thinking longer
            if not interruptible:
                break
            if session.input_pending(max(0.01, interval - (time.monotonic() - last_output))):
                break
    report_speed(first, first_done, analysis, log or sys.stderr)
    return analysis


def report_speed(first: Analysis, first_done: float, last: Analysis, log: TextIO) -> None:
    """One line on ``log`` (stderr: GUIs show it in their engine console, the GTP stream stays as
    Lizzie and Sabaki parse it): the visits and visits/s of an analysis, when the agent measures speed."""
    elapsed = time.monotonic() - first_done
    rate = (last.visits - first.visits) / elapsed if last.visits > first.visits and elapsed > 0 \
        else last.visits_per_second
    if rate > 0:
        log.write(f"analysis: {last.visits} visits, {rate:,.0f} visits/s\n")
        log.flush()


def move_text(move: int, size: int) -> str:
    return "resign" if move == RESIGN else to_gtp(move, size)


@dataclass
class Clock:
    """GTP time control for both colours, updated by ``time_left`` and by our own moves."""

    main_time: float = 0.0
    byo_time: float = 0.0
    byo_stones: int = 0
    enabled: bool = False
    remaining: dict[int, float] = field(default_factory=dict)
    stones_left: dict[int, int] = field(default_factory=dict)   # 0 while in main time

    def settings(self, main_time: float, byo_time: float, byo_stones: int) -> None:
        if min(main_time, byo_time, byo_stones) < 0:
            raise GtpError("syntax error: time settings must not be negative")
        self.main_time, self.byo_time, self.byo_stones = main_time, byo_time, byo_stones
        self.enabled = not (main_time == 0 and byo_time > 0 and byo_stones == 0)
        self.remaining = {1: main_time, -1: main_time}
        self.stones_left = {1: 0, -1: 0}
        if main_time == 0 and byo_stones > 0:  # straight into byo-yomi
            self.remaining = {1: byo_time, -1: byo_time}
            self.stones_left = {1: byo_stones, -1: byo_stones}

    def time_left(self, colour: int, seconds: float, stones: int) -> None:
        if seconds < 0 or stones < 0:
            raise GtpError("syntax error: time left must not be negative")
        self.remaining[colour], self.stones_left[colour] = seconds, stones

    def budget(self, colour: int, game: Game, lag: float) -> float | None:
        """Seconds for this move, or None without a time limit."""
        if not self.enabled:
            return None
        left, stones = self.remaining.get(colour, 0.0), self.stones_left.get(colour, 0)
        if stones > 0:  # in a byo-yomi period: share it over the stones still to play
            share = left / stones
        else:
            points = game.size * game.size
            expected_length = 0.7 * points + 20          # typical game length in moves
            own_moves_left = max(expected_length - game.move_number, 0) / 2 + points / 10
            share = left / own_moves_left
            if self.byo_time > 0 and self.byo_stones > 0:
                share += 0.5 * self.byo_time / self.byo_stones  # byo-yomi will follow: spend a little of it
        return max(MIN_BUDGET_SECONDS, min(share, left) - lag)

    def spent(self, colour: int, seconds: float) -> None:
        """Book our own move's time (in case the controller sends no ``time_left``)."""
        if not self.enabled:
            return
        self.remaining[colour] = self.remaining.get(colour, 0.0) - seconds
        if self.stones_left.get(colour, 0) > 0:
            self.stones_left[colour] -= 1
            if self.stones_left[colour] == 0:  # a new period starts
                self.remaining[colour], self.stones_left[colour] = self.byo_time, self.byo_stones
        elif self.remaining[colour] <= 0 and self.byo_stones > 0:
            self.remaining[colour], self.stones_left[colour] = self.byo_time, self.byo_stones
