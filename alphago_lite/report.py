"""A run's report from its metrics.jsonl: ``report.png`` (losses, NN evals/s, games per hour and the
evaluation matches over wall-clock time) and ``report.md`` (the same as a summary and tables).

metrics.jsonl is written by the learner's progress reports (learner/progress.py), one JSON object a line:
step reports (``step``, ``time``, ``games``, ``positions``, ``nn_evals_per_s``, the losses ``loss`` and
``*_loss``), evaluation results (``eval_score``, ``eval_elo``, ``eval_wins`` ...; ``time`` since this
change, older ones take the time of the report before them) and notes. ``time`` counts seconds from the
start of each process, so a resumed run starts again from 0: the wall-clock here adds the sessions up.
Lines that are not JSON objects (a torn last line after a crash) are skipped and counted.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from alphago_lite.errors import UserError
from alphago_lite.run_dir import RunDir

REPORT_PNG = "report.png"
REPORT_MD = "report.md"
PNG_DPI = 80  # a 10 x 7 inch figure at 80 dpi is about 60 KB: well under the README's 200 KB per image


@dataclass(frozen=True)
class StepPoint:
    hours: float             # wall-clock since the run began, sessions added up
    step: int
    games: int
    positions: int
    nn_evals_per_s: float
    games_per_hour: float | None   # since the report before, within one session; None for a session's first
    losses: dict[str, float]


@dataclass(frozen=True)
class EvalPoint:
    hours: float
    step: int                # the step of the net that played (eval_submitted_step when recorded)
    wins: int
    losses: int
    draws: int
    score: float
    elo: float
    promoted: bool


@dataclass
class RunMetrics:
    steps: list[StepPoint] = field(default_factory=list)
    evaluations: list[EvalPoint] = field(default_factory=list)
    sessions: int = 0
    skipped_lines: int = 0


def read_metrics(path: str | os.PathLike) -> RunMetrics:
    """The step reports and evaluation results of a metrics.jsonl, on one wall-clock."""
    metrics = RunMetrics()
    offset = clock = 0.0        # hours before this session began; the newest time seen
    session_time = 0.0          # time of the newest record in this session (seconds)
    previous: dict | None = None  # the previous step record of this session
    for line in Path(path).read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            metrics.skipped_lines += line.strip() != ""
            continue
        seconds = record.get("time")
        if isinstance(seconds, (int, float)):
            if not metrics.sessions:
                metrics.sessions = 1
            elif seconds < session_time:  # time went back: a resumed process started its clock again
                metrics.sessions += 1
                offset, previous = clock, None
            session_time = seconds
            clock = offset + seconds / 3600
        if "eval_score" in record:
            metrics.evaluations.append(_eval_point(record, clock))
        elif "loss" in record and "step" in record:
            point = _step_point(record, clock, previous)
            metrics.steps.append(point)
            previous = record
    return metrics


def _step_point(record: dict, hours: float, previous: dict | None) -> StepPoint:
    rate = None
    seconds = record.get("time", 0) - (previous or {}).get("time", math.inf)
    if seconds > 0:
        games = max(0, record.get("games", 0) - previous.get("games", 0))
        rate = games / (seconds / 3600)
    losses = {k: float(v) for k, v in record.items() if k == "loss" or k.endswith("_loss")}
    return StepPoint(hours, int(record["step"]), int(record.get("games", 0)), int(record.get("positions", 0)),
                     float(record.get("nn_evals_per_s", 0.0)), rate, losses)


def _eval_point(record: dict, hours: float) -> EvalPoint:
    return EvalPoint(hours, int(record.get("eval_submitted_step", record.get("step", 0))),
                     int(record.get("eval_wins", 0)), int(record.get("eval_losses", 0)),
                     int(record.get("eval_draws", 0)), float(record["eval_score"]),
                     float(record.get("eval_elo", 0.0)), bool(record.get("promoted", False)))


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def summary_markdown(metrics: RunMetrics, title: str) -> str:
    """report.md: the run in figures, then one table row per evaluation match."""
    last, hours = metrics.steps[-1], metrics.steps[-1].hours
    rates = [p.games_per_hour for p in metrics.steps if p.games_per_hour is not None]
    loss_text = ", ".join(f"{name} {value:.3f}" for name, value in last.losses.items())
    lines = [f"# Training report: {title}", "",
             f"- learner steps: {last.step}",
             f"- wall-clock: {hours:.2f} h in {metrics.sessions} session(s)",
             f"- games: {last.games}, positions: {last.positions}",
             f"- games per hour: {_mean(rates):.0f} (mean of the reports)",
             f"- NN evals/s: {_mean([p.nn_evals_per_s for p in metrics.steps]):.0f} (mean of the reports)",
             f"- last losses: {loss_text}", "", "![report](report.png)", "", "## Evaluation matches", ""]
    if not metrics.evaluations:
        lines.append("none recorded")
    else:
        lines += ["| hours | step | W-L-D | score | Elo | new best |", "|---|---|---|---|---|---|"]
        lines += [f"| {e.hours:.2f} | {e.step} | {e.wins}-{e.losses}-{e.draws} | {e.score:.2f} | {e.elo:+.0f} | "
                  f"{'yes' if e.promoted else ''} |" for e in metrics.evaluations]
    if metrics.skipped_lines:
        lines += ["", f"({metrics.skipped_lines} unreadable lines of metrics.jsonl skipped)"]
    return "\n".join(lines) + "\n"


def plot(metrics: RunMetrics, path: Path, title: str) -> None:
    """report.png: four panels, headless (the Agg backend needs no display)."""
    try:
        import matplotlib
    except ImportError:
        raise UserError("the report needs matplotlib: pip install 'alphago-lite[report]'") from None
    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(2, 2, figsize=(10, 7))
    steps = [p.step for p in metrics.steps]
    for name in metrics.steps[-1].losses:
        axes[0][0].plot(steps, [p.losses.get(name, math.nan) for p in metrics.steps], label=name)
    _label(axes[0][0], "losses", "learner step", legend=True)
    axes[0][1].plot([p.hours for p in metrics.steps], [p.nn_evals_per_s for p in metrics.steps])
    _label(axes[0][1], "NN evals/s", "wall-clock hours")
    timed = [p for p in metrics.steps if p.games_per_hour is not None]
    axes[1][0].plot([p.hours for p in timed], [p.games_per_hour for p in timed])
    _label(axes[1][0], "self-play games per hour", "wall-clock hours")
    evaluations = metrics.evaluations
    axes[1][1].plot([e.hours for e in evaluations], [e.score for e in evaluations], marker="o")
    axes[1][1].set_ylim(-0.05, 1.05)
    _label(axes[1][1], "evaluation: newest vs best, score", "wall-clock hours")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=PNG_DPI)
    pyplot.close(figure)


def _label(axis, title: str, xlabel: str, legend: bool = False) -> None:
    axis.set_title(title)
    axis.set_xlabel(xlabel)
    axis.grid(alpha=0.3)
    if legend:
        axis.legend()


def write_report(run_dir: str | os.PathLike) -> tuple[Path, Path]:
    """Write RUN_DIR/report.png and RUN_DIR/report.md; returns their paths."""
    layout = RunDir.at(run_dir)
    if not layout.metrics_file.is_file():
        raise UserError(f"{run_dir} holds no {layout.metrics_file.name}: not a run directory, or nothing "
                        "recorded yet")
    metrics = read_metrics(layout.metrics_file)
    if not metrics.steps:
        raise UserError(f"{layout.metrics_file} holds no learner step yet: nothing to report")
    title = Path(run_dir).resolve().name
    png, md = layout.root / REPORT_PNG, layout.root / REPORT_MD
    plot(metrics, png, title)
    md.write_text(summary_markdown(metrics, title))
    return png, md
