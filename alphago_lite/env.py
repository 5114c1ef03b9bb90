"""``GoEnv``: a game of Go as a gymnasium environment, registered as ``alphago_lite/Go-v0``.

    import gymnasium, alphago_lite
    env = gymnasium.make("alphago_lite/Go-v0", size=9, komi=7.5)
    obs, info = env.reset(seed=0)

Vocabulary
----------
action        an int in ``0 .. size*size``: the flat point ``row * size + col`` (row 0 is the TOP line,
              as in ``go.coords``), or ``size*size`` for pass. There is no resign action.
mover         the player who made the move of the current ``step`` call. The agent plays BOTH colours:
              step after step the mover alternates Black, White, Black, ...
to_play       the player who moves next (1 Black, -1 White); also ``info["to_play"]``.
observation   a dict, always from the point of view of ``to_play``:
              ``"board"``        uint8 ``[3, size, size]``: plane 0 the stones of ``to_play`` ("own"),
                                 plane 1 the stones of the other colour ("opponent"), plane 2 all ones
                                 if Black is to play and all zeros if White is (komi breaks the symmetry
                                 between the colours, so a policy needs to know which one it is).
              ``"action_mask"``  int8 ``[size*size + 1]``: 1 where the action is legal now (pass is the
                                 last entry); all zeros once the episode has ended.

Reward convention
-----------------
The reward of a ``step`` belongs to the MOVER of that step. It is 0 on every step except the last one
of an episode, where it is +1 if the mover won, -1 if the mover lost and 0 for a draw (integer komi
only). Since the agent plays both colours, the reward for the other player at the end is the negation;
``info["winner"]`` (1 Black, -1 White, 0 draw, None while the game goes on) states the result without
reference to who moved last.

Episode end
-----------
terminated    two consecutive passes ended the game; it is scored by Tromp-Taylor area (``Game.score``).
truncated     the move limit (``max_moves``, default ``2 * size * size``) ended the game. The position is
              still scored as it stands and the reward is given as above: Go under a move limit has a
              well-defined result. (``terminated`` takes precedence if the last move was a second pass.)
              Do not add gymnasium's ``max_episode_steps``: that would cut the game off unscored.

Illegal actions (``illegal_move=``)
-----------------------------------
``"raise"``   (default) ``step`` raises ``IllegalMove`` (a ``ValueError`` naming the move, the reason and
              the board) and the environment is unchanged: the caller may step again with a legal move.
``"penalty"`` the episode ends (``terminated=True``) with reward -1 for the mover, the opponent is
              recorded as ``info["winner"]`` and ``info["illegal_move"]`` holds the reason (for example
              ``"point occupied"``). The board is left as it was before the attempt.
An action outside ``0 .. size*size`` is a programming error, not a move, and always raises
``ValueError``.

info (from ``reset`` and every ``step``)
----------------------------------------
``to_play``, ``winner``, ``score`` (area score of the position now: Black minus White minus komi),
``action_mask`` (bool ``[size*size + 1]``, equal to ``Game.legal_mask()``), ``illegal_move`` (None, or the
reason of a penalised illegal action).

Rendering: ``render_mode="ansi"`` makes ``render()`` return the board text of ``Game.render()``
(coordinates on all sides); ``"human"`` prints it after every ``reset`` and ``step``.
"""
from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from alphago_lite.go import BLACK, Game, IllegalMove

ENV_ID = "alphago_lite/Go-v0"
ILLEGAL_MOVE_MODES = ("raise", "penalty")


