"""Progress a person can follow: one live line on the terminal, and metrics.jsonl (+ TensorBoard when
installed) in the run directory.

On a terminal the step and waiting reports rewrite one live line, cleared to its end so that a shorter
report leaves nothing of a longer one; a step report starts with a progress bar and the ETA (from this
process's pace). A note or an evaluation is written above the live line, which is drawn again below it,
so the bar stays at the bottom under the log lines (as tqdm does). When stdout is not a terminal (a log
file, a pipe) every report is a plain line, without bar."""
from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from alphago_lite.selfplay.replay import DamagedData

CLEAR_TO_END_OF_LINE = "\x1b[K"  # ANSI "erase in line"; every terminal emulator in use knows it
BAR_WIDTH = 20


def progress_bar(step: int, total: int, eta_seconds: float | None, width: int = BAR_WIDTH) -> str:
    """``[#####...............]  25% ETA 3m05s``: the share of ``total`` steps done and the time left."""
    share = min(max(step / total, 0.0), 1.0) if total > 0 else 1.0
    filled = int(share * width)
    return f"[{'#' * filled}{'.' * (width - filled)}] {share:4.0%} ETA {duration_text(eta_seconds)}"


def duration_text(seconds: float | None) -> str:
    """``45s``, ``3m05s``, ``2h07m``; ``--`` when not known yet."""
    if seconds is None:
        return "--"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class Progress:
    def __init__(self, metrics_path: Path, quiet: bool = False, every_seconds: float = 2.0,
                 stream: TextIO | None = None, clock: Callable[[], float] = time.time):
        self.stream = sys.stdout if stream is None else stream
        self.on_terminal = self.stream.isatty()
        self.live_line_open = False  # a live line is on screen and the cursor stands at its end
        self.live_text = ""          # what the live line shows, drawn again below a line that stays
        self.clock = clock
        self.pace_start: tuple[int, float] | None = None  # (step, time) of this process's first step report
        metrics_path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(metrics_path, "a")
        self.quiet, self.every = quiet, every_seconds
        self.last_report = 0.0
        self.start = clock()
        self.last = {"time": self.start, "games": None, "positions": None}
        self.tb = None
        try:
            from torch.utils.tensorboard import SummaryWriter
            self.tb = SummaryWriter(str(metrics_path.parent / "tensorboard"))
        except Exception:  # tensorboard is optional
            self.tb = None

    def _show_live(self, line: str) -> None:
        """A report the next one replaces (on a terminal)."""
        if not self.on_terminal:
            self._show_line(line)
            return
        self.stream.write("\r" + line + CLEAR_TO_END_OF_LINE)
        self.stream.flush()
        self.live_line_open, self.live_text = True, line

    def _show_line(self, text: str) -> None:
        """A line that stays: written where the live line was, which is drawn again below it."""
        if not self.live_line_open:
            self.stream.write(text + "\n")
        else:
            self.stream.write("\r" + CLEAR_TO_END_OF_LINE + text + "\n" + self.live_text + CLEAR_TO_END_OF_LINE)
        self.stream.flush()

    def _finish_live_line(self) -> None:
        if self.live_line_open:
            self.stream.write("\n")
            self.live_line_open = False

    def _record(self, record: dict) -> None:
        """One line of metrics.jsonl, flushed (a crash loses nothing written), stamped with the time."""
        record.setdefault("time", round(self.clock() - self.start, 1))
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()

    def _emit(self, record: dict, line: str, live: bool = True) -> None:
        self._record(record)
        if self.tb is not None and "step" in record:
            for key, value in record.items():
                if isinstance(value, (int, float)) and key != "step":
                    self.tb.add_scalar(key, value, record["step"])
        if not self.quiet:
            if live:
                self._show_live(line)
            else:
                self._show_line(line)

    def _eta(self, step: int, total: int, now: float) -> float | None:
        """Seconds until ``total`` at this process's pace so far; None before a pace is known."""
        if self.pace_start is None:
            self.pace_start = (step, now)
        first_step, first_time = self.pace_start
        if step <= first_step:
            return None
        return (now - first_time) / (step - first_step) * max(total - step, 0)

    def step(self, step: int, total: int, losses: dict, buffer: dict, server_stats) -> None:
        now = self.clock()
        if now - self.last_report < self.every and step < total:
            return
        servers = server_stats()
        evals = sum(s.get("evals_per_s", 0.0) for s in servers)
        fill = sum(s.get("batch_fill", 0.0) for s in servers) / max(len(servers), 1)
        dt = max(now - self.last["time"], 1e-9)
        pos_rate = 0.0 if self.last["positions"] is None else \
            (buffer["positions_seen"] - self.last["positions"]) / dt
        self.last = {"time": now, "games": buffer["games"], "positions": buffer["positions_seen"]}
        self.last_report = now
        record = {"step": step, "time": round(now - self.start, 1), "games": buffer["games"],
                  "positions": buffer["positions_seen"], "positions_per_s": round(pos_rate, 1),
                  "nn_evals_per_s": round(evals, 1), "batch_fill": round(fill, 3),
                  "buffer_positions": buffer["window_positions"], **{k: round(v, 5) for k, v in losses.items()}}
        line = (f"step {step}/{total} | games {buffer['games']} | pos/s {pos_rate:.0f} | "
                f"NN evals/s {evals:.0f} | batch fill {fill:.2f} | loss {losses['loss']:.3f} "
                f"(policy {losses['policy_loss']:.3f}, value {losses['value_loss']:.3f}) | "
                f"buffer {buffer['window_positions']} positions")
        eta = self._eta(step, total, now)
        self._emit(record, f"{progress_bar(step, total, eta)} | {line}" if self.on_terminal else line)

    def waiting(self, step: int, buffer: dict) -> None:
        now = self.clock()
        if now - self.last_report < self.every:
            return
        self.last_report = now
        if not self.quiet:
            self._show_live(f"step {step} | waiting for self-play: {buffer['games']} games, "
                            f"{buffer['window_positions']} positions in the window")

    def evaluation(self, step: int, result, promoted: bool, submitted_step: int | None = None) -> None:
        """A match's result, recorded at ``step``; the newest net played as of ``submitted_step``."""
        submitted_step = step if submitted_step is None else submitted_step
        record = {"step": step, "time": round(self.clock() - self.start, 1),
                  "eval_submitted_step": submitted_step, "eval_wins": result.wins,
                  "eval_losses": result.losses, "eval_draws": result.draws, "eval_score": round(result.score, 3),
                  "eval_elo": round(result.elo(), 1), "promoted": promoted}
        played = "" if submitted_step == step else f" (the net of step {submitted_step})"
        self._emit(record, f"evaluation at step {step}{played}: newest vs best {result.wins}-{result.losses}-"
                           f"{result.draws} (score {result.score:.2f}, Elo {result.elo():+.0f})"
                           + (" -> new best" if promoted else ""), live=False)

    def warm_start(self, path: str, step: int) -> None:
        """The net a new run starts from: a metrics record (``init_from``) and a console line."""
        self._record({"init_from": path, "init_from_step": step})
        self._show_line(f"starting from the weights of {path} (step {step} of its run); fresh optimizer and "
                        "replay buffer")

    def note(self, text: str) -> None:
        self._record({"note": text})
        self._show_line(text)

    def damaged_data(self, step: int, problems: list[dict]) -> None:
        """Stored game data skipped because it is damaged (``DamagedData.as_dict()`` each): one record in
        metrics.jsonl and one console line per damaged stretch, whatever ``quiet`` says (a person must
        learn that games were lost)."""
        lost = sum(problem["games_lost"] for problem in problems)
        self._record({"step": step, "time": round(self.clock() - self.start, 1), "damaged_games_lost": lost,
                      "damaged_data": problems})
        lines = [DamagedData(**problem).describe() for problem in problems]
        self._show_line(f"damaged game data skipped ({lost} games lost):\n  " + "\n  ".join(lines))

    def close(self) -> None:
        self._finish_live_line()
        if not self.file.closed:
            self.file.close()
        if self.tb is not None:
            self.tb.close()
