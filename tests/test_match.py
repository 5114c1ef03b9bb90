"""Matches: statistics, player specs, and a real 9x9 game against GNU Go level 0."""
import math
import runpy
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from alphago_lite.agents.base import PolicyAgent
from alphago_lite.gtp import client as gtp_client
from alphago_lite.gtp.client import EngineNotFound, GtpClient, GtpCommandError, gnugo_command
from alphago_lite.net.evaluator import InProcessEvaluator
from alphago_lite.net.features import num_planes
from alphago_lite.net.model import PolicyValueNet
from alphago_lite.play.match import AgentPlayer, MatchConfig, make_player, run_match
from alphago_lite.ratings import elo_difference, wilson_interval
from alphago_lite.sgf import load_sgf

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "match_gnugo.py"


def match_gnugo_main(argv):
    return runpy.run_path(str(SCRIPT))["main"](argv)


def test_wilson_interval_and_elo_known_values():
    low, high = wilson_interval(0.5, 100)
    assert round(low, 4) == 0.4038 and round(high, 4) == 0.5962
    assert wilson_interval(0.0, 2)[0] == 0.0 and round(wilson_interval(0.0, 2)[1], 3) == 0.658
    assert round(elo_difference(0.75), 1) == 190.8 and elo_difference(0.5) == 0
    assert elo_difference(1.0) == math.inf and elo_difference(0.0) == -math.inf


def test_make_player_rejects_unknown_specs():
    with pytest.raises(ValueError, match="unknown player 'alphago'"):
        make_player("alphago")
    with pytest.raises(ValueError, match="no checkpoint file"):
        make_player("model:/nonexistent.pt")


