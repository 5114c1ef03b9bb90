"""Progress a person can follow: one live line on the terminal, and metrics.jsonl (+ TensorBoard when
installed) in the run directory.

On a terminal the step and waiting reports rewrite one live line, cleared to its end so that a shorter
report leaves nothing of a longer one; a note or an evaluation first finishes the live line and then
stands on a line of its own. When stdout is not a terminal (a log file, a pipe) every report is a
plain line."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TextIO

from alphago_lite.selfplay.replay import DamagedData

CLEAR_TO_END_OF_LINE = "\x1b[K"  # ANSI "erase in line"; every terminal emulator in use knows it


class Progress:
    def __init__(self, metrics_path: Path, quiet: bool = False, every_seconds: float = 2.0,
                 stream: TextIO | None = None):
        self.stream = sys.stdout if stream is None else stream
        self.on_terminal = self.stream.isatty()
        self.live_line_open = False  # a live line is on screen and the cursor stands at its end
        metrics_path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(metrics_path, "a")
        self.quiet, self.every = quiet, every_seconds
        self.last_report = 0.0
        self.start = time.time()
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
        self.live_line_open = True

    def _show_line(self, text: str) -> None:
        """A line that stays: the live line, if any, is finished first so that both stay readable."""
        self._finish_live_line()
        self.stream.write(text + "\n")
        self.stream.flush()

    def _finish_live_line(self) -> None:
        if self.live_line_open:
            self.stream.write("\n")
            self.live_line_open = False

    def _emit(self, record: dict, line: str, live: bool = True) -> None:
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()
        if self.tb is not None and "step" in record:
            for key, value in record.items():
                if isinstance(value, (int, float)) and key != "step":
                    self.tb.add_scalar(key, value, record["step"])
        if not self.quiet:
            if live:
                self._show_live(line)
            else:
                self._show_line(line)

    def step(self, step: int, total: int, losses: dict, buffer: dict, server_stats) -> None:
        now = time.time()
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
        self._emit(record, f"step {step}/{total} | games {buffer['games']} | pos/s {pos_rate:.0f} | "
                           f"NN evals/s {evals:.0f} | batch fill {fill:.2f} | loss {losses['loss']:.3f} "
                           f"(policy {losses['policy_loss']:.3f}, value {losses['value_loss']:.3f}) | "
                           f"buffer {buffer['window_positions']} positions")

    def waiting(self, step: int, buffer: dict) -> None:
        now = time.time()
        if now - self.last_report < self.every:
            return
        self.last_report = now
        if not self.quiet:
            self._show_live(f"step {step} | waiting for self-play: {buffer['games']} games, "
                            f"{buffer['window_positions']} positions in the window")

    def evaluation(self, step: int, result, promoted: bool, submitted_step: int | None = None) -> None:
        """A match's result, recorded at ``step``; the newest net played as of ``submitted_step``."""
        submitted_step = step if submitted_step is None else submitted_step
        record = {"step": step, "eval_submitted_step": submitted_step, "eval_wins": result.wins,
                  "eval_losses": result.losses, "eval_draws": result.draws, "eval_score": round(result.score, 3),
                  "eval_elo": round(result.elo(), 1), "promoted": promoted}
        played = "" if submitted_step == step else f" (the net of step {submitted_step})"
        self._emit(record, f"evaluation at step {step}{played}: newest vs best {result.wins}-{result.losses}-"
                           f"{result.draws} (score {result.score:.2f}, Elo {result.elo():+.0f})"
                           + (" -> new best" if promoted else ""), live=False)

    def note(self, text: str) -> None:
        self.file.write(json.dumps({"note": text, "time": round(time.time() - self.start, 1)}) + "\n")
        self.file.flush()
        self._show_line(text)

    def damaged_data(self, step: int, problems: list[dict]) -> None:
        """Stored game data skipped because it is damaged (``DamagedData.as_dict()`` each): one record in
        metrics.jsonl and one console line per damaged stretch, whatever ``quiet`` says (a person must
        learn that games were lost)."""
        lost = sum(problem["games_lost"] for problem in problems)
        record = {"step": step, "time": round(time.time() - self.start, 1), "damaged_games_lost": lost,
                  "damaged_data": problems}
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()
        lines = [DamagedData(**problem).describe() for problem in problems]
        self._show_line(f"damaged game data skipped ({lost} games lost):\n  " + "\n  ".join(lines))

    def close(self) -> None:
        self._finish_live_line()
        if not self.file.closed:
            self.file.close()
        if self.tb is not None:
            self.tb.close()
