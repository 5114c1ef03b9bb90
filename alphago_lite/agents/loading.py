"""How a front end gets an agent: from a checkpoint file, a run directory or the net shipped for the board
size (``alphago_lite.models``), with the komi its net was trained with."""
from __future__ import annotations

import os
from pathlib import Path

from alphago_lite.agents.base import Agent
from alphago_lite.config import Config, ConfigError, SearchConfig, load_config
from alphago_lite.errors import UserError
from alphago_lite.models import card_beside, shipped_for_size
from alphago_lite.run_dir import checkpoint_to_play, config_beside


class AgentNotFound(UserError):
    """Neither a checkpoint file nor a run directory with checkpoints was given or found."""


# how the net's policy targets were made: play searches the same way (a Gumbel-trained policy is an
# improved policy pi', not a visit distribution, and Gumbel search reads it as such)
SEARCH_KEYS_FROM_TRAINING = ("algorithm", "gumbel_considered", "c_visit", "c_scale")


def training_config(checkpoint: str | os.PathLike) -> Config | None:
    """The config of the run that trained the net (``run_dir.config_beside``); None when there is no
    readable one."""
    config_file = config_beside(checkpoint)
    if config_file is None:
        return None
    try:
        return load_config(str(config_file))
    except (ConfigError, OSError):
        return None  # a damaged or foreign config says nothing about this net


def training_komi(checkpoint: str | os.PathLike, trained: Config | None = None) -> float | None:
    """The komi the net was trained with: from its model card (a shipped net) or the run's config.yaml
    (``trained`` when the caller has read it already); None when neither is readable."""
    card = card_beside(checkpoint)
    if card is not None:
        return card.komi
    trained = trained or training_config(checkpoint)
    return None if trained is None else trained.game.komi


def play_search_config(trained: Config | None, visits: int, threads: int,
                       card_search: dict | None = None) -> SearchConfig:
    """The search a front end plays with: the training run's algorithm settings (a shipped net's model
    card's ``search``, else ``trained``, its run's config, when known), with the front end's budget and
    threads; tree reuse on."""
    if card_search is not None:
        from_training = {key: card_search[key] for key in SEARCH_KEYS_FROM_TRAINING if key in card_search}
    else:
        from_training = {} if trained is None else \
            {key: getattr(trained.search, key) for key in SEARCH_KEYS_FROM_TRAINING}
    return SearchConfig(num_simulations=visits, reuse_tree=True, threads=threads, **from_training)


def find_checkpoint(model_path: str | os.PathLike | None = None, run_dir: str | os.PathLike | None = None,
                    board_size: int | None = None) -> Path:
    """The checkpoint file given, or the one a run directory offers to play (``run_dir.checkpoint_to_play``:
    best.pt, else the newest), or with neither the net shipped for ``board_size``. Raises
    ``AgentNotFound`` naming what is missing and what to do instead."""
    hint = ("train one first with `alphago-lite train CONFIG.yaml` (checkpoints go to RUN_DIR/checkpoints/), "
            "or play a random player with --random")
    if model_path is not None:
        path = Path(model_path)
        if not path.is_file():
            raise AgentNotFound(f"no checkpoint file {path}; {hint}")
        return path
    if run_dir is None:
        shipped = shipped_for_size(board_size) if board_size is not None else None
        if shipped is not None:
            return shipped.checkpoint
        raise AgentNotFound(f"give a checkpoint (--model PATH) or a run directory (--run RUN_DIR); {hint}")
    if not Path(run_dir).is_dir():
        raise AgentNotFound(f"no run directory {run_dir}; {hint}")
    path = checkpoint_to_play(run_dir)
    if path is None:
        raise AgentNotFound(f"run directory {run_dir} holds no checkpoint yet; {hint}")
    return path


def load_agent(model_path: str | os.PathLike | None = None, run_dir: str | os.PathLike | None = None,
               visits: int = 200, device: str = "cpu", threads: int = 1, precision: str = "fp32") -> Agent:
    """The agent of a checkpoint file, or of the checkpoint a run directory offers (see
    ``find_checkpoint``).

    Raises ``AgentNotFound`` (a ValueError) naming what is missing and how to make a checkpoint, and
    ``CheckpointError`` for a file that is not a valid checkpoint."""
    path = find_checkpoint(model_path, run_dir)
    # lazy: torch and the numba kernels load only when a net is really wanted
    from alphago_lite.agents.mcts import MctsAgent
    from alphago_lite.net.checkpoint import load_model
    from alphago_lite.net.evaluator import InProcessEvaluator
    model, meta = load_model(path, device=device)
    evaluator = InProcessEvaluator(model, meta.board_size, meta.feature_set, device=device, precision=precision)
    trained = training_config(path)  # read once: the search settings and the komi come from it
    card = card_beside(path)  # a shipped net: its card says how it was trained (no run config beside it)
    search_cfg = play_search_config(trained, visits, threads, card.search if card is not None else None)
    agent = MctsAgent(evaluator, search_cfg, visits=visits, threads=threads)
    agent.training_komi = training_komi(path, trained)
    return agent
