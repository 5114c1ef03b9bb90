"""CPU time the hypervisor took from this machine during a measurement (the "steal" column of /proc/stat).

On a virtual machine whose host is busy, the guest's CPUs run only part of the time: every figure drops,
and figures that use more CPUs drop more (a 2-thread run loses more than a 1-thread run beside it). On
this project's 2-core guest the host took 0 to a third of the CPU time within the same hour (measured:
0.65 of 2 CPUs during one 5 s span). Benchmarks print the share beside their figures, so that a reader
knows which runs to trust.
"""
from __future__ import annotations

from pathlib import Path

PROC_STAT = Path("/proc/stat")
STEAL_COLUMN = 7  # user nice system idle iowait irq softirq steal ...
NOTABLE_STEAL = 0.02  # above this share the figures of the run are marked as taken on a busy host


def cpu_times() -> list[int] | None:
    """The machine's total CPU times in clock ticks (the "cpu" line of /proc/stat), None where there is none."""
    try:
        with PROC_STAT.open() as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu" or len(fields) <= STEAL_COLUMN + 1:
        return None
    return [int(value) for value in fields[1:]]


def steal_share(before: list[int] | None, after: list[int] | None) -> float | None:
    """Share of all CPU time between two ``cpu_times`` readings that the host took (0..1); None if unknown."""
    if before is None or after is None:
        return None
    total = sum(after) - sum(before)
    return (after[STEAL_COLUMN] - before[STEAL_COLUMN]) / total if total > 0 else None


class StealMeter:
    """``with StealMeter() as meter: ...``; then ``meter.share`` and ``meter.line()``."""

    def __enter__(self) -> StealMeter:
        self._before = cpu_times()
        self.share: float | None = None
        return self

    def __exit__(self, *exc) -> None:
        self.share = steal_share(self._before, cpu_times())

    def line(self, what: str) -> str:
        if self.share is None:
            return f"host steal during {what}: unknown (no /proc/stat)"
        line = f"host steal during {what}: {100 * self.share:.1f}% of the CPU time"
        if self.share > NOTABLE_STEAL:
            line += (" - the host was busy: figures are low, and those using more threads lower still; "
                     "measure again when it is quiet")
        return line
