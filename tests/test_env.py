"""The gymnasium environment: API conformance, scripted episodes with known rewards, illegal actions."""
import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import alphago_lite  # noqa: F401  (registers alphago_lite/Go-v0)
from alphago_lite.env import GoEnv
from alphago_lite.go import BLACK, WHITE, Game, IllegalMove
from alphago_lite.go.coords import from_gtp

PASS_5 = 25  # the pass action on 5x5


def play(env, *gtp_moves):
    """Step through moves given as GTP text; return the last step's result."""
    result = None
    for move in gtp_moves:
        result = env.step(from_gtp(move, env.unwrapped.size))
    return result


# ----------------------------------------------------------------------------- conformance ---
def test_check_env_passes_without_warnings_including_render_modes():
    env = gymnasium.make("alphago_lite/Go-v0", size=5, komi=0.5, render_mode="ansi")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any checker complaint fails the test
        check_env(env.unwrapped, skip_render_check=False)


def test_make_after_import_passes_the_rules_through():
    env = gymnasium.make("alphago_lite/Go-v0", size=5, komi=0.5)
    assert isinstance(env.unwrapped, GoEnv)
    assert env.action_space == gymnasium.spaces.Discrete(26)
    assert env.unwrapped.game.komi == 0.5 and env.unwrapped.game.size == 5
    obs, info = env.reset(seed=3)
    assert obs["board"].shape == (3, 5, 5) and obs["board"].dtype == np.uint8
    assert obs["action_mask"].tolist() == [1] * 26
    assert info["to_play"] == BLACK and info["winner"] is None and info["score"] == -0.5


@pytest.mark.parametrize("kwargs, named", [
    (dict(illegal_move="ignore"), "illegal_move"),
    (dict(render_mode="rgb_array"), "render_mode"),
    (dict(size=1), "board size"),
    (dict(superko="japanese"), "superko"),
])
def test_bad_arguments_are_rejected_by_name(kwargs, named):
    with pytest.raises(ValueError, match=named):
        GoEnv(**kwargs)


# ------------------------------------------------------------------------------ observation ---
def test_planes_are_from_the_point_of_view_of_the_player_to_move():
    env = GoEnv(size=5, komi=0.5)
    env.reset()
    obs, *_ = play(env, "C3")                      # black at row 2, col 2; white to play
    own, opp, black_to_play = obs["board"]
    assert own.sum() == 0 and opp[2, 2] == 1 and opp.sum() == 1
    assert black_to_play.sum() == 0
    obs, *_ = play(env, "A1")                      # white at row 4, col 0; black to play
    own, opp, black_to_play = obs["board"]
    assert own[2, 2] == 1 and own.sum() == 1 and opp[4, 0] == 1 and opp.sum() == 1
    assert black_to_play.tolist() == np.ones((5, 5)).tolist()


def test_action_mask_equals_game_legal_mask_through_a_random_game():
    env = GoEnv(size=5, komi=0.5)
    obs, info = env.reset(seed=7)
    reference = Game(size=5, komi=0.5)
    rng = np.random.default_rng(7)
    steps = 0
    while True:
        expected = reference.legal_mask()
        assert obs["action_mask"].astype(bool).tolist() == expected.tolist()
        assert info["action_mask"].tolist() == expected.tolist()
        assert info["to_play"] == reference.to_play
        legal = np.flatnonzero(expected[:-1])      # stones only, so the game runs into captures/ko
        move = int(rng.choice(legal)) if len(legal) and steps < 60 else PASS_5
        reference.play(move)
        obs, _, terminated, truncated, info = env.step(move)
        steps += 1
        if terminated or truncated:
            break
    assert reference.is_over and info["winner"] == reference.winner
    assert obs["action_mask"].sum() == 0 and not info["action_mask"].any()
    assert reference.captures[BLACK] + reference.captures[WHITE] > 0  # the walk did reach captures


# ------------------------------------------------------------------------- reward convention ---
def test_two_passes_end_the_game_and_reward_the_winning_final_mover():
    env = GoEnv(size=5, komi=0.5)
    env.reset(seed=0)
    obs, reward, terminated, truncated, info = play(env, "C3")
    assert (reward, terminated, truncated) == (0.0, False, False)
    _, reward, terminated, truncated, info = env.step(PASS_5)        # white passes
    assert (reward, terminated, truncated) == (0.0, False, False)
    _, reward, terminated, truncated, info = env.step(PASS_5)        # black passes: game over
    assert (reward, terminated, truncated) == (1.0, True, False)     # black moved last and won
    assert info["winner"] == BLACK and info["score"] == 24.5


