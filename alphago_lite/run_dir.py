"""The one owner of a run directory's layout: where the config, checkpoints, games and metrics live,
which checkpoint is the newest and which one a front end plays.

    RUN_DIR/config.yaml           the resolved config
    RUN_DIR/checkpoints/          ckpt-00000100.pt ... (atomic writes; the last few kept) and best.pt
    RUN_DIR/games/                msgpack shards of every finished game
    RUN_DIR/metrics.jsonl         one JSON object per progress report
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CONFIG_FILE = "config.yaml"
CHECKPOINTS = "checkpoints"
GAMES = "games"
METRICS_FILE = "metrics.jsonl"
BEST_CHECKPOINT = "best.pt"
CHECKPOINT_GLOB = "ckpt-*.pt"


def checkpoint_name(step: int) -> str:
    """File name of the checkpoint written at learner step ``step`` (sorts by step)."""
    return f"ckpt-{step:08d}.pt"


@dataclass(frozen=True)
class RunDir:
    """Paths inside one run directory; nothing is created until a writer asks for it."""

    root: Path

    @classmethod
    def at(cls, path: str | os.PathLike) -> RunDir:
        return cls(Path(path))

    @property
    def config_file(self) -> Path:
        return self.root / CONFIG_FILE

    @property
    def checkpoints(self) -> Path:
        return self.root / CHECKPOINTS

    @property
    def games(self) -> Path:
        return self.root / GAMES

    @property
    def metrics_file(self) -> Path:
        return self.root / METRICS_FILE


def newest_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    """The most recently written ``*.pt`` file in ``run_dir/checkpoints`` (or ``run_dir`` itself, for a
    folder of loose checkpoints), if any."""
    run = Path(run_dir)
    for folder in (run / CHECKPOINTS, run):
        found = sorted(folder.glob("*.pt"), key=lambda p: (p.stat().st_mtime, p.name)) if folder.is_dir() else []
        if found:
            return found[-1]
    return None


def checkpoint_to_play(run_dir: str | os.PathLike) -> Path | None:
    """The checkpoint a front end plays from a run directory: ``best.pt`` (the net that won its
    evaluation matches) when there is one, else the newest checkpoint; None when there is none."""
    run = Path(run_dir)
    for folder in (run / CHECKPOINTS, run):
        if (folder / BEST_CHECKPOINT).is_file():
            return folder / BEST_CHECKPOINT
    return newest_checkpoint(run)


def config_beside(checkpoint: str | os.PathLike) -> Path | None:
    """The run's config.yaml for a checkpoint: beside it, or beside its checkpoints folder
    (RUN_DIR/checkpoints/ckpt-*.pt -> RUN_DIR/config.yaml); None when there is none."""
    path = Path(checkpoint).resolve()
    for folder in (path.parent, path.parent.parent):
        if (folder / CONFIG_FILE).is_file():
            return folder / CONFIG_FILE
    return None
