"""GTP version 2 transport: line preprocessing, command parsing, responses, and the serving loop.

Vocabulary (GTP 2 specification, sections 2 and 3)
---------------------------------------------------
line        one line of input; *preprocessing* removes control characters other than HT and LF,
            turns HT into a space, drops everything after ``#`` and skips lines left empty.
command     ``[id] name [arguments...]``; ``id`` is an optional non-negative integer echoed back. Here an
            id is 1 to ``MAX_ID_DIGITS`` ASCII digits; a first word of other digits (a Unicode digit
            such as ``²``, a 5000-digit number) is no id, and the line is answered ``? syntax error``.
response    ``=[id] result\\n\\n`` on success, ``?[id] message\\n\\n`` on failure. A response never
            contains an empty line inside it (that would end it early), so results are cleaned.
streamed    a response written piece by piece while the engine thinks (``lz-analyze``): the handler
            writes ``=[id]`` and its lines itself, and the loop ends it with the blank line once the
            handler returns (the next command arriving is what stops the analysis).

The engine object (``gtp_engine.GtpEngine``) answers commands; this module only moves text. Input is
read by a background thread into a queue so that a streaming handler can ask whether the next command
has arrived (``Session.input_pending``) without blocking.

Whatever bytes arrive, every line that is not empty after preprocessing gets exactly one response, and
only ``quit`` or the end of input ends the loop. A line longer than ``MAX_LINE_CHARS`` is not kept in
memory: it is read past and answered ``? syntax error: line longer than ...``.
"""
from __future__ import annotations

import io
import queue
import re
import sys
import threading
from dataclasses import dataclass
from typing import Protocol, TextIO

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # all control characters except HT (LF is split off)
MAX_ID_DIGITS = 9
"""An id has at most this many digits: it always fits an int, far below Python's int-digit limit."""
_ID = re.compile(f"[0-9]{{1,{MAX_ID_DIGITS}}}")  # ASCII only: str.isdigit() would also take '²'
MAX_LINE_CHARS = 1_000_000
"""Longer input lines are refused without being held in memory (a GUI's longest line is far shorter)."""


class GtpError(ValueError):
    """A command failed; the message becomes the ``? message`` response."""


class CommandLineError(GtpError):
    """A line that is not a command; ``id`` is its id when it starts with a valid one (else None)."""

    def __init__(self, message: str, ident: int | None = None) -> None:
        super().__init__(message)
        self.id = ident


@dataclass(frozen=True)
class Command:
    id: int | None
    name: str
    args: tuple[str, ...]


STREAMED = object()  # returned by handlers that wrote their own response (see module docstring)
LONG_LINE = object()  # stands in the input queue for a line over MAX_LINE_CHARS (its text is dropped)


def preprocess(raw: str) -> str:
    """One input line as the spec wants it before parsing: '' means skip the line."""
    line = _CONTROL.sub("", raw.split("#", 1)[0]).replace("\t", " ")
    return line.strip()


def parse_id(word: str) -> int | None:
    """The id that a line's first word is, None when the word is no number at all; CommandLineError
    for digits that are not an id (non-ASCII digits, more than MAX_ID_DIGITS of them)."""
    if _ID.fullmatch(word):
        return int(word)
    if word.isdigit():
        shown = word if len(word) <= 12 else f"{word[:12]}... ({len(word)} digits)"
        raise CommandLineError(f"syntax error: id {shown!r} is not 1 to {MAX_ID_DIGITS} ASCII digits")
    return None


def parse_command(line: str) -> Command:
    """Split a preprocessed, non-empty line into id, name and arguments; CommandLineError when the
    line is not a command."""
    words = line.split()
    ident = parse_id(words[0])
    if ident is None:
        return Command(None, words[0], tuple(words[1:]))
    if len(words) == 1:
        raise CommandLineError("missing command after id", ident)
    return Command(ident, words[1], tuple(words[2:]))


def _clean(text: str) -> str:
    """No empty lines inside a response, no trailing newline (the loop adds the blank line)."""
    lines = [line.rstrip() for line in text.split("\n")]
    first, rest = lines[0], [line for line in lines[1:] if line]
    return "\n".join([first] + rest)