def test_final_mover_who_loses_gets_minus_one():
    env = GoEnv(size=5, komi=-0.5)   # empty board, negative komi: Black wins by 0.5
    env.reset()
    env.step(PASS_5)
    _, reward, terminated, truncated, info = env.step(PASS_5)        # white moved last
    assert (reward, terminated, truncated) == (-1.0, True, False)
    assert info["winner"] == BLACK and info["score"] == 0.5


def test_integer_komi_draw_gives_zero():
    env = GoEnv(size=5, komi=0)
    env.reset()
    env.step(PASS_5)
    _, reward, terminated, _, info = env.step(PASS_5)
    assert (reward, terminated, info["winner"], info["score"]) == (0.0, True, 0, 0.0)


def test_move_limit_truncates_but_still_scores():
    env = GoEnv(size=5, komi=0.5, max_moves=2)
    env.reset()
    play(env, "C3")
    _, reward, terminated, truncated, info = env.step(PASS_5)        # white's move hits the limit
    assert (reward, terminated, truncated) == (-1.0, False, True)    # black owns the board
    assert info["winner"] == BLACK and info["score"] == 24.5


def test_step_after_the_end_asks_for_reset():
    env = GoEnv(size=5)
    env.reset()
    env.step(PASS_5)
    env.step(PASS_5)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)
    obs, info = env.reset()
    assert obs["action_mask"].sum() == 26 and info["winner"] is None


# --------------------------------------------------------------------------- illegal actions ---
def test_illegal_move_raises_and_leaves_the_env_unchanged():
    env = GoEnv(size=5, illegal_move="raise")
    env.reset()
    play(env, "C3")
    with pytest.raises(IllegalMove, match="occupied"):
        play(env, "C3")
    assert env.game.history == [from_gtp("C3", 5)] and env.game.to_play == WHITE
    _, reward, terminated, _, info = play(env, "D4")                 # white may still move
    assert (reward, terminated, info["to_play"]) == (0.0, False, BLACK)


def test_illegal_move_with_penalty_ends_the_episode_against_the_mover():
    env = GoEnv(size=5, komi=0.5, illegal_move="penalty")
    env.reset()
    play(env, "C3")
    obs, reward, terminated, truncated, info = play(env, "C3")       # white tries an occupied point
    assert (reward, terminated, truncated) == (-1.0, True, False)
    assert info["winner"] == BLACK and info["illegal_move"] == "point occupied"
    assert obs["action_mask"].sum() == 0
    assert env.game.history == [from_gtp("C3", 5)]                    # board as before the attempt
    with pytest.raises(RuntimeError):
        env.step(PASS_5)


@pytest.mark.parametrize("mode", ["raise", "penalty"])
@pytest.mark.parametrize("action", [26, -1, 3.0, True])
def test_actions_outside_the_space_are_errors_in_both_modes(mode, action):
    env = GoEnv(size=5, illegal_move=mode)
    env.reset()
    with pytest.raises(ValueError, match="action"):
        env.step(action)
    assert env.game.move_number == 0


def test_numpy_integer_actions_are_accepted():
    env = GoEnv(size=5)
    env.reset()
    env.step(np.int64(12))
    assert env.game.board[2, 2] == BLACK


# --------------------------------------------------------------------------------- rendering ---
def test_ansi_render_returns_the_board_with_coordinates():
    env = GoEnv(size=5, render_mode="ansi")
    env.reset()
    play(env, "C3")
    text = env.render()
    lines = text.splitlines()
    assert lines[0].split() == ["A", "B", "C", "D", "E"] and lines[6].split() == lines[0].split()
    assert lines[3].split()[0] == "3" and lines[3].split()[-1] == "3"
    assert "(X)" in lines[3]                                           # the last move, marked
    assert text == env.game.render()


def test_human_render_prints_the_board_on_every_step(capsys):
    env = GoEnv(size=5, render_mode="human")
    env.reset()
    play(env, "C3")
    printed = capsys.readouterr().out
    assert printed.count("A B C D E") == 4                            # two boards, header and footer
    assert "(X)" in printed and env.render() is None
