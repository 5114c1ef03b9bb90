"""Ends the Ray processes of a local cluster once the driver that started it is gone, however it went.

``actors.cluster.start_local`` starts this file as a process of its own (``python orphan_watchdog.py
MARKER``, standard library only: no package import, no Ray) before ``ray.init``, with stdin a pipe whose
other end only the driver holds. While the driver lives, the watchdog notes the driver's descendants
once a second (pid and start time, so that a reused pid is never mistaken for one of them). The
kernel closes the pipe when the driver exits, normally or by ``kill -9``:
- after a normal end the driver writes ``STOP`` first (``ray.shutdown`` has taken the cluster down):
  only processes still carrying the run's marker (``OWNER_ENV=MARKER`` in the environment the
  cluster's processes inherit) are ended;
- without it the driver died: every descendant noted and still alive, and every marked process, gets
  SIGTERM, and SIGKILL after a grace period.
The marker alone is not enough: a process that renames itself (``ray::DashboardAgent``) may overwrite
the memory that ``/proc/PID/environ`` shows.

Why: Ray kills its GCS and raylet with the driver (the kernel's parent-death signal), but the raylet's
agents then wait about a minute for the dead GCS before they exit (the runtime-env agent listening on
its port meanwhile), and workers take a few seconds to notice.
"""
from __future__ import annotations

import os
import select
import signal
import sys
import time

OWNER_ENV = "ALPHAGO_LITE_RAY_OWNER"
STOP = b"STOP"  # what the driver writes before it closes the pipe after a normal end
GRACE_SECONDS = 2.0
NOTE_EVERY_SECONDS = 1.0


def process_table() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, start time in clock ticks since boot) of every process now."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:  # ended meanwhile
            continue
        fields = stat[stat.rindex(b")") + 2:].split()  # the name in parentheses may hold spaces
        table[int(name)] = (int(fields[1]), int(fields[19]))
    return table


def descendants(root: int, table: dict[int, tuple[int, int]]) -> dict[int, int]:
    """pid -> start time of every process below ``root`` in ``table`` (this one excluded)."""
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    found, below = {}, [root]
    while below:
        for child in children.get(below.pop(), []):
            if child != os.getpid():
                found[child] = table[child][1]
                below.append(child)
    return found


def marked_processes(marker: str, table: dict[int, tuple[int, int]]) -> dict[int, int]:
    """pid -> start time of the processes whose environment holds ``OWNER_ENV=marker``."""
    entry = f"{OWNER_ENV}={marker}".encode()
    found = {}
    for pid, (_, started) in table.items():
        if pid == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if entry in f.read().split(b"\0"):
                    found[pid] = started
        except OSError:  # ended meanwhile, or another user's
            continue
    return found


def still_running(processes: dict[int, int]) -> dict[int, int]:
    table = process_table()
    return {pid: started for pid, started in processes.items() if table.get(pid, (0, None))[1] == started}


def end(processes: dict[int, int]) -> None:
    """SIGTERM, then SIGKILL for any that outlive the grace period."""
    for signum in (signal.SIGTERM, signal.SIGKILL):
        for pid in still_running(processes):
            try:
                os.kill(pid, signum)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + GRACE_SECONDS
        while signum == signal.SIGTERM and still_running(processes) and time.monotonic() < deadline:
            time.sleep(0.1)


def watch(driver: int, marker: str) -> None:
    noted: dict[int, int] = {}
    received = b""
    while True:
        readable, _, _ = select.select([sys.stdin.buffer], [], [], NOTE_EVERY_SECONDS)
        if readable:
            data = os.read(sys.stdin.fileno(), 4096)
            if not data:
                break
            received += data
            continue
        noted = still_running(noted) | descendants(driver, process_table())
    left = marked_processes(marker, process_table())
    if received != STOP:  # the driver died: its descendants are orphans of a dead run
        left |= still_running(noted)
    end(left)


def main(marker: str) -> None:
    # the driver's end is what this process waits for: Ctrl-C on the terminal, a hang-up or a SIGTERM
    # sent to the driver's process group must not end it first
    for signum in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    watch(os.getppid(), marker)


if __name__ == "__main__":
    main(sys.argv[1])
