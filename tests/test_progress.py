"""The console side of learner.progress: one live line on a terminal, plain lines elsewhere."""
from alphago_lite.selfplay.arena import MatchResult
from learner.progress import Progress

LOSSES = {"loss": 4.25, "policy_loss": 3.25, "value_loss": 1.0}


class Terminal:
    """Text written to a terminal, kept as the screen shows it: carriage return, newline and ANSI
    'erase to end of line' (ESC [ K) are obeyed; any other character overwrites the one under the
    cursor."""

    def __init__(self):
        self.lines, self.column = [""], 0

    def isatty(self) -> bool:
        return True

    def flush(self) -> None:
        pass

    def write(self, text: str) -> None:
        while text:
            if text.startswith("\x1b[K"):
                self.lines[-1] = self.lines[-1][:self.column]
                text = text[3:]
                continue
            char, text = text[0], text[1:]
            if char == "\r":
                self.column = 0
            elif char == "\n":
                self.lines.append("")
                self.column = 0
            else:
                line = self.lines[-1]
                self.lines[-1] = line[:self.column] + char + line[self.column + 1:]
                self.column += 1


class LogFile(Terminal):
    def __init__(self):
        super().__init__()
        self.text = ""

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> None:
        self.text += text


def buffer_stats(games: int, positions: int) -> dict:
    return {"games": games, "positions_seen": positions, "window_positions": positions}


def report_a_short_run(progress: Progress) -> None:
    progress.step(1, 10, LOSSES, buffer_stats(123, 45678), lambda: [])
    progress.waiting(1, buffer_stats(0, 0))  # shorter than the step line it replaces
    progress.evaluation(2, MatchResult(wins=3, losses=1, draws=0), promoted=True)
    progress.step(3, 10, LOSSES, buffer_stats(130, 45678), lambda: [])  # no new positions: 0 pos/s
    progress.note("interrupted")
    progress.close()


class FakeClock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_terminal_shows_a_bar_below_the_evaluations_and_notes(tmp_path):
    screen, clock = Terminal(), FakeClock()
    progress = Progress(tmp_path / "metrics.jsonl", every_seconds=0, stream=screen, clock=clock)
    progress.step(1, 10, LOSSES, buffer_stats(123, 45678), lambda: [])
    progress.waiting(1, buffer_stats(0, 0))  # shorter than the step line it replaces
    assert screen.lines == ["step 1 | waiting for self-play: 0 games, 0 positions in the window"]
    progress.evaluation(2, MatchResult(wins=3, losses=1, draws=0), promoted=True)
    clock.now += 60  # 2 steps a minute: 7 steps to go take 3m30s
    progress.step(3, 10, LOSSES, buffer_stats(130, 45678), lambda: [])  # no new positions: 0 pos/s
    progress.note("interrupted")
    progress.close()
    assert screen.lines == [
        "evaluation at step 2: newest vs best 3-1-0 (score 0.75, Elo +191) -> new best",
        "interrupted",
        "[######..............]  30% ETA 3m30s | step 3/10 | games 130 | pos/s 0 | NN evals/s 0 | batch fill 0.00 "
        "| loss 4.250 (policy 3.250, value 1.000) | buffer 45678 positions",  # the bar stays below the log
        "",
    ]


def test_the_first_step_has_no_eta_yet_and_durations_read_well(tmp_path):
    from learner.progress import duration_text, progress_bar
    screen = Terminal()
    Progress(tmp_path / "metrics.jsonl", every_seconds=0, stream=screen).step(
        5, 10, LOSSES, buffer_stats(1, 2), lambda: [])
    assert screen.lines[0].startswith("[##########..........]  50% ETA -- | step 5/10 |")
    assert progress_bar(10, 10, 0) == "[####################] 100% ETA 0s"
    assert [duration_text(s) for s in (45, 185, 7620)] == ["45s", "3m05s", "2h07m"]


def test_evaluations_and_warm_starts_are_recorded_with_their_time(tmp_path):
    import json
    clock = FakeClock()
    progress = Progress(tmp_path / "metrics.jsonl", stream=LogFile(), clock=clock)
    clock.now += 12.5
    progress.warm_start("nets/go5.pt", 1200)
    progress.evaluation(4, MatchResult(wins=1, losses=1, draws=0), promoted=False)
    progress.close()
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert records[0] == {"init_from": "nets/go5.pt", "init_from_step": 1200, "time": 12.5}
    assert records[1]["time"] == 12.5 and records[1]["eval_score"] == 0.5


def test_a_log_file_gets_plain_lines(tmp_path):
    log = LogFile()
    report_a_short_run(Progress(tmp_path / "metrics.jsonl", every_seconds=0, stream=log))
    assert "\r" not in log.text and "\x1b" not in log.text
    lines = log.text.splitlines()
    assert [line.split(" ")[0] for line in lines] == ["step", "step", "evaluation", "step", "interrupted"]
    assert lines[1] == "step 1 | waiting for self-play: 0 games, 0 positions in the window"
