"""Helper process for tests/test_fault_tolerance.py: saves checkpoints through CheckpointStore in a loop
until it is killed.

    python tests/_write_checkpoints_forever.py DIR LOG [--hold-before-rename-at STEP]

Continues from the newest checkpoint in DIR (step + 1). Appends "writing N" to LOG right before each
save starts and "saved N" right after it returns, so the parent knows when a write is in progress.
With --hold-before-rename-at STEP, the save of STEP stops after its temp file is written and fsynced
but before it is renamed into place, and logs "holding N": a kill then lands mid-write for certain.
"""
from __future__ import annotations

import argparse
import os
import stat
import time

from alphago_lite.net.checkpoint import load_checkpoint
from alphago_lite.net.features import num_planes
from alphago_lite.net.model import PolicyValueNet
from learner.checkpoints import CheckpointStore

KEEP = 3


def hold_after_file_fsync(log, step: int) -> None:
    """Make os.fsync of a regular file (the temp file; the directory fsync comes after the rename)
    log "holding STEP" and never return."""
    real_fsync = os.fsync

    def fsync_then_hold(fd):
        real_fsync(fd)
        if stat.S_ISREG(os.fstat(fd).st_mode):
            log(f"holding {step}")
            time.sleep(3600)

    os.fsync = fsync_then_hold


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("directory")
    parser.add_argument("log")
    parser.add_argument("--hold-before-rename-at", type=int)
    args = parser.parse_args()

    log_file = open(args.log, "a", buffering=1)

    def log(line: str) -> None:
        log_file.write(line + "\n")
        log_file.flush()

    # big enough (about 15 MB) that a write takes tens of milliseconds, so random kills can hit one
    model = PolicyValueNet(9, num_planes("agz"), blocks=8, channels=160, value_hidden=64)
    store = CheckpointStore(args.directory, KEEP)
    latest = store.latest()
    step = load_checkpoint(latest)[1].step + 1 if latest is not None else 1
    log(f"started at {step}")
    while True:
        if step == args.hold_before_rename_at:
            hold_after_file_fsync(log, step)
        log(f"writing {step}")
        store.save(model, "agz", step, None, {"writer_pid": os.getpid()})
        log(f"saved {step}")
        step += 1


if __name__ == "__main__":
    main()
