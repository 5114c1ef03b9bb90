"""What a user types at the front ends (play, gtp, match): komi, board size, device, which checkpoint,
Ctrl-C. Every refusal is one line naming the problem, never a traceback."""
import io
import math
import os
import re
import select
import signal
import subprocess
import sys

import pytest
import torch
from child_processes import default_ctrl_c

from alphago_lite.agents.base import RandomAgent
from alphago_lite.cli import main
from alphago_lite.go import Game
from alphago_lite.gtp.engine import EngineConfig, GtpEngine
from alphago_lite.net.checkpoint import save_checkpoint
from alphago_lite.net.features import num_planes
from alphago_lite.net.model import PolicyValueNet
from alphago_lite.sgf import load_sgf

COMMANDS = {"play": ["play", "--random"], "gtp": ["gtp", "--random"],
            "match": ["match", "random:1", "random:2", "--games", "1"]}


@pytest.fixture(autouse=True)
def quiet_input(monkeypatch, tmp_path):
    """Each command reads 'quit' (a GTP engine needs stdin's bytes too) and writes its files (a match's
    SGF, a saved game) into the test's folder."""
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"quit\n")))
    monkeypatch.chdir(tmp_path)


def usage_error(argv, capsys):
    """argparse's refusal of ``argv``: (exit code, the last line on stderr)."""
    with pytest.raises(SystemExit) as stop:
        main(argv)
    return stop.value.code, capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("komi", ["nan", "inf", "-inf", "NaN"])
def test_a_komi_that_is_not_finite_is_refused(command, komi, capsys):
    assert usage_error(COMMANDS[command] + [f"--komi={komi}"], capsys) == (
        2, f"alphago-lite {command}: error: argument --komi: '{komi}' is not a finite number")


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("size", ["0", "1", "26", "nine"])
def test_a_board_size_outside_2_to_25_is_refused(command, size, capsys):
    assert usage_error(COMMANDS[command] + ["--size", size], capsys) == (
        2, f"alphago-lite {command}: error: argument --size: '{size}' is not a board size from 2 to 25")


def test_the_game_and_the_gtp_engine_refuse_a_komi_that_is_not_finite():
    for komi in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError, match="komi must be a finite number"):
            Game(size=9, komi=komi)
        with pytest.raises(ValueError, match="komi must be a finite number"):
            GtpEngine(RandomAgent(), EngineConfig(komi=komi))


@pytest.fixture
def run_dir(tmp_path):
    """A run directory holding one 5x5 checkpoint (ckpt-00000010.pt)."""
    net = PolicyValueNet(5, num_planes("agz"), blocks=1, channels=8)
    save_checkpoint(tmp_path / "run" / "checkpoints" / "ckpt-00000010.pt", net, feature_set="agz", step=10)
    return tmp_path / "run"


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("device, problem", [
    ("cuda", r"this torch \S+ (was built without CUDA|sees no CUDA device); use --device cpu"),
    ("bogus", r"not a device \(cpu, cuda, cuda:N or auto\)"),
])
def test_a_device_this_torch_cannot_use_is_a_one_line_error(command, device, problem, run_dir, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    checkpoint = run_dir / "checkpoints" / "ckpt-00000010.pt"
    argv = {"play": ["play", "--model", str(checkpoint)], "gtp": ["gtp", "--model", str(checkpoint)],
            "match": ["match", f"model:{checkpoint}", "random", "--games", "1", "--size", "5"]}[command]
    assert main(argv + ["--device", device]) == 2
    assert re.fullmatch(f"alphago-lite {command}: --device {device}: {problem}\n", capsys.readouterr().err)


def test_play_and_gtp_say_which_checkpoint_of_a_run_they_play(run_dir, capsys, monkeypatch):
    newest = run_dir / "checkpoints" / "ckpt-00000010.pt"
    assert main(["play", "--run", str(run_dir), "--visits", "2"]) == 0
    assert capsys.readouterr().out.startswith(f"Loaded checkpoint {newest}\nYou play Black.")
    best = save_checkpoint(run_dir / "checkpoints" / "best.pt", PolicyValueNet(5, num_planes("agz"), 1, 8),
                           feature_set="agz", step=5)
    os.utime(best, (1, 1))  # older than the newest checkpoint, and still the one played
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"name\nquit\n")))
    assert main(["gtp", "--run", str(run_dir), "--visits", "2"]) == 0
    out, err = capsys.readouterr()
    assert out == "= alphago-lite\n\n= \n\n" and err == f"Loaded checkpoint {best}\n"  # stdout speaks GTP only


def test_without_a_model_play_suggests_random(capsys):
    assert main(["play", "--size", "13"]) == 2  # no net is shipped for 13x13 (9x9 would play the shipped go9)
    assert "or play a random player with --random" in capsys.readouterr().err


def test_ctrl_c_while_the_net_loads_exits_130_quietly(capsys, monkeypatch):
    def interrupted(args, log=None):
        raise KeyboardInterrupt
    monkeypatch.setattr("alphago_lite.commands.play.build_agent", interrupted)
    try:
        assert main(["play", "--random"]) == 130
    except KeyboardInterrupt:  # would stop pytest itself
        pytest.fail("Ctrl-C escaped from the play command")
    assert capsys.readouterr().err == "\nInterrupted.\n"


def read_until(stream, text, count):
    """Bytes read from ``stream`` until ``text`` appeared ``count`` times (or the stream ended)."""
    seen = b""
    while seen.count(text) < count:
        ready, _, _ = select.select([stream], [], [], 120)
        chunk = os.read(stream.fileno(), 4096) if ready else b""
        if not chunk:
            break
        seen += chunk
    return seen


@pytest.mark.slow
def test_ctrl_c_in_the_play_command_saves_the_game_and_exits_130_without_a_traceback(tmp_path):
    exe = os.path.join(os.path.dirname(sys.executable), "alphago-lite")
    game = subprocess.Popen([exe, "play", "--random", "--seed", "1", "--size", "5"], cwd=tmp_path,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=default_ctrl_c)
    game.stdin.write(b"C3\n")
    game.stdin.flush()
    shown = read_until(game.stdout, b"black> ", 2)  # the agent has answered: a prompt for the next move
    assert b"The agent plays" in shown
    game.send_signal(signal.SIGINT)
    out, err = game.communicate(timeout=120)
    saved = list(tmp_path.glob("alphago-lite-*.sgf"))
    # once seen on a loaded CI machine: no file saved (this says how the process ended, to find out why)
    assert len(saved) == 1, f"saved {saved}, exit {game.returncode}\nstdout: {out[-1500:]!r}\nstderr: {err[-1500:]!r}"
    [saved] = saved
    assert game.returncode == 130 and err == b"" and f"Saved {saved.name}.".encode() in out
    assert len(load_sgf(saved).moves) == 2
