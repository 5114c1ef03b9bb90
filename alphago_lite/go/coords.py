"""Coordinate systems and conversions between them.

=========  ==================================  ==========================================
name       example (9x9)                       meaning
=========  ==================================  ==========================================
flat       ``40``; ``81`` is pass              ``row * size + col``; row 0 is the TOP line
point      ``(4, 4)``; ``None`` is pass        (row, col), row 0 is the top line
GTP        ``"E5"``, ``"pass"``                column letter A..Z without I, line number
                                               counted from the BOTTOM (A1 = bottom-left)
SGF        ``"ee"``, ``""`` (or ``"tt"``)       column letter then row letter, ``aa`` = top-left
=========  ==================================  ==========================================

Every function validates its input and raises ``ValueError`` naming the bad coordinate.
"""
from __future__ import annotations

GTP_COLUMNS = "ABCDEFGHJKLMNOPQRSTUVWXYZ"  # no I, as GTP and most GUIs have it
SGF_LETTERS = "abcdefghijklmnopqrstuvwxyz"
MIN_SIZE = 2
MAX_SIZE = 25


def check_size(size: int) -> int:
    if not isinstance(size, int) or isinstance(size, bool) or not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"board size must be an integer from {MIN_SIZE} to {MAX_SIZE}, got {size!r}")
    return size


def pass_move(size: int) -> int:
    return size * size


def check_flat(move: int, size: int) -> int:
    if isinstance(move, bool) or not 0 <= move <= size * size:
        raise ValueError(f"move index {move!r} is off a {size}x{size} board (0..{size * size}, "
                         f"{size * size} = pass)")
    return int(move)


def to_point(move: int, size: int) -> tuple[int, int] | None:
    check_flat(move, size)
    return None if move == size * size else divmod(move, size)


def from_point(point: tuple[int, int] | None, size: int) -> int:
    if point is None:
        return size * size
    row, col = point
    if not (0 <= row < size and 0 <= col < size):
        raise ValueError(f"point {point!r} is off a {size}x{size} board")
    return row * size + col


def to_gtp(move: int, size: int) -> str:
    point = to_point(move, size)
    if point is None:
        return "pass"
    row, col = point
    return f"{GTP_COLUMNS[col]}{size - row}"


def from_gtp(text: str, size: int) -> int:
    """Parse a GTP vertex ("D4", "d4", "pass"); raises ValueError naming the text."""
    s = text.strip()
    if s.lower() == "pass":
        return size * size
    if len(s) < 2 or not s[1:].isdigit():
        raise ValueError(f"malformed coordinate {text!r}: expected a letter and a number like 'D4', "
                         "or 'pass'")
    letter = s[0].upper()
    if letter == "I" or letter not in GTP_COLUMNS:
        raise ValueError(f"malformed coordinate {text!r}: column {s[0]!r} is not a GTP column letter")
    col = GTP_COLUMNS.index(letter)
    line = int(s[1:])
    if col >= size or not 1 <= line <= size:
        raise ValueError(f"coordinate {text!r} is off a {size}x{size} board")
    return (size - line) * size + col


def to_sgf(move: int, size: int) -> str:
    point = to_point(move, size)
    if point is None:
        return ""
    row, col = point
    return SGF_LETTERS[col] + SGF_LETTERS[row]


def from_sgf(text: str, size: int) -> int:
    """Parse SGF letters; "" is pass, and "tt" too on boards up to 19x19 (FF[3] habit)."""
    if text == "" or (text == "tt" and size <= 19):
        return size * size
    if len(text) != 2 or any(ch not in SGF_LETTERS for ch in text):
        raise ValueError(f"malformed SGF point {text!r}: expected two lowercase letters")
    col, row = SGF_LETTERS.index(text[0]), SGF_LETTERS.index(text[1])
    if col >= size or row >= size:
        raise ValueError(f"SGF point {text!r} is off a {size}x{size} board")
    return row * size + col


def parse_move(move: int | str, size: int) -> int:
    """A flat index or a GTP string -> flat index."""
    if isinstance(move, str):
        return from_gtp(move, size)
    try:
        as_int = int(move)
    except (TypeError, ValueError):
        raise ValueError(f"malformed move {move!r}: expected a flat index or a GTP string") from None
    if as_int != move:
        raise ValueError(f"malformed move {move!r}: expected a flat index or a GTP string")
    return check_flat(as_int, size)
