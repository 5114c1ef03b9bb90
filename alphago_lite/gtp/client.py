"""Drive an external GTP engine (GNU Go, KataGo, another alphago-lite) as a subprocess.

Vocabulary
----------
client     a ``GtpClient``: starts the engine, sends one command at a time and reads its response,
           which ends at the first empty line (GTP 2, section 3.4).
response   the text after ``=`` (and the echoed id, if any), stripped; a ``?`` response raises
           ``GtpCommandError`` carrying the engine's own message.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

GNUGO_FALLBACK_PATHS = ("/usr/games/gnugo", "/usr/local/games/gnugo")


class EngineNotFound(ValueError):
    """The engine's executable does not exist."""


class GtpCommandError(RuntimeError):
    """The engine answered ``? message`` or stopped answering; ``message`` is what it said."""

    def __init__(self, command: str, message: str) -> None:
        self.command, self.message = command, message
        super().__init__(f"engine rejected {command!r}: {message}")

    def __reduce__(self):  # rebuilt from both fields (a match worker process hands it to the parent)
        return type(self), (self.command, self.message)


def find_gnugo() -> str | None:
    """GNU Go's path: on PATH, or where Debian puts it (/usr/games is not on every PATH)."""
    found = shutil.which("gnugo")
    if found:
        return found
    return next((p for p in GNUGO_FALLBACK_PATHS if os.access(p, os.X_OK)), None)


def gnugo_command(level: int = 0, capture_all_dead: bool = False) -> list[str]:
    """The command line of GNU Go as a GTP engine under Chinese (area) rules, like ours.
    ``capture_all_dead``: it captures every dead stone before it passes, as a Tromp-Taylor referee
    (which counts the board as it stands) needs; else it passes with dead stones on the board."""
    if not 0 <= int(level) <= 10:
        raise ValueError(f"GNU Go level must be 0..10, got {level!r}")
    argv = [find_gnugo() or "gnugo", "--mode", "gtp", "--level", str(int(level)), "--chinese-rules"]
    return argv + ["--capture-all-dead"] if capture_all_dead else argv


def _check_executable(program: str) -> None:
    if shutil.which(program) or (os.sep in program and os.access(program, os.X_OK)):
        return
    if Path(program).name == "gnugo":
        raise EngineNotFound("GNU Go is not installed: install it with `apt-get install gnugo` "
                             "(or `brew install gnu-go`), then try again")
    raise EngineNotFound(f"GTP engine {program!r} not found: give the full path or put it on PATH")


class GtpClient:
    """One running GTP engine. Use as a context manager, or call ``close``."""

    def __init__(self, argv: Sequence[str], name: str | None = None) -> None:
        if not argv:
            raise ValueError("empty engine command line")
        _check_executable(argv[0])
        self.argv = list(argv)
        self.name = name or Path(argv[0]).name
        self._process = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, text=True, bufsize=1)

    def send(self, command: str) -> str:
        """Send one command line and return the response text; GtpCommandError on ``?``."""
        if "\n" in command or not command.strip():
            raise ValueError(f"a GTP command is one non-empty line, got {command!r}")
        process = self._process
        if process.poll() is not None:
            raise GtpCommandError(command, f"{self.name} has exited (status {process.returncode})")
        try:
            process.stdin.write(command + "\n")
            process.stdin.flush()
        except BrokenPipeError:
            raise GtpCommandError(command, f"{self.name} closed its input") from None
        lines = []
        while True:
            line = process.stdout.readline()
            if line == "":
                raise GtpCommandError(command, f"{self.name} exited before answering")
            line = line.rstrip("\r\n")
            if not line and lines:
                break
            if line or lines:  # skip stray blank lines before the response starts
                lines.append(line)
        head, text = lines[0], "\n".join(lines)
        body = text[1:].lstrip("0123456789").strip() if head[:1] in "=?" else text
        if head.startswith("?"):
            raise GtpCommandError(command, body)
        if not head.startswith("="):
            raise GtpCommandError(command, f"malformed response {head!r}")
        return body

    def close(self) -> None:
        if self._process.poll() is None:
            try:
                self.send("quit")
            except (GtpCommandError, OSError):
                pass
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        for stream in (self._process.stdin, self._process.stdout):
            try:
                stream.close()
            except OSError:
                pass

    def __enter__(self) -> GtpClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
