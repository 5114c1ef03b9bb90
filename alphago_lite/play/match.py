"""Matches: N games between two players, every game saved as SGF, with win rate and Elo statistics.

Vocabulary
----------
player spec  how a player is named on the command line:
             ``gnugo`` / ``gnugo:LEVEL``     GNU Go as a GTP subprocess (Chinese rules);
             ``random`` / ``random:SEED``    our RandomAgent;
             ``model:PATH`` or ``PATH.pt``   our agent from a checkpoint; ``run:DIR`` its newest one;
             ``shipped`` / ``shipped:NAME``  the net shipped for the board size / of that name;
             ``gtp:COMMAND LINE``            any other GTP engine (split like a shell would).
A, B         the two players; A is the one the report is about (wins = A's wins). Colours alternate:
             A has Black in games 0, 2, 4, ...
referee      our ``Game``: every move is checked and the game is scored with our rules (area scoring,
             positional superko, no dead-stone removal: Tromp-Taylor). A move our rules refuse forfeits
             the game (result ``B+F``/``W+F``). GNU Go therefore plays with ``--capture-all-dead``: it
             removes dead stones before it passes instead of leaving them for a count we do not make.
dispute      a finished game where a GTP engine's own ``final_score`` names another winner than our
             rules (usually dead stones left on the board: our scoring does not remove them). A disputed
             game counts as a loss for A whatever our rules say: the reported score never rests on one.
opening      the first ``opening_moves`` moves of a pair of games, drawn from a net's policy (A's, else
             B's; uniform over sensible moves when neither is our net) sharpened or flattened by
             ``opening_temperature``, never a pass. Each opening is played twice, A Black then A White,
             so that the players meet in different games even when both play deterministically.
score        wins + draws / 2, as a fraction of the games; its 95% interval is Wilson's, and the Elo
             difference ``400 * log10(score / (1 - score))`` maps both ends of the interval.
"""
from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from alphago_lite.agents.base import RESIGN, Agent, PolicyAgent, RandomAgent, sensible_moves
from alphago_lite.agents.loading import load_agent
from alphago_lite.go import BLACK, WHITE, Game, IllegalMove, from_gtp, to_gtp
from alphago_lite.gtp.client import GtpClient, GtpCommandError, gnugo_command
from alphago_lite.models import is_shipped_spec, resolve_shipped
from alphago_lite.ratings import elo_difference, wilson_interval

COLOUR_LETTERS = {BLACK: "B", WHITE: "W"}


class Player(Protocol):
    name: str

    def new_game(self, game: Game) -> None: ...                # a fresh game starts
    def genmove(self, game: Game) -> int: ...                 # flat move or RESIGN, for game.to_play
    def observe(self, colour: int, move: int, game: Game) -> None: ...   # the opponent's move
    def final_score(self) -> str | None: ...                  # its own opinion, if it has one
    def close(self) -> None: ...


class AgentPlayer:
    """One of our agents; it reads the referee's game directly."""

    def __init__(self, agent: Agent, name: str, visits: int | None = None) -> None:
        self.agent, self.name, self.visits = agent, name, visits

    def new_game(self, game: Game) -> None:
        if self.agent.board_size not in (None, game.size):
            raise ValueError(f"{self.name} plays {self.agent.board_size}x{self.agent.board_size}, "
                             f"not {game.size}x{game.size}")
        self.agent.new_game(game)

    def genmove(self, game: Game) -> int:
        return self.agent.genmove(game, visits=self.visits).move

    def observe(self, colour: int, move: int, game: Game) -> None:
        pass

    def final_score(self) -> str | None:
        return None

    def close(self) -> None:
        pass


class GtpPlayer:
    """An external engine driven over GTP; it keeps its own board, which we keep in step."""

    def __init__(self, argv: list[str], name: str) -> None:
        self.client, self.name = GtpClient(argv, name=name), name

    def new_game(self, game: Game) -> None:
        self.client.send(f"boardsize {game.size}")
        self.client.send("clear_board")
        self.client.send(f"komi {game.komi:g}")

    def genmove(self, game: Game) -> int:
        text = self.client.send(f"genmove {COLOUR_LETTERS[game.to_play]}")
        if text.lower() == "resign":
            return RESIGN
        return from_gtp(text, game.size)

    def observe(self, colour: int, move: int, game: Game) -> None:
        self.client.send(f"play {COLOUR_LETTERS[colour]} {to_gtp(move, game.size)}")

    def final_score(self) -> str | None:
        try:
            return self.client.send("final_score")
        except GtpCommandError:
            return None

    def close(self) -> None:
        self.client.close()


