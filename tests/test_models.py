"""Shipped nets: model cards, the registry, and the front ends that fall back on the net for the board
size. No net is shipped yet, so each test writes a tiny one with its card into a folder of its own."""
import argparse
import io
import json

import pytest

from alphago_lite.agents.loading import AgentNotFound, find_checkpoint, load_agent
from alphago_lite.cli import main
from alphago_lite.models import (
    CARD_VERSION,
    MODELS_DIR_ENV,
    ModelCardError,
    ShippedModelNotFound,
    read_card,
    resolve_shipped,
    shipped_models,
)
from alphago_lite.net.checkpoint import save_checkpoint
from alphago_lite.net.features import num_planes
from alphago_lite.net.model import PolicyValueNet


def card_fields(size: int, **changes) -> dict:
    fields = {"card_version": CARD_VERSION, "board_size": size, "komi": 2.5, "config": f"configs/go{size}.yaml",
              "learner_steps": 1200, "games": 3400, "positions": 56000, "wall_clock_hours": 0.5,
              "cpu_hours": 1.0, "machine": "2-core test box", "commit": "0123456789abcdef",
              "strength": [{"opponent": "gnugo:10", "games": 100, "score": 0.93, "ci95": [0.86, 0.97],
                            "visits": 800, "command": f"alphago-lite match shipped gnugo:10 --size {size}"}]}
    fields.update(changes)
    return fields


def ship(folder, name: str, size: int, with_net: bool = True, **changes):
    """A tiny (untrained) net NAME.pt and its card NAME.json in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(card_fields(size, **changes)))
    if with_net:
        net = PolicyValueNet(size, num_planes("agz"), blocks=1, channels=8, value_hidden=8)
        save_checkpoint(folder / f"{name}.pt", net, feature_set="agz", step=1200)
    return folder / f"{name}.pt"


@pytest.fixture
def shipped(tmp_path, monkeypatch):
    folder = tmp_path / "models"
    ship(folder, "go5", 5)
    ship(folder, "go7", 7, with_net=False)  # a card alone is not a shipped net
    monkeypatch.setenv(MODELS_DIR_ENV, str(folder))
    return folder


def test_the_registry_lists_cards_that_have_their_net(shipped):
    [card] = shipped_models()
    assert (card.name, card.board_size, card.komi, card.checkpoint) == ("go5", 5, 2.5, shipped / "go5.pt")
    assert card.strength[0].ci95 == (0.86, 0.97) and card.strength[0].opponent == "gnugo:10"
    assert "93% vs gnugo:10 over 100 games (95% CI 86%..97%, 800 visits)" in card.describe()
    assert resolve_shipped("shipped", board_size=5) == card == resolve_shipped("shipped:go5")


def test_no_net_for_the_size_or_name_says_what_is_shipped(shipped):
    with pytest.raises(ShippedModelNotFound, match=r"no shipped net for 9x9 \(shipped: go5 \(5x5\)"):
        resolve_shipped("shipped", board_size=9)
    with pytest.raises(ShippedModelNotFound, match="no shipped net named 'go7'"):
        resolve_shipped("shipped:go7")
    with pytest.raises(ShippedModelNotFound, match="after 'shipped:'"):
        resolve_shipped("shipped:")


@pytest.mark.parametrize("changes, message", [
    ({"commit": None}, "field 'commit' = None is not a str"),
    ({"card_version": 99}, "card_version 99 is not supported"),
    ({"strength": [{"opponent": "gnugo:10"}]}, "no field strength\\[0\\].'games'"),
    ({"strength": [dict(card_fields(5)["strength"][0], ci95=[0.1])]}, "'ci95' = \\[0.1\\] is not \\[low, high\\]"),
])
def test_a_bad_card_is_refused_naming_the_field(tmp_path, changes, message):
    ship(tmp_path, "go5", 5, with_net=False, **changes)
    with pytest.raises(ModelCardError, match=message):
        read_card(tmp_path / "go5.json")


def test_a_card_without_a_field_names_it(tmp_path):
    fields = card_fields(5)
    del fields["cpu_hours"]
    (tmp_path / "go5.json").write_text(json.dumps(fields))
    with pytest.raises(ModelCardError, match="no field 'cpu_hours'"):
        read_card(tmp_path / "go5.json")


def test_front_ends_fall_back_on_the_net_shipped_for_the_board_size(shipped):
    assert find_checkpoint(board_size=5) == shipped / "go5.pt"
    with pytest.raises(AgentNotFound, match="give a checkpoint"):  # today's message where none is shipped
        find_checkpoint(board_size=9)
    agent = load_agent(find_checkpoint(board_size=5), visits=4)
    assert agent.board_size == 5 and agent.training_komi == 2.5  # the komi of its card


def test_a_shipped_net_searches_with_the_algorithm_its_card_states(tmp_path):
    folder = tmp_path / "models"
    plain = ship(folder, "plain", 5)
    gumbel = ship(folder, "gumbel", 5, search={"algorithm": "gumbel", "gumbel_considered": 4, "c_visit": 50.0,
                                                "c_scale": 1.0})
    assert read_card(folder / "gumbel.json").search["gumbel_considered"] == 4
    assert load_agent(plain, visits=4).cfg.algorithm == "puct"  # no search in the card: the defaults
    cfg = load_agent(gumbel, visits=4).cfg
    assert (cfg.algorithm, cfg.gumbel_considered, cfg.num_simulations) == ("gumbel", 4, 4)


def test_play_and_gtp_options_without_model_load_the_shipped_net(shipped):
    from alphago_lite.commands.play import add_agent_options, build_agent
    parser = argparse.ArgumentParser()
    add_agent_options(parser)
    parser.add_argument("--size", type=int)
    log = io.StringIO()
    agent = build_agent(parser.parse_args(["--size", "5", "--visits", "4", "--precision", "fp32"]), log=log)
    assert agent.board_size == 5 and str(shipped / "go5.pt") in log.getvalue()
    with pytest.raises(AgentNotFound):
        build_agent(parser.parse_args([]), log=log)  # default 9x9: nothing shipped for it


def test_match_plays_the_shipped_player(shipped, tmp_path):
    from alphago_lite.play.match import MatchConfig, make_player, run_match
    ours = make_player("shipped", visits=2, size=5)
    assert ours.name == "go5" and ours.agent.board_size == 5
    assert make_player("shipped:go5", visits=2).name == "go5"
    with pytest.raises(ShippedModelNotFound, match="for 9x9"):
        make_player("shipped", size=9)
    report = run_match(ours, make_player("random:3"), MatchConfig(games=2, size=5, komi=2.5, max_moves=20,
                                                                   out_dir=str(tmp_path / "m")), log=lambda _: None)
    assert len(report.outcomes) == 2


def test_models_command_lists_the_shipped_nets(shipped, tmp_path, capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("go5: 5x5, komi 2.5, 1200 learner steps, 3400 games, 1 CPU-hours") and "go7" not in out
    assert "alphago-lite match shipped gnugo:10 --size 5" in out
    assert main(["models", "--dir", str(tmp_path / "empty")]) == 0
    assert "no nets shipped yet" in capsys.readouterr().out


def test_the_wheel_ships_nets_and_cards():
    from pathlib import Path

    # setuptools' own reader (it carries a TOML parser on every Python this project supports)
    from setuptools.config.pyprojecttoml import read_configuration
    config = read_configuration(Path(__file__).resolve().parents[1] / "pyproject.toml")
    assert sorted(config["tool"]["setuptools"]["package-data"]["alphago_lite.models"]) == ["*.json", "*.pt"]