def test_missing_gnugo_gets_an_install_hint(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(gtp_client, "GNUGO_FALLBACK_PATHS", ())
    with pytest.raises(EngineNotFound, match="apt-get install gnugo"):
        GtpClient(gnugo_command(0))


def test_gtp_client_raises_the_engines_message():
    with GtpClient(gnugo_command(0)) as client:
        assert client.send("boardsize 9") == ""
        with pytest.raises(GtpCommandError, match="unknown command"):
            client.send("frobnicate")
        assert client.send("play b E5") == ""
        assert "X" in client.send("showboard")


@pytest.mark.slow
def test_real_game_against_gnugo_level_0_gives_an_sgf_gnugo_loads(tmp_path):
    torch.manual_seed(0)
    net = PolicyValueNet(9, num_planes("agz"), blocks=1, channels=8)
    ours = AgentPlayer(PolicyAgent(InProcessEvaluator(net, 9, "agz")), name="tiny-net")
    gnugo = make_player("gnugo:0")
    log = []
    try:
        report = run_match(ours, gnugo, MatchConfig(games=1, size=9, komi=7.5, out_dir=str(tmp_path)),
                           log=log.append)
    finally:
        gnugo.close()
    outcome = report.outcomes[0]
    assert outcome.reason in ("two passes", "resignation", "move limit") and outcome.moves >= 2
    assert report.wins + report.losses + report.draws == 1 and len(log) == 1
    record = load_sgf(outcome.sgf_path)
    assert record.size == 9 and record.result == outcome.result and len(record.moves) == outcome.moves
    assert record.black_player == "tiny-net" and record.white_player == "gnugo-0"
    with GtpClient(gnugo_command(0)) as referee:
        referee.send(f"loadsgf {outcome.sgf_path}")   # raises GtpCommandError if GNU Go refuses it
        assert len(referee.send("showboard").splitlines()) >= 11
    assert "Elo difference" in report.summary()


def test_match_script_between_two_random_players(tmp_path, capsys):
    assert match_gnugo_main(["random:1", "random:2", "--games", "2", "--size", "5", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "random:1 vs random:2: 2 games" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["game_000.sgf", "game_001.sgf"]
    assert match_gnugo_main(["random", "nonsense", "--out", str(tmp_path)]) == 2


# ---------------------------------------------------------------- issue 13: honest scores, distinct games
from alphago_lite.go import BLACK, WHITE, Game
from alphago_lite.play.match import GameOutcome, MatchReport, draw_opening


def test_gnugo_in_a_match_captures_all_dead_stones():
    assert gnugo_command(1, capture_all_dead=True)[-1] == "--capture-all-dead"
    gnugo = make_player("gnugo:1")
    try:
        assert "--capture-all-dead" in gnugo.client.argv
    finally:
        gnugo.close()


def test_a_disputed_game_counts_as_a_loss_for_a():
    won = GameOutcome(0, BLACK, BLACK, "B+6.5", "two passes", 30, "g0.sgf", None, (1, 2))
    disputed = GameOutcome(1, WHITE, WHITE, "W+6.5", "two passes", 30, "g1.sgf", "gnugo-10 scores B+22.5", (3, 4))
    report = MatchReport("ours", "gnugo-10", (won, disputed))
    assert (report.wins, report.losses, report.score) == (1, 1, 0.5)
    assert "2 games (2 distinct), 1 wins, 1 losses, 0 draws (1 disputed, counted as losses)" in report.summary()
    assert "scoring dispute in game 1: our rules W+6.5, gnugo-10 scores B+22.5" in report.summary()
    # the disputed game was A's game as White: a loss there, the win is Black's
    assert "as Black: 1-0-0 (wins-losses-draws); as White: 0-1-0 (wins-losses-draws)" in report.summary()


def test_an_opening_follows_the_policy_and_never_passes():
    def first_legal(game: Game):  # all the mass on the first legal point; a pass would be likelier still
        probs = np.zeros(game.size * game.size + 1)
        probs[np.flatnonzero(game.legal_mask())[0]] = 1.0
        probs[-1] = 5.0
        return probs
    config = MatchConfig(size=5, opening_moves=3, seed=0)
    assert draw_opening(first_legal, config, np.random.default_rng(0)) == [0, 1, 2]
    with pytest.raises(ValueError, match="opening moves must be 0..24 on 5x5"):
        MatchConfig(size=5, opening_moves=25)


def _policy_player(seed: int):
    torch.manual_seed(seed)
    net = PolicyValueNet(5, num_planes("agz"), blocks=1, channels=8)
    return AgentPlayer(PolicyAgent(InProcessEvaluator(net, 5, "agz")), name=f"net{seed}")


def test_drawn_openings_make_deterministic_players_play_distinct_games(tmp_path):
    a, b = _policy_player(1), _policy_player(2)
    def match(**options):
        config = MatchConfig(games=6, size=5, komi=2.5, max_moves=30, out_dir=str(tmp_path), **options)
        return run_match(a, b, config, log=lambda _: None)
    assert match().distinct_games == 2  # greedy nets replay the same game per colour
    report = match(opening_moves=3, seed=7)
    assert report.distinct_games > 2
    for black_first, white_first in zip(report.outcomes[0::2], report.outcomes[1::2]):
        # each opening is played twice, colours swapped
        assert black_first.moves_played[:3] == white_first.moves_played[:3]
        assert (black_first.a_colour, white_first.a_colour) == (BLACK, WHITE)


@pytest.mark.slow
def test_a_5x5_match_against_gnugo_with_openings(tmp_path, capsys):
    from alphago_lite.cli import main
    assert main(["match", "random:1", "gnugo:0", "--games", "2", "--size", "5", "--komi", "2.5",
                 "--opening-moves", "2", "--seed", "3", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "random:1 vs gnugo-0: 2 games (" in out
    first, second = (load_sgf(tmp_path / f"game_00{i}.sgf") for i in (0, 1))
    assert first.moves[:2] == second.moves[:2]  # the same opening, colours swapped


@pytest.mark.slow  # two spawned processes, each importing torch and loading the net
def test_a_match_in_two_processes_plays_the_games_of_one_process(tmp_path, capsys):
    from alphago_lite.cli import main
    common = ["match", "shipped:go5", "shipped:go5", "--size", "5", "--komi", "2.5", "--games", "4", "--visits", "8",
              "--opening-moves", "2", "--seed", "3", "--precision", "fp32"]  # fp32: auto may time bf16 per process
    moves = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the workers: fp32 sums may differ in their last bits with more threads
    try:
        for jobs in (1, 2):
            out = tmp_path / f"jobs{jobs}"
            assert main(common + ["--jobs", str(jobs), "--out", str(out)]) == 0
            report = capsys.readouterr().out
            assert "go5 vs go5: 4 games" in report and all(f"game {i}:" in report for i in range(4))
            assert ("match: 4 games in 2 processes" in report) == (jobs == 2)
            moves[jobs] = [load_sgf(out / f"game_00{i}.sgf").moves for i in range(4)]
    finally:
        torch.set_num_threads(threads)
    assert moves[2] == moves[1]  # same openings, same deterministic players: the same four games
    assert moves[1][0][:2] == moves[1][1][:2] != moves[1][2][:2]  # one opening per pair of games


def test_jobs_must_be_positive(capsys):
    from alphago_lite.cli import main
    assert main(["match", "random:1", "random:2", "--jobs", "0"]) == 2
    assert "--jobs must be at least 1, got 0" in capsys.readouterr().err


def test_an_engine_error_crosses_from_a_match_worker_to_the_parent_whole():
    import pickle

    from alphago_lite.gtp.client import GtpCommandError
    error = pickle.loads(pickle.dumps(GtpCommandError("genmove B", "illegal move")))
    assert (error.command, error.message, str(error)) == ("genmove B", "illegal move",
                                                          "engine rejected 'genmove B': illegal move")
