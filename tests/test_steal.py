"""benchmarks/steal.py: the share of CPU time the host took, from two readings of /proc/stat."""
import pytest

from alphago_lite.benchmarks import steal

# user nice system idle iowait irq softirq steal guest guest_nice
QUIET = "cpu  1000 0 200 8000 10 0 5 0 0 0\ncpu0 500 0 100 4000 5 0 2 0 0 0\n"
LATER = "cpu  1600 0 260 8100 10 0 5 240 0 0\ncpu0 800 0 130 4050 5 0 2 120 0 0\n"


def test_the_steal_share_is_the_steal_ticks_over_all_ticks_between_two_readings(tmp_path, monkeypatch):
    stat = tmp_path / "stat"
    monkeypatch.setattr(steal, "PROC_STAT", stat)
    stat.write_text(QUIET)
    with steal.StealMeter() as meter:
        stat.write_text(LATER)  # 600 + 60 + 100 + 240 = 1000 ticks, 240 of them stolen
    assert meter.share == pytest.approx(0.24)
    line = meter.line("the run")
    assert line.startswith("host steal during the run: 24.0% of the CPU time") and "measure again" in line


def test_a_quiet_host_gets_no_warning_and_a_machine_without_proc_stat_says_unknown(tmp_path, monkeypatch):
    stat = tmp_path / "stat"
    monkeypatch.setattr(steal, "PROC_STAT", stat)
    stat.write_text(QUIET)
    with steal.StealMeter() as meter:
        stat.write_text(QUIET.replace("8000", "9000"))
    assert meter.share == 0.0 and meter.line("it") == "host steal during it: 0.0% of the CPU time"
    monkeypatch.setattr(steal, "PROC_STAT", tmp_path / "missing")
    with steal.StealMeter() as meter:
        pass
    assert meter.share is None and "unknown" in meter.line("it")


def test_a_line_without_a_steal_column_is_unknown(tmp_path, monkeypatch):
    stat = tmp_path / "stat"
    monkeypatch.setattr(steal, "PROC_STAT", stat)
    stat.write_text("cpu  1000 0 200 8000\n")  # an old kernel's four columns
    assert steal.cpu_times() is None
