"""Checkpoints of a run: ``ckpt-00000100.pt`` files (atomic writes), the last few kept, plus best.pt."""
from __future__ import annotations

import shutil
from pathlib import Path

from alphago_lite.net.checkpoint import save_checkpoint
from alphago_lite.run_dir import BEST_CHECKPOINT as BEST
from alphago_lite.run_dir import CHECKPOINT_GLOB, checkpoint_name


class CheckpointStore:
    def __init__(self, directory: str | Path, keep: int):
        self.directory, self.keep = Path(directory), keep

    def all(self) -> list[Path]:
        return sorted(self.directory.glob(CHECKPOINT_GLOB))

    def latest(self) -> Path | None:
        found = self.all()
        return found[-1] if found else None

    def best(self) -> Path | None:
        path = self.directory / BEST
        return path if path.is_file() else None

    def remove_stale_temp_files(self) -> list[Path]:
        """Delete the temp files of writes that a crash interrupted (never renamed, never read). Only the
        run's single writer may call this, before it writes: it would delete a write in progress."""
        stale = sorted(self.directory.glob(".ckpt-*.tmp")) + sorted(self.directory.glob(BEST + ".tmp"))
        for path in stale:
            path.unlink(missing_ok=True)
        return stale

    def save(self, model, feature_set: str, step: int, optimizer_state: dict, extra: dict) -> Path:
        path = self.directory / checkpoint_name(step)
        save_checkpoint(path, model, feature_set=feature_set, step=step,
                        optimizer_state=optimizer_state, extra=extra)
        for old in self.all()[:-self.keep]:
            old.unlink(missing_ok=True)
        return path

    def mark_best(self, path: Path) -> Path:
        """Copy path to best.pt atomically (copy to a temp name, then rename)."""
        tmp = self.directory / (BEST + ".tmp")
        shutil.copyfile(path, tmp)
        tmp.replace(self.directory / BEST)
        return self.directory / BEST
