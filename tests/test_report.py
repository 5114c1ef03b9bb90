"""`alphago-lite report RUN_DIR` on a metrics.jsonl written here, with known figures."""
import json

import pytest

from alphago_lite.cli import main
from alphago_lite.errors import UserError
from alphago_lite.report import read_metrics, summary_markdown, write_report


def step(step, time, games, loss, evals=1000.0):
    return {"step": step, "time": time, "games": games, "positions": games * 20, "positions_per_s": 1.0,
            "nn_evals_per_s": evals, "batch_fill": 0.5, "buffer_positions": 100, "loss": loss,
            "policy_loss": loss - 1, "value_loss": 1.0}


RECORDS = [
    step(10, 1800.0, 100, 4.0),
    step(20, 3600.0, 300, 3.0),   # 200 games in half an hour: 400 per hour
    {"step": 20, "eval_submitted_step": 20, "eval_wins": 7, "eval_losses": 3, "eval_draws": 0,
     "eval_score": 0.7, "eval_elo": 147.2, "promoted": True},   # written before evaluations had a time
    {"note": "interrupted: writing a checkpoint and stopping the actors", "time": 3700.0},
    # resumed: the new process's clock starts again from 0
    step(30, 360.0, 350, 2.5, evals=2000.0),
    step(40, 2160.0, 650, 2.0, evals=2000.0),  # 300 games in half an hour: 600 per hour
    {"step": 40, "time": 2170.0, "eval_submitted_step": 30, "eval_wins": 4, "eval_losses": 6, "eval_draws": 0,
     "eval_score": 0.4, "eval_elo": -70.4, "promoted": False},
]


def write_run(run_dir, records=RECORDS, tail=""):
    run_dir.mkdir()
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records) + tail)
    return run_dir


def test_sessions_add_up_on_one_wall_clock(tmp_path):
    metrics = read_metrics(write_run(tmp_path / "run", tail='{"step": 41, "ti').joinpath("metrics.jsonl"))
    assert metrics.sessions == 2 and metrics.skipped_lines == 1  # the torn last line of a crash
    assert [p.hours for p in metrics.steps] == pytest.approx([0.5, 1.0, 3700 / 3600 + 0.1, 3700 / 3600 + 0.6])
    assert [p.games_per_hour for p in metrics.steps] == pytest.approx([None, 400.0, None, 600.0])
    first, second = metrics.evaluations
    assert (first.hours, first.step, first.score, first.promoted) == (pytest.approx(1.0), 20, 0.7, True)
    assert (second.hours, second.step, second.wins) == (pytest.approx(3700 / 3600 + 2170 / 3600), 30, 4)


def test_summary_has_the_figures_and_one_row_per_match(tmp_path):
    text = summary_markdown(read_metrics(write_run(tmp_path / "run") / "metrics.jsonl"), "run")
    assert "- learner steps: 40" in text and "- games: 650, positions: 13000" in text
    assert "- wall-clock: 1.63 h in 2 session(s)" in text
    assert "- games per hour: 500 (mean of the reports)" in text and "- NN evals/s: 1500" in text
    assert "- last losses: loss 2.000, policy_loss 1.000, value_loss 1.000" in text
    assert "| 1.00 | 20 | 7-3-0 | 0.70 | +147 | yes |" in text and "| 1.63 | 30 | 4-6-0 | 0.40 | -70 |  |" in text


@pytest.mark.slow  # imports matplotlib and draws: 2 s
def test_report_command_writes_a_small_png_and_the_markdown(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    run_dir = write_run(tmp_path / "run")
    assert main(["report", str(run_dir)]) == 0
    png = (run_dir / "report.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and 10_000 < len(png) <= 200 * 1024
    assert (run_dir / "report.md").read_text().startswith("# Training report: run")
    assert "wrote" in capsys.readouterr().out


def test_a_folder_without_metrics_or_steps_is_a_one_line_error(tmp_path, capsys):
    with pytest.raises(UserError, match="holds no metrics.jsonl"):
        write_report(tmp_path)
    run_dir = write_run(tmp_path / "run", records=[{"note": "started", "time": 1.0}])
    with pytest.raises(UserError, match="holds no learner step yet"):
        write_report(run_dir)
    assert main(["report", str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err.count("\n") == 1
