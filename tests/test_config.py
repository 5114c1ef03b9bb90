"""Tests of alphago_lite.config: defaults, YAML files, dotted overrides, rejections, round trip."""

import dataclasses
import glob
import os

import pytest

from alphago_lite.config import (
    CONFIG_FILENAME,
    Config,
    ConfigError,
    GameConfig,
    SearchConfig,
    SelfPlayConfig,
    apply_overrides,
    config_to_dict,
    describe_config,
    load_config,
    resolved_dirichlet_alpha,
    resolved_max_moves,
    resolved_temperature_moves,
    save_config,
)

CONFIG_DIR = os.path.join(os.path.dirname(__file__), os.pardir, "configs")


def write(tmp_path, text, name="exp.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def rejects(overrides, key, match, path=None):
    """Assert that loading fails with a ConfigError naming ``key`` whose message matches ``match``."""
    with pytest.raises(ConfigError, match=match) as info:
        load_config(path, overrides)
    assert info.value.key == key
    return info.value


# ----------------------------------------------------------------------------- defaults


def test_defaults_match_the_documented_values():
    cfg = load_config()
    assert cfg == Config()
    assert (cfg.version, cfg.run_dir, cfg.seed) == (1, "runs/default", 0)
    assert (cfg.game.size, cfg.game.komi, cfg.game.superko, cfg.game.max_moves) == (9, 7.5, "positional", None)
    assert (cfg.model.blocks, cfg.model.channels, cfg.model.feature_set) == (6, 64, "agz")
    assert (cfg.search.num_simulations, cfg.search.c_puct, cfg.search.dirichlet_alpha) == (200, 1.25, None)
    assert (cfg.learner.optimizer, cfg.learner.lr, cfg.learner.lr_milestones) == ("sgd", 0.02, ())
    assert cfg.cluster.address is None
    assert cfg.inference.device == "auto"


def test_sections_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Config().search.c_puct = 2.0


def test_resolved_values_derive_from_board_size():
    assert resolved_max_moves(GameConfig(size=9)) == 162
    assert resolved_max_moves(GameConfig(size=9, max_moves=50)) == 50
    assert resolved_dirichlet_alpha(SearchConfig(), 19) == pytest.approx(0.03)
    assert resolved_dirichlet_alpha(SearchConfig(), 9) == pytest.approx(0.03 * 361 / 81)
    assert resolved_dirichlet_alpha(SearchConfig(dirichlet_alpha=0.5), 9) == 0.5
    assert resolved_temperature_moves(SearchConfig(), 9) == 10
    assert resolved_temperature_moves(SearchConfig(temperature_moves=0), 9) == 0


# ----------------------------------------------------------------------------- shipped files


def test_every_shipped_config_loads():
    paths = sorted(glob.glob(os.path.join(CONFIG_DIR, "*.yaml")))
    names = [os.path.basename(p) for p in paths]
    assert {"tiny.yaml", "go9_cpu.yaml", "go9_gpu.yaml", "go19_cluster.yaml"} <= set(names)
    for path in paths:
        cfg = load_config(path)
        assert cfg.run_dir == "runs/" + os.path.basename(path)[: -len(".yaml")]
        with open(path) as f:
            assert f.readline().startswith("#"), f"{path} needs a header comment"


def test_shipped_config_shapes():
    tiny = load_config(os.path.join(CONFIG_DIR, "tiny.yaml"))
    assert (tiny.game.size, tiny.model.blocks, tiny.model.channels) == (5, 2, 16)
    assert tiny.inference.device == "cpu" and tiny.selfplay.num_workers == 1
    assert tiny.learner.total_steps <= 3000  # the README promises a run of a few minutes
    gpu = load_config(os.path.join(CONFIG_DIR, "go9_gpu.yaml"))
    assert (gpu.model.blocks, gpu.model.channels, gpu.inference.device) == (10, 128, "cuda")
    big = load_config(os.path.join(CONFIG_DIR, "go19_cluster.yaml"))
    assert (big.game.size, big.model.blocks, big.cluster.address) == (19, 20, "auto")


# ----------------------------------------------------------------------------- YAML and overrides


def test_yaml_file_overrides_only_what_it_names(tmp_path):
    path = write(tmp_path, "seed: 7\nsearch:\n  num_simulations: 50\n  c_puct: 2\nlearner:\n  weight_decay: 3e-5\n")
    cfg = load_config(path)
    assert cfg.seed == 7
    assert cfg.search.num_simulations == 50
    assert cfg.search.c_puct == 2.0 and isinstance(cfg.search.c_puct, float)
    assert cfg.learner.weight_decay == 3e-5  # YAML 1.1 would have read "3e-5" as a string
    assert cfg.search.fpu_reduction == 0.25  # untouched default
    assert cfg.game == GameConfig()


def test_empty_file_and_empty_section_mean_defaults(tmp_path):
    assert load_config(write(tmp_path, "# nothing yet\n")) == Config()
    assert load_config(write(tmp_path, "search:\n  # num_simulations: 5\n", "b.yaml")) == Config()


def test_dotted_overrides_of_each_type(tmp_path):
    path = write(tmp_path, "search:\n  num_simulations: 50\n")
    cfg = load_config(path, [
        "search.num_simulations=400",      # int, and overrides beat the file
        "search.c_puct=1.5",               # float
        "learner.lr=1e-3",                 # float in exponent form
        "search.dirichlet_alpha=0.3",      # optional float
        "game.max_moves=null",             # None
        "game.suicide=true",               # bool
        "game.superko=situational",        # choice
        "run_dir=runs/exp 1",              # string with a space
        "learner.lr_schedule=step",
        "learner.lr_milestones=[100, 200]",  # list -> tuple
        "cluster.address=ray://head:10001",
    ])
    assert cfg.search.num_simulations == 400
    assert cfg.search.c_puct == 1.5
    assert cfg.learner.lr == 0.001
    assert cfg.search.dirichlet_alpha == 0.3
    assert cfg.game.max_moves is None
    assert cfg.game.suicide is True
    assert cfg.game.superko == "situational"
    assert cfg.run_dir == "runs/exp 1"
    assert cfg.learner.lr_milestones == (100, 200)
    assert cfg.cluster.address == "ray://head:10001"


def test_integral_float_is_accepted_for_an_int():
    assert load_config(None, ["learner.total_steps=1e4"]).learner.total_steps == 10000
    assert load_config(None, ["game.size=19.0"]).game.size == 19


def test_apply_overrides_to_an_existing_config():
    cfg = apply_overrides(Config(seed=3), ["model.blocks=10"])
    assert cfg.model.blocks == 10 and cfg.seed == 3


# ----------------------------------------------------------------------------- rejections


def test_unknown_top_level_key_in_yaml(tmp_path):
    err = rejects([], "serach", "unknown key; did you mean 'search'", write(tmp_path, "serach: {}\n"))
    assert "'serach'" in str(err)


def test_unknown_nested_key_in_yaml_and_override(tmp_path):
    rejects([], "search.num_simulation", "did you mean 'num_simulations'",
            write(tmp_path, "search:\n  num_simulation: 5\n"))
    rejects(["learner.momentun=0.5"], "learner.momentun", "unknown key")
    rejects(["nosuch.key=1"], "nosuch", "unknown key")


@pytest.mark.parametrize("override, key, match", [
    ("search.num_simulations=many", "search.num_simulations", "expected int, got str"),
    ("search.num_simulations=2.5", "search.num_simulations", "expected an integer"),
    ("search.num_simulations=true", "search.num_simulations", "expected int, got bool"),
    ("search.c_puct=false", "search.c_puct", "expected float, got bool"),
    ("game.suicide=1", "game.suicide", "expected bool, got int"),
    ("game.suicide=no", "game.suicide", "expected bool, got str"),  # YAML 1.2: 'no' is a string
    ("run_dir=5", "run_dir", "expected str, got int"),
    ("learner.lr_milestones=5", "learner.lr_milestones", "expected tuple"),
    ("learner.lr_milestones=[1, x]", "learner.lr_milestones[1]", "expected int"),
    ("search=5", "search", "is a section"),
    ("game.size.x=1", "game.size", "expected int, got dict"),
])
def test_wrong_types_are_rejected(override, key, match):
    rejects([override], key, match)


@pytest.mark.parametrize("override, key, match", [
    ("game.size=1", "game.size", ">= 2"),
    ("game.size=26", "game.size", "<= 25"),
    ("game.komi=7.3", "game.komi", "multiple of 0.5"),
    ("game.superko=foo", "game.superko", "one of 'positional', 'situational', 'simple'"),
    ("learner.lr=-0.1", "learner.lr", "> 0"),
    ("learner.lr=.nan", "learner.lr", "finite"),
    ("search.c_puct=0", "search.c_puct", "> 0"),
    ("search.noise_weight=1.5", "search.noise_weight", "<= 1"),
    ("inference.device=tpu", "inference.device", "one of"),
    ("learner.lr_schedule=step", "learner.lr_milestones", "needs at least one"),
    ("learner.lr_milestones=[200, 100]", "learner.lr_milestones", "strictly increasing"),
    ("replay.window_max_games=10", "replay.window_max_games", ">= window_min_games"),
    ("selfplay.full_search_prob=0.5", "selfplay.cheap_simulations", ">= 1 when full_search_prob"),
    ("cluster.address=http://x", "cluster.address", "'auto'"),
    ("version=2", "version", "unsupported config version"),
])
def test_impossible_values_are_rejected(override, key, match):
    err = rejects([override], key, match)
    assert repr(err.value) in str(err)  # the message shows the bad value


def test_cross_section_rule_is_rejected():
    rejects(["selfplay.full_search_prob=0.5", "selfplay.cheap_simulations=300"],
            "selfplay.cheap_simulations", r"< search.num_simulations \(200\)")


def test_constructing_a_bad_section_directly_fails():
    with pytest.raises(ConfigError, match="'c_puct'"):
        SearchConfig(c_puct=-1.0)
    with pytest.raises(ConfigError, match="'blocks'.*bool"):
        dataclasses.replace(Config().model, blocks=True)
    with pytest.raises(ConfigError, match="'size'"):
        GameConfig(size=1)
    with pytest.raises(ConfigError, match="expected SelfPlayConfig"):
        Config(selfplay={"num_workers": 2})
    assert isinstance(SelfPlayConfig(full_search_prob=0.5, cheap_simulations=8), SelfPlayConfig)


@pytest.mark.parametrize("override", [
    "search.num_simulations",   # no '='
    "search.num_simulations=",  # no value
    "=5",                       # no key
    "search..c_puct=1",         # empty key part
    "search.c_puct=[1",         # unparsable YAML
])
def test_bad_override_syntax_is_rejected(override):
    with pytest.raises(ConfigError, match="override"):
        load_config(None, [override])


def test_a_single_string_is_not_a_list_of_overrides():
    with pytest.raises(TypeError, match="sequence"):
        load_config(None, "seed=1")


def test_bad_files_are_rejected(tmp_path):
    with pytest.raises(ConfigError, match="top level"):
        load_config(write(tmp_path, "- 1\n- 2\n"))
    with pytest.raises(ConfigError, match="duplicate key 'seed' at line 2"):
        load_config(write(tmp_path, "seed: 1\nseed: 2\n", "dup.yaml"))
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(write(tmp_path, "search: [\n", "broken.yaml"))
    with pytest.raises(FileNotFoundError):
        load_config(str(tmp_path / "missing.yaml"))


# ----------------------------------------------------------------------------- saving and describing


def test_saved_config_round_trips(tmp_path):
    cfg = load_config(os.path.join(CONFIG_DIR, "go9_gpu.yaml"),
                      ["learner.weight_decay=3e-5", "search.dirichlet_alpha=0.15", "seed=11"])
    path = save_config(cfg, str(tmp_path / "run"))
    assert path == str(tmp_path / "run" / CONFIG_FILENAME)
    assert load_config(path) == cfg
    assert load_config(str(tmp_path / "run")) == cfg  # a run directory means its config.yaml
    assert os.listdir(tmp_path / "run") == [CONFIG_FILENAME]  # no temporary file left behind
    with open(path) as f:
        text = f.read()
    assert "lr_milestones:\n  - 100000\n  - 150000\n" in text
    assert "version: 1\n" in text


def test_config_to_dict_is_plain_data():
    data = config_to_dict(load_config(None, ["learner.lr_schedule=step", "learner.lr_milestones=[5]"]))
    assert data["learner"]["lr_milestones"] == [5]
    assert data["search"]["num_simulations"] == 200
    assert list(data)[:4] == ["version", "run_dir", "seed", "game"]


def test_describe_lists_every_key_with_default_and_doc():
    text = describe_config()
    assert "search.num_simulations: int = 200  (>= 1)\n    Simulations" in text
    assert "game.superko: positional|situational|simple = positional" in text
    assert "game.max_moves: int | None = null" in text
    assert "[learner] Training" in text
    data = config_to_dict(Config())
    leaf_keys = [k for k, v in data.items() if not isinstance(v, dict)]
    leaf_keys += [f"{name}.{k}" for name, sub in data.items() if isinstance(sub, dict) for k in sub]
    described = [line.split(":")[0] for line in text.splitlines() if line and line[0] not in " ["]
    assert described == leaf_keys
    assert len(leaf_keys) == 3 + 5 + 6 + 20 + 6 + 9 + 5 + 18 + 3 + 6


@pytest.mark.parametrize("override", ["model.blocks=65", "model.channels=1025", "model.value_hidden=4097"])
def test_model_sizes_stay_within_what_a_checkpoint_may_hold(override):
    from alphago_lite.net.checkpoint import ARCH_BOUNDS
    key = override.split(".")[1].split("=")[0]
    assert int(override.split("=")[1]) == ARCH_BOUNDS[key][1] + 1
    with pytest.raises(ConfigError, match=key):
        load_config("configs/tiny.yaml", [override])
