"""Matches: statistics, player specs, and a real 9x9 game against GNU Go level 0."""
import math
import runpy
import shutil
from pathlib import Path

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
