"""Experiment configuration: frozen dataclasses (``schema``), YAML loading and overrides (``loading``).

Callers import from here: ``from alphago_lite.config import Config, load_config``.
"""
from alphago_lite.config.loading import (
    CONFIG_FILENAME,
    apply_overrides,
    config_to_dict,
    describe_config,
    load_config,
    parse_override,
    save_config,
)
from alphago_lite.config.schema import (
    CONFIG_VERSION,
    ClusterConfig,
    Config,
    ConfigError,
    EvaluationConfig,
    GameConfig,
    InferenceConfig,
    LearnerConfig,
    ModelConfig,
    ReplayConfig,
    SearchConfig,
    SelfPlayConfig,
    resolved_dirichlet_alpha,
    resolved_max_moves,
    resolved_temperature_moves,
)

__all__ = [
    "CONFIG_FILENAME", "CONFIG_VERSION", "Config", "ConfigError",
    "GameConfig", "ModelConfig", "SearchConfig", "SelfPlayConfig", "InferenceConfig",
    "ReplayConfig", "LearnerConfig", "ClusterConfig", "EvaluationConfig",
    "load_config", "apply_overrides", "parse_override", "config_to_dict", "save_config", "describe_config",
    "resolved_max_moves", "resolved_dirichlet_alpha", "resolved_temperature_moves",
]
