"""Ends the Ray processes of a local cluster once the driver that started it is gone, however it went.

``actors.cluster.start_local`` starts this file as a process of its own (``python orphan_watchdog.py
MARKER``, standard library only: no package import, no Ray) before ``ray.init``, and marks every Ray
process of the new cluster by putting ``OWNER_ENV=MARKER`` in the environment they inherit. The
watchdog reads its stdin, a pipe whose other end only the driver holds, until end of file: the kernel
closes that end when the driver exits, normally or by ``kill -9``. Then every process still marked
gets SIGTERM, and SIGKILL after a grace period.

Why: Ray kills its GCS and raylet with the driver (the kernel's parent-death signal), but the raylet's
agents then wait about a minute for the dead GCS before they exit (the runtime-env agent listening on
its port meanwhile), and workers take a few seconds to notice.
"""
from __future__ import annotations

import os
import signal
import sys
import time

OWNER_ENV = "ALPHAGO_LITE_RAY_OWNER"
GRACE_SECONDS = 2.0


def marked_processes(marker: str) -> list[int]:
    """Processes of this user whose environment holds ``OWNER_ENV=marker`` (zombies hold none)."""
    entry = f"{OWNER_ENV}={marker}".encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                if entry in f.read().split(b"\0"):
                    found.append(int(name))
        except OSError:  # ended meanwhile, or another user's
            continue
    return found


def signal_all(pids: list[int], signum: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, signum)
        except (ProcessLookupError, PermissionError):
            pass


def end_marked_processes(marker: str) -> None:
    signal_all(marked_processes(marker), signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    while marked_processes(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    signal_all(marked_processes(marker), signal.SIGKILL)


def main(marker: str) -> None:
    # the driver's end is what this process waits for: Ctrl-C on the terminal, a hang-up or a SIGTERM
    # sent to the driver's process group must not end it first
    for signum in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    while sys.stdin.buffer.read(4096):
        pass
    end_marked_processes(marker)


if __name__ == "__main__":
    main(sys.argv[1])