def make_player(spec: str, visits: int | None = None, device: str = "cpu", precision: str = "fp32",
                size: int | None = None) -> Player:
    """Build a player from its spec (see the module docstring); ``precision`` is its net's number format,
    ``size`` the board size (which net ``shipped`` means)."""
    kind, _, rest = spec.partition(":")
    if kind == "gnugo":
        level = int(rest) if rest else 0
        # our referee scores the board as it stands (Tromp-Taylor), so GNU Go must capture dead stones
        return GtpPlayer(gnugo_command(level, capture_all_dead=True), name=f"gnugo-{level}")
    if is_shipped_spec(spec):
        card = resolve_shipped(spec, board_size=size)
        agent = load_agent(model_path=card.checkpoint, visits=visits or 200, device=device, precision=precision)
        return AgentPlayer(agent, name=card.name, visits=visits)
    if kind == "random":
        return AgentPlayer(RandomAgent(seed=int(rest) if rest else None), name=spec)
    if kind == "model" or (not rest and spec.endswith(".pt")):
        path = rest if kind == "model" else spec
        return AgentPlayer(load_agent(model_path=path, visits=visits or 200, device=device, precision=precision),
                           name=Path(path).stem, visits=visits)
    if kind == "run":
        return AgentPlayer(load_agent(run_dir=rest, visits=visits or 200, device=device, precision=precision),
                           name=Path(rest).name, visits=visits)
    if kind == "gtp" and rest.strip():
        argv = shlex.split(rest)
        return GtpPlayer(argv, name=Path(argv[0]).name)
    raise ValueError(f"unknown player {spec!r}: expected gnugo[:LEVEL], random[:SEED], model:PATH, "
                     "PATH.pt, run:DIR, shipped[:NAME] or gtp:COMMAND")


@dataclass(frozen=True)
class MatchConfig:
    games: int = 10
    size: int = 9
    komi: float = 7.5
    max_moves: int | None = None   # per game; default 2 * size * size
    out_dir: str = "match"         # SGF files go here
    opening_moves: int = 0         # moves of each drawn opening (0: every game starts on the empty board)
    opening_temperature: float = 1.0  # of the policy the openings are drawn from (1: as the net says)
    seed: int | None = None        # of the openings' draws (None: different openings every match)

    def __post_init__(self) -> None:
        if self.opening_moves < 0 or self.opening_moves >= self.size * self.size:
            raise ValueError(f"opening moves must be 0..{self.size * self.size - 1} on {self.size}x{self.size}, "
                             f"got {self.opening_moves}")
        if not self.opening_temperature > 0:
            raise ValueError(f"opening temperature must be above 0, got {self.opening_temperature}")


@dataclass(frozen=True)
class GameOutcome:
    index: int
    a_colour: int
    winner: int              # BLACK, WHITE or 0 (draw)
    result: str              # SGF RE: 'B+3.5', 'W+R', 'B+F', '0'
    reason: str              # 'two passes', 'resignation', 'move limit', 'illegal move ...'
    moves: int
    sgf_path: str
    dispute: str | None = None
    moves_played: tuple[int, ...] = ()   # the whole game, opening included: tells games apart

    @property
    def a_points(self) -> float:
        if self.dispute:
            return 0.0  # a result an engine disputes is never credited to A
        return 0.5 if self.winner == 0 else float(self.winner == self.a_colour)


def play_game(black: Player, white: Player, size: int, komi: float, max_moves: int | None = None,
              opening: Sequence[int] = ()):
    """Play one game to its end, from the ``opening`` moves; returns (game, result, reason, winner)."""
    game = Game(size=size, komi=komi, max_moves=max_moves or 2 * size * size)
    players = {BLACK: black, WHITE: white}
    for player in players.values():
        player.new_game(game)
    for move in opening:
        colour = game.to_play
        game.play(int(move))
        for player in players.values():  # both engines learn the opening's moves
            player.observe(colour, int(move), game)
    while not game.is_over:
        colour = game.to_play
        move = players[colour].genmove(game)
        if move == RESIGN:
            game.resign(colour)
            return game, game.result(), "resignation", -colour
        try:
            game.play(move)
        except IllegalMove as exc:
            text = f"{COLOUR_LETTERS[-colour]}+F"
            return game, text, f"illegal move {exc.move} by {players[colour].name}: {exc.reason}", -colour
        players[-colour].observe(colour, move, game)
    reason = "two passes" if game.consecutive_passes >= 2 else "move limit"
    return game, game.result(), reason, game.winner