class GoEnv(gymnasium.Env):
    """Go for an agent that plays both colours; see the module docstring for every convention."""

    metadata = {"render_modes": ["ansi", "human"], "render_fps": 4}

    def __init__(self, size: int = 9, komi: float = 7.5, superko: str = "positional",
                 suicide: bool = False, max_moves: int | None = None,
                 render_mode: str | None = None, illegal_move: str = "raise"):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"unknown render_mode {render_mode!r}: expected None or one of "
                             f"{self.metadata['render_modes']}")
        if illegal_move not in ILLEGAL_MOVE_MODES:
            raise ValueError(f"unknown illegal_move {illegal_move!r}: expected one of "
                             f"{list(ILLEGAL_MOVE_MODES)}")
        self._rules = dict(size=size, komi=komi, superko=superko, suicide=suicide,
                           max_moves=max_moves)
        self._game = Game(**self._rules)  # validates the rules, so a bad one fails at construction
        self.size = size
        self.render_mode = render_mode
        self.illegal_move = illegal_move
        num_actions = size * size + 1
        self.action_space = spaces.Discrete(num_actions)
        self.observation_space = spaces.Dict({
            "board": spaces.Box(0, 1, shape=(3, size, size), dtype=np.uint8),
            "action_mask": spaces.MultiBinary(num_actions),
        })
        self._ended = False
        self._forfeit_winner: int | None = None  # set when a penalised illegal move ends the episode

    @property
    def game(self) -> Game:
        """The live game, for inspection (history, captures, SGF export). Do not play moves on it."""
        return self._game

    # ------------------------------------------------------------------------------ gym API ---
    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        super().reset(seed=seed)  # Go has no randomness; this only seeds ``self.np_random``
        if options:
            raise ValueError(f"GoEnv.reset takes no options, got {sorted(options)}")
        self._game = Game(**self._rules)
        self._ended = False
        self._forfeit_winner = None
        self._render_if_human()
        return self._observation(), self._info()

    def step(self, action) -> tuple[dict, float, bool, bool, dict]:
        if self._ended:
            raise RuntimeError("step() called after the episode ended; call reset() first")
        move = self._check_action(action)
        mover = self._game.to_play
        try:
            self._game.play(move)
        except IllegalMove as err:
            if self.illegal_move == "raise":
                raise
            self._ended = True
            self._forfeit_winner = -mover
            self._render_if_human()
            return self._observation(), -1.0, True, False, self._info(illegal=err.reason)
        reward, terminated, truncated = 0.0, False, False
        if self._game.is_over:
            self._ended = True
            terminated = self._game.consecutive_passes >= 2
            truncated = not terminated  # the only other way a resign-free game ends is the limit
            reward = float(self._game.winner * mover)  # +1 mover won, -1 lost, 0 draw
        self._render_if_human()
        return self._observation(), reward, terminated, truncated, self._info()

    def render(self) -> str | None:
        if self.render_mode is None:
            gymnasium.logger.warn("render() called without a render_mode; pass render_mode='ansi' "
                                  "or 'human' to GoEnv")
            return None
        text = self._game.render()
        if self.render_mode == "ansi":
            return text
        print(text)
        return None

    # ------------------------------------------------------------------------------ helpers ---
    def _check_action(self, action) -> int:
        # numpy integers are fine; floats, bools and out-of-range values are caller bugs
        if isinstance(action, (bool, np.bool_)) or not isinstance(action, (int, np.integer)):
            raise ValueError(f"action must be an integer in 0..{self.size * self.size}, "
                             f"got {action!r}")
        if not self.action_space.contains(int(action)):
            raise ValueError(f"action {int(action)} is outside 0..{self.size * self.size} "
                             f"({self.size * self.size} = pass)")
        return int(action)

    def _mask(self) -> np.ndarray:
        if self._ended:  # also covers a penalised illegal move, after which the game is not "over"
            return np.zeros(self.size * self.size + 1, np.bool_)
        return self._game.legal_mask()

    def _observation(self) -> dict[str, np.ndarray]:
        board, to_play = self._game.board, self._game.to_play
        planes = np.empty((3, self.size, self.size), np.uint8)
        planes[0] = board == to_play
        planes[1] = board == -to_play
        planes[2] = 1 if to_play == BLACK else 0
        return {"board": planes, "action_mask": self._mask().astype(np.int8)}

    def _info(self, illegal: str | None = None) -> dict[str, Any]:
        winner = self._forfeit_winner if self._forfeit_winner is not None else self._game.winner
        return {"to_play": self._game.to_play, "winner": winner, "score": self._game.score(),
                "action_mask": self._mask(), "illegal_move": illegal}

    def _render_if_human(self) -> None:
        if self.render_mode == "human":
            self.render()