def success(ident: int | None, result: str = "") -> str:
    return f"={'' if ident is None else ident} {_clean(result)}\n\n"


def failure(ident: int | None, message: str) -> str:
    one_line = " ".join(str(message).split()) or "failed"
    return f"?{'' if ident is None else ident} {one_line}\n\n"


class LineReader:
    """Reads lines from a text stream on a daemon thread; ``None`` in the queue marks end of input,
    ``LONG_LINE`` a line over ``max_chars`` characters."""

    def __init__(self, stream: TextIO, max_chars: int = MAX_LINE_CHARS) -> None:
        self._queue: queue.Queue[object] = queue.Queue()
        self._peeked: list[object] = []
        self._max_chars = max_chars
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True, name="gtp-reader")
        self._thread.start()

    def _pump(self, stream: TextIO) -> None:
        try:
            while raw := stream.readline(self._max_chars + 1):
                self._queue.put(raw if len(raw) <= self._max_chars or raw.endswith("\n")
                                else self._skip_rest_of_line(stream))
        except (OSError, ValueError) as exc:  # closed stream, undecodable bytes without errors=...
            print(f"gtp: input stopped: {exc}", file=sys.stderr)
        finally:
            self._queue.put(None)

    def _skip_rest_of_line(self, stream: TextIO) -> object:
        """Read past the rest of an over-long line, a bounded piece at a time."""
        while (piece := stream.readline(self._max_chars + 1)) and not piece.endswith("\n"):
            pass
        return LONG_LINE

    def next_line(self) -> object:
        """The next raw line (a str or ``LONG_LINE``), waiting for it; None at end of input."""
        if self._peeked:
            return self._peeked.pop(0)
        return self._queue.get()

    def pending(self, timeout: float = 0.0) -> bool:
        """Has a line that is a command (or the end of input) arrived? Empty/comment lines do not
        count: a GUI's stray newline must not stop an analysis. Waits up to ``timeout`` seconds."""
        while True:
            for raw in self._peeked:
                if raw is None or raw is LONG_LINE or preprocess(raw):
                    return True
            try:
                self._peeked.append(self._queue.get(timeout=timeout) if timeout > 0 else self._queue.get_nowait())
            except queue.Empty:
                return False


class Session:
    """What a streaming handler may do: write to the output and ask whether input is waiting."""

    def __init__(self, reader: LineReader, out: TextIO) -> None:
        self._reader, self._out = reader, out

    def write(self, text: str) -> None:
        self._out.write(text)
        self._out.flush()

    def input_pending(self, wait_seconds: float = 0.0) -> bool:
        return self._reader.pending(wait_seconds)


class Engine(Protocol):
    quit_requested: bool

    def execute(self, command: Command, session: Session) -> object:
        """Run one command: return the result text, or ``STREAMED``; raise GtpError on failure."""


def serve(engine: Engine, instream: TextIO, outstream: TextIO, max_line_chars: int = MAX_LINE_CHARS) -> None:
    """Answer commands until ``quit`` or end of input. No input can stop the loop but those two."""
    reader = LineReader(instream, max_line_chars)
    session = Session(reader, outstream)
    while not engine.quit_requested:
        raw = reader.next_line()
        if raw is None:
            break
        if raw is LONG_LINE:
            session.write(failure(None, f"syntax error: line longer than {max_line_chars} characters"))
            continue
        line = preprocess(raw)
        if not line:
            continue
        try:
            command = parse_command(line)
        except CommandLineError as exc:
            session.write(failure(exc.id, str(exc)))
            continue
        try:
            result = engine.execute(command, session)
        except GtpError as exc:
            session.write(failure(command.id, str(exc)))
        except Exception as exc:  # an engine bug must not kill the session of a GUI
            session.write(failure(command.id, f"internal error: {type(exc).__name__}: {exc}"))
        else:
            session.write("\n" if result is STREAMED else success(command.id, str(result)))


def serve_stdio(engine: Engine) -> None:
    """Serve on this process's stdin/stdout; undecodable bytes become U+FFFD instead of stopping, and a
    response the output encoding cannot hold (an echoed '²' on an ASCII terminal) is written with '?'."""
    instream = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace", newline="\n")
    sys.stdout.reconfigure(errors="replace")
    serve(engine, instream, sys.stdout)