def _dispute(player: Player, our_winner: int) -> str | None:
    theirs = player.final_score()
    if not theirs:
        return None
    their_winner = 0 if theirs.startswith("0") else BLACK if theirs.upper().startswith("B") else WHITE
    return None if their_winner == our_winner else f"{player.name} scores {theirs}"


def player_evaluator(player: Player):
    """The evaluator of a player's net (our agents), or None (GTP engines, random players)."""
    return getattr(getattr(player, "agent", None), "evaluator", None)


def opening_policy(a: Player, b: Player) -> Callable[[Game], np.ndarray]:
    """Move probabilities [S*S+1] the openings are drawn from: the raw policy of A's net, else B's, else
    uniform over the moves that neither pass nor fill an own eye."""
    for player in (a, b):
        evaluator = player_evaluator(player)
        if evaluator is not None:
            net = PolicyAgent(evaluator)
            return lambda game: net.evaluate(game)[0]

    def uniform(game: Game) -> np.ndarray:
        probs = np.zeros(game.size * game.size + 1)
        probs[sensible_moves(game)] = 1.0
        return probs
    return uniform


def draw_opening(policy: Callable[[Game], np.ndarray], config: MatchConfig, rng: np.random.Generator) -> list[int]:
    """``config.opening_moves`` moves, each drawn from ``policy`` ** (1 / temperature), passes excluded;
    shorter when no move is left to draw."""
    game = Game(size=config.size, komi=config.komi)
    moves: list[int] = []
    for _ in range(config.opening_moves):
        probs = np.asarray(policy(game), dtype=np.float64).copy()
        probs[game.size * game.size] = 0.0
        probs = np.where(game.legal_mask(), probs, 0.0) ** (1.0 / config.opening_temperature)
        if not probs.sum() > 0:
            break
        move = int(rng.choice(len(probs), p=probs / probs.sum()))
        game.play(move)
        moves.append(move)
    return moves


@dataclass(frozen=True)
class ScheduledGame:
    """One game of a match: its number, A's colour and the opening it starts from."""
    index: int
    a_colour: int
    opening: tuple[int, ...] = ()


def schedule(a: Player, b: Player, config: MatchConfig) -> list[ScheduledGame]:
    """Every game of the match, in order: colours alternate (A Black in even games) and each pair of
    games shares one opening, drawn from the seeded generator in pair order, so that a match played
    by several processes starts its games from the same positions as one played by one."""
    rng = np.random.default_rng(config.seed)
    policy = opening_policy(a, b) if config.opening_moves else None
    games, opening = [], ()
    for index in range(config.games):
        a_colour = BLACK if index % 2 == 0 else WHITE
        if policy is not None and a_colour == BLACK:
            opening = tuple(draw_opening(policy, config, rng))
        games.append(ScheduledGame(index, a_colour, opening))
    return games


def play_scheduled(a: Player, b: Player, config: MatchConfig, scheduled: ScheduledGame) -> GameOutcome:
    """Play one scheduled game, save its SGF and ask the GTP engines whether they agree with the result."""
    from alphago_lite.sgf.game import save_sgf, sgf_from_game
    black, white = (a, b) if scheduled.a_colour == BLACK else (b, a)
    game, result, reason, winner = play_game(black, white, config.size, config.komi, config.max_moves,
                                             scheduled.opening)
    disputes = [] if reason == "resignation" or reason.startswith("illegal") else \
        [d for d in (_dispute(p, winner) for p in (black, white)) if d]
    path = Path(config.out_dir) / f"game_{scheduled.index:03d}.sgf"
    save_sgf(path, sgf_from_game(game, black_player=black.name, white_player=white.name, result=result))
    return GameOutcome(scheduled.index, scheduled.a_colour, winner, result, reason, game.move_number, str(path),
                       "; ".join(disputes) or None, tuple(game.history))


def describe(outcome: GameOutcome, a_name: str, b_name: str) -> str:
    black, white = (a_name, b_name) if outcome.a_colour == BLACK else (b_name, a_name)
    dispute = f" [dispute: {outcome.dispute}]" if outcome.dispute else ""
    return (f"game {outcome.index}: {black} (B) vs {white} (W): {outcome.result} by {outcome.reason} after "
            f"{outcome.moves} moves -> {outcome.sgf_path}{dispute}")


