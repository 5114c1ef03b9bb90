"""Checkpoints of a run: ``ckpt-00000100.pt`` files (atomic writes), the last few kept, plus best.pt."""
from __future__ import annotations

import shutil
from pathlib import Path

from alphago_lite.net.checkpoint import CheckpointError, CheckpointMeta, load_checkpoint, save_checkpoint
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

    def load_newest_readable(self) -> tuple[dict, CheckpointMeta, list[tuple[Path, str]]] | None:
        """(weights, meta, damaged) of the newest checkpoint that loads, where damaged lists the newer ones
        that do not (path, why); None when the store holds no checkpoint. Raises CheckpointError saying
        what to do when none loads."""
        damaged = []
        for path in reversed(self.all()):
            try:
                state, meta = load_checkpoint(path)
            except CheckpointError as err:  # the first line says what is wrong (torch may add many)
                damaged.append((path, str(err).removeprefix(f"checkpoint {path}: ").splitlines()[0]))
                continue
            return state, meta, damaged
        if not damaged:
            return None
        names = ", ".join(path.name for path, _ in damaged)
        raise CheckpointError(
            f"no checkpoint in {self.directory} can be read ({names}): to train again from step 0 on the "
            f"stored games, move them out of {self.directory} and resume. The newest: {damaged[0][1]}")

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
