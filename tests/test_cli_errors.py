"""A user's mistake at the console script is one or two lines on stderr and a non-zero exit code, never
a traceback; a bug keeps its traceback, and ``--debug`` shows the traceback of any error.

Most cases call ``cli.main`` in this process (what it prints is what the console script prints); the
slow ones run the console script as a process, the way a user does."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from alphago_lite.cli import main, user_error_text
from alphago_lite.config import ConfigError

REPO = Path(__file__).resolve().parent.parent
TINY = str(REPO / "configs" / "tiny.yaml")


def error_lines(capsys) -> list[str]:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.splitlines()


@pytest.mark.parametrize("argv, named", [
    (["train", TINY, "search.num_simulations=-1"], "'search.num_simulations': must be >= 1 (got -1)"),
    (["config", TINY, "game.bogus=1"], "'game.bogus': unknown key"),
    (["config", TINY, "search.num_simulations"], "bad override 'search.num_simulations'"),
])
def test_a_bad_config_key_or_value_is_one_line_naming_it(argv, named, capsys):
    assert main(argv) == 2
    [line] = error_lines(capsys)
    assert line.startswith("error: ") and named in line


def test_a_yaml_syntax_error_names_the_file_and_the_line(tmp_path, capsys):
    broken = tmp_path / "broken.yaml"
    broken.write_text("search:\n  num_simulations: 8\nlearner: [1,\n")
    assert main(["train", str(broken)]) == 2
    [line] = error_lines(capsys)
    assert line.startswith(f"error: {broken}: invalid YAML at line 4")


def test_a_missing_file_or_a_directory_as_config_is_one_line(tmp_path, capsys):
    assert main(["train", str(tmp_path / "nothing.yaml")]) == 2
    assert error_lines(capsys) == [f"error: {tmp_path / 'nothing.yaml'}: no such file or directory"]
    assert main(["config", str(tmp_path)]) == 2
    assert error_lines(capsys) == [f"error: {tmp_path} is a directory, not a config file (nor a run "
                                   "directory: no config.yaml in it)"]


def test_a_file_that_is_not_text_is_one_line(tmp_path, capsys):
    binary = tmp_path / "net.pt"
    binary.write_bytes(bytes(range(256)))
    assert main(["config", str(binary)]) == 2
    assert error_lines(capsys) == [f"error: {binary}: not a YAML config (not UTF-8 text)"]


def tiny_net_checkpoint(path: Path) -> Path:
    from alphago_lite.net.checkpoint import save_checkpoint
    from alphago_lite.net.features import num_planes
    from alphago_lite.net.model import PolicyValueNet
    return save_checkpoint(path, PolicyValueNet(5, num_planes("agz"), blocks=1, channels=8), feature_set="agz",
                           step=10)


def test_an_existing_run_without_resume_says_how_to_continue_it(tmp_path, capsys):
    run_dir = tmp_path / "run"
    tiny_net_checkpoint(run_dir / "checkpoints" / "ckpt-00000010.pt")
    assert main(["train", TINY, f"run_dir={run_dir}"]) == 2
    [line] = error_lines(capsys)
    assert "already holds checkpoints" in line and f"alphago-lite train --resume {run_dir}" in line


def test_a_bad_checkpoint_is_at_most_two_lines_naming_it(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint" * 100)
    assert main(["selfplay", "--model", str(bad), "--out", str(tmp_path / "out")]) == 2
    lines = error_lines(capsys)
    assert 1 <= len(lines) <= 2 and lines[0].startswith(f"error: checkpoint {bad}")


def test_selfplay_refuses_a_config_for_another_board(tmp_path, capsys):
    net = tiny_net_checkpoint(tmp_path / "net.pt")
    assert main(["selfplay", "--model", str(net), "--out", str(tmp_path / "out"), "game.size=7"]) == 2
    assert error_lines(capsys) == ["error: game.size is 7 but the checkpoint plays on 5x5"]


def test_a_message_of_many_lines_keeps_its_first_and_says_where_the_rest_is():
    text = user_error_text(ConfigError("first line\nsecond\nthird"))
    assert text.splitlines() == ["error: first line", "(the full message: run again with alphago-lite --debug ...)"]


def test_debug_shows_the_traceback_of_a_user_error():
    with pytest.raises(ConfigError, match="game.bogus"):
        main(["--debug", "config", TINY, "game.bogus=1"])


def test_a_bug_keeps_its_traceback(monkeypatch):
    def broken(args):
        raise KeyError("a bug, not a user error")

    monkeypatch.setattr("alphago_lite.commands.config.run", broken)
    with pytest.raises(KeyError):
        main(["config", TINY])


# ------------------------------------------------------------------- the console script itself ---

def console(*argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "alphago_lite.cli", *argv], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=300)


@pytest.mark.slow
@pytest.mark.parametrize("argv, named", [
    (["train", "configs/tiny.yaml", "search.num_simulations=-1"], "search.num_simulations"),
    (["config", "configs/tiny.yaml", "game.bogus=1"], "game.bogus"),
])
def test_the_console_script_prints_one_line_and_exits_2(argv, named):
    done = console(*argv)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith("error: ") and named in line


@pytest.mark.slow
def test_the_console_script_with_debug_prints_the_traceback():
    done = console("--debug", "config", "configs/tiny.yaml", "game.bogus=1")
    assert done.returncode == 1
    assert "Traceback" in done.stderr and "game.bogus" in done.stderr.splitlines()[-1]


def test_overrides_may_follow_the_options():
    from alphago_lite.cli import build_parser, parse_command_line
    argv = ["train", "configs/go7.yaml", "run_dir=r", "--init-from", "net.pt", "learner.max_minutes=30", "seed=3"]
    args = parse_command_line(build_parser(only="train"), argv)
    assert (args.config, args.init_from) == ("configs/go7.yaml", "net.pt")
    assert args.overrides == ["run_dir=r", "learner.max_minutes=30", "seed=3"]  # in the order given


def test_a_stray_word_after_the_options_is_still_an_error(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["train", "configs/go7.yaml", "--init-from", "net.pt", "oops"])
    assert stop.value.code == 2 and "unrecognized arguments: oops" in capsys.readouterr().err