def run_match(a: Player, b: Player, config: MatchConfig, log: Callable[[str], None] = print, jobs: int = 1,
              factories: tuple[Callable[[], Player], Callable[[], Player]] | None = None) -> MatchReport:
    """Play the match and report A's results. ``jobs`` > 1 plays that many games at once in as many
    worker processes, each with its own two players built once by ``factories`` (picklable callables,
    e.g. partials of ``make_player``); a and b then only draw the openings. The schedule (colours,
    openings) is the same as with one process; the games too where both players are deterministic
    (a net's search; not ``random:SEED``, whose generator runs on from game to game in each process).
    Outcomes come back in game order whatever the order the games end in."""
    Path(config.out_dir).mkdir(parents=True, exist_ok=True)
    games = schedule(a, b, config)
    if jobs <= 1:
        outcomes = []
        for scheduled in games:
            outcomes.append(play_scheduled(a, b, config, scheduled))
            log(describe(outcomes[-1], a.name, b.name))
        return MatchReport(a.name, b.name, tuple(outcomes))
    if factories is None:
        raise ValueError("a match in several processes needs the factories that build its players there")
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    log(f"match: {len(games)} games in {jobs} processes")
    # spawn, not fork: the parent may hold torch's thread pool and a GTP subprocess's pipes
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker,
                             initargs=(factories,)) as pool:
        futures = [pool.submit(_play_in_worker, config, scheduled) for scheduled in games]
        try:
            for future in as_completed(futures):
                log(describe(future.result(), a.name, b.name))
        except BaseException:  # a failed game or Ctrl-C: the games not yet started are not played
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        outcomes = sorted((f.result() for f in futures), key=lambda o: o.index)
    return MatchReport(a.name, b.name, tuple(outcomes))


_WORKER_PLAYERS: tuple[Player, Player] | None = None  # the two players of a match worker process


def _start_worker(factories: tuple[Callable[[], Player], Callable[[], Player]]) -> None:
    """A match worker: one thread for its net (the other processes have the other cores), its players
    built once for all its games and closed (GNU Go stopped) when the process ends."""
    global _WORKER_PLAYERS
    from multiprocessing.util import Finalize

    import torch
    torch.set_num_threads(1)
    _WORKER_PLAYERS = (factories[0](), factories[1]())
    for player in _WORKER_PLAYERS:
        Finalize(player, player.close, exitpriority=10)


def _play_in_worker(config: MatchConfig, scheduled: ScheduledGame) -> GameOutcome:
    a, b = _WORKER_PLAYERS
    return play_scheduled(a, b, config, scheduled)


@dataclass(frozen=True)
class MatchReport:
    a_name: str
    b_name: str
    outcomes: tuple[GameOutcome, ...] = field(default_factory=tuple)

    @property
    def wins(self) -> int:
        return sum(o.a_points == 1 for o in self.outcomes)

    @property
    def losses(self) -> int:
        return sum(o.a_points == 0 for o in self.outcomes)

    @property
    def draws(self) -> int:
        return sum(o.a_points == 0.5 for o in self.outcomes)

    @property
    def score(self) -> float:
        return sum(o.a_points for o in self.outcomes) / max(1, len(self.outcomes))

    @property
    def distinct_games(self) -> int:
        """Games that differ in at least one move (deterministic players replay the same few games)."""
        return len({o.moves_played for o in self.outcomes})

    def by_colour(self, colour: int) -> tuple[int, int, int]:
        """A's wins, losses and draws in the games it played with ``colour``."""
        points = [o.a_points for o in self.outcomes if o.a_colour == colour]
        return points.count(1.0), points.count(0.0), points.count(0.5)

    def summary(self) -> str:
        n = len(self.outcomes)
        low, high = wilson_interval(self.score, n)
        disputes = [o for o in self.outcomes if o.dispute]
        elo, elo_low, elo_high = (elo_difference(x) for x in (self.score, low, high))
        lines = [f"{self.a_name} vs {self.b_name}: {n} games ({self.distinct_games} distinct), {self.wins} wins, "
                 f"{self.losses} losses, {self.draws} draws" + (f" ({len(disputes)} disputed, counted as losses)"
                                                              if disputes else ""),
                 f"score {self.score:.3f} (95% CI {low:.3f} .. {high:.3f}); "
                 f"Elo difference {elo:+.0f} (95% CI {elo_low:+.0f} .. {elo_high:+.0f})",
                 "; ".join(f"as {name}: {'-'.join(map(str, self.by_colour(colour)))} (wins-losses-draws)"
                           for name, colour in (("Black", BLACK), ("White", WHITE)))]
        lines += [f"scoring dispute in game {o.index}: our rules {o.result}, {o.dispute}" for o in disputes]
        return "\n".join(lines)
